#!/usr/bin/env python3
"""The figures of a `scripts/mutants.sh` run, and the regexes of its list of equivalent mutants.

  mutants_summary.py exclude LIST            one `-E REGEX` pair per listed mutant (any line and column)
  mutants_summary.py check LIST NAMES        exit 1 naming each listed mutant that no longer exists
  mutants_summary.py examine OUT             one `-F REGEX` pair per mutant the unit tests missed
  mutants_summary.py only FILE               one `-F REGEX` pair per mutant FILE names, at any line and column
  mutants_summary.py report OUT LIST SECS    caught / missed / unviable / timeout per file; exit 1 on a miss

LIST is `tests/mutants-equivalent.txt`: one mutant per line as `cargo mutants --list` names it, then
` -- ` and why no test can tell it from the original. Without its line and column (`FILE: MUTANT`) an entry
holds at any line but must name one mutant only; with them (`FILE:LINE:COL: MUTANT`) it names that one. OUT holds the stages' outputs:
`unit/mutants.out` (every mutant against the unit tests) and, when the unit tests missed some,
`station/mutants.out` (those again against the station's end-to-end tests).
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

OUTCOMES = ("caught", "missed", "timeout", "unviable")
# Characters that mean something in a Rust regex; everything else stands for itself (a backslash before
# `<` would make it a word boundary there).
META = set("\\.+*?()|[]{}^$")


def rust_escape(text):
    return "".join("\\" + c if c in META else c for c in text)


def equivalents(path):
    """(name without line and column, reason) per listed mutant."""
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, why = line.partition(" -- ")
        if not sep or not why.strip() or ": " not in name:
            sys.exit(f"{path}:{n}: expected 'FILE: MUTANT -- why it is equivalent'")
        out.append((name.strip(), why.strip()))
    return out


def name_regex(name):
    """A regex for a listed name: at any line and column when it gives none, else exactly."""
    if LINE_COL.match(name):
        return "^" + rust_escape(name) + "$"
    file, _, mutant = name.partition(": ")
    return "^" + rust_escape(file) + r":\d+:\d+: " + rust_escape(mutant) + "$"


LINE_COL = re.compile(r"^[^:]+:\d+:\d+: ")


def without_line_col(name):
    return re.sub(r"^([^:]+):\d+:\d+: ", r"\1: ", name)


def read(out_dir, outcome):
    f = Path(out_dir) / f"{outcome}.txt"
    return [line for line in f.read_text().splitlines() if line.strip()] if f.exists() else []


def report(out, listed, seconds):
    unit, station = Path(out) / "unit/mutants.out", Path(out) / "station/mutants.out"
    if not unit.is_dir():
        sys.exit(f"no run in {unit}")
    second = {o: set(read(station, o)) for o in OUTCOMES}
    per_file = defaultdict(lambda: dict.fromkeys(OUTCOMES + ("equivalent",), 0))
    missed = []
    for outcome in OUTCOMES:
        for name in read(unit, outcome):
            final = outcome
            if outcome == "missed":
                # Tried again against the end-to-end tests: caught there, or missed by both.
                final = next((o for o in OUTCOMES if name in second[o]), "missed")
                if final == "missed":
                    missed.append(name)
            per_file[name.split(":", 1)[0]][final] += 1
    for name, _ in listed:
        per_file[name.split(":", 1)[0]]["equivalent"] += 1
    cols = OUTCOMES + ("equivalent",)
    width = max(len(f) for f in per_file)
    print(f"{'file':<{width}}  " + "  ".join(f"{c:>10}" for c in cols))
    total = dict.fromkeys(cols, 0)
    for f in sorted(per_file):
        print(f"{f:<{width}}  " + "  ".join(f"{per_file[f][c]:>10}" for c in cols))
        for c in cols:
            total[c] += per_file[f][c]
    print(f"{'total':<{width}}  " + "  ".join(f"{total[c]:>10}" for c in cols))
    tested = sum(total[c] for c in OUTCOMES)
    print(f"{tested} mutants tested in {int(seconds) // 60} min {int(seconds) % 60} s "
          f"({total['equivalent']} listed as equivalent, not tested)")
    if (Path(out) / "budget-spent").exists():
        print("INCOMPLETE: the time budget ran out; the figures above cover the mutants tested so far")
    for name in missed:
        print(f"MISSED: {name}")
    return 1 if missed else 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "exclude" and len(argv) == 3:
        for name, _ in equivalents(argv[2]):
            print("-E")
            print(name_regex(name))
    elif cmd == "check" and len(argv) == 4:
        names = [n for n in Path(argv[3]).read_text().splitlines() if n.strip()]
        files = {n.split(":", 1)[0] for n in names}
        bad = []
        # Entries for files this run does not mutate are out of its scope, not stale.
        for n, _ in equivalents(argv[2]):
            if n.split(":", 1)[0] not in files:
                continue
            found = sum(1 for m in names if (m if LINE_COL.match(n) else without_line_col(m)) == n)
            if found != 1:
                bad.append(f"{argv[2]}: {'no such mutant any more' if not found else f'{found} mutants match: give its line and column'}: {n}")
        for b in bad:
            print(b, file=sys.stderr)
        return 1 if bad else 0
    elif cmd == "examine" and len(argv) == 3:
        for name in read(Path(argv[2]) / "unit/mutants.out", "missed"):
            print("-F")
            print("^" + rust_escape(name) + "$")
    elif cmd == "only" and len(argv) == 3:
        for name in sorted({without_line_col(n) for n in Path(argv[2]).read_text().splitlines() if n.strip()}):
            print("-F")
            print(name_regex(name))
    elif cmd == "report" and len(argv) == 5:
        return report(argv[2], equivalents(argv[3]), float(argv[4]))
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
