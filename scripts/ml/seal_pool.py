"""Renders pairs of the seal recipe distribution (seal_recipes.py): an .npz for training or selection, or
(`--design`) a folder in the DESIGN seal format at capture size, for evaluation through the firmware's path.

Each pair has its own recipe, so the pool is a SealSet with one reference per pair. Rendering takes about
60 ms a pair on one core; `--workers` processes share it. Deterministic for a (seed, count, split).
"""

from __future__ import annotations

import os

# One BLAS thread per worker process: the workers already use every core.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from multiprocessing import Pool  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import seal_recipes  # noqa: E402
from seal_data import SealSet  # noqa: E402


def _render(job: tuple[int, int, str, bool]) -> dict:
    seed, index, split, full_size = job
    p = seal_recipes.draw_pair(np.random.default_rng([seed, index]), split, full_size=full_size)
    return {k: p[k] for k in ("image", "reference", "label", "defect")} | {"family": p["recipe"]["family"]}


def build_design(out: Path, count: int, seed: int, split: str, workers: int) -> dict:
    """The DESIGN seal format: references/NNNNNN.png (one per pair: every pair has its own recipe),
    samples/NNNNNN.png at the capture's own size, manifest.jsonl, dataset.json."""
    from PIL import Image

    with Pool(workers) as pool:
        pairs = pool.map(_render, [(seed, i, split, True) for i in range(count)], chunksize=16)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    (out / "references").mkdir(exist_ok=True)
    counts: dict[str, int] = {}
    with open(out / "manifest.jsonl", "w") as man:
        for i, p in enumerate(pairs):
            Image.fromarray(p["image"]).save(out / f"samples/{i:06d}.png")
            Image.fromarray(p["reference"]).save(out / f"references/{i:06d}.png")
            row = {"image": f"samples/{i:06d}.png", "reference": f"references/{i:06d}.png",
                   "label": "ng" if p["label"] else "ok", "defect": p["defect"], "knurl": p["family"]}
            man.write(json.dumps(row) + "\n")
            counts[p["defect"] or "ok"] = counts.get(p["defect"] or "ok", 0) + 1
    info = {"generator": "scripts/ml/seal_recipes.py", "split": split, "seed": seed, "count": count, "counts": counts}
    (out / "dataset.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def build(out: Path, count: int, seed: int, split: str, workers: int) -> dict:
    started = time.time()
    jobs = [(seed, i, split, False) for i in range(count)]
    with Pool(workers) as pool:
        pairs = pool.map(_render, jobs, chunksize=64)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out,
        images=np.stack([p["image"] for p in pairs]),
        references=np.stack([p["reference"] for p in pairs]),
        labels=np.asarray([p["label"] for p in pairs], np.int64),
        defects=np.asarray([p["defect"] or "" for p in pairs]),
        families=np.asarray([p["family"] for p in pairs]),
    )
    counts: dict[str, int] = {}
    for p in pairs:
        counts[p["defect"] or "ok"] = counts.get(p["defect"] or "ok", 0) + 1
    info = {"generator": "scripts/ml/seal_recipes.py", "split": split, "seed": seed, "count": count, "counts": counts,
            "minutes": round((time.time() - started) / 60, 1)}
    Path(str(out) + ".json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def load(path: Path) -> SealSet:
    z = np.load(path)
    n = len(z["labels"])
    return SealSet(
        root=Path(path),
        images=z["images"],
        ref_index=np.arange(n, dtype=np.int64),
        references=z["references"],
        labels=z["labels"],
        defects=[d or None for d in z["defects"].tolist()],
        image_paths=[f"{Path(path).name}#{i}" for i in range(n)],
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help=".npz to write (a folder with --design)")
    p.add_argument("--design", action="store_true", help="write a DESIGN seal folder at capture size")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--split", choices=("train", "unseen"), default="train")
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    make = build_design if a.design else build
    print(json.dumps(make(a.out, a.count, a.seed, a.split, a.workers)))


if __name__ == "__main__":
    main()
