"""Reads the HIL console: the guest's verdict, and the station's own results log and GPIO timeline, to
check that every rejected part got exactly one pulse starting at trigger + delay and no OK part got one.
Exits non-zero, saying why, on any failure."""

import json
import sys

DELAY_MS, PULSE_MS = 1000.0, 500.0
# Software emulation (no KVM) is slow and jittery: the tolerance is for the VM, not a station's figure.
TOLERANCE_MS = 50.0


def sections(text: str) -> dict:
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("HIL-FILES-BEGIN "):
            name = line.split(" ", 1)[1].strip()
            out[name] = []
        elif line.startswith("HIL-FILES-END"):
            name = None
        elif name:
            out[name].append(line)
    return out


def main(path: str) -> int:
    text = open(path, errors="replace").read()
    problems = []
    if "HIL RESULT: PASS" not in text:
        problems.append("the guest did not report PASS" if "HIL RESULT" in text else "the guest never finished")
    s = sections(text)
    parts = [json.loads(l) for l in s.get("results", []) if l.startswith("{")]
    changes = [json.loads(l) for l in s.get("timeline", []) if l.startswith("{")]
    rises = [c["t_ms"] for c in changes if c["line"] == "reject0" and c["value"] == 1]
    errors = []
    for p in parts:
        due = p["trigger_ms"] + DELAY_MS
        near = [r for r in rises if abs(r - due) <= TOLERANCE_MS]
        if p["rejected"] and not near:
            problems.append(f"part {p['part']} ({p['verdict']}) rejected but no pulse at {due:.0f} ms")
        if not p["rejected"] and any(abs(r - due) <= PULSE_MS for r in rises):
            problems.append(f"part {p['part']} OK but a pulse came near its reject point")
        errors += [r - due for r in near]
    verdicts = {}
    for p in parts:
        verdicts[p["verdict"]] = verdicts.get(p["verdict"], 0) + 1
    print(f"hil: {len(parts)} parts logged {verdicts}, {len(rises)} reject pulses")
    if errors:
        print(f"hil: pulse start - (trigger + delay): min {min(errors):.2f} ms, max {max(errors):.2f} ms")
    if len(parts) != 8:
        problems.append(f"{len(parts)} parts in the results log, 8 were driven")
    for p in problems:
        print(f"HIL FAIL: {p}")
    if problems:
        for l in s.get("log", [])[-30:]:
            print(f"  station: {l}")
        return 1
    print("hil: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
