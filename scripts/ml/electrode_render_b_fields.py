"""Drawing primitives of the second electrode renderer (electrode_render_b.py): smooth noise, blur,
sub-pixel shift, the padded scene canvas and antialiased coverage of polylines and star-shaped blobs."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

PAD = 5  # scene margin around the frame: blur and X-ray misregistration read beyond the edge


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
