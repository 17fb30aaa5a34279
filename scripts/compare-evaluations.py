#!/usr/bin/env python3
"""Compares two `cellgate evaluate --json` outputs of the same folder (e.g. aarch64 under qemu against
x86-64): every sample's verdict and error must be equal and its score within the tolerance, and so must
every figure (accuracy, recalls, confusion, AP...). Prints the figures; exits 1, listing each difference,
when there is one.

    compare-evaluations.py REFERENCE.json CANDIDATE.json [--tol 1e-4] [--label NAME]
"""
import argparse
import json
import math
import sys


def leaves(value, path=""):
    """Every scalar of a JSON document by its path (per_sample is compared apart, by frame)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if path == "" and k == "per_sample":
                continue
            yield from leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def differs(a, b, tol):
    """Why a and b differ (None when they agree): numbers within tol, anything else equal."""
    if number(a) and number(b):
        if math.isnan(a) or math.isnan(b) or abs(a - b) > tol:
            return f"{a} vs {b} (|diff| {abs(a - b):.3g} > {tol:g})"
        return None
    return None if a == b else f"{a!r} vs {b!r}"


def samples(doc, name):
    by_key = {}
    for s in doc.get("per_sample", []):
        key = (s["frame"], s.get("recipe"))
        if key in by_key:
            sys.exit(f"compare-evaluations: {name}: sample {key} appears twice")
        by_key[key] = s
    return by_key


def compare(ref, cand, tol):
    """(differences, per-sample count, largest score difference, largest figure difference)."""
    diffs = []
    a, b = samples(ref, "reference"), samples(cand, "candidate")
    for key in sorted(a.keys() - b.keys()):
        diffs.append(f"sample {key[0]}: missing from the candidate")
    for key in sorted(b.keys() - a.keys()):
        diffs.append(f"sample {key[0]}: only in the candidate")
    worst_score = 0.0
    for key in sorted(a.keys() & b.keys()):
        x, y = a[key], b[key]
        for field in ("verdict", "label", "defect", "error"):
            if x.get(field) != y.get(field):
                diffs.append(f"sample {key[0]}: {field} {x.get(field)!r} vs {y.get(field)!r}")
        p, q = x.get("p_ng"), y.get("p_ng")
        if (p is None) != (q is None):
            diffs.append(f"sample {key[0]}: p_ng {p} vs {q}")
        elif p is not None:
            worst_score = max(worst_score, abs(p - q))
            why = differs(p, q, tol)
            if why:
                diffs.append(f"sample {key[0]}: p_ng {why}")
    fa, fb = dict(leaves(ref)), dict(leaves(cand))
    worst_figure = 0.0
    for path in sorted(fa.keys() | fb.keys()):
        if path not in fa or path not in fb:
            diffs.append(f"figure {path}: only in the {'candidate' if path in fb else 'reference'}")
            continue
        if number(fa[path]) and number(fb[path]):
            worst_figure = max(worst_figure, abs(fa[path] - fb[path]))
        why = differs(fa[path], fb[path], tol)
        if why:
            diffs.append(f"figure {path}: {why}")
    return diffs, len(a), worst_score, worst_figure


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reference")
    ap.add_argument("candidate")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    with open(args.reference) as f:
        ref = json.load(f)
    with open(args.candidate) as f:
        cand = json.load(f)
    diffs, n, worst_score, worst_figure = compare(ref, cand, args.tol)
    label = f"{args.label}: " if args.label else ""
    if not ref.get("per_sample"):
        diffs.append("the reference judged no sample")
    a, b = samples(ref, "reference"), samples(cand, "candidate")
    verdicts = sum(1 for k, s in a.items() if k in b and b[k]["verdict"] == s["verdict"])
    print(
        f"{label}{verdicts}/{n} verdicts equal, largest p_ng difference {worst_score:.3g}, "
        f"largest figure difference {worst_figure:.3g} (tolerance {args.tol:g}); "
        f"accuracy {ref.get('accuracy')} vs {cand.get('accuracy')}"
    )
    if diffs:
        print(f"{label}DIFFERENT: {len(diffs)} difference(s)", file=sys.stderr)
        for d in diffs:
            print(f"  {d}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
