"""Procedural renderer of coated electrode sheet seen by a visible camera and an X-ray imager.

Two looks: `--look wide` (the default, electrode_wide.py) draws every sheet from a wide randomized family
for training models that must meet a factory's images; `--look classic` is the one look below, on which
model 1.0.0 was trained and measured (kept so its figures can be re-made).

Each sample is an aligned pair: `visible/NNNNNN.png` (RGB) and `xray/NNNNNN.png` (8-bit grey, brighter =
more transmission = less material). The coating has a granular texture, coating stripes along the web and
a lighting gradient; the X-ray shows the coating-thickness texture. 0..3 defects of the five classes are
drawn where physics puts them:

- scratch: a furrow exposing the bright current collector; visible only (a trace in X-ray);
- dark_spot: a surface stain; visible only;
- inclusion: a metal particle inside the coating; dark (absorbing) in X-ray, invisible on the surface;
- foreign_object: a fibre or flake on the sheet; both;
- crack: a jagged break through the coating; dark in visible, bright (less material) in X-ray.

Labels are written in the DESIGN COCO format (`annotations.json`): polygons exactly as drawn, and each box
is the tight extent of the rasterised polygon, so masks and boxes agree pixel for pixel. Everything is drawn
from per-sample seeded generators: a (seed, count) pair always yields the same files.
"""

from __future__ import annotations

import argparse
import json
import math
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

from electrode_contract import CLASSES, SIZE
from electrode_draw import annotation, blob, blur, noise, place, thick_polyline
from electrode_wide import render_wide

DEFECT_COUNT_P = (0.2, 0.35, 0.3, 0.15)  # 0, 1, 2 or 3 defects per sheet


def _sheet(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Defect-free visible (H,W,3 in 0..255) and X-ray transmission (H,W in 0..255) as float32."""
    h = w = SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Coating material: graphite anode (grey-black) or NMC cathode (black with a blue tint).
    base = rng.choice([np.array([72, 72, 76]), np.array([48, 50, 58])]) * rng.uniform(0.85, 1.15)
    grain = rng.normal(0, 1, (h, w)).astype(np.float32)
    grain = blur(grain, 0.7)
    stripes = np.zeros((h, w), np.float32)
    vertical = rng.random() < 0.5  # web direction in the frame
    pos = xx if vertical else yy
    for _ in range(rng.integers(1, 4)):  # coating stripes: slow tone bands along the web
        stripes += rng.uniform(-6, 6) * np.sin(2 * math.pi * pos / rng.uniform(60, 200) + rng.uniform(0, 6.3))
    gx, gy = rng.uniform(-0.25, 0.25, 2)
    light = 1 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5) - 0.15 * ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2)
    tone = base[None, None, :] + (9 * grain + 5 * noise(rng, h, w, 12) + stripes)[..., None]
    visible = tone * light[..., None]
    # X-ray: transmission through coating whose thickness varies slowly, plus quantum noise.
    thickness = 1 + 0.06 * noise(rng, h, w, 24) + 0.03 * noise(rng, h, w, 6) + 0.02 * stripes / 6
    xray = rng.uniform(150, 185) * np.exp(-0.9 * (thickness - 1)) + rng.normal(0, 3, (h, w))
    return visible.astype(np.float32), xray.astype(np.float32)


def _shape(rng: np.random.Generator, cls: str) -> list[np.ndarray]:
    """Polygons of one defect, centred at the origin."""
    if cls == "scratch":
        length, width = rng.uniform(18, 110), rng.uniform(2.5, 4.5)
        a = rng.uniform(0, math.pi)
        d = np.array([math.cos(a), math.sin(a)]) * length / 2
        bend = rng.normal(0, length * 0.08, 2)
        return thick_polyline(np.array([-d, bend, d]), width)
    if cls == "dark_spot":
        r = rng.uniform(3, 13)
        return blob(rng, np.zeros(2), r, 14, 0.15)
    if cls == "inclusion":
        r = rng.uniform(2.2, 6)
        return blob(rng, np.zeros(2), r, 10, 0.2)
    if cls == "foreign_object":
        if rng.random() < 0.5:  # fibre
            length, width = rng.uniform(15, 50), rng.uniform(3, 5)
            a = rng.uniform(0, math.pi)
            d = np.array([math.cos(a), math.sin(a)]) * length / 2
            return thick_polyline(np.array([-d, rng.normal(0, 4, 2), d]), width)
        return blob(rng, np.zeros(2), rng.uniform(5, 16), 9, 0.35)  # flake
    # crack: a jagged random walk
    n = int(rng.integers(4, 8))
    step = rng.uniform(5, 11)
    a = rng.uniform(0, 2 * math.pi)
    pts = [np.zeros(2)]
    for _ in range(n):
        a += rng.normal(0, 0.5)
        pts.append(pts[-1] + step * np.array([math.cos(a), math.sin(a)]))
    pts = np.array(pts)
    return thick_polyline(pts - pts.mean(0), rng.uniform(2.5, 3.5))


def _apply(rng, cls: str, mask: np.ndarray, visible: np.ndarray, xray: np.ndarray) -> None:
    """Draws one defect's appearance into both modalities, as its physics says."""
    m = blur(mask.astype(np.float32), 0.5)
    if cls == "scratch":
        visible += m[..., None] * rng.uniform(55, 110) * np.array([1.0, 0.97, 0.9])  # bare foil shines
        xray += m * rng.uniform(2, 5)  # a furrow removes little material
    elif cls == "dark_spot":
        visible -= m[..., None] * rng.uniform(22, 40) * np.array([1.0, 1.0, 0.9])
    elif cls == "inclusion":
        xray -= m * rng.uniform(45, 85)  # metal absorbs strongly
    elif cls == "foreign_object":
        tint = rng.choice([np.array([120, 110, 90]), np.array([150, 150, 150]), np.array([90, 60, 40])])
        visible[:] = visible * (1 - m[..., None]) + m[..., None] * tint * rng.uniform(0.85, 1.15)
        xray -= m * rng.uniform(18, 35)
    else:  # crack
        visible -= m[..., None] * rng.uniform(25, 40)
        xray += m * rng.uniform(30, 50)  # missing coating transmits more


def render_sample(seed: int, index: int) -> dict:
    rng = np.random.default_rng([seed, index])
    visible, xray = _sheet(rng)
    n = int(rng.choice(len(DEFECT_COUNT_P), p=DEFECT_COUNT_P))
    taken = np.zeros((SIZE, SIZE), bool)
    anns = []
    for _ in range(n):
        cls = CLASSES[int(rng.integers(len(CLASSES)))]
        for _attempt in range(20):  # place without touching another defect
            placed = place(rng, _shape(rng, cls), taken)
            if placed is not None:
                polys, mask = placed
                _apply(rng, cls, mask, visible, xray)
                anns.append(annotation(CLASSES.index(cls) + 1, polys, mask))
                break
    visible = np.clip(visible + rng.normal(0, 2.0, visible.shape), 0, 255).astype(np.uint8)
    xray = np.clip(xray, 0, 255).astype(np.uint8)
    return {"visible": visible, "xray": xray, "annotations": anns}


LOOKS = {"wide": render_wide, "classic": render_sample}


def _write(job: tuple) -> dict:
    out, seed, i, look = job
    s = LOOKS[look](seed, i)
    name = f"{i:06d}.png"
    Image.fromarray(s["visible"]).save(out / "visible" / name, optimize=False, compress_level=1)
    Image.fromarray(s["xray"]).save(out / "xray" / name, optimize=False, compress_level=1)
    return {"file_name": f"visible/{name}", "xray_file_name": f"xray/{name}", "annotations": s["annotations"]}


def write_dataset(out: Path, count: int, seed: int, workers: int, look: str = "wide") -> dict:
    (out / "visible").mkdir(parents=True, exist_ok=True)
    (out / "xray").mkdir(parents=True, exist_ok=True)
    jobs = [(out, seed, i, look) for i in range(count)]
    with Pool(workers) as pool:
        rows = pool.map(_write, jobs, chunksize=16)
    images, annotations = [], []
    for i, row in enumerate(rows, start=1):
        images.append({"id": i, "file_name": row["file_name"], "xray_file_name": row["xray_file_name"],
                       "width": SIZE, "height": SIZE})
        for a in row["annotations"]:
            annotations.append({"id": len(annotations) + 1, "image_id": i, **a})
    coco = {
        "info": {"description": "cellgate synthetic electrode sheets", "generator": "scripts/ml/electrode_render.py",
                 "seed": seed, "count": count, "look": look},
        "categories": [{"id": i + 1, "name": c} for i, c in enumerate(CLASSES)],
        "images": images,
        "annotations": annotations,
    }
    (out / "annotations.json").write_text(json.dumps(coco))
    return coco


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--look", choices=tuple(LOOKS), default="wide",
                   help="wide: the randomized family (electrode_wide.py); classic: the one look of model 1.0.0")
    a = p.parse_args()
    coco = write_dataset(a.out, a.count, a.seed, a.workers, a.look)
    per = {c: 0 for c in CLASSES}
    for ann in coco["annotations"]:
        per[CLASSES[ann["category_id"] - 1]] += 1
    clean = len(coco["images"]) - len({x["image_id"] for x in coco["annotations"]})
    print(json.dumps({"images": len(coco["images"]), "defect_free": clean, "defects": per}))


if __name__ == "__main__":
    main()
