"""Reads any folder in the DESIGN seal format (manifest.jsonl + images) into memory for training/eval."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# Normalisation written into the manifest; the firmware applies exactly this to 0..1 pixel values.
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)
INPUT_HW = (64, 256)


def load_rgb(path: Path, hw: tuple[int, int] = INPUT_HW) -> np.ndarray:
    """uint8 HWC RGB at the model's size. Frames of another size are resized bilinearly (as the firmware)."""
    img = Image.open(path).convert("RGB")
    if img.size != (hw[1], hw[0]):
        img = img.resize((hw[1], hw[0]), Image.BILINEAR)
    return np.asarray(img, np.uint8)


def normalise(batch_u8: np.ndarray) -> np.ndarray:
    """[N,H,W,3] uint8 -> [N,3,H,W] float32 normalised per channel."""
    x = batch_u8.astype(np.float32) / 255.0
    x = (x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@dataclass
class SealSet:
    root: Path
    images: np.ndarray  # [N,H,W,3] uint8
    ref_index: np.ndarray  # [N] index into references
    references: np.ndarray  # [R,H,W,3] uint8
    labels: np.ndarray  # [N] 0 = ok, 1 = ng
    defects: list  # [N] str | None
    image_paths: list


def read_manifest(root: Path) -> list[dict]:
    rows = []
    with open(root / "manifest.jsonl") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            for key in ("image", "reference", "label"):
                if key not in row:
                    raise ValueError(f"{root / 'manifest.jsonl'}:{n}: missing key '{key}'")
            if row["label"] not in ("ok", "ng"):
                raise ValueError(f"{root / 'manifest.jsonl'}:{n}: label must be 'ok' or 'ng', got {row['label']!r}")
            rows.append(row)
    return rows


def load_set(root: Path) -> SealSet:
    root = Path(root)
    rows = read_manifest(root)
    ref_paths = sorted({r["reference"] for r in rows})
    ref_of = {p: i for i, p in enumerate(ref_paths)}
    references = np.stack([load_rgb(root / p) for p in ref_paths])
    images = np.stack([load_rgb(root / r["image"]) for r in rows])
    return SealSet(
        root=root,
        images=images,
        ref_index=np.asarray([ref_of[r["reference"]] for r in rows], np.int64),
        references=references,
        labels=np.asarray([1 if r["label"] == "ng" else 0 for r in rows], np.int64),
        defects=[r.get("defect") for r in rows],
        image_paths=[r["image"] for r in rows],
    )
