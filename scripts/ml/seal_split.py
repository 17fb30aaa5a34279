"""Splits a folder in the DESIGN seal format into `train/` and `select/` folders by a seeded draw, for
fine-tuning on a user's pairs (scripts/train-seal.sh --data DIR). The new manifests name the original
files by absolute path; nothing is copied."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from seal_data import read_manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="folder in the DESIGN seal format")
    p.add_argument("--out", type=Path, required=True, help="where train/ and select/ are written")
    p.add_argument("--select-share", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    root = a.data.resolve()
    rows = read_manifest(root)
    if len(rows) < 10:
        raise SystemExit(f"{root}: {len(rows)} pairs; fine-tuning needs at least 10")
    for key in ("ok", "ng"):
        if not any(r["label"] == key for r in rows):
            raise SystemExit(f"{root}: no '{key}' pairs; fine-tuning needs both labels")
    order = np.random.default_rng(a.seed).permutation(len(rows))
    n_select = max(2, int(round(len(rows) * a.select_share)))
    parts = {"select": order[:n_select], "train": order[n_select:]}
    for name, idx in parts.items():
        folder = a.out / name
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "manifest.jsonl", "w") as man:
            for i in sorted(idx):
                row = dict(rows[i])
                row["image"], row["reference"] = str(root / row["image"]), str(root / row["reference"])
                man.write(json.dumps(row) + "\n")
    print(json.dumps({k: len(v) for k, v in parts.items()}))


if __name__ == "__main__":
    main()
