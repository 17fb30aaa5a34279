"""The scene of the second electrode renderer (electrode_render_b.py): the coated sheet (texture, foil
margin, tab, belt), its harmless confusers and the five defect classes, each in several styles."""

from __future__ import annotations

import math

import numpy as np

from electrode_render_b_fields import Canvas, blob_cover, polyline_cover, profile, value_noise, walk


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
    return rng.uniform(0.5, 0.7) if rng.random() < 0.2 else 1.0


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
    # A spot of a few pixels loses most of its contrast to the lens blur: only dark ones are kept small.
    c = rng.uniform(0.7, 0.9) if r < 2.5 else rng.uniform(0.35, 0.8) * _faint(rng)
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
        if style == "particle":  # light grit on graphite; very light or very dark on grey cathode
            lum = rng.uniform(0.45, 0.9) if sh.anode else (rng.uniform(0.8, 0.95) if rng.random() < 0.6 else rng.uniform(0.02, 0.08))
            colour, mu = lum * np.array([1.0, 0.95, 0.85]), rng.uniform(0.02, 0.15)
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
        dmu = np.maximum(dmu, b * rng.uniform(0.25, 0.8) * (1 + 1.2 / r) * (_faint(rng) if r >= 2 else 1.0))
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
    c = rng.uniform(0.6, 0.95) * (_faint(rng) if style == "hairline" else 1.0)
    dt = rng.uniform(0.4, 0.95) if style == "through" else rng.uniform(0.05, 0.25)
    foil = sh.foil_rgb.astype(np.float32)

    def apply(s: Sheet):
        s.alb *= (1 - c * cov)[..., None]
        if style == "through":  # the gap is dark but takes the foil's colour at its bottom
            s.alb *= 1 + 0.5 * cov[..., None] * (foil / foil.mean() - 1)[None, None, :]
        s.spec *= 1 - cov
        s.thick -= dt * cov

    return cov, style, apply


DEFECT_FUNCS_B = {"scratch": d_scratch, "dark_spot": d_dark_spot, "foreign_object": d_foreign_object,
                  "inclusion": d_inclusion, "crack": d_crack}
