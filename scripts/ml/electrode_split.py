"""Splits a DESIGN COCO electrode folder by image into train / selection / held-out folders.

Each image goes to one split by a seeded hash of its visible file name, so the split does not depend on the
order of `images` and a pair never lands in two splits. About 70/15/15, with at least 20 images in each of
selection and held-out while the set allows it (a threshold chosen on 5 images means little). Each split is a
folder of symbolic links to the original files with its own `annotations.json`; the original folder is only
read. Writes `split.json` (sizes, defects per class in each split) beside the three folders.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path, PurePosixPath

from electrode_data import CLASSES

SPLITS = ("train", "select", "test")
MIN_IMAGES = 8
SHARE = 0.15
MIN_EVAL = 20


class SplitError(Exception):
    """A folder that cannot be split: the message names the folder and what is wrong."""


def split_sizes(n: int) -> tuple[int, int, int]:
    """(train, selection, held-out) image counts for a set of n images."""
    if n < MIN_IMAGES:
        raise SplitError(f"{n} images: at least {MIN_IMAGES} are needed for train, selection and held-out splits")
    k = max(round(SHARE * n), min(MIN_EVAL, n // 4))
    return n - 2 * k, k, k


def assign(file_names: list[str], seed: int) -> dict[str, list[int]]:
    """Indices into file_names for each split, ordered by a seeded hash of the file name."""
    key = [hashlib.sha256(f"{seed}/{f}".encode()).hexdigest() for f in file_names]
    order = sorted(range(len(file_names)), key=lambda i: (key[i], file_names[i]))
    n_train, n_select, _ = split_sizes(len(file_names))
    parts = {"train": order[:n_train], "select": order[n_train : n_train + n_select],
             "test": order[n_train + n_select :]}
    return {k: sorted(v) for k, v in parts.items()}


def relative_file(folder: Path, name: str, what: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts:
        raise SplitError(f"{folder}: {what} {name!r} is not a path inside the folder (DESIGN: relative paths)")
    if not (folder / p).is_file():
        raise SplitError(f"{folder}: {what} {name!r} does not exist")
    return p


def check(folder: Path, coco: dict) -> None:
    """The folder's labels as the trainer reads them: every file present, classes 1..5 in the label order."""
    for c in coco.get("categories", []):
        if c.get("id") in range(1, len(CLASSES) + 1) and c.get("name") != CLASSES[c["id"] - 1]:
            raise SplitError(f"{folder}: category {c['id']} is {c.get('name')!r}; DESIGN numbers the classes"
                             f" 1..5 as {', '.join(CLASSES)}")
    ids = set()
    for im in coco["images"]:
        for key in ("file_name", "xray_file_name"):
            if key not in im:
                raise SplitError(f"{folder}: image {im.get('id')} has no {key}")
            relative_file(folder, im[key], key)
        ids.add(im["id"])
    for a in coco["annotations"]:
        if a.get("image_id") not in ids:
            raise SplitError(f"{folder}: annotation {a.get('id')} refers to image {a.get('image_id')}, not in images")
        if a.get("category_id") not in range(1, len(CLASSES) + 1):
            raise SplitError(f"{folder}: annotation {a.get('id')} has category_id {a.get('category_id')!r};"
                             f" expected 1..{len(CLASSES)}")


def read_coco(folder: Path) -> dict:
    path = folder / "annotations.json"
    try:
        coco = json.loads(path.read_text())
    except FileNotFoundError:
        raise SplitError(f"{folder}: no annotations.json (a DESIGN COCO folder has one)") from None
    except json.JSONDecodeError as e:
        raise SplitError(f"{path}: not JSON: {e}") from None
    if not isinstance(coco, dict) or not isinstance(coco.get("images"), list):
        raise SplitError(f"{path}: no images list")
    coco.setdefault("annotations", [])
    return coco


def split_summary(images: list, anns: list) -> dict:
    """Images, defects (per class) and defect-free images of one split."""
    ids = {im["id"] for im in images}
    per_class = {c: sum(1 for a in anns if a["category_id"] == i + 1) for i, c in enumerate(CLASSES)}
    return {"images": len(images), "defects": len(anns), "defects_per_class": per_class,
            "defect_free_images": len(ids - {a["image_id"] for a in anns})}


def describe_sets(folders: dict[str, Path], source: str, how: str) -> dict:
    """The split.json of three sets made apart (e.g. rendered from three seeds) instead of split here."""
    summary = {"source": source, "how": how, "splits": {}}
    for name in SPLITS:
        coco = read_coco(folders[name])
        summary["splits"][name] = split_summary(coco["images"], coco["annotations"])
    summary["images"] = sum(v["images"] for v in summary["splits"].values())
    return summary


def write_split(src: Path, out: Path, seed: int = 0) -> dict:
    """Writes out/{train,select,test}/ (links + annotations.json) and out/split.json; returns the summary."""
    src = src.resolve()
    coco = read_coco(src)
    check(src, coco)
    parts = assign([im["file_name"] for im in coco["images"]], seed)
    summary = {"source": str(src), "seed": seed, "images": len(coco["images"]), "splits": {}}
    for name in SPLITS:
        folder = out / name
        if folder.exists():
            shutil.rmtree(folder)
        images = [coco["images"][i] for i in parts[name]]
        ids = {im["id"] for im in images}
        anns = [a for a in coco["annotations"] if a["image_id"] in ids]
        for im in images:
            for key in ("file_name", "xray_file_name"):
                link = folder / im[key]
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(src / im[key])
        folder.mkdir(parents=True, exist_ok=True)
        sub = {k: v for k, v in coco.items() if k not in ("images", "annotations")}
        (folder / "annotations.json").write_text(json.dumps({**sub, "images": images, "annotations": anns}) + "\n")
        summary["splits"][name] = split_summary(images, anns)
    (out / "split.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, help="folder in the DESIGN electrode COCO format")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/train, OUT/select, OUT/test, OUT/split.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--describe", nargs=3, type=Path, metavar=("TRAIN", "SELECT", "TEST"),
                   help="no split: describe three sets made apart into OUT/split.json (with --source, --how)")
    p.add_argument("--source", default="", help="with --describe: where the sets come from")
    p.add_argument("--how", default="", help="with --describe: how they were made, for the model card")
    a = p.parse_args()
    if (a.data is None) == (a.describe is None):
        raise SystemExit("electrode_split.py: give --data DIR (split it) or --describe TRAIN SELECT TEST")
    try:
        if a.describe:
            s = describe_sets(dict(zip(SPLITS, a.describe)), a.source, a.how)
            a.out.mkdir(parents=True, exist_ok=True)
            (a.out / "split.json").write_text(json.dumps(s, indent=2) + "\n")
        else:
            s = write_split(a.data, a.out, a.seed)
    except SplitError as e:
        raise SystemExit(f"electrode_split.py: {e}") from None
    print(json.dumps({k: {"images": v["images"], "defects": v["defects"]} for k, v in s["splits"].items()}))


if __name__ == "__main__":
    main()
