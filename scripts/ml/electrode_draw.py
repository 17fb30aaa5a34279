"""Drawing primitives shared by the electrode renderers: smooth noise, blur, thick polylines, blobs, raster."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from electrode_contract import SIZE


def noise(rng: np.random.Generator, h: int, w: int, scale: int) -> np.ndarray:
    """Smooth noise in about [-1, 1] at the given feature scale (upsampled coarse grid)."""
    coarse = rng.uniform(-1, 1, (h // scale + 3, w // scale + 3)).astype(np.float32)
    img = Image.fromarray(coarse, mode="F").resize((w + 3 * scale, h + 3 * scale), Image.BICUBIC)
    return np.asarray(img)[scale : scale + h, scale : scale + w]


def blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D float array (PIL cannot blur float images)."""
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    p = np.pad(a, r, mode="edge")
    p = sum(k[i] * p[i : i + a.shape[0], :] for i in range(2 * r + 1))
    return sum(k[i] * p[:, i : i + a.shape[1]] for i in range(2 * r + 1)).astype(np.float32)


def thick_polyline(points: np.ndarray, width: float) -> list[np.ndarray]:
    """One quadrilateral polygon per segment of a polyline of the given width."""
    quads = []
    for a, b in zip(points[:-1], points[1:]):
        d = b - a
        n = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-6) * width / 2
        quads.append(np.array([a + n, b + n, b - n, a - n]))
    return quads


def blob(rng: np.random.Generator, c: np.ndarray, r: float, vertices: int, jitter: float) -> list[np.ndarray]:
    ang = np.sort(rng.uniform(0, 2 * math.pi, vertices))
    rad = r * rng.uniform(1 - jitter, 1 + jitter, vertices)
    return [np.stack([c[0] + rad * np.cos(ang), c[1] + rad * np.sin(ang)], 1)]


def raster(polys: list[np.ndarray], size: int = SIZE) -> np.ndarray:
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    for p in polys:
        draw.polygon([(float(x), float(y)) for x, y in p], fill=1)
    return np.asarray(img, dtype=bool)


def place(rng: np.random.Generator, shape: list[np.ndarray], taken: np.ndarray, margin: float = 2,
          min_pixels: int = 6, allowed: np.ndarray | None = None,
          decimals: int | None = None) -> tuple[list[np.ndarray], np.ndarray] | None:
    """Puts a shape (polygons centred at the origin) at a random spot, clear of the defects already `taken`
    (9 px apart) and inside `allowed`; returns its polygons and mask, or None when this try failed.
    `decimals` rounds the polygons before they are rasterised, so the mask is exactly what the label's
    rounded polygons decode to."""
    size = taken.shape[0]
    lo = np.min([p.min(0) for p in shape], 0)
    hi = np.max([p.max(0) for p in shape], 0)
    c = rng.uniform(-lo + margin, size - hi - margin - 1)
    polys = [p + c for p in shape]
    if decimals is not None:
        polys = [np.round(p, decimals) for p in polys]
    mask = raster(polys, size)
    if mask.sum() < min_pixels or (allowed is not None and (mask & ~allowed).any()):
        return None
    grown = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(9))) > 0
    if (grown & taken).any():
        return None
    taken |= mask
    return polys, mask


def annotation(category_id: int, polys: list[np.ndarray], mask: np.ndarray) -> dict:
    """A DESIGN COCO annotation: the polygons as drawn, the box as the rasterised mask's tight extent."""
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    return {
        "category_id": category_id,
        "bbox": [x0, y0, x1 - x0, y1 - y0],
        "area": int(mask.sum()),
        "segmentation": [[round(float(v), 2) for v in p.reshape(-1)] for p in polys],
        "iscrowd": 0,
    }
