"""Reads any folder in the DESIGN seal format (manifest.jsonl + images) into memory for training/eval."""

from __future__ import annotations

import json
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# Normalisation written into the manifest; the firmware applies exactly this to 0..1 pixel values.
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)
INPUT_HW = (64, 256)


@lru_cache(maxsize=1024)
def _resize_weights(in_size: int, out_size: int) -> tuple[np.ndarray, int]:
    """Integer weights [out, in] and their precision, as fast_image_resize 6.1 computes them for a
    bilinear convolution with the kernel widened when shrinking (src/convolution/mod.rs, optimisations.rs)."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    radius = 1.0 * filter_scale  # the bilinear filter's support is 1
    rows = []
    for out_x in range(out_size):
        centre = (out_x + 0.5) * scale
        x_min = max(int(np.floor(centre - radius)), 0)
        x_max = min(int(np.ceil(centre + radius)), in_size)
        xs = np.arange(x_min, x_max, dtype=np.float64)
        w = np.maximum(0.0, 1.0 - np.abs((xs - (centre - 0.5)) / filter_scale))
        if w.sum() != 0.0:
            w = w / w.sum()
        row = np.zeros(in_size, np.float64)
        row[x_min:x_max] = w
        rows.append(row)
    dense = np.stack(rows)
    max_weight = dense.max()
    precision = 0
    for p in range(32 - 8 - 2):
        precision = p
        if np.floor(max_weight * (1 << (p + 1)) + 0.5) >= (1 << 15):
            break
    # Rust's f64::round is half away from zero; the weights are >= 0, so floor(x + 0.5) is the same.
    return np.floor(dense * (1 << precision) + 0.5).astype(np.int64), precision


def _convolve_u8(img: np.ndarray, weights: np.ndarray, precision: int, axis: int) -> np.ndarray:
    # Integer sums below 2**53, so float64 (BLAS) computes them exactly, much faster than int64.
    acc = np.tensordot(weights.astype(np.float64), img.astype(np.float64), axes=([1], [axis]))  # new axis first
    acc = np.moveaxis(acc, 0, axis).astype(np.int64) + (1 << (precision - 1))
    return np.clip(acc >> precision, 0, 255).astype(np.uint8)


def firmware_resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """HxWxC uint8 -> hxwxC as the firmware's preprocess does it: for 8-bit pixels fast_image_resize runs
    the vertical pass first, rounds to 8 bits, then the horizontal pass; an axis of equal size is skipped."""
    out = img
    if img.shape[0] != h:
        wv, pv = _resize_weights(img.shape[0], h)
        out = _convolve_u8(out, wv, pv, 0)
    if img.shape[1] != w:
        wh, ph = _resize_weights(img.shape[1], w)
        out = _convolve_u8(out, wh, ph, 1)
    return out


def load_rgb(path: Path, hw: tuple[int, int] = INPUT_HW) -> np.ndarray:
    """uint8 HWC RGB at the model's size. Frames of another size are resized as the firmware does it."""
    px = np.asarray(Image.open(path).convert("RGB"), np.uint8)
    return firmware_resize(px, hw[0], hw[1]) if px.shape[:2] != tuple(hw) else px


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


def concat(sets: list[SealSet]) -> SealSet:
    """Several sets as one: references stay per set (indices shifted), so pairs keep their own reference."""
    if len(sets) == 1:
        return sets[0]
    offsets = np.cumsum([0] + [len(s.references) for s in sets[:-1]])
    return SealSet(
        root=sets[0].root,
        images=np.concatenate([s.images for s in sets]),
        ref_index=np.concatenate([s.ref_index + o for s, o in zip(sets, offsets)]),
        references=np.concatenate([s.references for s in sets]),
        labels=np.concatenate([s.labels for s in sets]),
        defects=[d for s in sets for d in s.defects],
        image_paths=[p for s in sets for p in s.image_paths],
    )


def thumbnails(references: np.ndarray) -> np.ndarray:
    """Grey 8x32 block means of each reference: cheap enough to compare every wrong pair's candidates."""
    r, h, w, _ = references.shape
    grey = references.mean(axis=3, dtype=np.float32)
    return grey[:, : h - h % 8, : w - w % 32].reshape(r, 8, h // 8, 32, w // 32).mean(axis=(2, 4)).reshape(r, -1)


def other_reference(data, own: int, rng: np.random.Generator, hard: int, thumbs) -> int:
    """Another recipe's reference: a random one, or the most alike of `hard` random ones."""
    n = len(data.references)
    picks = rng.integers(n - 1, size=max(1, hard))
    picks = np.where(picks < own, picks, picks + 1)
    if hard <= 1 or thumbs is None:
        return int(picks[0])
    return int(picks[np.argmin(np.abs(thumbs[picks] - thumbs[own]).mean(axis=1))])
