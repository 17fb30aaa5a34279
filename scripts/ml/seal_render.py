"""Procedural renderer of pouch-cell heat-seal edges (the seal station's embedded default dataset).

A frame shows, top to bottom: the cell body (laminated aluminium film), the pressed seal band with its
knurl pattern, the trimmed edge, and the dark conveyor behind it. Each recipe fixes the band width, the
knurl pitch/angle and the film tone; one reference image per recipe is a clean capture. Live samples are
the same recipe re-rendered as a camera sees another cell: a few pixels of shift, slight rotation, light
and contrast drift, sensor noise and focus blur. NG samples add one of the patent's defects.

Everything is drawn from `numpy.random.Generator`s seeded per sample, so a (seed, count) pair always
yields the same files.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, asdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

HEIGHT, WIDTH = 64, 256
DEFECTS = ("crack", "narrow_width", "foreign_matter", "wrinkle", "contamination")


@dataclass(frozen=True)
class Recipe:
    name: str
    band_top: int  # first row of the seal band
    band_width: int  # rows
    knurl_pitch: float  # pixels between knurl ridges
    knurl_angle: float  # degrees from vertical
    film_rgb: tuple  # 0..1 body film tone
    band_gain: float  # band brightness relative to the film
    edge_rows: int  # rows of trimmed film edge below the band
    # "ridges" (the only family the training recipes use), or, for the held-out evaluation recipes only,
    # "crosshatch" (two ridge sets at +-angle) and "dots" (a lattice of round bosses).
    knurl_family: str = "ridges"


RECIPES = (
    Recipe("recipe-a", 14, 30, 6.0, 0.0, (0.72, 0.72, 0.74), 0.82, 5),
    Recipe("recipe-b", 16, 24, 4.5, 20.0, (0.66, 0.64, 0.60), 0.78, 6),
    Recipe("recipe-c", 12, 34, 8.0, -15.0, (0.78, 0.76, 0.70), 0.86, 4),
    Recipe("recipe-d", 18, 26, 5.0, 45.0, (0.60, 0.63, 0.68), 0.74, 7),
)

# Held-out recipes for the recipe-disjoint evaluation (`--recipes unseen`, scripts/ml/seal_eval_suite.py):
# never used for training or for any choice. Band width, band position, pitch, angle, film tone, band
# gain and edge rows lie outside the ranges of RECIPES, and two of them use knurl families RECIPES never
# draws.
UNSEEN_RECIPES = (
    Recipe("unseen-e", 10, 38, 3.5, 70.0, (0.52, 0.55, 0.58), 0.70, 3),
    Recipe("unseen-f", 20, 20, 10.0, 30.0, (0.84, 0.80, 0.74), 0.90, 8, "crosshatch"),
    Recipe("unseen-g", 15, 28, 7.0, 0.0, (0.70, 0.66, 0.72), 0.80, 5, "dots"),
)
# Unseen recipes take other texture seeds than the training recipes (render_reference/render_sample).
UNSEEN_INDEX_BASE = 100


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1], made by upsampling a coarse random grid."""
    coarse = rng.uniform(-1, 1, (h // scale + 2, w // scale + 2)).astype(np.float32)
    img = Image.fromarray(coarse, mode="F").resize((w + 2 * scale, h + 2 * scale), Image.BICUBIC)
    arr = np.asarray(img)[scale : scale + h, scale : scale + w]
    return np.clip(arr, -1, 1)


class Canvas:
    """A float RGB frame plus the band geometry, so defects know where the seal is."""

    def __init__(self, recipe: Recipe, rng: np.random.Generator, band_top_rows: np.ndarray | None = None):
        self.recipe = recipe
        self.yy, self.xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        # Per-column band top and bottom: straight for a good seal; defects may bend them.
        self.top = np.full(WIDTH, float(recipe.band_top), np.float32) if band_top_rows is None else band_top_rows
        self.bottom = self.top + recipe.band_width
        self.rng = rng
        self.extra = np.zeros((HEIGHT, WIDTH, 3), np.float32)  # additive defect layer
        self.tint = np.ones((HEIGHT, WIDTH, 3), np.float32)  # multiplicative defect layer
        self.knurl_mod = np.ones((HEIGHT, WIDTH), np.float32)  # knurl contrast modulation

    def band_mask(self) -> np.ndarray:
        return ((self.yy >= self.top[None, :]) & (self.yy < self.bottom[None, :])).astype(np.float32)

    def render(self, texture_seed: int) -> np.ndarray:
        r = self.recipe
        tex = np.random.default_rng(texture_seed)  # film grain belongs to the recipe's material
        film = np.asarray(r.film_rgb, np.float32)[None, None, :]
        body = film * (1.0 + 0.05 * _smooth_noise(tex, HEIGHT, WIDTH, 16))[..., None]
        # Knurl ridges: a sinusoid across the band along the knurl angle.
        a = math.radians(r.knurl_angle)
        phase = (self.xx * math.cos(a) + self.yy * math.sin(a)) * (2 * math.pi / r.knurl_pitch)
        ridges = 0.5 + 0.5 * np.sin(phase)
        if r.knurl_family == "crosshatch":
            mirrored = (self.xx * math.cos(a) - self.yy * math.sin(a)) * (2 * math.pi / r.knurl_pitch)
            ridges = ridges * (0.5 + 0.5 * np.sin(mirrored))
        elif r.knurl_family == "dots":
            across = self.yy * (2 * math.pi / r.knurl_pitch)
            ridges = (ridges * (0.5 + 0.5 * np.sin(across))) ** 2
        elif r.knurl_family != "ridges":
            raise ValueError(f"unknown knurl family {r.knurl_family!r}")
        band_tone = r.band_gain * (1.0 - 0.16 * ridges * self.knurl_mod)
        band = film * band_tone[..., None]
        band_mask = self.band_mask()[..., None]
        # Soft band edges (the heat press leaves a ~1 px transition).
        band_mask = np.asarray(
            Image.fromarray((band_mask[..., 0] * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6)),
            np.float32,
        )[..., None] / 255.0
        img = body * (1 - band_mask) + band * band_mask
        # Trimmed edge then conveyor (dark, slightly textured).
        edge_end = self.bottom + r.edge_rows
        below_edge = (self.yy >= edge_end[None, :]).astype(np.float32)[..., None]
        conveyor = np.full(3, 0.10, np.float32)[None, None, :] * (1 + 0.2 * _smooth_noise(tex, HEIGHT, WIDTH, 8))[..., None]
        img = img * (1 - below_edge) + conveyor * below_edge
        img = img * self.tint + self.extra
        # Fixed illumination falloff of the station's light bar.
        light = 1.0 - 0.10 * ((self.xx - WIDTH / 2) / (WIDTH / 2)) ** 2
        return np.clip(img * light[..., None], 0, 1)


# --- defects: each draws on a Canvas before rendering ------------------------------------------------


def _random_band_point(c: Canvas, margin: int = 4) -> tuple[float, float]:
    x = c.rng.uniform(12, WIDTH - 12)
    xi = int(x)
    y = c.rng.uniform(c.top[xi] + margin, c.bottom[xi] - margin)
    return x, y


def crack(c: Canvas) -> None:
    """A thin dark fissure across part of the band, jagged like a film break."""
    x, y = _random_band_point(c, 2)
    length = c.rng.uniform(8, 22)
    angle = c.rng.uniform(-1.2, 1.2) + math.pi / 2  # mostly across the band
    steps = int(length * 2)
    pts = []
    for _ in range(steps):
        pts.append((x, y))
        angle += c.rng.normal(0, 0.25)
        x += 0.5 * math.cos(angle)
        y += 0.5 * math.sin(angle)
    depth = c.rng.uniform(0.30, 0.55)
    width = c.rng.uniform(0.6, 1.1)
    for px, py in pts:
        d2 = (c.xx - px) ** 2 + (c.yy - py) ** 2
        c.tint *= (1 - depth * np.exp(-d2 / (2 * width**2)))[..., None]


def narrow_width(c: Canvas) -> None:
    """Non-uniform seal width: the band narrows over a stretch (the head did not press there)."""
    centre = c.rng.uniform(30, WIDTH - 30)
    half = c.rng.uniform(10, 35)
    depth = c.rng.uniform(3.0, 7.0)
    profile = depth * np.clip(1 - np.abs(np.arange(WIDTH) - centre) / half, 0, 1) ** 0.7
    if c.rng.random() < 0.5:
        c.top = c.top + profile.astype(np.float32)
    else:
        c.bottom = c.bottom - profile.astype(np.float32)


def foreign_matter(c: Canvas) -> None:
    """A particle sealed into or lying on the band: small, dark or shiny, irregular."""
    x, y = _random_band_point(c, 1)
    radius = c.rng.uniform(1.5, 4.0)
    blob = np.zeros((HEIGHT, WIDTH), np.float32)
    for _ in range(3):
        ox, oy = c.rng.normal(0, radius / 2, 2)
        d2 = (c.xx - x - ox) ** 2 + (c.yy - y - oy) ** 2
        blob = np.maximum(blob, np.exp(-d2 / (2 * (radius * c.rng.uniform(0.5, 1.0)) ** 2)))
    blob = np.clip(blob * 1.6, 0, 1)
    if c.rng.random() < 0.6:
        c.tint *= (1 - c.rng.uniform(0.45, 0.7) * blob)[..., None]  # dark particle
    else:
        colour = c.rng.uniform(0.15, 0.35, 3).astype(np.float32)
        c.extra += blob[..., None] * colour[None, None, :]  # bright metal fleck


def wrinkle(c: Canvas) -> None:
    """Over-squeeze or a loose seal: ripples across the band and a wavy band edge."""
    x0 = c.rng.uniform(20, WIDTH - 20)
    span = c.rng.uniform(25, 70)
    freq = c.rng.uniform(0.15, 0.35)
    env = np.exp(-((c.xx - x0) ** 2) / (2 * (span / 2) ** 2))
    slant = c.rng.uniform(-0.6, 0.6)
    ripple = np.sin((c.xx + slant * c.yy) * freq * 2 * math.pi / 2)
    amp = c.rng.uniform(0.10, 0.18)
    c.tint *= (1 + amp * ripple * env * c.band_mask())[..., None]
    wave = c.rng.uniform(1.0, 2.5) * np.sin(np.arange(WIDTH) * freq) * np.exp(
        -((np.arange(WIDTH) - x0) ** 2) / (2 * (span / 2) ** 2)
    )
    c.bottom = c.bottom + wave.astype(np.float32)


def contamination(c: Canvas) -> None:
    """An electrolyte stain: a soft, irregular, translucent tint with a darker rim."""
    x, y = _random_band_point(c, 0)
    y += c.rng.uniform(-6, 6)
    rx, ry = c.rng.uniform(5, 14), c.rng.uniform(4, 9)
    wobble = _smooth_noise(c.rng, HEIGHT, WIDTH, 6)
    d = np.sqrt(((c.xx - x) / rx) ** 2 + ((c.yy - y) / ry) ** 2) + 0.25 * wobble
    stain = np.clip(1.2 - d, 0, 1) ** 0.8
    rim = np.exp(-((d - 1.0) ** 2) / 0.02)
    strength = c.rng.uniform(0.16, 0.28)
    hue = np.array([1.0, 0.96, 0.80], np.float32) if c.rng.random() < 0.5 else np.array([0.92, 0.92, 0.92], np.float32)
    c.tint *= (1 - strength * stain[..., None] * (1 - hue[None, None, :] * 0.5)) * (1 - 0.10 * rim[..., None])


DEFECT_FUNCS = {
    "crack": crack,
    "narrow_width": narrow_width,
    "foreign_matter": foreign_matter,
    "wrinkle": wrinkle,
    "contamination": contamination,
}


# --- capture: what the camera does to every frame -------------------------------------------------


def capture(img: np.ndarray, rng: np.random.Generator, live: bool) -> np.ndarray:
    """Turns a rendered part into an 8-bit frame as the station's camera would deliver it."""
    if live:
        dx, dy = rng.uniform(-3, 3), rng.uniform(-2.5, 2.5)
        rot = rng.uniform(-1.2, 1.2)
        gain, offset = rng.uniform(0.90, 1.10), rng.uniform(-0.04, 0.04)
        contrast = rng.uniform(0.92, 1.08)
        noise = rng.uniform(0.006, 0.02)
        blur = rng.uniform(0.0, 0.8)
    else:
        dx = dy = rot = 0.0
        gain, offset, contrast, noise, blur = 1.0, 0.0, 1.0, 0.004, 0.3
    u8 = Image.fromarray((img * 255).round().astype(np.uint8), "RGB")
    if rot or dx or dy:
        # The scene goes on past the frame: pad by edge replication, move, crop back (no fill borders).
        pad = 8
        padded = Image.fromarray(np.pad(np.asarray(u8), ((pad, pad), (pad, pad), (0, 0)), mode="edge"))
        moved = padded.rotate(rot, resample=Image.BILINEAR, translate=(dx, dy))
        u8 = moved.crop((pad, pad, pad + WIDTH, pad + HEIGHT))
    if blur > 0.05:
        u8 = u8.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(u8, np.float32) / 255.0
    mean = arr.mean()
    arr = (arr - mean) * contrast + mean
    arr = arr * gain + offset + rng.normal(0, noise, arr.shape)
    return (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)


def render_sample(recipe: Recipe, recipe_index: int, defect: str | None, rng: np.random.Generator) -> np.ndarray:
    canvas = Canvas(recipe, rng)
    # A real cell's seal band sits a little differently each time (trim tolerance +-0.3 mm).
    canvas.top = canvas.top + rng.uniform(-1.0, 1.0)
    canvas.bottom = canvas.top + recipe.band_width + rng.uniform(-0.6, 0.6)
    if defect is not None:
        DEFECT_FUNCS[defect](canvas)
    return capture(canvas.render(texture_seed=1000 + recipe_index), rng, live=True)


def render_reference(recipe: Recipe, recipe_index: int) -> np.ndarray:
    canvas = Canvas(recipe, np.random.default_rng(recipe_index))
    return capture(canvas.render(texture_seed=1000 + recipe_index), np.random.default_rng(recipe_index), live=False)


def _recipe_dict(r: Recipe) -> dict:
    d = asdict(r)
    if d["knurl_family"] == "ridges":
        del d["knurl_family"]  # the training sets' dataset.json stays as it was before families existed
    return d


def generate(out: Path, count: int, seed: int, ng_fraction: float, recipes: int | str) -> dict:
    """`recipes`: how many of RECIPES to use, or "unseen" for UNSEEN_RECIPES (evaluation only)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(exist_ok=True)
    (out / "references").mkdir(exist_ok=True)
    unseen = recipes == "unseen"
    used = UNSEEN_RECIPES if unseen else RECIPES[:recipes]
    base = UNSEEN_INDEX_BASE if unseen else 0
    for i, recipe in enumerate(used):
        Image.fromarray(render_reference(recipe, base + i)).save(out / "references" / f"{recipe.name}.png")
    counts: dict[str, int] = {"ok": 0, **{d: 0 for d in DEFECTS}}
    with open(out / "manifest.jsonl", "w") as manifest:
        for idx in range(count):
            rng = np.random.default_rng([seed, idx])
            ri = int(rng.integers(len(used)))
            defect = None
            if rng.random() < ng_fraction:
                defect = DEFECTS[int(rng.integers(len(DEFECTS)))]
            img = render_sample(used[ri], base + ri, defect, rng)
            name = f"samples/{idx:06d}.png"
            Image.fromarray(img).save(out / name)
            counts[defect or "ok"] += 1
            manifest.write(
                json.dumps(
                    {
                        "image": name,
                        "reference": f"references/{used[ri].name}.png",
                        "label": "ng" if defect else "ok",
                        "defect": defect,
                    }
                )
                + "\n"
            )
    info = {
        "generator": "scripts/ml/seal_render.py",
        "seed": seed,
        "count": count,
        "ng_fraction": ng_fraction,
        "size": [HEIGHT, WIDTH],
        "recipes": [_recipe_dict(r) for r in used],
        "counts": counts,
    }
    if unseen:
        info["recipe_set"] = "unseen: held-out evaluation recipes, never for training or any choice"
    (out / "dataset.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _recipes_arg(text: str) -> int | str:
    if text == "unseen":
        return text
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 1..{len(RECIPES)} or 'unseen', got {text!r}") from None
    if not 1 <= n <= len(RECIPES):
        raise argparse.ArgumentTypeError(f"expected 1..{len(RECIPES)} or 'unseen', got {n}")
    return n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder to write (DESIGN seal format)")
    p.add_argument("--count", type=int, default=4000, help="live samples to render")
    p.add_argument("--seed", type=int, default=1, help="seed; the test set uses another one")
    p.add_argument("--ng-fraction", type=float, default=0.5, help="share of NG samples")
    p.add_argument(
        "--recipes",
        type=_recipes_arg,
        default=len(RECIPES),
        help=f"how many training recipes (1..{len(RECIPES)}), or 'unseen' for the held-out evaluation recipes",
    )
    a = p.parse_args()
    info = generate(a.out, a.count, a.seed, a.ng_fraction, a.recipes)
    print(json.dumps(info["counts"]))


if __name__ == "__main__":
    main()
