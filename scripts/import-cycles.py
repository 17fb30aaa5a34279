#!/usr/bin/env python3
"""Import cycles through `config` between the top-level modules of src/ (issue 20: "no import cycle between
`config` and components"). Reads `crate::<module>` paths in non-test code (files named tests.rs and the
`#[cfg(test)] mod tests` at a file's end are skipped; `main.rs` and `commands/` are the binary, not the
library). Prints each cycle and who imports `config`; exits 1 when there is a cycle.

    python3 scripts/import-cycles.py [SRC_DIR]
"""
import collections
import os
import re
import sys


def graph(src):
    edges, where = collections.defaultdict(set), collections.defaultdict(set)
    for root, _, files in os.walk(src):
        for f in files:
            path = os.path.join(root, f)
            if not f.endswith(".rs") or f == "tests.rs":
                continue
            top = os.path.relpath(path, src).split(os.sep)[0].removesuffix(".rs")
            if top in ("main", "commands"):
                continue
            with open(path, encoding="utf-8") as fh:
                text = fh.read().split("#[cfg(test)]\nmod tests")[0]
            for m in re.finditer(r"crate::([a-z_]+)", text):
                if m.group(1) != top:
                    edges[top].add(m.group(1))
                    where[(top, m.group(1))].add(path)
    return edges, where


def cycles_through(edges, start):
    def walk(node, seen):
        if node == start:
            yield [start]
            return
        for nxt in sorted(edges[node]):
            if nxt not in seen:
                for rest in walk(nxt, seen | {nxt}):
                    yield [node] + rest

    for first in sorted(edges[start]):
        for path in walk(first, {first}):
            yield [start] + path


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    edges, where = graph(src)
    found = sorted({" -> ".join(c) for c in cycles_through(edges, "config")})
    for c in found:
        print(c)
    for mod in sorted(m for m in edges if "config" in edges[m]):
        print(f"{mod} imports config in: {', '.join(sorted(where[(mod, 'config')]))}")
    print(f"{len(found)} cycle(s) through config")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
