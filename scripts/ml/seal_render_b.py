"""Second, independent seal-edge renderer: a test-only stand-in for "a factory we have never seen".

Never use its output for training or for any choice (threshold, epoch, hyper-parameter): it exists so
that the seal classifier can be measured on recipes, textures, defects and captures that nothing in the
training pipeline drew. It shares no code with `seal_render.py` and draws differently on purpose:

- the scene is an analytic function of continuous scene coordinates (u, v). A capture evaluates it at
  the pixel grid mapped through the camera's pose (shift, rotation, scale, keystone), so nothing is
  resampled; the lens is a separable Gaussian point-spread function applied afterwards;
- the seal's cross-section is a 1-D intensity profile (cell body, gap, knurled band, lip, trim edge,
  background) whose boundaries are functions of u, so geometry defects bend them;
- knurl textures are sums/products of oriented cosines and periodic Gaussian lattices (ridged, diagonal,
  diamond, dotted, grid), with a phase that a hard OK pair shifts;
- defects are procedural masks composited with alpha (crack, narrow_width, foreign_matter, wrinkle,
  contamination, pinhole_void, trim_deviation);
- the sensor adds signal-dependent shot noise, read noise and column fixed-pattern gain.

Every recipe is drawn from the seed (capture sizes 256x64 to 640x160, band/gap/lip widths and positions,
orientation, film and background colours, gloss, knurl family/pitch/angle/contrast). Output is the DESIGN
seal format: manifest.jsonl + samples/ + references/ (one clean reference per recipe) + dataset.json.
Deterministic: the same (seed, count, recipes, ng-fraction) always writes the same bytes.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

DEFECTS_B = (
    "crack",
    "narrow_width",
    "foreign_matter",
    "wrinkle",
    "contamination",
    "pinhole_void",
    "trim_deviation",
)
KNURLS_B = ("ridged", "diagonal", "diamond", "dotted", "grid")
SIZES_B = ((64, 256), (80, 320), (96, 384), (112, 448), (128, 512), (144, 576), (160, 640))


def draw_recipe(rng: np.random.Generator, index: int) -> dict:
    """One recipe: everything that a line's tooling and material fix for a product (fractions of H)."""
    h, w = SIZES_B[int(rng.integers(len(SIZES_B)))]
    band = rng.uniform(0.24, 0.46)
    gap = rng.uniform(0.04, 0.13)
    lip = rng.uniform(0.05, 0.12)
    free = 1.0 - band - gap - lip - 0.12  # body and background share what is left (>= 0.06 each)
    body = 0.06 + rng.uniform(0.0, max(free, 0.0))
    lum = rng.uniform(0.45, 0.85)
    film = np.clip(lum + rng.uniform(-0.06, 0.06, 3), 0.2, 0.95)
    dark_bg = rng.random() < 0.75
    bg = rng.uniform(0.03, 0.18) if dark_bg else rng.uniform(0.70, 0.90)
    family = KNURLS_B[int(rng.integers(len(KNURLS_B)))]
    angle = {
        "ridged": rng.uniform(-10, 10),
        "diagonal": rng.choice([-1, 1]) * rng.uniform(28, 62),
        "diamond": rng.uniform(25, 60),
        "dotted": rng.uniform(-20, 20),
        "grid": rng.uniform(-15, 15),
    }[family]
    return {
        "name": f"b-recipe-{index:02d}",
        "size": [h, w],
        "flip": bool(rng.random() < 0.3),  # seal at the top of the frame instead of the bottom
        "body_end": body,
        "gap": gap,
        "band": band,
        "lip": lip,
        "film_rgb": [float(x) for x in film],
        "gap_gain": float(rng.uniform(1.02, 1.15)),  # unpressed film between body and seal is shinier
        "band_gain": float(rng.uniform(0.62, 0.92)),
        "band_tint": [float(x) for x in rng.uniform(-0.03, 0.03, 3)],
        "background": [float(bg + d) for d in rng.uniform(-0.02, 0.02, 3)],
        "gloss": float(rng.uniform(0.0, 0.15)),
        "gloss_at": float(rng.uniform(0.2, 0.8)),
        "knurl": family,
        "knurl_pitch": float(rng.uniform(0.055, 0.14)),  # fraction of H
        "knurl_angle": float(angle),
        "knurl_contrast": float(rng.uniform(0.08, 0.24)),
        "knurl_sharpness": float(rng.uniform(1.0, 3.0)),
        "vignette": float(rng.uniform(0.0, 0.15)),
        "vignette_centre": float(rng.uniform(0.3, 0.7)),
    }


# --- the scene: intensity at scene coordinates (u, v), in pixels of the recipe's capture size ----------


def _step(x: np.ndarray, edge: np.ndarray | float, soft: float) -> np.ndarray:
    """0 before `edge`, 1 after, with a tanh transition `soft` pixels wide."""
    return 0.5 + 0.5 * np.tanh((x - edge) / max(soft, 1e-3))


def knurl_field(r: dict, u: np.ndarray, v: np.ndarray, phase: float) -> np.ndarray:
    """The knurl tool's imprint in [0, 1] (1 = ridge), periodic; `phase` in periods."""
    p = r["knurl_pitch"] * r["size"][0]
    a = math.radians(r["knurl_angle"])
    s = r["knurl_sharpness"]
    fam = r["knurl"]
    t1 = (u * math.cos(a) + v * math.sin(a)) / p + phase
    if fam in ("ridged", "diagonal"):
        return (0.5 + 0.5 * np.cos(2 * math.pi * t1)) ** s
    if fam == "diamond":
        t2 = (u * math.cos(a) - v * math.sin(a)) / p + 0.37 * phase
        return ((0.5 + 0.5 * np.cos(2 * math.pi * t1)) * (0.5 + 0.5 * np.cos(2 * math.pi * t2))) ** (0.5 * s)
    ca, sa = math.cos(a), math.sin(a)
    x = (u * ca + v * sa) / p + phase
    y = (-u * sa + v * ca) / p
    if fam == "dotted":
        row = np.floor(y)
        fx = (x + 0.5 * (row % 2)) % 1.0 - 0.5  # staggered rows
        fy = y % 1.0 - 0.5
        return np.exp(-(fx**2 + fy**2) / (2 * (0.16 + 0.04 * s) ** 2))
    # grid: thin raised lines both ways
    dx = np.abs(x % 1.0 - 0.5)
    dy = np.abs(y % 1.0 - 0.5)
    width = 0.10 + 0.03 * s
    return np.maximum(np.exp(-(dx**2) / (2 * width**2)), np.exp(-(dy**2) / (2 * width**2)))


class Part:
    """One physical cell of a recipe: boundary positions as functions of u, and its defect layers."""

    def __init__(self, r: dict, rng: np.random.Generator, jitter: bool):
        h, _ = r["size"]
        self.r = r
        self.rng = rng
        j = (lambda a: rng.uniform(-a, a)) if jitter else (lambda a: 0.0)
        # Heights in pixels along the seal's cross-section (v grows from the body towards the trim).
        self.body_end = (r["body_end"] + j(0.012)) * h
        self.band_top = self.body_end + r["gap"] * h
        self.band_width = (r["band"] + j(0.01)) * h
        self.lip = r["lip"] * h
        self.phase = 0.0
        self.bumps: list = []  # (kind, function of u): kind in top, bottom, trim, body
        self.layers: list = []  # functions (u, v, rgb) -> rgb applied after the base scene
        self.knurl_gate: list = []  # functions (u, v) -> [0, 1] knurl suppression

    def edges(self, u: np.ndarray) -> dict:
        e = {
            "body": np.full_like(u, self.body_end),
            "top": np.full_like(u, self.band_top),
            "bottom": np.full_like(u, self.band_top + self.band_width),
        }
        for kind, f in self.bumps:
            if kind in e:
                e[kind] = e[kind] + f(u)
        e["trim"] = e["bottom"] + self.lip
        for kind, f in self.bumps:
            if kind == "trim":
                e["trim"] = e["trim"] + f(u)
        return e

    def scene(self, u: np.ndarray, v: np.ndarray, grain_rng: np.random.Generator) -> np.ndarray:
        r = self.r
        h, w = r["size"]
        sc = h / 64.0
        if r["flip"]:
            v = h - 1 - v
        e = self.edges(u)
        film = np.asarray(r["film_rgb"], np.float32)
        in_gap = _step(v, e["body"], 0.8 * sc)
        in_band = _step(v, e["top"], 0.6 * sc)
        past_band = _step(v, e["bottom"], 0.6 * sc)
        past_trim = _step(v, e["trim"], 0.5 * sc)
        # Cross-section profile (a scalar gain per pixel) before texture.
        body_shade = 1.0 + r["gloss"] * np.exp(-(((v / h) - r["gloss_at"] * r["body_end"]) ** 2) / 0.004)
        gap_shade = r["gap_gain"] * (1.0 - 0.05 * np.cos(math.pi * np.clip((v - e["body"]) / max(r["gap"] * h, 1), 0, 1)))
        knurl = knurl_field(r, u, v, self.phase)
        gate = np.ones_like(u)
        for g in self.knurl_gate:
            gate = gate * (1.0 - g(u, v))
        band_shade = r["band_gain"] * (1.0 - r["knurl_contrast"] * knurl * gate)
        lip_shade = r["band_gain"] * 1.06
        gain = body_shade * (1 - in_gap) + gap_shade * (in_gap - in_band)
        gain = gain + band_shade * (in_band - past_band) + lip_shade * (past_band - past_trim)
        rgb = film[None, None, :] * gain[..., None]
        band_w = (in_band - past_band)[..., None]
        rgb = rgb + band_w * np.asarray(r["band_tint"], np.float32)[None, None, :]
        # Film micro-texture of this very cell (random per part: a reference never matches it exactly).
        k = grain_rng.uniform(0.05, 0.25, (4, 2)) / sc
        ph = grain_rng.uniform(0, 2 * math.pi, 4)
        amp = grain_rng.uniform(0.002, 0.008)
        grain = sum(np.cos(k[i, 0] * u + k[i, 1] * v + ph[i]) for i in range(4)) * amp
        rgb = rgb * (1.0 + grain[..., None] * (1 - past_trim)[..., None])
        bg = np.asarray(r["background"], np.float32)
        rgb = rgb * (1 - past_trim)[..., None] + bg[None, None, :] * past_trim[..., None]
        for layer in self.layers:
            rgb = layer(u, v, rgb, e)
        return rgb


def _composite(rgb: np.ndarray, alpha: np.ndarray, colour) -> np.ndarray:
    a = np.clip(alpha, 0, 1)[..., None]
    return rgb * (1 - a) + np.asarray(colour, np.float32)[None, None, :] * a


def _band_point(p: Part, margin: float) -> tuple[float, float]:
    _, w = p.r["size"]
    u = p.rng.uniform(0.06 * w, 0.94 * w)
    v = p.band_top + p.rng.uniform(margin, 1 - margin) * p.band_width
    return u, v


# --- defects: each adds bumps or layers to a Part ----------------------------------------------------


def d_crack(p: Part) -> None:
    sc = p.r["size"][0] / 64.0
    u, v = _band_point(p, 0.15)
    pts = [(u, v)]
    ang = math.pi / 2 + p.rng.uniform(-0.9, 0.9)  # roughly across the band
    for _ in range(int(p.rng.integers(8, 18))):
        ang += p.rng.normal(0, 0.35)
        step = p.rng.uniform(1.0, 2.0) * sc
        u, v = u + step * math.cos(ang), v + step * math.sin(ang)
        pts.append((u, v))
    width = p.rng.uniform(0.45, 1.1) * sc
    depth = p.rng.uniform(0.35, 0.8)
    seg = np.asarray(pts, np.float32)

    def layer(uu, vv, rgb, e):
        d = np.full(uu.shape, 1e9, np.float32)
        for (x0, y0), (x1, y1) in zip(seg[:-1], seg[1:]):
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((uu - x0) * dx + (vv - y0) * dy) / (dx * dx + dy * dy + 1e-6), 0, 1)
            d = np.minimum(d, np.hypot(uu - x0 - t * dx, vv - y0 - t * dy))
        rgb = _composite(rgb, 0.35 * np.exp(-(d**2) / (2 * (2.2 * width) ** 2)), (0.95, 0.95, 0.95))  # whitening
        return _composite(rgb, depth * np.clip(1.5 - d / width, 0, 1), (0.04, 0.04, 0.05))

    p.layers.append(layer)


def d_narrow_width(p: Part) -> None:
    w = p.r["size"][1]
    centre = p.rng.uniform(0.1, 0.9) * w
    half = p.rng.uniform(0.05, 0.16) * w
    depth = p.rng.uniform(0.15, 0.35) * p.band_width
    side = "top" if p.rng.random() < 0.5 else "bottom"
    sign = 1.0 if side == "top" else -1.0

    def bump(u):
        x = np.clip(np.abs(u - centre) / half, 0, 1)
        return sign * depth * 0.5 * (1 + np.cos(math.pi * x))

    p.bumps.append((side, bump))


def d_foreign_matter(p: Part) -> None:
    sc = p.r["size"][0] / 64.0
    u0, v0 = _band_point(p, 0.1)
    if p.rng.random() < 0.35:  # a fibre: thin curved line
        length = p.rng.uniform(6, 16) * sc
        a = p.rng.uniform(0, math.pi)
        bend = p.rng.uniform(-0.6, 0.6)
        t = np.linspace(-0.5, 0.5, 24)
        cu = u0 + length * t * math.cos(a) - bend * length * (t**2 - 0.25) * math.sin(a)
        cv = v0 + length * t * math.sin(a) + bend * length * (t**2 - 0.25) * math.cos(a)
        width = p.rng.uniform(0.5, 0.9) * sc
        colour = p.rng.uniform(0.05, 0.3, 3)

        def layer(uu, vv, rgb, e):
            d = np.full(uu.shape, 1e9, np.float32)
            for x, y in zip(cu, cv):
                d = np.minimum(d, np.hypot(uu - x, vv - y))
            return _composite(rgb, 0.9 * np.clip(1.5 - d / width, 0, 1), colour)

    else:  # a particle: irregular star-shaped outline
        r0 = p.rng.uniform(1.3, 3.8) * sc
        harm = p.rng.uniform(-0.25, 0.25, 4)
        ph = p.rng.uniform(0, 2 * math.pi, 4)
        kind = p.rng.random()
        colour = (
            p.rng.uniform(0.03, 0.2, 3)
            if kind < 0.55
            else (p.rng.uniform(0.85, 1.0, 3) if kind < 0.85 else p.rng.uniform(0.2, 0.8, 3))
        )
        alpha_max = p.rng.uniform(0.7, 1.0)

        def layer(uu, vv, rgb, e):
            th = np.arctan2(vv - v0, uu - u0)
            rad = r0 * (1 + sum(harm[k] * np.cos((k + 2) * th + ph[k]) for k in range(4)))
            d = np.hypot(uu - u0, vv - v0)
            return _composite(rgb, alpha_max * np.clip((rad - d) / (0.6 * sc) + 0.5, 0, 1), colour)

    p.layers.append(layer)


def d_wrinkle(p: Part) -> None:
    h, w = p.r["size"]
    sc = h / 64.0
    u0 = p.rng.uniform(0.1, 0.9) * w
    span = p.rng.uniform(0.08, 0.25) * w
    n = int(p.rng.integers(2, 6))
    spacing = p.rng.uniform(3, 7) * sc
    a = math.radians(p.rng.uniform(-40, 40))
    amp = p.rng.uniform(0.10, 0.22)
    sigma = p.rng.uniform(0.8, 1.6) * sc

    def layer(uu, vv, rgb, e):
        across = (uu - u0) * math.cos(a) + (vv - p.band_top) * math.sin(a)
        shade = np.zeros_like(uu)
        for k in range(n):
            x = (across - (k - (n - 1) / 2) * spacing) / sigma
            shade = shade + x * np.exp(-0.5 * x**2)  # a fold: bright flank, dark flank
        env = np.exp(-0.5 * ((uu - u0) / (span / 2)) ** 2)
        band = ((vv >= e["top"] - 1) & (vv <= e["trim"])).astype(np.float32)
        return rgb * (1 + amp * shade * env * band)[..., None]

    wave_amp = p.rng.uniform(0.6, 2.0) * sc
    freq = 2 * math.pi / (spacing * 1.5)
    p.bumps.append(("bottom", lambda u: wave_amp * np.sin(freq * (u - u0)) * np.exp(-0.5 * ((u - u0) / (span / 2)) ** 2)))
    p.layers.append(layer)


def d_contamination(p: Part) -> None:
    sc = p.r["size"][0] / 64.0
    u0, v0 = _band_point(p, 0.0)
    v0 += p.rng.uniform(-0.2, 0.2) * p.band_width
    rx, ry = p.rng.uniform(4, 13) * sc, p.rng.uniform(3, 8) * sc
    harm = p.rng.uniform(-0.18, 0.18, 5)
    ph = p.rng.uniform(0, 2 * math.pi, 5)
    # Dried electrolyte or grease: darker than a light band, lighter than a dark one, so it shows.
    tone = float(np.mean(p.r["film_rgb"])) * p.r["band_gain"]
    stains = [(0.32, 0.25, 0.12), (0.20, 0.19, 0.17)] if tone > 0.42 else [(0.85, 0.78, 0.50), (0.80, 0.80, 0.74)]
    colour = stains[int(p.rng.integers(2))]
    alpha = p.rng.uniform(0.22, 0.45)
    ring = p.rng.uniform(0.05, 0.2)

    def inside(uu, vv):
        th = np.arctan2((vv - v0) / ry, (uu - u0) / rx)
        d = np.hypot((uu - u0) / rx, (vv - v0) / ry) / (1 + sum(harm[k] * np.cos((k + 1) * th + ph[k]) for k in range(5)))
        return d

    def layer(uu, vv, rgb, e):
        d = inside(uu, vv)
        fill = np.clip((1 - d) * 6, 0, 1)
        rim = np.exp(-((d - 0.95) ** 2) / 0.004)
        rgb = _composite(rgb, alpha * fill, colour)
        return _composite(rgb, ring * rim, (0.2, 0.18, 0.12))

    p.knurl_gate.append(lambda uu, vv: 0.5 * np.clip((1 - inside(uu, vv)) * 6, 0, 1))
    p.layers.append(layer)


def d_pinhole_void(p: Part) -> None:
    sc = p.r["size"][0] / 64.0
    u0, v0 = _band_point(p, 0.2)
    if p.rng.random() < 0.5:  # pinhole: a tiny hole with a hard edge, light or dark behind it
        r0 = p.rng.uniform(0.8, 1.9) * sc
        colour = (0.02, 0.02, 0.02) if p.rng.random() < 0.6 else (0.98, 0.98, 0.96)

        def layer(uu, vv, rgb, e):
            d = np.hypot(uu - u0, vv - v0)
            return _composite(rgb, np.clip((r0 - d) / (0.35 * sc) + 0.5, 0, 1), colour)

        p.layers.append(layer)
        return
    # void: an unsealed bubble, no knurl, lighter, with a thin dark rim
    rx, ry = p.rng.uniform(3, 8) * sc, p.rng.uniform(2, 0.35 * p.band_width / sc) * sc
    lift = p.rng.uniform(0.12, 0.3)

    def dist(uu, vv):
        return np.hypot((uu - u0) / rx, (vv - v0) / ry)

    def layer(uu, vv, rgb, e):
        d = dist(uu, vv)
        inner = np.clip((1 - d) * 5, 0, 1)
        rgb = rgb * (1 + lift * inner)[..., None]
        return _composite(rgb, 0.4 * np.exp(-((d - 1) ** 2) / 0.01), (0.1, 0.1, 0.1))

    p.knurl_gate.append(lambda uu, vv: np.clip((1 - dist(uu, vv)) * 5, 0, 1))
    p.layers.append(layer)


def d_trim_deviation(p: Part) -> None:
    w = p.r["size"][1]
    lip = p.lip
    kind = p.rng.random()
    if kind < 0.35:  # slanted trim: the lip narrows or widens across the frame
        slope = p.rng.choice([-1, 1]) * p.rng.uniform(0.5, 1.0) * lip / w
        u0 = p.rng.uniform(0, w)
        p.bumps.append(("trim", lambda u: slope * (u - u0)))
    elif kind < 0.7:  # notch: the knife cut into the lip
        centre = p.rng.uniform(0.1, 0.9) * w
        half = p.rng.uniform(0.02, 0.06) * w
        depth = p.rng.uniform(0.7, 1.4) * lip

        def notch(u):
            return -depth * np.clip(1 - np.abs(u - centre) / half, 0, 1)

        p.bumps.append(("trim", notch))
    else:  # step: the trim jumps half-way
        at = p.rng.uniform(0.2, 0.8) * w
        step = p.rng.choice([-1, 1]) * p.rng.uniform(0.5, 0.9) * lip
        p.bumps.append(("trim", lambda u: step * _step(u, at, 1.0)))


DEFECT_FUNCS_B = {
    "crack": d_crack,
    "narrow_width": d_narrow_width,
    "foreign_matter": d_foreign_matter,
    "wrinkle": d_wrinkle,
    "contamination": d_contamination,
    "pinhole_void": d_pinhole_void,
    "trim_deviation": d_trim_deviation,
}


# --- the camera ---------------------------------------------------------------------------------------


def _gauss_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma < 0.1:
        return img
    rad = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-rad, rad + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    out = np.pad(img, ((rad, rad), (0, 0), (0, 0)), mode="edge")
    out = sum(k[i] * out[i : i + img.shape[0]] for i in range(2 * rad + 1))
    out = np.pad(out, ((0, 0), (rad, rad), (0, 0)), mode="edge")
    return sum(k[i] * out[:, i : i + img.shape[1]] for i in range(2 * rad + 1))


def camera(part: Part, rng: np.random.Generator, pose: dict) -> np.ndarray:
    """Evaluates the scene through the camera's pose, lens and sensor; uint8 HxWx3."""
    h, w = part.r["size"]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    c, s = math.cos(pose["rot"]), math.sin(pose["rot"])
    xs, ys = (x - cx) / pose["scale"], (y - cy) / pose["scale"]
    xs = xs * (1 + pose["keystone"] * ys / h)
    u = cx + c * xs - s * ys + pose["dx"]
    v = cy + s * xs + c * ys + pose["dy"]
    rgb = part.scene(u, v, rng)
    # Station light: a broad fall-off around a centre column.
    r = part.r
    light = 1.0 - r["vignette"] * ((x / w - r["vignette_centre"]) / 0.5) ** 2
    rgb = rgb * light[..., None]
    rgb = _gauss_blur(rgb.astype(np.float32), pose["blur"])
    signal = np.clip(rgb * pose["gain"] * np.asarray(pose["wb"], np.float32)[None, None, :], 0, None)
    signal = signal ** pose["gamma"]
    fpn = 1.0 + pose["fpn"] * rng.standard_normal(w).astype(np.float32)
    noisy = signal * fpn[None, :, None] + rng.standard_normal(signal.shape).astype(np.float32) * np.sqrt(
        pose["shot"] * signal + pose["read"] ** 2
    )
    return (np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8)


def reference_pose() -> dict:
    return {"dx": 0.0, "dy": 0.0, "rot": 0.0, "scale": 1.0, "keystone": 0.0, "blur": 0.5, "gain": 1.0,
            "wb": (1.0, 1.0, 1.0), "gamma": 1.0, "fpn": 0.002, "shot": 0.0004, "read": 0.003}


def live_pose(rng: np.random.Generator, size: list, hard: bool) -> dict:
    """A camera's capture of another part: small pose and light changes; a hard OK pair gets more."""
    h, w = size
    m = 2.0 if hard else 1.0
    lo, hi = (0.78, 1.25) if hard and rng.random() < 0.5 else (0.92, 1.08)
    return {
        "dx": rng.uniform(-0.012, 0.012) * w * m,
        "dy": rng.uniform(-0.03, 0.03) * h * m,
        "rot": math.radians(rng.uniform(-0.8, 0.8) * m),
        "scale": rng.uniform(0.985, 1.015),
        "keystone": rng.uniform(-0.02, 0.02) * m,
        "blur": rng.uniform(0.3, 1.0) + (rng.uniform(0.2, 0.6) if hard else 0.0),
        "gain": rng.uniform(lo, hi),
        "wb": tuple(rng.uniform(1 - 0.03 * m, 1 + 0.03 * m, 3)),
        "gamma": rng.uniform(0.93, 1.07),
        "fpn": rng.uniform(0.001, 0.006),
        "shot": rng.uniform(0.0003, 0.002) * m,
        "read": rng.uniform(0.003, 0.012),
    }


# --- the dataset --------------------------------------------------------------------------------------


def generate(out: Path, count: int, seed: int, ng_fraction: float, n_recipes: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(exist_ok=True)
    (out / "references").mkdir(exist_ok=True)
    recipes = [draw_recipe(np.random.default_rng([seed, 0xB, 1, i]), i) for i in range(n_recipes)]
    for i, r in enumerate(recipes):
        rng = np.random.default_rng([seed, 0xB, 2, i])
        img = camera(Part(r, rng, jitter=False), rng, reference_pose())
        Image.fromarray(img).save(out / "references" / f"{r['name']}.png")
    counts = {"ok": 0, "ok_hard": 0, **{d: 0 for d in DEFECTS_B}}
    with open(out / "manifest.jsonl", "w") as manifest:
        for idx in range(count):
            rng = np.random.default_rng([seed, 0xB, 3, idx])
            ri = int(rng.integers(n_recipes))
            r = recipes[ri]
            defect = DEFECTS_B[int(rng.integers(len(DEFECTS_B)))] if rng.random() < ng_fraction else None
            part = Part(r, rng, jitter=True)
            hard = bool(rng.random() < (0.5 if defect is None else 0.25))
            if hard and rng.random() < 0.6:
                part.phase = float(rng.uniform(0, 1))  # the knurl roll met this part at another phase
            else:
                part.phase = float(rng.uniform(-0.05, 0.05))
            if defect is not None:
                DEFECT_FUNCS_B[defect](part)
            img = camera(part, rng, live_pose(rng, r["size"], hard))
            name = f"samples/{idx:06d}.png"
            Image.fromarray(img).save(out / name)
            counts[defect or ("ok_hard" if hard else "ok")] += 1
            row = {"image": name, "reference": f"references/{r['name']}.png", "label": "ng" if defect else "ok",
                   "defect": defect}
            manifest.write(json.dumps(row) + "\n")
    info = {
        "generator": "scripts/ml/seal_render_b.py",
        "purpose": "test only: never train on it or choose anything with it",
        "seed": seed,
        "count": count,
        "ng_fraction": ng_fraction,
        "recipes": recipes,
        "counts": counts,
    }
    (out / "dataset.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder to write (DESIGN seal format)")
    p.add_argument("--count", type=int, default=600, help="live samples to render")
    p.add_argument("--seed", type=int, default=1, help="seed: draws the recipes and every sample")
    p.add_argument("--ng-fraction", type=float, default=0.5, help="share of NG samples")
    p.add_argument("--recipes", type=int, default=3, help="recipes drawn from the seed")
    a = p.parse_args()
    if a.recipes < 1 or a.count < 0 or not 0.0 <= a.ng_fraction <= 1.0:
        p.error("--recipes >= 1, --count >= 0, 0 <= --ng-fraction <= 1")
    info = generate(a.out, a.count, a.seed, a.ng_fraction, a.recipes)
    print(json.dumps(info["counts"]))


if __name__ == "__main__":
    main()
