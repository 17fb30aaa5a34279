"""Writes tests/fixtures/pillow_masks.json: polygons filled and masks resized by Pillow, the way
`electrode_data.py` draws COCO labels, for the firmware's test that `cellgate evaluate` draws the same
label pixels (`src/sources/coco_masks`). Seeded: the same Pillow writes the same file.

Each polygon case: canvas width and height, the polygon's coordinates (x, y, ...), and the filled mask
as run lengths over the row-major pixels, background first. Each resize case: a mask (runs) of one size
resized nearest-neighbour to another. Each RLE case: a mask as COCO's column-major counts, uncompressed
and compressed (`electrode_render_b.py`'s encoder), and as row-major runs.

    python scripts/ml/pillow_mask_fixture.py [--out tests/fixtures/pillow_masks.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageDraw

from electrode_render_b import rle_counts, rle_string

ROOT = Path(__file__).resolve().parents[2]


def runs(mask: np.ndarray) -> list[int]:
    """Row-major run lengths, background first."""
    flat = mask.reshape(-1).astype(bool)
    out, value, n = [], False, 0
    for v in flat:
        if v == value:
            n += 1
        else:
            out.append(n)
            value, n = v, 1
    out.append(n)
    return out


def fill(w: int, h: int, xy: list[float]) -> np.ndarray:
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).polygon([(xy[i], xy[i + 1]) for i in range(0, len(xy) - 1, 2)], fill=1)
    return np.asarray(img, dtype=bool)


def polygons(rng: np.random.Generator) -> list[tuple[int, int, list[float]]]:
    cases = []
    for i in range(160):
        w, h = int(rng.integers(8, 48)), int(rng.integers(8, 48))
        n = int(rng.integers(2, 9))
        kind = i % 5
        if kind == 0:  # integer vertices inside the canvas
            xy = np.stack([rng.integers(0, w, n), rng.integers(0, h, n)], 1).astype(float)
        elif kind == 1:  # fractional vertices, some off the canvas
            xy = np.stack([rng.uniform(-4, w + 4, n), rng.uniform(-4, h + 4, n)], 1)
        elif kind == 2:  # a star: sharp corners
            a = np.sort(rng.uniform(0, 2 * np.pi, 2 * n))
            r = np.where(np.arange(2 * n) % 2 == 0, rng.uniform(0.3, 0.5), rng.uniform(0.05, 0.2)) * min(w, h)
            xy = np.stack([w / 2 + r * np.cos(a), h / 2 + r * np.sin(a)], 1)
        elif kind == 3:  # an axis-aligned staircase: runs of horizontal edges
            xs = np.sort(rng.integers(0, w, n))
            ys = rng.integers(0, h, n)
            steps = [(xs[0], ys[0])]
            for x, y in zip(xs[1:], ys[1:]):
                steps += [(x, steps[-1][1]), (x, y)]
            steps += [(xs[-1] + 2, ys[-1]), (xs[-1] + 4, ys[-1]), (xs[-1] + 4, h - 1), (xs[0], h - 1)]
            xy = np.asarray(steps, float)
        else:  # labels as electrode_draw.py writes them: rounded to 2 decimals
            xy = np.round(np.stack([rng.uniform(0, w, n), rng.uniform(0, h, n)], 1), 2)
        cases.append((w, h, [float(v) for v in xy.reshape(-1)]))
    return cases


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "pillow_masks.json")
    a = p.parse_args()
    rng = np.random.default_rng(20261130)
    poly = []
    for w, h, xy in polygons(rng):
        poly.append({"w": w, "h": h, "xy": xy, "runs": runs(fill(w, h, xy))})
    resize = []
    for i in range(24):
        # Up and down, and to the model's 256 x 256 from a coarse mask (few runs: a small file).
        lo, hi = (3, 9) if i < 3 else (5, 48)
        w, h = int(rng.integers(lo, hi)), int(rng.integers(lo, hi))
        tw, th = (256, 256) if i < 3 else (int(rng.integers(4, 64)), int(rng.integers(4, 64)))
        src = rng.random((h, w)) < 0.4
        out = np.asarray(Image.fromarray(src.astype(np.uint8)).resize((tw, th), Image.NEAREST), bool)
        resize.append({"from": [w, h], "to": [tw, th], "runs": runs(src), "resized": runs(out)})
    rle = []
    for i in range(12):
        w, h = int(rng.integers(3, 64)), int(rng.integers(3, 64))
        m = rng.random((h, w)) < (0.02 if i % 2 else 0.6)
        counts = rle_counts(m)
        rle.append({"w": w, "h": h, "counts": counts, "compressed": rle_string(counts), "runs": runs(m)})
    body = {"pillow": PIL.__version__, "polygons": poly, "resize": resize, "rle": rle}
    a.out.write_text(json.dumps(body, separators=(",", ":")) + "\n")
    print(f"{a.out}: {len(poly)} polygons, {len(resize)} resizes, {len(rle)} RLE masks (Pillow {PIL.__version__})")


if __name__ == "__main__":
    main()
