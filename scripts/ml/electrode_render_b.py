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

Output: DIR/annotations.json (DESIGN COCO), DIR/visible/*.png (RGB), DIR/xray/*.png (L or I;16).
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

CLASSES_B = ("scratch", "dark_spot", "foreign_object", "inclusion", "crack")  # category_id 1..5
PAD = 5  # scene margin around the frame: blur and X-ray misregistration read beyond the edge
TAG = 0xE1B


# ---------------------------------------------------------------------------------------------- fields
def value_noise(rng: np.random.Generator, h: int, w: int, cell_y: float, cell_x: float) -> np.ndarray:
    """Smooth noise with roughly unit spread: a coarse random lattice upsampled bicubically."""
    gh, gw = max(2, int(h / cell_y) + 3), max(2, int(w / cell_x) + 3)
    g = Image.fromarray(rng.standard_normal((gh, gw)).astype(np.float32), mode="F")
    big = np.asarray(g.resize((int(gw * cell_x), int(gh * cell_y)), Image.BICUBIC), np.float32)
    oy, ox = int(rng.integers(0, big.shape[0] - h + 1)), int(rng.integers(0, big.shape[1] - w + 1))
    out = blur(big[oy : oy + h, ox : ox + w], min(0.3 * min(cell_y, cell_x), 3.0))  # hides the lattice
    return (out - out.mean()) / (out.std() + 1e-6)


def profile(rng: np.random.Generator, n: int, corr: float) -> np.ndarray:
    """A 1-D random profile of n samples, correlated over about corr samples, unit spread."""
    p = value_noise(rng, 1, n, 1.0, max(corr, 1.0))[0]
    return p


def gauss_kernel(sigma: float) -> np.ndarray:
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / max(sigma, 1e-3)) ** 2)
    return (k / k.sum()).astype(np.float32)


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur over the first two axes (edges replicated)."""
    if sigma < 0.2:
        return img
    k = gauss_kernel(sigma)
    r = len(k) // 2
    img = np.asarray(img, np.float32)
    for axis in (0, 1):
        pad = [(0, 0)] * img.ndim
        pad[axis] = (r, r)
        p = np.moveaxis(np.pad(img, pad, mode="edge"), axis, 0)
        n = img.shape[axis]
        acc = k[0] * p[:n]
        for i in range(1, len(k)):
            acc += k[i] * p[i : i + n]
        img = np.moveaxis(acc, 0, axis)
    return np.ascontiguousarray(img, np.float32)


def shift_bilinear(img: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """img sampled at (y + dy, x + dx); edges replicated."""
    h, w = img.shape
    y = np.clip(np.arange(h, dtype=np.float32) + dy, 0, h - 1)
    x = np.clip(np.arange(w, dtype=np.float32) + dx, 0, w - 1)
    y0, x0 = np.minimum(y.astype(int), h - 2), np.minimum(x.astype(int), w - 2)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    a, b = img[y0][:, x0], img[y0][:, x0 + 1]
    c, d = img[y0 + 1][:, x0], img[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


class Canvas:
    """Pixel-centre coordinates of the padded scene; frame pixel (0, 0) is at (0, 0)."""

    def __init__(self, w: int, h: int):
        self.w, self.h = w, h
        self.hp, self.wp = h + 2 * PAD, w + 2 * PAD
        self.y, self.x = np.mgrid[-PAD : h + PAD, -PAD : w + PAD].astype(np.float32)

    def window(self, x0: float, y0: float, x1: float, y1: float) -> tuple[slice, slice]:
        c0, c1 = max(0, int(x0) + PAD - 2), min(self.wp, int(math.ceil(x1)) + PAD + 3)
        r0, r1 = max(0, int(y0) + PAD - 2), min(self.hp, int(math.ceil(y1)) + PAD + 3)
        return slice(r0, r1), slice(c0, c1)

    def frame(self, a: np.ndarray) -> np.ndarray:
        return a[PAD : PAD + self.h, PAD : PAD + self.w]


def polyline_cover(cv: Canvas, pts: np.ndarray, width: float, dash: tuple | None = None) -> np.ndarray:
    """Coverage (0..1, antialiased) of a polyline of the given width; dash = (period, duty, phase) cuts
    gaps along its length (an interrupted scratch)."""
    out = np.zeros((cv.hp, cv.wp), np.float32)
    m = width / 2 + 2
    win = cv.window(pts[:, 0].min() - m, pts[:, 1].min() - m, pts[:, 0].max() + m, pts[:, 1].max() + m)
    xx, yy = cv.x[win], cv.y[win]
    best = np.full(xx.shape, np.inf, np.float32)
    along = np.zeros(xx.shape, np.float32)
    s0 = 0.0
    for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:]):
        vx, vy = bx - ax, by - ay
        ln2 = max(vx * vx + vy * vy, 1e-6)
        t = np.clip(((xx - ax) * vx + (yy - ay) * vy) / ln2, 0, 1)
        d = np.hypot(xx - ax - t * vx, yy - ay - t * vy)
        take = d < best
        best[take] = d[take]
        along[take] = s0 + t[take] * math.sqrt(ln2)
        s0 += math.sqrt(ln2)
    cov = np.clip(width / 2 + 0.5 - best, 0, 1)
    if dash is not None:
        period, duty, phase = dash
        cov *= (((along + phase) % period) < duty * period).astype(np.float32)
    out[win] = cov
    return out


def blob_cover(cv: Canvas, cx: float, cy: float, r: float, aspect: float, angle: float, wobble: np.ndarray,
               soft: float = 0.0) -> np.ndarray:
    """Coverage of a star-shaped blob (radius r, squashed by aspect, rotated, edge wobbled by harmonics).
    soft = 0: antialiased hard edge; soft > 0: a logistic edge about soft * r wide (0.5 at the rim)."""
    out = np.zeros((cv.hp, cv.wp), np.float32)
    m = r * (1 + np.abs(wobble).sum()) + 3 + 4 * soft * r
    win = cv.window(cx - m, cy - m, cx + m, cy + m)
    dx, dy = cv.x[win] - cx, cv.y[win] - cy
    c, s = math.cos(angle), math.sin(angle)
    u, v = dx * c + dy * s, (-dx * s + dy * c) / aspect
    rho = np.hypot(u, v)
    th = np.arctan2(v, u)
    rim = r * (1 + sum(a * np.cos((k + 2) * th + k) for k, a in enumerate(wobble)))
    if soft > 0:
        cov = 1 / (1 + np.exp((rho - rim) / (soft * r)))
    else:
        cov = np.clip(rim - rho + 0.5, 0, 1)  # rim distance in radial pixels: a 1-px antialiased edge
    out[win] = cov
    return out.astype(np.float32)


def walk(rng: np.random.Generator, x: float, y: float, heading: float, steps: int, step: float,
         jitter: float) -> np.ndarray:
    pts = [(x, y)]
    for _ in range(steps):
        heading += rng.normal(0, jitter)
        x, y = x + step * math.cos(heading), y + step * math.sin(heading)
        pts.append((x, y))
    return np.asarray(pts, np.float32)


# ---------------------------------------------------------------------------------------------- sheet
class Sheet:
    """The scene: albedo (RGB), specular strength, coating thickness and extra X-ray attenuation on the
    padded canvas, plus the region map (0 coating, 1 bare foil, 2 belt)."""

    def __init__(self, cv: Canvas, rng: np.random.Generator):
        self.cv = cv
        hp, wp = cv.hp, cv.wp
        self.anode = bool(rng.random() < 0.55)
        self.glossy = bool(rng.random() < 0.35)
        horizontal = bool(rng.random() < 0.5)  # web runs along x (else along y)
        skew = rng.uniform(-0.05, 0.05)
        ax, ay = (math.cos(skew), math.sin(skew)) if horizontal else (math.sin(skew), math.cos(skew))
        self.u = cv.x * ax + cv.y * ay  # along the web
        self.v = -cv.x * ay + cv.y * ax  # across the web
        if self.anode:
            base = rng.uniform(0.06, 0.19) * (1 + rng.uniform(-0.06, 0.06, 3))
            foil = np.array([0.85, 0.52, 0.34]) * rng.uniform(0.75, 1.05)
        else:
            base = rng.uniform(0.2, 0.48) * (1 + np.array([-0.03, 0.0, 0.04]) + rng.uniform(-0.03, 0.03, 3))
            foil = np.array([0.80, 0.81, 0.83]) * rng.uniform(0.8, 1.05)
        # Coating texture: anisotropic grain (stretched along the web), mottling, calendering streaks
        # across it, roller marks at the roll's period along it.
        grain_cell = rng.uniform(0.8, 2.6)
        stretch = rng.uniform(1.0, 4.0)
        cy_, cx_ = (grain_cell, grain_cell * stretch) if horizontal else (grain_cell * stretch, grain_cell)
        grain = value_noise(rng, hp, wp, cy_, cx_)
        mottle = value_noise(rng, hp, wp, *(2 * [rng.uniform(14, 60)]))
        vmin = float(self.v.min()) - 1
        streak_p = profile(rng, int(self.v.max() - vmin) + 3, rng.uniform(1, 5))
        streak = np.interp(self.v, np.arange(len(streak_p)) + vmin, streak_p).astype(np.float32)
        period, phase = rng.uniform(30, 170), rng.uniform(0, 200)
        roller = np.exp(-0.5 * (((self.u + phase) % period - period / 2) / rng.uniform(0.8, 4)) ** 2)
        tex = (rng.uniform(0.03, 0.10) * grain + rng.uniform(0.01, 0.06) * mottle
               + rng.uniform(0.0, 0.05) * streak - rng.choice([-1, 1]) * rng.uniform(0, 0.05) * roller)
        self.alb = (base[None, None, :] * (1 + tex[..., None])).astype(np.float32)
        self.spec = ((0.06 if self.glossy else 0.02) * np.clip(1 + grain, 0, None)).astype(np.float32)
        # X-ray: thickness varies with its own mottling, partly the visible one, and the streaks.
        self.thick = (1 + rng.uniform(0.005, 0.025) * value_noise(rng, hp, wp, *(2 * [rng.uniform(6, 40)]))
                      + rng.uniform(0.0, 0.02) * mottle + rng.uniform(0.0, 0.03) * streak
                      + rng.uniform(0.005, 0.025) * grain).astype(np.float32)
        self.mu = np.zeros((hp, wp), np.float32)
        self.region = np.zeros((hp, wp), np.uint8)
        self.foil_rgb = foil
        self.edge = self.tab = False
        if rng.random() < 0.35:
            self._margin(rng, horizontal)

    def _margin(self, rng: np.random.Generator, horizontal: bool) -> None:
        """The coating ends at a wavy edge; beyond it bare foil (brushed), maybe a tab, maybe the belt."""
        cv = self.cv
        side = rng.choice([-1.0, 1.0])
        v = side * self.v
        extent = cv.h if horizontal else cv.w
        lo = float(v.min())
        edge = lo + rng.uniform(0.6, 0.88) * extent + rng.uniform(0.5, 2.0) * np.sin(self.u / rng.uniform(15, 60))
        foil_end = edge + rng.uniform(12, 90)
        self.edge = True
        foil = (v >= edge) & (v < foil_end)
        if rng.random() < 0.4:
            u0 = rng.uniform(self.u.min(), self.u.max() - 40)
            tab = (self.u > u0) & (self.u < u0 + rng.uniform(40, 140)) & (v >= edge) & (v < foil_end + rng.uniform(30, 120))
            foil |= tab
            self.tab = True
        belt = (v >= edge) & ~foil
        brushed_p = profile(rng, int(np.ptp(v)) + 4, rng.uniform(0.5, 3))
        brushed = np.interp(v, np.arange(len(brushed_p)) + lo - 1, brushed_p).astype(np.float32)
        self.alb[foil] = (self.foil_rgb[None, :] * (1 + 0.05 * brushed[foil][:, None])).astype(np.float32)
        self.spec[foil] = rng.uniform(0.1, 0.3)
        belt_lum = rng.uniform(0.02, 0.12)
        self.alb[belt] = belt_lum * (1 + 0.1 * value_noise(rng, cv.hp, cv.wp, 3, 3)[belt][:, None])
        self.spec[belt] = 0
        bead = np.exp(-0.5 * ((v - edge + rng.uniform(1, 3)) / rng.uniform(0.8, 2.0)) ** 2) * (v < edge)
        self.alb *= (1 + rng.uniform(-0.25, 0.25) * bead)[..., None]
        self.thick += rng.uniform(0.0, 0.15) * bead.astype(np.float32)
        self.region[foil] = 1
        self.region[belt] = 2


def confusers(sh: Sheet, rng: np.random.Generator, n: int) -> list[str]:
    """Harmless marks that are not defects and never labelled: stains, coating streaks, thickness streaks."""
    cv, drawn = sh.cv, []
    for _ in range(n):
        kind = str(rng.choice(["stain", "streak", "xray_streak"]))
        if kind == "stain":
            cx, cy = rng.uniform(0, cv.w), rng.uniform(0, cv.h)
            a = blob_cover(cv, cx, cy, rng.uniform(15, 60), rng.uniform(0.4, 1), rng.uniform(0, math.pi),
                           rng.uniform(-0.12, 0.12, 3), soft=rng.uniform(0.2, 0.5))
            sh.alb *= (1 + rng.choice([-1, 1]) * rng.uniform(0.03, 0.08) * a)[..., None]
        elif kind == "streak":
            c, wd = rng.uniform(sh.v.min(), sh.v.max()), rng.uniform(2, 14)
            band = np.exp(-0.5 * ((sh.v - c) / wd) ** 2) * (sh.region == 0)
            sh.alb *= (1 + rng.choice([-1, 1]) * rng.uniform(0.03, 0.07) * band)[..., None]
        else:
            c, wd = rng.uniform(sh.v.min(), sh.v.max()), rng.uniform(3, 20)
            sh.thick += (rng.choice([-1, 1]) * rng.uniform(0.02, 0.05) * np.exp(-0.5 * ((sh.v - c) / wd) ** 2)).astype(np.float32)
        drawn.append(kind)
    return drawn


# ---------------------------------------------------------------------------------------------- defects
# Each takes (rng, sheet, x, y: where it lies) and returns (coverage on the padded canvas, style,
# apply(sheet)). The label is coverage >= 0.5; apply draws with the same coverage.
def _faint(rng: np.random.Generator) -> float:
    return rng.uniform(0.4, 0.6) if rng.random() < 0.2 else 1.0


def d_scratch(rng, sh: Sheet, x, y):
    style = str(rng.choice(["straight", "curved", "interrupted", "tiny"], p=[0.35, 0.3, 0.2, 0.15]))
    heading = rng.uniform(0, 2 * math.pi)
    if style == "tiny":
        length, width = rng.uniform(3, 8), rng.uniform(1.2, 1.8)
    else:
        length, width = rng.uniform(12, 120), rng.uniform(0.9, 3.0)
    n = 12
    t = np.linspace(-0.5, 0.5, n)[:, None] * length
    bend = rng.uniform(-0.35, 0.35) * length if style == "curved" else 0.0
    off = bend * (1 - (2 * t / length) ** 2)  # a parabola: the tool's path across the sheet
    d, nrm = np.array([math.cos(heading), math.sin(heading)]), np.array([-math.sin(heading), math.cos(heading)])
    pts = (np.array([x, y]) + t * d + off * nrm).astype(np.float32)
    dash = (rng.uniform(6, 18), rng.uniform(0.45, 0.75), rng.uniform(0, 20)) if style == "interrupted" else None
    cov = polyline_cover(sh.cv, pts, width, dash)
    c = (rng.uniform(0.7, 1.0) if style == "tiny" else rng.uniform(0.45, 1.0)) * _faint(rng)
    lighter = rng.random() < (0.7 if sh.anode else 0.3)  # burnished graphite shines; a cathode groove shades
    gain = 1.6 if sh.anode else 0.7
    dt = rng.uniform(0.02, 0.1)

    def apply(s: Sheet):
        if lighter:
            s.alb *= (1 + gain * c * cov)[..., None]
            s.spec += cov * c * 0.1
        else:
            s.alb *= (1 - 0.75 * c * cov)[..., None]
        s.thick -= dt * cov

    return cov, style, apply


def d_dark_spot(rng, sh: Sheet, x, y):
    style = "soft" if rng.random() < 0.5 else "hard"
    r = float(np.exp(rng.uniform(math.log(1.2), math.log(12))))
    cov = blob_cover(sh.cv, x, y, r, rng.uniform(0.5, 1), rng.uniform(0, math.pi), rng.uniform(-0.12, 0.12, 3),
                     soft=rng.uniform(0.12, 0.35) if style == "soft" else 0.0)
    c = rng.uniform(0.35, 0.8) * _faint(rng)
    tint = 1 + rng.uniform(-0.08, 0.08, 3)
    dt = rng.uniform(-0.03, 0.03) if rng.random() < 0.4 else 0.0

    def apply(s: Sheet):
        s.alb *= 1 - c * cov[..., None] * tint[None, None, :]
        s.spec *= 1 - cov
        s.thick += dt * cov

    return cov, style, apply


def d_foreign_object(rng, sh: Sheet, x, y):
    style = str(rng.choice(["particle", "fibre", "flake", "metal_chip"], p=[0.3, 0.25, 0.2, 0.25]))
    cv = sh.cv
    spec, mu = 0.0, 0.0
    if style == "fibre":
        pts = walk(rng, x, y, rng.uniform(0, 2 * math.pi), int(rng.integers(5, 20)), 3.0, 0.25)
        pts += np.array([x, y], np.float32) - pts.mean(axis=0)
        cov = polyline_cover(cv, pts, rng.uniform(0.9, 1.6))
        colour = rng.uniform(0.45, 0.85) * (1 + rng.uniform(-0.1, 0.1, 3))
        if not sh.anode and rng.random() < 0.5:
            colour = rng.uniform(0.02, 0.08) + np.array([0.0, 0.0, rng.uniform(0, 0.1)])  # dark fibre on grey
        opacity, mu = rng.uniform(0.65, 1.0), rng.uniform(0.0, 0.05)
    else:
        r = {"particle": (1.0, 3.5), "flake": (3.0, 10.0), "metal_chip": (1.2, 5.0)}[style]
        wob = rng.uniform(-0.25, 0.25, 4) if style != "particle" else rng.uniform(-0.12, 0.12, 3)
        cov = blob_cover(cv, x, y, rng.uniform(*r), rng.uniform(0.4, 1), rng.uniform(0, math.pi), wob)
        opacity = 1.0
        if style == "particle":
            colour, mu = rng.uniform(0.45, 0.9) * np.array([1.0, 0.95, 0.85]), rng.uniform(0.02, 0.15)
        elif style == "flake":
            lum = float(sh.alb[..., 1].mean())
            colour = np.clip(lum * rng.uniform(1.8, 3.5) * (1 + rng.uniform(-0.1, 0.1, 3)), 0, 0.9)
            spec, mu = rng.uniform(0.0, 0.15), rng.uniform(0.04, 0.2)
        else:
            colour, spec, mu = rng.uniform(0.55, 0.85) * np.ones(3), rng.uniform(0.3, 0.8), rng.uniform(0.6, 2.0)
    colour = np.asarray(colour, np.float32)

    def apply(s: Sheet):
        a = (opacity * cov)[..., None]
        s.alb = s.alb * (1 - a) + a * colour[None, None, :]
        s.spec = s.spec * (1 - opacity * cov) + spec * cov
        s.mu += mu * cov

    return cov, style, apply


def d_inclusion(rng, sh: Sheet, x, y):
    single = rng.random() < 0.5
    style = "single" if single else "cluster"
    n = 1 if single else int(rng.integers(2, 7))
    spread = 0.0 if single else rng.uniform(2, 7)
    cov = np.zeros((sh.cv.hp, sh.cv.wp), np.float32)
    dmu = np.zeros_like(cov)
    for _ in range(n):
        r = rng.uniform(1.0, 3.5) if single else rng.uniform(1.0, 2.2)
        bx, by = x + rng.normal(0, spread / 2), y + rng.normal(0, spread / 2)
        b = blob_cover(sh.cv, bx, by, r, rng.uniform(0.6, 1), rng.uniform(0, math.pi), rng.uniform(-0.1, 0.1, 2))
        cov = np.maximum(cov, b)
        # Small dense particles attenuate more per pixel, or the source blur would hide them.
        dmu = np.maximum(dmu, b * rng.uniform(0.25, 0.8) * (1 + 1.2 / r) * _faint(rng))
    bump = rng.uniform(0.02, 0.05) if rng.random() < 0.25 else 0.0  # mostly invisible at the surface

    def apply(s: Sheet):
        s.mu += dmu
        s.alb *= (1 - bump * cov)[..., None]

    return cov, style, apply


def d_crack(rng, sh: Sheet, x, y):
    style = str(rng.choice(["hairline", "branching", "through"], p=[0.4, 0.35, 0.25]))
    steps = int(rng.integers(5, 26))
    main = walk(rng, x, y, rng.uniform(0, 2 * math.pi), steps, rng.uniform(2.0, 3.5), 0.35)
    main += np.array([x, y], np.float32) - main.mean(axis=0)
    width = {"hairline": (1.0, 1.4), "branching": (1.0, 1.8), "through": (1.8, 3.2)}[style]
    cov = polyline_cover(sh.cv, main, rng.uniform(*width))
    if style == "branching":
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.integers(1, len(main) - 1))
            heading = math.atan2(*(main[k + 1] - main[k])[::-1]) + rng.choice([-1, 1]) * rng.uniform(0.5, 1.2)
            br = walk(rng, float(main[k, 0]), float(main[k, 1]), heading, int(rng.integers(3, 10)), 2.5, 0.35)
            cov = np.maximum(cov, polyline_cover(sh.cv, br, rng.uniform(0.9, 1.2)))
    c = rng.uniform(0.55, 0.9) * (_faint(rng) if style == "hairline" else 1.0)
    dt = rng.uniform(0.4, 0.95) if style == "through" else rng.uniform(0.05, 0.25)
    foil = sh.foil_rgb.astype(np.float32)

    def apply(s: Sheet):
        s.alb *= (1 - c * cov)[..., None]
        if style == "through":  # the foil glints at the bottom of the gap
            s.alb += (0.12 * cov)[..., None] * foil[None, None, :]
        s.spec *= 1 - cov
        s.thick -= dt * cov

    return cov, style, apply


DEFECT_FUNCS_B = {"scratch": d_scratch, "dark_spot": d_dark_spot, "foreign_object": d_foreign_object,
                  "inclusion": d_inclusion, "crack": d_crack}


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
