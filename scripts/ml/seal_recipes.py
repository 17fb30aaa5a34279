"""Training distribution of seal recipes (issue 18): a fresh recipe for every reference/live pair.

A line changes recipes far more often than anyone can label defects, so the classifier must learn the
*comparison* of a live seal edge with its recipe's reference, not the recipes. This renderer therefore never
repeats a recipe: each pair draws band and gap widths, band position, knurl family, pitch, angle and
contrast, film and band tone and colour, gloss, trim edge, background, orientation and the capture size
(256x64 to 640x160), renders a clean reference capture of one cell and a live capture of another cell of
the same recipe, and lets the live capture vary as a camera does (shift, rotation, scale, keystone,
exposure, gain, white balance, blur, noise). Captures are resized to the model's input exactly as the
firmware does (`seal_data.firmware_resize`).

Two recipe splits share the drawing code:
  train:  what training and model selection draw from;
  unseen: held-out parameter ranges (band width, knurl pitch, film tone) that `train` never draws, and a
          knurl family (`chevron`) that `train` never draws. Only for the recipe-disjoint evaluation (b);
          nothing is chosen on it.

NG causes on the live capture: the patent's five defects (crack, narrow_width, foreign_matter, wrinkle,
contamination), pinhole_void, trim_deviation, and the second-sealing geometry faults: seal width out of
tolerance (`width_out`, the band's width differs from the reference's by 9-25 %) and gap out of tolerance
(`gap_out`, the lip between band and trim edge is under 0.45x or over 1.7x the reference's). Severities
run down to subtle (near the decision boundary). OK pairs include hard ones on purpose: exposure drift,
knurl phase shift, another cell's film grain, band and gap within tolerance.

Deterministic: `draw_pair(np.random.default_rng([seed, index]), split)` always gives the same pair.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

from seal_data import INPUT_HW, firmware_resize

GEOMETRY_DEFECTS = ("narrow_width", "width_out", "gap_out", "trim_deviation")
SURFACE_DEFECTS = ("crack", "foreign_matter", "wrinkle", "contamination", "pinhole_void")
DEFECTS = SURFACE_DEFECTS + GEOMETRY_DEFECTS
TRAIN_FAMILIES = ("none", "ridges", "crosshatch", "dots", "fine")
UNSEEN_FAMILIES = ("chevron",)

# Parameter ranges, fractions of the capture height unless said otherwise. The unseen split draws from
# the gaps between the training ranges (interpolation the model never saw) and from the held-out family.
BAND_TRAIN = ((0.20, 0.34), (0.42, 0.58))
BAND_UNSEEN = ((0.345, 0.415),)
PITCH_TRAIN = ((2.4, 4.2), (6.2, 11.0))  # knurl pitch, pixels of the 64-row model input
PITCH_UNSEEN = ((4.4, 6.0),)
FILM_TRAIN = ((0.34, 0.60), (0.72, 0.90))  # film luminance
FILM_UNSEEN = ((0.61, 0.71),)


def _uniform_in(rng: np.random.Generator, ranges) -> float:
    widths = np.asarray([b - a for a, b in ranges])
    k = int(rng.choice(len(ranges), p=widths / widths.sum()))
    return float(rng.uniform(*ranges[k]))


def draw_recipe(rng: np.random.Generator, split: str = "train") -> dict:
    """Everything a product's tooling and material fix: geometry, knurl, tones, capture size."""
    if split not in ("train", "unseen"):
        raise ValueError(f"split must be 'train' or 'unseen', got {split!r}")
    unseen = split == "unseen"
    # Sizes on a 16 x 4 pixel grid: cameras offer a few modes, and the resize weights stay cached.
    w = int(rng.integers(16, 41)) * 16
    h = int(np.clip(round(w / rng.uniform(3.2, 4.8) / 4) * 4, 64, 160))
    band = _uniform_in(rng, BAND_UNSEEN if unseen else BAND_TRAIN)
    gap = float(rng.uniform(0.05, 0.13))
    band_top = float(rng.uniform(0.10, max(0.11, 0.92 - band - gap - 0.12)))
    if unseen:
        family = UNSEEN_FAMILIES[0] if rng.random() < 0.5 else TRAIN_FAMILIES[int(rng.integers(len(TRAIN_FAMILIES)))]
    else:
        family = TRAIN_FAMILIES[int(rng.choice(len(TRAIN_FAMILIES), p=[0.1, 0.35, 0.2, 0.2, 0.15]))]
    lum = _uniform_in(rng, FILM_UNSEEN if unseen else FILM_TRAIN)
    film = np.clip(lum * (1.0 + rng.uniform(-0.08, 0.08, 3)), 0.05, 0.98)
    band_tint = np.clip(1.0 + rng.uniform(-0.06, 0.06, 3), 0.8, 1.2)
    dark_bg = rng.random() < 0.8
    return {
        "size": (h, w),
        "flip": bool(rng.random() < 0.3),  # the camera sees the cell from the other side: band below body
        "band_top": band_top,
        "band": band,
        "gap": gap,
        "family": family,
        "pitch": _uniform_in(rng, PITCH_UNSEEN if unseen else PITCH_TRAIN),
        "angle": float(rng.choice([0.0, 0.0, 45.0, -45.0, 90.0])) if rng.random() < 0.4 else float(rng.uniform(-80, 80)),
        "sharpness": float(rng.uniform(0.0, 1.0)),  # sinusoidal ridges .. square-ish
        "knurl_contrast": float(rng.uniform(0.06, 0.34)),
        "film_lum": lum,
        "film": film.astype(np.float32),
        "band_gain": float(rng.uniform(0.62, 1.18)),
        "band_tint": band_tint.astype(np.float32),
        "lip_gain": float(rng.uniform(0.85, 1.1)),
        "trim_line": float(rng.uniform(-0.25, 0.35)),
        "background": float(rng.uniform(0.02, 0.25) if dark_bg else rng.uniform(0.65, 0.9)),
        "bg_texture": float(rng.uniform(0.0, 0.35)),
        "grain": float(rng.uniform(0.01, 0.06)),
        "gloss": float(rng.uniform(0.0, 0.25)),
        "light_falloff": float(rng.uniform(0.0, 0.25)),
        "light_centre": float(rng.uniform(0.3, 0.7)),
        "edge_soft": float(rng.uniform(0.4, 1.4)),
        "texture_seed": int(rng.integers(1 << 30)),
    }


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Low-frequency noise in about [-1, 1] with features `scale` pixels wide."""
    gh, gw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    coarse = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.BICUBIC), np.float32)


def _knurl(rec: dict, xx: np.ndarray, yy: np.ndarray, s: float, phase: float, tex: np.ndarray, centre: float) -> np.ndarray:
    """Knurl relief in [0, 1] on the capture grid; `yy` counts rows from the band's top, `centre` is the
    band's centre row there, `s` = capture rows per model row."""
    pitch = rec["pitch"] * s
    a = math.radians(rec["angle"])
    k = 2 * math.pi / pitch

    def wave(t: np.ndarray) -> np.ndarray:
        v = np.sin(t)
        sharp = rec["sharpness"]
        if sharp > 0.05:
            v = np.tanh(v * (1 + 6 * sharp)) / math.tanh(1 + 6 * sharp)
        return 0.5 + 0.5 * v

    u = xx * math.cos(a) + yy * math.sin(a)
    family = rec["family"]
    if family == "none":
        return np.zeros_like(xx)
    if family == "ridges":
        return wave(u * k + phase)
    if family == "crosshatch":
        v = xx * math.cos(a) - yy * math.sin(a)
        return wave(u * k + phase) * wave(v * k + phase * 0.7)
    if family == "dots":
        v = -xx * math.sin(a) + yy * math.cos(a)
        return (wave(u * k + phase) * wave(v * k)) ** 2
    if family == "fine":
        return tex
    if family == "chevron":  # herringbone: ridges that turn at the band's centre line
        return wave((xx + np.abs(yy - centre) * math.tan(a * 0.5 + 0.4)) * k + phase)
    raise ValueError(f"unknown knurl family {family!r}")


def render_cell(rec: dict, rng: np.random.Generator, change: dict | None = None) -> np.ndarray:
    """One cell of the recipe as a float RGB scene at capture size (before the camera).

    `change` alters this cell against the recipe: band/gap scale (tolerance or fault), knurl phase, and
    defect drawings (callables on the scene)."""
    change = change or {}
    h, w = rec["size"]
    s = h / INPUT_HW[0]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tex_rng = np.random.default_rng(rec["texture_seed"])  # the recipe's tool and material
    cell_rng = np.random.default_rng(int(rng.integers(1 << 30)))  # this cell's own grain
    fine = 0.5 + 0.5 * np.tanh(2.0 * _smooth_noise(tex_rng, h, w + 64, 1.6 * s))
    shift = int(rng.integers(0, 64)) if change.get("phase_shift", True) else 0
    fine = fine[:, shift : shift + w]

    top = np.full(w, rec["band_top"] * h, np.float32) + change.get("top_offset", 0.0) * h
    band_rows = rec["band"] * h * change.get("band_scale", 1.0)
    bottom = top + band_rows
    gap_rows = rec["gap"] * h * change.get("gap_scale", 1.0)
    scene = {"h": h, "w": w, "s": s, "xx": xx, "yy": yy, "top": top, "bottom": bottom, "gap_rows": np.full(w, gap_rows, np.float32)}
    for draw in change.get("geometry", ()):  # geometry faults move the boundaries before the drawing
        draw(scene, rng)
    top, bottom = scene["top"], scene["bottom"]
    trim = bottom + scene["gap_rows"]

    def step(edge: np.ndarray) -> np.ndarray:  # soft 0 -> 1 transition at a per-column row
        return np.clip((yy - edge[None, :]) / rec["edge_soft"] / s + 0.5, 0.0, 1.0)

    film = rec["film"][None, None, :]
    grain = 1.0 + rec["grain"] * _smooth_noise(cell_rng, h, w, 10 * s)
    gloss = 1.0 + rec["gloss"] * np.exp(-((yy / h - 0.2) ** 2) / 0.02) * (1 + 0.3 * _smooth_noise(cell_rng, h, w, 40 * s))
    body = film * (grain * gloss)[..., None]
    relief = _knurl(rec, xx, yy - top[None, :], s, float(rng.uniform(0, 2 * math.pi)) if change.get("phase_shift", True) else 0.0, fine, band_rows / 2)
    band_tone = rec["band_gain"] * (1.0 - rec["knurl_contrast"] * relief)
    band = film * rec["band_tint"][None, None, :] * (band_tone * grain)[..., None]
    lip = film * (rec["lip_gain"] * grain)[..., None]
    bg_tex = 1.0 + rec["bg_texture"] * _smooth_noise(tex_rng, h, w, 6 * s)
    background = np.full(3, rec["background"], np.float32)[None, None, :] * bg_tex[..., None]
    in_band, in_lip, past_trim = step(top), step(bottom), step(trim)
    img = body * (1 - in_band)[..., None] + band * (in_band - in_lip)[..., None] + lip * (in_lip - past_trim)[..., None]
    img = img + background * past_trim[..., None]
    trim_line = np.exp(-((yy - trim[None, :]) ** 2) / (2 * (0.8 * s) ** 2))
    img = img * (1 + rec["trim_line"] * trim_line)[..., None]
    scene.update(img=img, band_mask=(in_band - in_lip))
    for draw in change.get("surface", ()):
        draw(scene, rng)
    img = scene["img"]
    light = 1.0 - rec["light_falloff"] * ((xx / w - rec["light_centre"]) / 0.6) ** 2
    img = np.clip(img * light[..., None], 0.0, 1.0)
    return img[::-1] if rec["flip"] else img


def capture(img: np.ndarray, rng: np.random.Generator, live: bool, hard: bool = False) -> np.ndarray:
    """A float scene -> an 8-bit capture as the station's camera delivers it (pose, optics, exposure)."""
    h, w = img.shape[:2]
    m = 1.0 if live else 0.35  # the reference is a careful capture, but still a capture
    drift = 1.8 if hard else 1.0  # hard OK pairs: the light has drifted since the reference was taken
    u8 = Image.fromarray((img * 255).round().astype(np.uint8), "RGB")
    pad = max(8, w // 16)
    padded = Image.fromarray(np.pad(np.asarray(u8), ((pad, pad), (pad, pad), (0, 0)), mode="edge"))
    # A fixture holds the cell: a few pixels of play, a degree of rotation, a little scale and keystone.
    rot = math.radians(rng.uniform(-1.0, 1.0) * m)
    scale = 1.0 + rng.uniform(-0.02, 0.02) * m
    dx, dy = rng.uniform(-0.018, 0.018) * w * m, rng.uniform(-0.04, 0.04) * h * m
    keystone = rng.uniform(-0.015, 0.015) * m
    cx, cy = padded.width / 2, padded.height / 2
    c, sn = math.cos(rot) / scale, math.sin(rot) / scale
    # Output (x, y) samples input (a x + b y + c, d x + e y + f) / (g x + h y + 1), about the centre.
    a_, b_, d_, e_ = c, sn, -sn, c
    g_ = keystone / w
    coeffs = (a_, b_, cx - a_ * cx - b_ * cy + dx, d_, e_, cy - d_ * cx - e_ * cy + dy, g_, 0.0)
    moved = padded.transform(padded.size, Image.PERSPECTIVE, coeffs, resample=Image.BILINEAR)
    moved = moved.crop((pad, pad, pad + w, pad + h))
    sigma = rng.uniform(0.0, 1.1) * (h / INPUT_HW[0]) * (1.0 if live else 0.6)
    if sigma > 0.15:
        moved = moved.filter(ImageFilter.GaussianBlur(sigma))
    arr = np.asarray(moved, np.float32) / 255.0
    gain = 1.0 + rng.uniform(-0.12, 0.12) * m * drift
    offset = rng.uniform(-0.04, 0.04) * m * drift
    gamma = 1.0 + rng.uniform(-0.12, 0.12) * m * drift
    balance = 1.0 + rng.uniform(-0.03, 0.03, 3).astype(np.float32) * m
    arr = np.clip(arr, 0, 1) ** gamma * gain * balance[None, None, :] + offset
    read = rng.uniform(0.004, 0.025 if live else 0.01)
    shot = rng.uniform(0.0, 0.02)
    arr = arr + rng.normal(0, 1, arr.shape).astype(np.float32) * (read + shot * np.sqrt(np.clip(arr, 0, 1)))
    return (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)


# --- defects: surface drawings change scene["img"]; geometry ones move the boundaries -----------------


def _band_point(sc: dict, rng: np.random.Generator, margin: float = 0.15) -> tuple[float, float]:
    x = rng.uniform(0.05, 0.95) * sc["w"]
    xi = int(np.clip(x, 0, sc["w"] - 1))
    t, b = sc["top"][xi], sc["bottom"][xi]
    return x, t + (b - t) * rng.uniform(margin, 1 - margin)


def _splat(sc: dict, x: float, y: float, rx: float, ry: float) -> np.ndarray:
    return np.exp(-(((sc["xx"] - x) / rx) ** 2 + ((sc["yy"] - y) / ry) ** 2) / 2)


def crack(sc, rng, sev):
    s = sc["s"]
    x, y = _band_point(sc, rng, 0.05)
    angle = rng.uniform(-1.1, 1.1) + math.pi / 2
    length = (6 + 18 * sev) * s
    mask = np.zeros((sc["h"], sc["w"]), np.float32)
    width = rng.uniform(0.5, 1.0) * s
    for _ in range(int(length / (0.6 * s))):
        mask = np.maximum(mask, _splat(sc, x, y, width, width))
        angle += rng.normal(0, 0.25)
        x += 0.6 * s * math.cos(angle)
        y += 0.6 * s * math.sin(angle)
    depth = 0.22 + 0.4 * sev
    sc["img"] = sc["img"] * (1 - depth * mask)[..., None]


def foreign_matter(sc, rng, sev):
    s = sc["s"]
    x, y = _band_point(sc, rng, 0.0)
    r = (1.2 + 2.8 * sev) * s
    blob = np.zeros((sc["h"], sc["w"]), np.float32)
    for _ in range(3):
        ox, oy = rng.normal(0, r / 2, 2)
        blob = np.maximum(blob, _splat(sc, x + ox, y + oy, r * rng.uniform(0.5, 1), r * rng.uniform(0.5, 1)))
    blob = np.clip(blob * 1.6, 0, 1)
    if rng.random() < 0.6:
        sc["img"] = sc["img"] * (1 - (0.35 + 0.35 * sev) * blob)[..., None]
    else:
        colour = rng.uniform(0.12, 0.35, 3).astype(np.float32) * (0.6 + 0.6 * sev)
        sc["img"] = sc["img"] + blob[..., None] * colour[None, None, :]


def pinhole_void(sc, rng, sev):
    """A void in the seal: a small round spot, bright where light comes through, dark where it is lost."""
    s = sc["s"]
    x, y = _band_point(sc, rng, 0.1)
    r = (0.8 + 1.6 * sev) * s
    spot = np.clip(1.3 * _splat(sc, x, y, r, r), 0, 1)
    if rng.random() < 0.5:
        sc["img"] = sc["img"] + ((0.25 + 0.4 * sev) * spot)[..., None]
    else:
        sc["img"] = sc["img"] * (1 - (0.35 + 0.4 * sev) * spot)[..., None]


def wrinkle(sc, rng, sev):
    s = sc["s"]
    x0 = rng.uniform(0.1, 0.9) * sc["w"]
    span = rng.uniform(20, 60) * s
    freq = rng.uniform(0.12, 0.3) / s
    env = np.exp(-((sc["xx"] - x0) ** 2) / (2 * (span / 2) ** 2))
    slant = rng.uniform(-0.6, 0.6)
    ripple = np.sin((sc["xx"] + slant * sc["yy"]) * freq * math.pi)
    amp = 0.06 + 0.12 * sev
    sc["img"] = sc["img"] * (1 + amp * ripple * env * sc["band_mask"])[..., None]


def contamination(sc, rng, sev):
    s = sc["s"]
    x, y = _band_point(sc, rng, 0.0)
    rx, ry = rng.uniform(4, 13) * s, rng.uniform(3, 8) * s
    wob = _smooth_noise(rng, sc["h"], sc["w"], 5 * s)
    d = np.sqrt(((sc["xx"] - x) / rx) ** 2 + ((sc["yy"] - y) / ry) ** 2) + 0.25 * wob
    stain = np.clip(1.2 - d, 0, 1) ** 0.8
    rim = np.exp(-((d - 1.0) ** 2) / 0.02)
    strength = 0.1 + 0.22 * sev
    hue = rng.uniform(0.75, 1.0, 3).astype(np.float32)
    sc["img"] = sc["img"] * (1 - strength * stain[..., None] * (1 - 0.5 * hue[None, None, :])) * (1 - 0.1 * rim[..., None])


def narrow_width(sc, rng, sev):
    """The head did not press over a stretch: the band narrows locally."""
    w, s = sc["w"], sc["s"]
    centre, half = rng.uniform(0.1, 0.9) * w, rng.uniform(0.04, 0.14) * w
    depth = (2.0 + 5.0 * sev) * s
    profile = depth * np.clip(1 - np.abs(np.arange(w) - centre) / half, 0, 1) ** 0.7
    if rng.random() < 0.5:
        sc["top"] = sc["top"] + profile.astype(np.float32)
    else:
        sc["bottom"] = sc["bottom"] - profile.astype(np.float32)
        sc["gap_rows"] = sc["gap_rows"] + profile.astype(np.float32)


def trim_deviation(sc, rng, sev):
    """The trim knife wandered: the trim edge notches in or bulges out over a stretch, or slants."""
    w, s = sc["w"], sc["s"]
    if rng.random() < 0.6:
        centre, half = rng.uniform(0.1, 0.9) * w, rng.uniform(0.03, 0.12) * w
        depth = (1.5 + 4.0 * sev) * s * (1 if rng.random() < 0.5 else -1)
        profile = depth * np.clip(1 - np.abs(np.arange(w) - centre) / half, 0, 1) ** 0.5
    else:
        slope = (2.0 + 4.0 * sev) * s / w * (1 if rng.random() < 0.5 else -1)
        profile = slope * (np.arange(w) - rng.uniform(0, w))
    sc["gap_rows"] = np.maximum(sc["gap_rows"] + profile.astype(np.float32), 0.3 * s)


SURFACE = {"crack": crack, "foreign_matter": foreign_matter, "pinhole_void": pinhole_void, "wrinkle": wrinkle, "contamination": contamination}
LOCAL_GEOMETRY = {"narrow_width": narrow_width, "trim_deviation": trim_deviation}


def _live_change(rng: np.random.Generator, defect: str | None, sev: float) -> dict:
    """How this live cell differs from the reference cell: tolerances always, a fault if `defect`."""
    change = {
        "band_scale": float(rng.uniform(0.97, 1.03)),
        "gap_scale": float(rng.uniform(0.85, 1.15)),
        "top_offset": float(rng.uniform(-0.015, 0.015)),
    }
    if defect == "width_out":  # seal width outside its 5-5.5 mm: 9-25 % off the reference
        off = 0.09 + 0.16 * sev
        change["band_scale"] = 1.0 + off if rng.random() < 0.5 else 1.0 - off
    elif defect == "gap_out":  # gap outside 0.5-2.0 mm around a ~1.25 mm reference
        change["gap_scale"] = float(rng.uniform(0.15, 0.45)) if rng.random() < 0.5 else float(rng.uniform(1.7, 2.6))
    elif defect in LOCAL_GEOMETRY:
        fn = LOCAL_GEOMETRY[defect]
        change["geometry"] = (lambda sc, r: fn(sc, r, sev),)
    elif defect in SURFACE:
        fn = SURFACE[defect]
        change["surface"] = (lambda sc, r: fn(sc, r, sev),)
    elif defect is not None:
        raise ValueError(f"unknown defect {defect!r}")
    return change


def to_model(u8: np.ndarray) -> np.ndarray:
    h, w = INPUT_HW
    return firmware_resize(u8, h, w) if u8.shape[:2] != (h, w) else u8


def draw_pair(rng: np.random.Generator, split: str = "train", ng_fraction: float = 0.5, full_size: bool = False) -> dict:
    """One recipe, its reference capture and one live capture: OK or with one NG cause.

    Returns images at the model's input size (or at capture size with `full_size`) and the labels."""
    rec = draw_recipe(rng, split)
    defect = None
    if rng.random() < ng_fraction:
        defect = DEFECTS[int(rng.integers(len(DEFECTS)))]
    # Mostly clear faults, a third of them subtle (near the decision boundary).
    sev = float(rng.uniform(0.0, 0.25) if rng.random() < 0.3 else rng.uniform(0.25, 1.0))
    hard = defect is None and rng.random() < 0.3
    ref_scene = render_cell(rec, rng)
    live_scene = render_cell(rec, rng, _live_change(rng, defect, sev))
    ref = capture(ref_scene, rng, live=False)
    live = capture(live_scene, rng, live=True, hard=hard)
    if not full_size:
        ref, live = to_model(ref), to_model(live)
    return {
        "reference": ref,
        "image": live,
        "label": 0 if defect is None else 1,
        "defect": defect,
        "severity": round(sev, 3) if defect else None,
        "hard_ok": hard,
        "recipe": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rec.items()},
    }
