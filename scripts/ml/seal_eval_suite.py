"""Recipe-disjoint evaluation of an exported seal classifier (issue 18): seen, unseen and foreign sets apart.

Sets, each reported on its own (accuracy, NG recall, OK false-reject rate, confusion, per-defect and
per-recipe figures):
  (a) seen:       scripts/ml/seal_render.py as for training, on a held-out seed;
  (b) unseen:     scripts/ml/seal_render.py --recipes unseen (held-out parameter ranges, knurl families
                  never trained on);
  (c) renderer_b: scripts/ml/seal_render_b.py, an independently written renderer (test only).
Also (d) wrong reference: every OK live part of a set paired with each *other* recipe's reference must
be NG (the share called NG is reported), and blank frames (black, white, mid-grey, noise) as live images
against every reference (p_ng reported; issue 17 wants them NG).

Nothing here may be used to choose a threshold, an epoch or a hyper-parameter: the figures are measured
after the fact. The model runs through ONNX Runtime preprocessed as the firmware does it: the size,
colour, mean and std come from the manifest in the model's metadata (`cellgate.manifest`); frames of
another size are resized by `seal_data.firmware_resize`, a bit-exact copy of what the firmware's resize
(fast_image_resize 6.1 `Convolution(Bilinear)` on 8-bit pixels) computes; RGB -> grey as
`Frame::gray8_into`. Pillow's own BILINEAR rounds differently (it does the horizontal pass first) and moved
p_ng by up to 0.27 on 640x160 frames; with this function the firmware's `replay` and this suite agree to
within 1e-6.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seal_data import firmware_resize, read_manifest  # noqa: E402
from seal_metrics import seal_metrics  # noqa: E402

ML = Path(__file__).resolve().parent
# Fixed before any figure was seen; training uses seeds 1 (train) and 2 (test) of seal_render.py.
# seal_pool.py draws from seal_recipes.py: seeds 101 (training pool) and 102 (selection pool) are taken.
SETS = {
    "seen": {"script": "seal_render.py", "seed": 3, "args": []},
    "seen_dist": {"script": "seal_pool.py", "seed": 7, "args": ["--design", "--split", "train"]},
    "unseen": {"script": "seal_render.py", "seed": 4, "args": ["--recipes", "unseen"]},
    "unseen_dist": {"script": "seal_pool.py", "seed": 8, "args": ["--design", "--split", "unseen"]},
    "renderer_b": {"script": "seal_render_b.py", "seed": 5, "args": ["--recipes", "3"]},
}
# Sets with a recipe per pair: wrong-reference pairs and blank frames use a sample of the references.
WRONG_REFS_PER_PART = 3
BLANK_REFERENCES = 5
TARGETS = {"accuracy": 0.995, "ng_recall": 0.995, "false_reject_rate": 0.005}
BLANKS = ("black", "white", "grey", "noise")


class Model:
    """An exported seal classifier with the firmware's preprocessing, as its manifest describes it."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.manifest = json.loads(self.sess.get_modelmeta().custom_metadata_map["cellgate.manifest"])
        self.inputs = {i["name"]: i for i in self.manifest["inputs"]}
        self.threshold = float(self.manifest["thresholds"]["ng"])

    def prepare(self, name: str, img: Image.Image) -> np.ndarray:
        """One frame -> [C,H,W] float32 for input `name`."""
        spec = self.inputs[name]
        _, c, h, w = spec["shape"]
        if spec.get("resize", "bilinear") != "bilinear":
            raise ValueError(f"input {name}: resize {spec['resize']!r} is not implemented here")
        px = np.asarray(img.convert("RGB"), np.uint8)
        if spec["colour"] == "gray":  # Frame::gray8_into: integer BT.601 luma, rounded
            rgb = px.astype(np.uint32)
            px = ((rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114 + 500) // 1000).astype(np.uint8)[..., None]
        if px.shape[:2] != (h, w):
            px = firmware_resize(px, h, w)
        x = px.astype(np.float32) / 255.0
        x = (x - np.asarray(spec["mean"], np.float32)) / np.asarray(spec["std"], np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    def p_ng(self, images: np.ndarray, refs: np.ndarray, batch: int = 64) -> np.ndarray:
        out = []
        for s in range(0, len(images), batch):
            feed = {"image": images[s : s + batch], "reference": refs[s : s + batch]}
            out.append(self.sess.run(["probs"], feed)[0][:, 1])
        return np.concatenate(out) if out else np.zeros(0, np.float32)


def render(name: str, folder: Path, count: int) -> None:
    """Renders set `name` into `folder` unless a complete one with the same seed and count is there."""
    spec = SETS[name]
    info_path = folder / "dataset.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("seed") == spec["seed"] and info.get("count") == count:
            return
    cmd = [sys.executable, str(ML / spec["script"]), "--out", str(folder), "--count", str(count)]
    cmd += ["--seed", str(spec["seed"]), *spec["args"]]
    print("render:", " ".join(cmd[1:]), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def load(model: Model, root: Path) -> dict:
    rows = read_manifest(root)
    ref_paths = sorted({r["reference"] for r in rows})
    ref_imgs = {p: Image.open(root / p) for p in ref_paths}
    return {
        "rows": rows,
        "ref_paths": ref_paths,
        "ref_images": ref_imgs,
        "refs": {p: model.prepare("reference", im) for p, im in ref_imgs.items()},
        "images": np.stack([model.prepare("image", Image.open(root / r["image"])) for r in rows]),
    }


def evaluate_set(model: Model, data: dict) -> dict:
    rows = data["rows"]
    refs = np.stack([data["refs"][r["reference"]] for r in rows])
    p = model.p_ng(data["images"], refs)
    labels = np.asarray([1 if r["label"] == "ng" else 0 for r in rows])
    m = seal_metrics(labels, p, [r.get("defect") for r in rows], model.threshold)
    # Per recipe; where every pair has its own recipe, per knurl family instead.
    group = (lambda r: Path(r["reference"]).stem) if len(data["ref_paths"]) < 20 else (lambda r: r.get("knurl", "?"))
    per_recipe = {}
    for key in sorted({group(r) for r in rows}):
        sel = np.asarray([group(r) == key for r in rows])
        rm = seal_metrics(labels[sel], p[sel], [r.get("defect") for r, s in zip(rows, sel) if s], model.threshold)
        per_recipe[key] = {k: rm[k] for k in ("samples", "accuracy", "ng_recall", "false_reject_rate")}
    m["p_ng"] = [float(v) for v in p]
    m["per_recipe"] = per_recipe
    m["targets"] = {k: _meets(k, m[k]) for k in TARGETS}
    return m


def _meets(key: str, value) -> bool | None:
    if value is None:
        return None
    return value <= TARGETS[key] if key == "false_reject_rate" else value >= TARGETS[key]


def wrong_reference(model: Model, data: dict) -> dict:
    """Every OK live part against each other recipe's reference: all must come out NG."""
    rows = data["rows"]
    ok = [i for i, r in enumerate(rows) if r["label"] == "ok"]
    pairs = [(i, ref) for i in ok for ref in data["ref_paths"] if ref != rows[i]["reference"]]
    if len(data["ref_paths"]) > WRONG_REFS_PER_PART + 1:  # a recipe per pair: a seeded sample of the others
        rng = np.random.default_rng(0)
        pairs = [(i, ref) for i in ok for ref in rng.choice(
            [r for r in data["ref_paths"] if r != rows[i]["reference"]], WRONG_REFS_PER_PART, replace=False)]
    if not pairs:
        return {"pairs": 0, "called_ng": None, "note": "one recipe only"}
    imgs = data["images"][[i for i, _ in pairs]]
    refs = np.stack([data["refs"][ref] for _, ref in pairs])
    p = model.p_ng(imgs, refs)
    ng = p >= model.threshold
    by_pair: dict = {}
    for (i, ref), called in zip(pairs, ng):
        key = f"{Path(rows[i]['reference']).stem} -> {Path(ref).stem}" if len(data["ref_paths"]) < 20 else "any -> another"
        by_pair.setdefault(key, []).append(bool(called))
    return {
        "pairs": len(pairs),
        "called_ng": float(ng.mean()),
        "median_p_ng": float(np.median(p)),
        "by_live_to_reference": {k: {"pairs": len(v), "called_ng": float(np.mean(v))} for k, v in by_pair.items()},
    }


def blank_frames(model: Model, data: dict, seed: int) -> dict:
    """Black, white, mid-grey and noise frames (the reference's size) as live images against each reference."""
    out = {}
    rng = np.random.default_rng(seed)
    for ref in data["ref_paths"][:BLANK_REFERENCES]:
        w, h = data["ref_images"][ref].size
        frames = {
            "black": np.zeros((h, w, 3), np.uint8),
            "white": np.full((h, w, 3), 255, np.uint8),
            "grey": np.full((h, w, 3), 128, np.uint8),
            "noise": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        }
        imgs = np.stack([model.prepare("image", Image.fromarray(frames[b])) for b in BLANKS])
        p = model.p_ng(imgs, np.stack([data["refs"][ref]] * len(BLANKS)))
        out[Path(ref).stem] = {b: float(v) for b, v in zip(BLANKS, p)}
    return out


def _recipe_words(r: dict) -> str:
    """A recipe of either renderer in a few words (capture size, knurl family, pitch, band)."""
    if "size" in r:  # seal_render_b.py: fractions of the frame height
        h, w = r["size"]
        flip = ", seal at the top" if r.get("flip") else ""
        return (f"({w}x{h}, {r['knurl']} knurl {r['knurl_angle']:.0f} deg, pitch {r['knurl_pitch'] * h:.1f} px, "
                f"band {r['band'] * h:.0f} px{flip})")
    family = r.get("knurl_family", "ridges")
    return (f"(256x64, {family} knurl {r['knurl_angle']:.0f} deg, pitch {r['knurl_pitch']:.1f} px, "
            f"band {r['band_width']} px)")


def card_section(report: dict) -> str:
    """The model card's section, written from the report so that no figure is copied by hand."""
    pct = lambda v: "n/a" if v is None else f"{100 * v:.2f}%"  # noqa: E731
    s = report["sets"]
    names = {"seen": "(a) seen recipes", "seen_dist": "(a') training distribution, held-out draws",
             "unseen": "(b) unseen recipes, training renderer", "unseen_dist": "(b') unseen recipe ranges",
             "renderer_b": "(c) second renderer"}
    lines = [
        "## Generalization (recipe-disjoint), measured",
        "Measured after the fact with `scripts/ml/seal_eval_suite.py` (issue 18); nothing was chosen on these sets.",
        "(a) `seal_render.py` seed 3 (its 4 fixed recipes, in training), (a') `seal_pool.py --split train` seed 7",
        "(fresh draws from the training distribution `seal_recipes.py`, a recipe per pair, captures 256x64 to",
        "640x160), (b) `seal_render.py --recipes unseen` seed 4 (3 held-out recipes: band, pitch, angle, film",
        "outside that renderer's fixed recipes), (b') `seal_pool.py --split unseen` seed 8 (band width, knurl",
        "pitch and film tone from ranges the training distribution never draws; half of them the chevron knurl",
        "it never draws), (c) `seal_render_b.py` seed 5 (3 recipes of an independently written renderer,",
        "captures of other sizes, 7 defect kinds, hard OK pairs). Model run through ONNX Runtime with the",
        "firmware's preprocessing (manifest size/colour/mean/std, its bilinear resize bit for bit), threshold "
        f"{report['threshold']}; `cellgate replay` of set (c) gave p_ng within 3.2e-6 (measured with model 1.0.0)",
        "of the suite's (same accuracy, NG recall and false reject).",
        "",
        "    bash scripts/setup-eval.sh   # .venv-eval: numpy, Pillow, ONNX, ONNX Runtime (or the training .venv)",
        "    " + report["command"],
        "",
        "| set | pairs | accuracy | NG recall | OK false reject | wrong reference called NG | targets (b, b', c) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k, title in names.items():
        m = s[k]["metrics"]
        wr = s[k]["wrong_reference"]
        met = "all met" if all(m["targets"].values()) else "not met: " + ", ".join(
            t for t, ok in m["targets"].items() if not ok)
        lines.append(f"| {title} | {m['samples']} | {pct(m['accuracy'])} | {pct(m['ng_recall'])} | "
                     f"{pct(m['false_reject_rate'])} | {pct(wr['called_ng'])} (n={wr['pairs']}) | "
                     f"{met if k not in ('seen', 'seen_dist') else '-'} |")
    lines += ["", "Recipes: " + "; ".join(
        f"{r['name']} {_recipe_words(r)}" for k in names for r in (s[k].get("recipes") or [])) + "."]
    lines += ["", "Per-defect NG recall:", "", "| set | " + " | ".join(["defect", "n", "recall"]) + " |",
              "| --- | --- | --- | --- |"]
    for k, title in names.items():
        for d, v in s[k]["metrics"]["per_defect_recall"].items():
            lines.append(f"| {title} | {d} | {v['n']} | {pct(v['recall'])} |")
    lines += ["", "Confusion (rows true OK/NG, columns predicted OK/NG): " + "; ".join(
        f"{names[k][:3]} {s[k]['metrics']['confusion_matrix']['counts']}" for k in names) + "."]
    lines += ["", "Per recipe (accuracy / NG recall / false reject): " + "; ".join(
        f"{r} {pct(v['accuracy'])} / {pct(v['ng_recall'])} / {pct(v['false_reject_rate'])}"
        for k in names for r, v in s[k]["metrics"]["per_recipe"].items()) + "."]
    lines += ["", "Blank live frames against each set's references (p_ng; NG when >= threshold; issue 17 wants",
              "all of them NG):", "", "| reference | " + " | ".join(BLANKS) + " |",
              "| --- | " + " | ".join("---" for _ in BLANKS) + " |"]
    for k in names:
        for ref, v in s[k]["blank_frames"].items():
            lines.append(f"| {ref} | " + " | ".join(f"{v[b]:.3f}" for b in BLANKS) + " |")
    b = report["blank_summary"]
    wrong = [s[k]["wrong_reference"]["called_ng"] for k in names]
    passed_blanks = sorted({kind for k in names for per in s[k]["blank_frames"].values() for kind, v in per.items()
                            if v < report["threshold"]}, key=BLANKS.index)
    lines += ["", f"Blank frames called NG: {b['called_ng']} of {b['frames']}."
              + (f" Called OK: {', '.join(passed_blanks)} (for at least one reference)." if passed_blanks else "")]
    if passed_blanks or any(w is not None and w < 1.0 for w in wrong):
        lines += ["Fail-safe gaps (issue 18 item 6, issue 17): a live part against another recipe's reference, and a",
                  "blank frame, must come out NG; the figures above show where this model passes them instead."]
    lines += ["Targets of issue 18 for (b), (b') and (c): accuracy >= 99.5%, NG recall >= 99.5%, OK false reject <= 0.5%."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True, help="exported seal classifier (.onnx with manifest)")
    p.add_argument("--out", type=Path, required=True, help="report JSON to write")
    p.add_argument("--count", type=int, default=600, help="pairs per rendered set")
    p.add_argument("--data-root", type=Path, default=Path("work/seal-eval"), help="where sets are rendered")
    p.add_argument("--take", action="append", default=[], metavar="SET=DIR",
                   help="use an existing DESIGN seal folder for a set instead of rendering it")
    p.add_argument("--card-section", type=Path, help="also write the model card's section (markdown) here")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    a = p.parse_args()
    taken = dict(t.split("=", 1) for t in a.take)
    unknown = set(taken) - set(SETS)
    if unknown:
        p.error(f"--take: unknown set(s) {sorted(unknown)}; sets are {sorted(SETS)}")
    model = Model(a.model, a.threads)
    report = {
        "model": str(a.model),
        "model_sha256": hashlib.sha256(a.model.read_bytes()).hexdigest(),
        "threshold": model.threshold,
        "command": ".venv-eval/bin/python scripts/ml/seal_eval_suite.py " + " ".join(sys.argv[1:]),
        "targets_for_unseen_sets": TARGETS,
        "sets": {},
    }
    called, frames = 0, 0
    for name, spec in SETS.items():
        folder = Path(taken[name]) if name in taken else a.data_root / name
        if name not in taken:
            render(name, folder, a.count)
        data = load(model, folder)
        blanks = blank_frames(model, data, seed=spec["seed"])
        info_path = folder / "dataset.json"
        report["sets"][name] = {
            "data": str(folder),
            "recipes": json.loads(info_path.read_text()).get("recipes") if info_path.exists() else None,
            "generator": None if name in taken else {"script": spec["script"], "seed": spec["seed"], "args": spec["args"]},
            "metrics": evaluate_set(model, data),
            "wrong_reference": wrong_reference(model, data),
            "blank_frames": blanks,
        }
        called += sum(v >= model.threshold for per in blanks.values() for v in per.values())
        frames += sum(len(per) for per in blanks.values())
        m = report["sets"][name]["metrics"]
        print(f"{name:11s} n={m['samples']} acc {100 * m['accuracy']:.2f}% ng-recall {100 * m['ng_recall']:.2f}% "
              f"false-reject {100 * m['false_reject_rate']:.2f}% wrong-ref NG "
              f"{100 * (report['sets'][name]['wrong_reference']['called_ng'] or 0):.1f}%", file=sys.stderr)
    report["blank_summary"] = {"frames": int(frames), "called_ng": int(called)}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2) + "\n")
    if a.card_section:
        a.card_section.write_text(card_section(report))
    print(json.dumps({k: {m: v["metrics"][m] for m in TARGETS} for k, v in report["sets"].items()}))


if __name__ == "__main__":
    main()
