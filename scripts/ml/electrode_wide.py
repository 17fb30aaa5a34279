"""The wide look of the electrode renderer: a distribution of sheets and defect styles, not one look.

A factory's electrodes will not look like one renderer, so training draws every sheet from a wide family
(`electrode_render.py --look wide`, the default): coating tone from graphite black to cathode grey with a
tint, textures mixed at random (granular, mottled, striped, calendered streaks, glossy highlight, matte),
lighting gradients, vignetting and hot spots, foil margins and tabs in some frames; X-ray gain, absorption,
thickness texture and signal-dependent noise drawn per sheet, saved as 8- or 16-bit, misregistered against
the visible image by up to 3 px. Each class comes in several styles and sizes down to ~2 px, with
contrasts down to a few noise sigmas; harmless confusers (large soft stains, coating streaks, thickness
bands) appear unlabelled, also on defect-free sheets. The physics of which modality shows what is kept.
"""

from __future__ import annotations

import math

import numpy as np

from electrode_contract import CLASSES, SIZE
from electrode_draw import annotation, blob, blur, noise, place, raster, thick_polyline

DEFECT_COUNT_P = (0.2, 0.3, 0.25, 0.15, 0.1)  # 0..4 defects per sheet


def _unit(a: np.ndarray) -> np.ndarray:
    return (a - a.mean()) / (a.std() + 1e-6)


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _coating(rng: np.random.Generator, across: np.ndarray) -> np.ndarray:
    """Unit-variance coating texture: a random mix of granular, mottled, striped and calendered parts."""
    h = w = SIZE
    parts = [
        blur(rng.normal(0, 1, (h, w)).astype(np.float32), rng.uniform(0.5, 1.6)),  # granular
        noise(rng, h, w, int(rng.integers(6, 40))),  # mottled
        np.sin(2 * math.pi * across / rng.uniform(25, 220) + rng.uniform(0, 6.3)),  # coating stripes
    ]
    streaks = blur(rng.normal(0, 1, (1, SIZE)).astype(np.float32).repeat(3, 0), rng.uniform(0.4, 1.5))[1]
    parts.append(streaks[across.astype(int)])  # calendering streaks run along the web
    weights = rng.uniform(0, 1, len(parts)) * (rng.random(len(parts)) < 0.7)
    weights[0] = max(weights[0], 0.2)  # some grain always
    return _unit(sum(wt * _unit(p) for wt, p in zip(weights, parts)))


def sheet(rng: np.random.Generator) -> dict:
    """A defect-free sheet: visible (H,W,3) and X-ray transmission (H,W) as float32 before noise, the coated
    area (where defects may sit) and the per-sheet imaging parameters."""
    h = w = SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vertical = rng.random() < 0.5
    across = xx if vertical else yy
    level = rng.uniform(22, 120)
    tint = 1 + rng.normal(0, 0.04, 3)
    if rng.random() < 0.35:  # cathode coatings read slightly blue under white light
        tint *= np.array([0.93, 0.97, 1.1])
    texture = _coating(rng, across) * level * _loguniform(rng, 0.03, 0.2)
    cx, cy = rng.uniform(0.2, 0.8, 2)
    r2 = (xx / w - cx) ** 2 + (yy / h - cy) ** 2
    gx, gy = rng.uniform(-0.35, 0.35, 2)
    light = 1 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5) - rng.uniform(0, 0.6) * r2
    if rng.random() < 0.25:  # ring-light hot spot
        light += rng.uniform(0.1, 0.5) * np.exp(-r2 / rng.uniform(0.01, 0.08))
    visible = (level * tint[None, None, :] + texture[..., None]) * light[..., None]
    if rng.random() < 0.3:  # glossy coatings reflect a band of the light source
        band = np.exp(-(((across / w) - rng.uniform(0, 1)) / rng.uniform(0.05, 0.3)) ** 2)
        visible += (band * level * rng.uniform(0.15, 0.8))[..., None]
    thickness = 0.05 * noise(rng, h, w, int(rng.integers(14, 48))) + 0.025 * noise(rng, h, w, int(rng.integers(3, 10)))
    thickness += 0.01 * rng.uniform(0, 2) * _unit(texture)
    gain, mu = rng.uniform(110, 235), rng.uniform(0.6, 1.6)
    xray = gain * np.exp(-mu * thickness)
    coated = np.ones((h, w), bool)
    if rng.random() < 0.25:  # an uncoated foil margin, sometimes with a tab, at one side of the frame
        along = yy if vertical else xx
        edge = rng.uniform(12, 70) + 2.5 * noise(rng, 1, SIZE, 16)[0][along.astype(int)]
        if rng.random() < 0.4:
            lo = rng.uniform(0, SIZE - 60)
            edge = np.where((along > lo) & (along < lo + rng.uniform(25, 60)), edge + rng.uniform(15, 45), edge)
        foil = across < edge if rng.random() < 0.5 else across > SIZE - edge
        metal = rng.uniform(130, 230) + rng.uniform(3, 14) * _unit(noise(rng, h, w, 3)) * 0.5
        soft = blur(foil.astype(np.float32), 0.7)[..., None]
        visible = visible * (1 - soft) + soft * (metal * light)[..., None] * np.array([1.0, 0.98, 0.95])
        xray = np.where(foil, min(252.0, gain * rng.uniform(1.12, 1.35)), xray)
        coated = blur(foil.astype(np.float32), 3) < 0.01  # defects keep off the foil and its edge
    return {"visible": visible.astype(np.float32), "xray": xray.astype(np.float32), "coated": coated,
            "level": level, "gain": gain, "vis_noise": rng.uniform(0.8, 4.0), "xray_noise": rng.uniform(0.12, 0.45)}


def shape(rng: np.random.Generator, cls: str) -> list[np.ndarray]:
    """Polygons of one defect in one of its class's styles, centred at the origin."""
    if cls == "scratch":
        length, width = _loguniform(rng, 10, 140), rng.uniform(1.5, 5)
        a = rng.uniform(0, math.pi)
        d = np.array([math.cos(a), math.sin(a)])
        bend = rng.normal(0, 0.12) if rng.random() < 0.5 else 0.0
        t = np.linspace(-0.5, 0.5, 7)[:, None]
        pts = t * length * d + (1 - 4 * t**2) * bend * length * np.array([-d[1], d[0]])
        if rng.random() < 0.3:  # interrupted: the tool skipped; one defect in several pieces
            cut = sorted(rng.choice(np.arange(1, 6), size=int(rng.integers(1, 3)), replace=False))
            pieces = np.split(pts, cut)
            return [q for p in pieces if len(p) > 1 for q in thick_polyline(p, width)]
        return thick_polyline(pts, width)
    if cls == "dark_spot":
        polys = blob(rng, np.zeros(2), _loguniform(rng, 2.2, 14), 14, rng.uniform(0.08, 0.3))
        return [p * np.array([1.0, rng.uniform(0.55, 1.0)]) for p in polys]
    if cls == "inclusion":
        if rng.random() < 0.3:  # a cluster of particles
            return [blob(rng, rng.normal(0, 4, 2), rng.uniform(1.6, 3), 8, 0.2)[0] for _ in range(int(rng.integers(2, 5)))]
        return blob(rng, np.zeros(2), _loguniform(rng, 1.8, 6.5), 10, 0.2)
    if cls == "foreign_object":
        style = rng.random()
        if style < 0.35:  # fibre
            length, a = rng.uniform(12, 70), rng.uniform(0, math.pi)
            d = np.array([math.cos(a), math.sin(a)]) * length / 2
            return thick_polyline(np.array([-d, rng.normal(0, length * 0.1, 2), d]), rng.uniform(1.5, 4))
        if style < 0.6:  # particle
            return blob(rng, np.zeros(2), rng.uniform(2, 5), 8, 0.3)
        return blob(rng, np.zeros(2), rng.uniform(4, 16), int(rng.integers(5, 10)), 0.4)  # flake
    n, step = int(rng.integers(4, 10)), rng.uniform(3, 10)  # crack: a jagged walk, sometimes branching
    a = rng.uniform(0, 2 * math.pi)
    pts = [np.zeros(2)]
    for _ in range(n):
        a += rng.normal(0, 0.55)
        pts.append(pts[-1] + step * np.array([math.cos(a), math.sin(a)]))
    width = rng.uniform(1.5, 3.5)
    polys = thick_polyline(np.array(pts), width)
    if rng.random() < 0.35:
        start = pts[int(rng.integers(1, n))]
        b = a + rng.choice([-1, 1]) * rng.uniform(0.6, 1.2)
        branch = [start + k * step * 0.8 * np.array([math.cos(b), math.sin(b)]) for k in range(int(rng.integers(2, 4)))]
        polys += thick_polyline(np.array(branch), width * 0.7)
    mean = np.concatenate(polys).mean(0)
    return [p - mean for p in polys]


def apply(rng: np.random.Generator, cls: str, mask: np.ndarray, s: dict, shift: tuple[int, int]) -> None:
    """Draws one defect into both modalities as its physics says; the X-ray sees it `shift` pixels away."""
    m = blur(mask.astype(np.float32), rng.uniform(0.35, 0.9))
    if cls == "dark_spot" and rng.random() < 0.5:  # soft-edged stain
        m = blur(mask.astype(np.float32), rng.uniform(1.0, 2.2))
        m = np.clip(m / max(m.max(), 1e-6), 0, 1)
    mx = np.roll(m, shift, (0, 1))
    vis, xr, level = s["visible"], s["xray"], s["level"]
    floor = 3 * s["vis_noise"]  # the faintest defect still stands a few noise sigmas out
    if cls == "scratch":
        if rng.random() < 0.6:  # bare foil shines through
            vis += m[..., None] * max(floor, rng.uniform(15, 120)) * np.array([1.0, 0.97, 0.92])
        else:  # a groove in shadow
            vis -= m[..., None] * max(floor, level * rng.uniform(0.2, 0.5))
        xr += mx * rng.uniform(1, 6)
    elif cls == "dark_spot":
        vis -= m[..., None] * max(floor, level * rng.uniform(0.15, 0.55)) * np.array([1.0, 1.0, rng.uniform(0.85, 1.05)])
        xr -= mx * rng.uniform(0, 3)
    elif cls == "inclusion":
        xr *= 1 - mx * rng.uniform(0.12, 0.6)  # metal absorbs
        if rng.random() < 0.3:  # a faint bump on the surface
            vis += m[..., None] * rng.uniform(-8, 8)
    elif cls == "foreign_object":
        colour = rng.uniform(10, 235) * (1 + rng.normal(0, 0.12, 3))
        if abs(colour.mean() - level) < floor * 2:
            colour = colour + np.sign(colour.mean() - level + 1e-3) * floor * 3
        vis[:] = vis * (1 - m[..., None]) + m[..., None] * colour
        xr *= 1 - mx * rng.uniform(0.08, 0.75)
    else:  # crack: coating missing, dark on the surface, more transmission
        vis -= m[..., None] * max(floor, level * rng.uniform(0.25, 0.6))
        xr += mx * s["gain"] * rng.uniform(0.1, 0.35)


def _confusers(rng: np.random.Generator, s: dict) -> None:
    """Harmless, unlabelled look-alikes: a large soft stain, a coating streak, an X-ray thickness band."""
    h = w = SIZE
    if rng.random() < 0.35:
        c = rng.uniform(0, SIZE, 2)
        m = blur(raster(blob(rng, c, rng.uniform(25, 70), 12, 0.3)).astype(np.float32), rng.uniform(6, 14))
        s["visible"] *= 1 + (m * rng.uniform(-0.12, 0.12))[..., None]
    if rng.random() < 0.25:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        across = xx if rng.random() < 0.5 else yy
        streak = np.exp(-(((across - rng.uniform(0, SIZE)) / rng.uniform(1, 4)) ** 2))
        s["visible"] += (streak * rng.uniform(-1, 1) * 2 * s["vis_noise"])[..., None]
    if rng.random() < 0.25:
        s["xray"] *= 1 + rng.uniform(-0.06, 0.06) * _unit(noise(rng, h, w, 48))


def render_wide(seed: int, index: int) -> dict:
    rng = np.random.default_rng([seed, index, 17])
    s = sheet(rng)
    _confusers(rng, s)
    shift = (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))) if rng.random() < 0.6 else (0, 0)
    taken = np.zeros((SIZE, SIZE), bool)
    anns = []
    for _ in range(int(rng.choice(len(DEFECT_COUNT_P), p=DEFECT_COUNT_P))):
        cls = CLASSES[int(rng.integers(len(CLASSES)))]
        for _attempt in range(20):
            placed = place(rng, shape(rng, cls), taken, margin=5, min_pixels=5, allowed=s["coated"], decimals=2)
            if placed is not None:
                polys, mask = placed
                apply(rng, cls, mask, s, shift)
                anns.append(annotation(CLASSES.index(cls) + 1, polys, mask))
                break
    vis = s["visible"]
    if rng.random() < 0.35:  # slight defocus
        sigma = rng.uniform(0.3, 0.8)
        vis = np.stack([blur(vis[..., k], sigma) for k in range(3)], -1)
    vis = np.clip(vis + rng.normal(0, s["vis_noise"], vis.shape), 0, 255).astype(np.uint8)
    xr = np.clip(s["xray"], 1, 255)
    xr = np.clip(xr + rng.normal(0, 1, xr.shape) * s["xray_noise"] * np.sqrt(xr), 0, 255)
    if rng.random() < 0.25:  # a 16-bit X-ray detector
        xr = (xr * 257).astype(np.uint16)
    else:
        xr = xr.astype(np.uint8)
    return {"visible": vis, "xray": xr, "annotations": anns}
