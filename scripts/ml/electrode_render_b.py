"""Second, independent electrode renderer: a test-only stand-in for "a factory we have never seen".

Never use its output for training or for any choice (threshold, epoch, hyper-parameter): it exists so that
the electrode detector can be measured on sheets, defects and imagers that nothing in the training pipeline
drew. It was written from DESIGN.md's dataset contract and the paper alone, without reading the training
renderer, and draws its own way:

- the sheet is a coated web seen at its own scale: graphite-black anode or grey cathode coating with
  anisotropic grain, mottling, calendering streaks along the web and roller marks across it; in some
  frames the coating ends at a (wavy) edge with an uncoated copper/aluminium margin, a tab, or the belt;
- visible imager: ring-light hotspot or ring on glossy coatings, vignetting, white balance, line-scan
  column banding, a Gaussian lens blur, signal-dependent shot noise and read noise;
- X-ray imager: transmission exp(-attenuation) through coating thickness and foil, its own gain, offset,
  heel gradient, detector column gain, source blur and Poisson-like noise; 8-bit or 16-bit (mode I;16);
  misregistered against the visible frame by up to 3 px (sub-pixel);
- defects are coverage fields of analytic shapes (distance to polylines, star-shaped blobs): scratches
  (straight, curved, interrupted, faint), dark spots (soft or hard edged), foreign objects (particles,
  fibres, flakes, metal chips bright in visible and dark in X-ray), inclusions (single or clustered,
  X-ray only), cracks (hairline, branching, through the coating). A defect's label is exactly the pixels
  whose coverage is at least one half (written as RLE); its bbox is that mask's tight extent;
- 20% of sheets are defect-free (exactly 4 of every 20 indices); stains, coating streaks, edges and roller
  marks are drawn on any sheet and are never labelled.

Output: DIR/annotations.json (DESIGN COCO), DIR/visible/*.png (RGB), DIR/xray/*.png (L or I;16). Labels
are in visible-frame pixels. Each image entry's `sheet` says what was drawn (coating, gloss, foil edge, tab,
confusers) and `xray_shift_px` [dx, dy]: the X-ray shows the scene point (x, y) at (x - dx, y - dy).
Deterministic: pair i depends only on (seed, i, size, bits), whatever --workers is.
"""

from __future__ import annotations

import argparse
import json
import math
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

from electrode_render_b_fields import PAD, Canvas, blur, profile, shift_bilinear
from electrode_render_b_scene import DEFECT_FUNCS_B, Sheet, confusers

CLASSES_B = ("scratch", "dark_spot", "foreign_object", "inclusion", "crack")  # category_id 1..5
TAG = 0xE1B


# ---------------------------------------------------------------------------------------------- imagers
def visible_camera(sh: Sheet, rng: np.random.Generator) -> np.ndarray:
    """Ring light (hotspot, and its reflection ring on glossy coating), vignetting, white balance, lens
    blur, line-scan banding, shot and read noise; 8-bit RGB."""
    cv = sh.cv
    coating = sh.region == 0
    lum = float(sh.alb[..., 1][coating].mean()) if coating.any() else float(sh.alb[..., 1].mean())
    exposure = rng.uniform(0.13, 0.45) / lum  # the line's auto exposure puts the coating somewhere
    size = max(cv.w, cv.h)
    cx, cy = rng.uniform(0.2, 0.8) * cv.w, rng.uniform(0.2, 0.8) * cv.h
    r = np.hypot(cv.x - cx, cv.y - cy) / size
    light = exposure * (1 - rng.uniform(0.0, 0.45) * r**2) * (1 + rng.uniform(0.0, 0.5) * np.exp(-0.5 * (r / rng.uniform(0.15, 0.5)) ** 2))
    glare = 0.3 + (rng.uniform(0.2, 0.8) * np.exp(-0.5 * ((r - rng.uniform(0.15, 0.45)) / rng.uniform(0.01, 0.04)) ** 2) if sh.glossy else 0.0)
    wb = 1 + rng.uniform(-0.06, 0.06, 3)
    img = sh.alb * (light[..., None] * wb[None, None, :]) + (sh.spec * glare * exposure * lum * 3)[..., None]
    img = cv.frame(blur(img, rng.uniform(0.35, 0.8)))
    axis = int(rng.integers(2))  # the line sensor's pixels run along this axis
    gains = 1 + rng.uniform(0.003, 0.025) * profile(rng, img.shape[1 - axis], rng.uniform(1, 6))
    img = img * (gains[None, :, None] if axis == 0 else gains[:, None, None])
    shot, read = rng.uniform(0.0002, 0.0015), rng.uniform(0.003, 0.012)
    img = img + np.sqrt(np.clip(img, 0, None) * shot) * rng.standard_normal(img.shape) + read * rng.standard_normal(img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def xray_camera(sh: Sheet, rng: np.random.Generator, bits: int) -> tuple[np.ndarray, list]:
    """Transmission through coating and foil, misregistered by up to 3 px, source blur, heel gradient,
    detector gain/offset and column gain, Poisson-like noise (variance grows with the signal)."""
    cv = sh.cv
    mu_c = rng.uniform(0.45, 1.1)
    mu_f = rng.uniform(0.15, 0.3) if sh.anode else rng.uniform(0.04, 0.12)  # copper stops more than aluminium
    att = np.where(sh.region == 0, mu_c * sh.thick + mu_f, np.where(sh.region == 1, mu_f, 0.0)) + sh.mu
    shift = rng.uniform(-1, 1, 2) * 3 / math.sqrt(2) * rng.uniform(0.3, 1.0)
    t = cv.frame(shift_bilinear(np.exp(-att).astype(np.float32), float(shift[1]), float(shift[0])))
    t = blur(t, rng.uniform(0.6, 1.4))
    coating = cv.frame(sh.region) == 0
    mean_t = float(t[coating].mean()) if coating.any() else float(t.mean())
    offset = rng.uniform(0.0, 0.08)
    gain = (rng.uniform(0.35, 0.7) - offset) / mean_t
    heel = 1 + rng.uniform(-0.1, 0.1) * (np.linspace(-0.5, 0.5, cv.w)[None, :] if rng.random() < 0.5 else np.linspace(-0.5, 0.5, cv.h)[:, None])
    column = 1 + rng.uniform(0.002, 0.015) * rng.standard_normal(cv.w)[None, :]
    sig = offset + gain * t * heel * column
    photons = rng.uniform(400, 4000) * (4 if bits == 16 else 1)
    sig = sig + np.sqrt(np.clip(sig, 0, None) / photons) * rng.standard_normal(sig.shape) + rng.uniform(0.001, 0.006) * rng.standard_normal(sig.shape)
    top = 65535 if bits == 16 else 255
    out = (np.clip(sig, 0, 1) * top + 0.5).astype(np.uint16 if bits == 16 else np.uint8)
    return out, [round(float(shift[0]), 3), round(float(shift[1]), 3)]


# ---------------------------------------------------------------------------------------------- labels
def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    out = mask.copy()
    for axis in (0, 1):
        grown = out.copy()
        for k in range(1, r + 1):
            grown |= np.roll(out, k, axis) | np.roll(out, -k, axis)
        out = grown
    return out


def rle_counts(mask: np.ndarray) -> list[int]:
    """COCO RLE runs: column-major, starting with a (possibly empty) background run."""
    flat = mask.T.reshape(-1).astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    return ([0] + runs) if flat[0] else runs


def rle_string(counts: list[int]) -> str:
    """COCO's compressed RLE text (as pycocotools writes it)."""
    out = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr(c + (0x20 if more else 0) + 48))
    return "".join(out)


# ---------------------------------------------------------------------------------------------- one pair
def draw_plan(seed: int, index: int) -> list[str]:
    """Which defects sheet `index` carries: exactly 4 in every block of 20 indices are defect-free."""
    block = np.random.default_rng([seed, TAG, 7, index // 20]).permutation(20)
    if block[index % 20] < 4:
        return []
    rng = np.random.default_rng([seed, TAG, 1, index])
    n = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    return [str(CLASSES_B[int(k)]) for k in rng.integers(0, len(CLASSES_B), n)]


def place(rng: np.random.Generator, sh: Sheet, name: str, taken: np.ndarray):
    """Draws defect `name` on coating, clear of the frame border, the coating edge and other defects;
    returns (label mask in the frame, style) or None when 40 tries found no room."""
    cv = sh.cv
    for _ in range(40):
        x, y = rng.uniform(6, cv.w - 6), rng.uniform(6, cv.h - 6)
        if sh.region[int(y) + PAD, int(x) + PAD] != 0:
            continue
        cov, style, apply = DEFECT_FUNCS_B[name](rng, sh, x, y)
        full = cov >= 0.5
        mask = cv.frame(full)
        n = int(mask.sum())
        if n < 2 or n != int(full.sum()):
            continue  # too small to label, or partly outside the frame
        ys, xs = np.nonzero(mask)
        if ys.min() < 2 or xs.min() < 2 or ys.max() > cv.h - 3 or xs.max() > cv.w - 3:
            continue
        grown = dilate(mask, 3)
        if (cv.frame(sh.region)[grown] != 0).any() or (taken & grown).any():
            continue
        apply(sh)
        taken |= grown
        return mask, style
    return None


def render_pair(seed: int, index: int, w: int, h: int, bits: int, plan: list[str] | None = None) -> dict:
    """Pair `index` of a set: visible RGB, X-ray, labels. `plan` overrides the defects drawn (tests use it to
    compare a sheet with and without a defect: everything else stays the same)."""
    cv = Canvas(w, h)
    sh = Sheet(cv, np.random.default_rng([seed, TAG, 2, index]))
    crng = np.random.default_rng([seed, TAG, 3, index])
    n_conf = int(crng.choice([0, 1, 2], p=[0.3, 0.45, 0.25] if plan == [] or draw_plan(seed, index) == [] else [0.5, 0.35, 0.15]))
    conf = confusers(sh, crng, n_conf)
    drng = np.random.default_rng([seed, TAG, 4, index])
    taken = np.zeros((h, w), bool)
    labels = []
    for name in draw_plan(seed, index) if plan is None else plan:
        got = place(drng, sh, name, taken)
        if got is not None:
            labels.append((CLASSES_B.index(name) + 1, got[0], got[1]))
    vis = visible_camera(sh, np.random.default_rng([seed, TAG, 5, index]))
    xr, shift = xray_camera(sh, np.random.default_rng([seed, TAG, 6, index]), bits)
    sheet = {"coating": "anode" if sh.anode else "cathode", "glossy": sh.glossy, "foil_edge": sh.edge,
             "tab": sh.tab, "confusers": conf, "xray_shift_px": shift}
    return {"visible": vis, "xray": xr, "labels": labels, "sheet": sheet}


# ---------------------------------------------------------------------------------------------- a set
def _write_pair(job: tuple) -> tuple[int, list, dict]:
    out, seed, index, w, h, bits, rle = job
    p = render_pair(seed, index, w, h, bits)
    name = f"{index:06d}.png"
    Image.fromarray(p["visible"]).save(Path(out) / "visible" / name)
    Image.fromarray(p["xray"]).save(Path(out) / "xray" / name)  # uint16 -> mode I;16
    anns = []
    for cat, mask, style in p["labels"]:
        ys, xs = np.nonzero(mask)
        counts = rle_counts(mask)
        seg = {"size": [h, w], "counts": rle_string(counts) if rle == "compressed" else counts}
        bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
        anns.append({"category_id": cat, "bbox": bbox, "segmentation": seg, "area": int(mask.sum()), "iscrowd": 0,
                     "style": style})
    return index, anns, p["sheet"]


def generate(out: Path, count: int, seed: int, size: tuple[int, int] = (320, 320), bits: int = 8,
             workers: int = 1, rle: str = "counts") -> dict:
    out = Path(out)
    (out / "visible").mkdir(parents=True, exist_ok=True)
    (out / "xray").mkdir(exist_ok=True)
    w, h = size
    jobs = [(str(out), seed, i, w, h, bits, rle) for i in range(count)]
    if workers > 1:
        with Pool(workers) as pool:
            results = pool.map(_write_pair, jobs, chunksize=4)
    else:
        results = [_write_pair(j) for j in jobs]
    images, annotations = [], []
    counts = {c: 0 for c in CLASSES_B}
    for index, anns, sheet in sorted(results, key=lambda r: r[0]):
        name = f"{index:06d}.png"
        images.append({"id": index + 1, "file_name": f"visible/{name}", "xray_file_name": f"xray/{name}",
                       "width": w, "height": h, "sheet": sheet})
        for a in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1, **a})
            counts[CLASSES_B[a["category_id"] - 1]] += 1
    info = {
        "generator": "scripts/ml/electrode_render_b.py",
        "purpose": "test only: never train on it or choose anything with it",
        "seed": seed,
        "count": count,
        "size": [w, h],
        "xray_bits": bits,
        "rle": rle,
        "counts": counts,
        "defect_free": sum(1 for r in results if not r[1]),
    }
    coco = {"info": info, "images": images, "annotations": annotations,
            "categories": [{"id": i + 1, "name": c} for i, c in enumerate(CLASSES_B)]}
    (out / "annotations.json").write_text(json.dumps(coco, separators=(",", ":")) + "\n")
    return info


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder to write (DESIGN COCO electrode format)")
    p.add_argument("--count", type=int, default=300, help="pairs to render")
    p.add_argument("--seed", type=int, default=101, help="seed: draws every sheet, defect and imager")
    p.add_argument("--workers", type=int, default=1, help="processes (the output does not depend on it)")
    p.add_argument("--size", default="320x320", help="frame WxH (both imagers), at least 64x64")
    p.add_argument("--xray-bits", type=int, choices=(8, 16), default=8, help="X-ray PNG depth (16: mode I;16)")
    p.add_argument("--rle", choices=("counts", "compressed"), default="counts",
                   help="segmentation as uncompressed RLE counts or COCO's compressed RLE string")
    a = p.parse_args()
    try:
        w, h = (int(v) for v in a.size.lower().split("x"))
    except ValueError:
        p.error(f"--size: expected WxH, got {a.size!r}")
    if w < 64 or h < 64 or a.count < 0 or a.workers < 1:
        p.error("--size at least 64x64, --count >= 0, --workers >= 1")
    info = generate(a.out, a.count, a.seed, (w, h), a.xray_bits, a.workers, a.rle)
    print(json.dumps({"counts": info["counts"], "defect_free": info["defect_free"], "pairs": info["count"]}))


if __name__ == "__main__":
    main()
