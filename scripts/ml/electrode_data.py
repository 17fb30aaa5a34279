"""Reads any electrode dataset in the DESIGN COCO format and builds the detector's training targets.

Images of another size are resized to the model input (bilinear for pixels, nearest for masks, boxes
scaled). Segmentations may be polygons, uncompressed RLE or COCO's compressed RLE string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from electrode_contract import DET_STRIDE, NUM_CLASSES, SIZE, VIS_MEAN, VIS_STD, XRAY_MEAN, XRAY_STD

CLASSES = ("scratch", "dark_spot", "foreign_object", "inclusion", "crack")


@dataclass
class ElectrodeSet:
    visible: np.ndarray  # (N, S, S, 3) uint8
    xray: np.ndarray  # (N, S, S) uint8
    masks: np.ndarray  # (N, S, S) uint8 class index, 0 = background
    boxes: list  # per image: (K, 5) float32 x0, y0, x1, y1, class 0..C-1 (model input pixels)
    files: list  # per image: visible file name


def _rle_counts(counts) -> list[int]:
    if isinstance(counts, list):
        return counts
    # COCO compressed RLE: 5-bit groups with a continuation bit, deltas from the count two back.
    out, i, s = [], 0, counts.encode()
    while i < len(s):
        x, k, more = 0, 0, True
        while more:
            c = s[i] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            i += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        out.append(x)
    return out


def decode_segmentation(seg, h: int, w: int) -> np.ndarray:
    if isinstance(seg, dict):  # RLE, column-major, alternating background/foreground runs
        flat = np.zeros(h * w, np.uint8)
        pos, val = 0, 0
        for n in _rle_counts(seg["counts"]):
            flat[pos : pos + n] = val
            pos += n
            val ^= 1
        return flat.reshape(w, h).T.astype(bool)
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    for poly in seg:
        draw.polygon([(poly[i], poly[i + 1]) for i in range(0, len(poly) - 1, 2)], fill=1)
    return np.asarray(img, dtype=bool)


def load_set(folder: Path, limit: int | None = None) -> ElectrodeSet:
    folder = Path(folder)
    coco = json.loads((folder / "annotations.json").read_text())
    by_image: dict[int, list] = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    images = coco["images"][:limit] if limit else coco["images"]
    n = len(images)
    vis = np.zeros((n, SIZE, SIZE, 3), np.uint8)
    xr = np.zeros((n, SIZE, SIZE), np.uint8)
    masks = np.zeros((n, SIZE, SIZE), np.uint8)
    boxes, files = [], []
    for i, im in enumerate(images):
        v = Image.open(folder / im["file_name"]).convert("RGB")
        x = Image.open(folder / im["xray_file_name"])
        x = Image.fromarray((np.asarray(x) >> 8).astype(np.uint8)) if x.mode.startswith("I") else x.convert("L")
        w, h = v.size
        sx, sy = SIZE / w, SIZE / h
        if (w, h) != (SIZE, SIZE):
            v, x = v.resize((SIZE, SIZE), Image.BILINEAR), x.resize((SIZE, SIZE), Image.BILINEAR)
        vis[i], xr[i] = np.asarray(v), np.asarray(x)
        rows = []
        for a in sorted(by_image.get(im["id"], []), key=lambda a: -a["bbox"][2] * a["bbox"][3]):
            m = decode_segmentation(a["segmentation"], h, w)
            if (w, h) != (SIZE, SIZE):
                m = np.asarray(Image.fromarray(m.astype(np.uint8)).resize((SIZE, SIZE), Image.NEAREST), bool)
            masks[i][m] = a["category_id"]  # smaller defects drawn last win overlaps
            bx, by, bw, bh = a["bbox"]
            rows.append([bx * sx, by * sy, (bx + bw) * sx, (by + bh) * sy, a["category_id"] - 1])
        boxes.append(np.asarray(rows, np.float32).reshape(-1, 5))
        files.append(im["file_name"])
    return ElectrodeSet(vis, xr, masks, boxes, files)


def normalise_visible(u8: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 per the manifest."""
    x = u8.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    return ((x - np.asarray(VIS_MEAN, np.float32)[:, None, None]) / np.asarray(VIS_STD, np.float32)[:, None, None])


def normalise_xray(u8: np.ndarray) -> np.ndarray:
    """(N, H, W) uint8 -> (N, 1, H, W) float32 per the manifest."""
    return ((u8.astype(np.float32) / 255.0 - XRAY_MEAN[0]) / XRAY_STD[0])[:, None]


def detection_targets(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchor-free targets on the stride-4 grid for one image.

    A point is positive for a box when it lies within 1.5 strides of the box centre (and inside the box,
    grown by one stride so a 3-pixel defect still owns a point); the point nearest the centre always is.
    Overlaps go to the smaller box. Returns class targets (A, C), box targets (A, 4: x0 y0 x1 y1) and the
    positive mask (A,).
    """
    g = SIZE // DET_STRIDE
    c = np.arange(g, dtype=np.float32) * DET_STRIDE + DET_STRIDE / 2
    px, py = np.meshgrid(c, c)
    px, py = px.reshape(-1), py.reshape(-1)
    cls_t = np.zeros((g * g, NUM_CLASSES), np.float32)
    box_t = np.zeros((g * g, 4), np.float32)
    area = np.full(g * g, np.inf, np.float32)
    radius = 1.5 * DET_STRIDE
    for x0, y0, x1, y1, k in boxes:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        inside = (px > x0 - DET_STRIDE) & (px < x1 + DET_STRIDE) & (py > y0 - DET_STRIDE) & (py < y1 + DET_STRIDE)
        near = (np.abs(px - cx) <= radius) & (np.abs(py - cy) <= radius) & inside
        near[np.argmin((px - cx) ** 2 + (py - cy) ** 2)] = True
        a = (x1 - x0) * (y1 - y0)
        take = near & (a < area)
        area[take] = a
        cls_t[take] = 0
        cls_t[take, int(k)] = 1
        box_t[take] = (x0, y0, x1, y1)
    return cls_t, box_t, np.isfinite(area)
