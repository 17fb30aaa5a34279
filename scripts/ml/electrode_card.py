"""Writes the electrode detector's model card (Markdown) from the export report and the evaluation JSONs,
so every figure in it is one measured by `electrode_export.py` and `electrode_evaluate.py`.

Two cards: the shipped model's (default), and with `--split` a user's `train-electrode.sh --data` run's
(electrode_card_user.py). Both take optional zero-shot sets and few-shot runs, each reported apart."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from electrode_card_parts import PAPER, few_shot_section, met, parity_lines, pct, zero_shot_section
from electrode_card_user import user_card
from electrode_data import CLASSES

PAPER_TABLE = [  # the paper's comparison table: mAP@0.5, seg IoU, FPS, size MB
    ("Faster R-CNN", "92.3", "-", "18", "235.6"),
    ("YOLOv7", "95.2", "-", "48", "36.5"),
    ("Swin + Faster R-CNN", "97.1", "85.6", "28", "245.8"),
    ("Mask R-CNN", "96.8", "87.2", "22", "320.4"),
    ("EfficientDet-D1", "94.5", "-", "55", "42.7"),
    ("paper's method", "98.7", "89.3", "52 (GPU)", "18.7"),
]
PAPER_ABLATION = {"base": "93.5", "attention": "96.1", "full": "97.8"}
ROWS = {"base": "base (additive fusion, plain convolutions)", "attention": "+ cross-modal attention",
        "full": "+ improved CBAM + dynamic depthwise-separable conv (shipped)"}


def ablation_rows(evals: dict) -> list[str]:
    out = []
    for k in ("base", "attention", "full"):
        if k in evals:
            e = evals[k]
            out.append(f"| {ROWS[k]} | {pct(e['map50'])} | {pct(e['seg_iou_mean'])} | {pct(e['miss_rate'])} | "
                       f"{pct(e['false_detection_rate'])} | {PAPER_ABLATION[k]}% |")
    return out


def read_log(path: Path) -> tuple[list[dict], dict]:
    """A training log's epoch rows and its closing summary."""
    log = [json.loads(l) for l in path.read_text().splitlines() if l.startswith("{")]
    return [e for e in log if "epoch" in e], next(e for e in reversed(log) if "minutes" in e)


def recipe(run: dict) -> str:
    """The knobs the CPU-hour recipes differ in, from a training summary's arguments."""
    args = run["args"]
    over = args.get("oversample", "[]").strip("[]").replace("'", "")
    alpha = args.get("focal_alpha", "0.25")
    return (f"lr {float(args['lr']):g}" + (f", oversample {over}" if over else "")
            + (f", focal alpha {alpha}" if alpha != "0.25" else ""))


def screen_rows(folder: Path) -> list[str]:
    rows = []
    for ev in sorted(folder.glob("*.eval.json")):
        e = json.loads(ev.read_text())
        _, run = read_log(ev.with_name(ev.name.replace(".eval.json", ".log")))
        rows.append((e["map50"], f"| {recipe(run)} | {pct(e['map50'])} | {pct(e['ap50']['inclusion'])} | "
                                 f"{pct(e['miss_rate'])} | {pct(e['false_detection_rate'])} | {pct(e['seg_iou_mean'])} | "
                                 f"{run['best']['val_loss']:.3f} |"))
    return [r for _, r in sorted(rows)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--report", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--equal-time", type=Path, help="folder with base/attention/full .eval.json of an equal-time run")
    p.add_argument("--cpu-run", type=Path, help="eval JSON of the full model trained on the 2-core CPU")
    p.add_argument("--cpu-log", type=Path, help="its training log (epoch lines with their seconds)")
    p.add_argument("--cpu-before", type=Path, help="eval JSON of an earlier CPU-hour recipe, for comparison")
    p.add_argument("--cpu-before-log", type=Path, help="that run's training log")
    p.add_argument("--cpu-sweep", type=Path, help="selection-set threshold sweep of the CPU-hour model (--sweep JSON)")
    p.add_argument("--cpu-tuned", type=Path, help="its held-out eval JSON at the threshold chosen from the sweep")
    p.add_argument("--screen", type=Path,
                   help="folder of NAME.log + NAME.eval.json: CPU-hour recipes screened on a selection set")
    p.add_argument("--zero-shot", nargs=2, action="append", default=[], metavar=("EVAL", "LABEL"),
                   help="eval JSON of a set the model never saw (e.g. the second renderer); repeatable")
    p.add_argument("--few-shot", nargs=2, action="append", default=[], metavar=("EVAL", "LABEL"),
                   help="held-out eval JSON of a few-shot run (its run folder's report is read beside it); repeatable")
    user = p.add_argument_group("a user's run (train-electrode.sh --data)")
    user.add_argument("--split", type=Path, help="the run's split.json: writes the user card")
    user.add_argument("--sweep", type=Path, help="threshold sweep on the selection split")
    user.add_argument("--heldout", type=Path, help="eval JSON of the exported ONNX file on the held-out split")
    user.add_argument("--command", help="the command that made the run, quoted in the card")
    user.add_argument("--note", action="append", default=[], help="a line for the training section; repeatable")
    user.add_argument("--title", help="the card's title (default: the user run's)")
    user.add_argument("--intro", action="append", default=[], help="a paragraph under the title; repeatable")
    a = p.parse_args()
    if a.split:
        a.out.write_text("\n".join(user_card(a)) + "\n")
        print(f"wrote {a.out}")
        return
    r = json.loads(a.report.read_text())
    t, m, tr = r["test"], r["manifest"], r["training"]
    lat, size_mb = r["latency_ms_batch1_cpu2"], r["size_bytes"] / 1e6
    arch = m["architecture"]
    evals = {"full": t}
    for e in r["ablations"]:
        evals[Path(e["model"]).stem] = e
    lines = [
        f"# Model card: {m['name']} {m['version']} (`onnx/electrode_detector.onnx`)",
        "",
        "Defect detection on coated electrode sheet after the paper in `../shared/seeds/electrode-paper.en.txt`:",
        "an aligned visible image and X-ray image of the same patch in; image-level defect presence, boxes and a",
        "segmentation map for five classes out: " + ", ".join(f"`{c}`" for c in CLASSES) + ".",
        "",
        "## Architecture",
        f"- Visible branch: {arch['visible']}. X-ray branch: {arch['xray']}.",
        f"- Fusion: {arch['fusion']}, multi-head, inside 8x8 windows at strides 4 and 8 and globally at stride 16,",
        "  with a relative position bias; a linear projection maps the attended X-ray values to the visible",
        "  channel count before the residual sum.",
        f"- Pyramid: {arch['pyramid']} (K = 4 depthwise kernels mixed per sample).",
        f"- Heads: {arch['heads']}.",
        f"- {arch['parameters']:,} parameters; file {size_mb:.1f} MB (fp32, including the constant shifted-window",
        "  masks).",
        "",
        "Contract (DESIGN.md): inputs `visible` float32 `[N,3,256,256]` RGB, `(x/255 - 0.25)/0.15`, and `xray`",
        "float32 `[N,1,256,256]` grey, `(x/255 - 0.6)/0.15`, bilinear resize, spatially aligned; outputs `det`",
        f"`[N,{m['outputs'][0]['shape'][1]},9]` (cx, cy, w, h in input pixels on the stride-4 grid, then 5 sigmoid class",
        "probabilities), `seg` `[N,6,256,256]` logits (0 = background), `cls` `[N,5]` presence probabilities.",
        f"Decoding: score = max class probability > {m['thresholds']['score']}, class-wise NMS at IoU 0.5.",
        "The manifest is in the file's metadata (`cellgate.manifest`).",
        "",
        "## Data",
        "Synthetic, from `scripts/ml/electrode_render.py`: aligned visible/X-ray pairs of coated sheet (granular",
        "coating, coating stripes, lighting gradient; X-ray thickness texture and quantum noise) with 0..3",
        "defects each (20% defect-free). Scratches and dark spots are drawn on the visible surface (a scratch",
        "leaves a faint trace in X-ray), inclusions only in X-ray, foreign objects and cracks in both. Smallest",
        "defects: inclusions of 2.2 px radius, scratches and cracks 2.5 px wide. Labels are the drawn polygons;",
        "each box is the tight extent of the rasterised polygon.",
        f"- Training: 4000 pairs, seed 1; {tr['train_images']} for training, {tr['val_images']} for validation",
        f"  (split by seed {tr['seed']}).",
        f"- Held-out test: 1000 pairs ({t['defects']} defects) rendered with seed 2, never used for any choice.",
        "",
        "## Training",
        f"AdamW, lr 2e-3 with warm-up and cosine decay, batch 16, horizontal/vertical flips; {tr['epochs_run']} epochs",
        f"(best by validation loss: epoch {tr['best']['epoch']}) on {tr['device_name']} in {tr['minutes']} minutes.",
        "Losses: sigmoid focal loss (point classes), GIoU (boxes), cross-entropy + Dice (segmentation), BCE",
        "(presence).",
        "",
        "```",
        "bash scripts/train-electrode.sh --epochs 18          # the shipped run (a GPU: minutes)",
        "bash scripts/train-electrode-cpu.sh                  # a 2-core CPU in about an hour (below)",
        ".venv/bin/python scripts/ml/electrode_evaluate.py --model onnx/electrode_detector.onnx --data DIR",
        "```",
        "Train, evaluate and export take any folder in the DESIGN COCO format (`--data`).",
        "",
        "## Held-out results against the paper's figures",
        "| metric | paper | this model | target |",
        "| --- | --- | --- | --- |",
        f"| mAP@0.5 | 98.7% | {pct(t['map50'])} | {met(t['map50'] >= PAPER['map50'])} |",
        f"| mean segmentation IoU (5 classes) | 89.3% | {pct(t['seg_iou_mean'])} | {met(t['seg_iou_mean'] >= PAPER['seg_iou_mean'])} |",
        f"| miss rate (score >= {t['score_threshold']}, same class, IoU >= 0.5) | 2.3% | {pct(t['miss_rate'])} | {met(t['miss_rate'] <= PAPER['miss_rate'])} |",
        f"| false-detection rate | 5.2% | {pct(t['false_detection_rate'])} | {met(t['false_detection_rate'] <= PAPER['false_detection_rate'])} |",
        f"| size | 18.7 MB | {size_mb:.1f} MB | {met(size_mb <= PAPER['size_mb'])} |",
        f"| image-level accuracy (any detection = NG) | - | {pct(t['image_accuracy'])} | |",
        "",
        "| class | AP@0.5 | seg IoU |",
        "| --- | --- | --- |",
        *[f"| {c} | {pct(t['ap50'][c])} | {pct(t['seg_iou'][c])} |" for c in CLASSES],
        "",
        f"CPU latency, ONNX Runtime {r['onnxruntime']}, 2 intra-op threads, batch 1: p50 {lat['p50']} ms, p99",
        f"{lat['p99']} ms ({r['fps_batch1_cpu2']} FPS).",
        *parity_lines(r),
        "",
        "The paper's comparison (its own dataset of 1,500 real images, GPU speeds) beside ours. The figures are",
        "not comparable as equals: ours are measured on synthetic data that is easier than a real line's.",
        "",
        "| model | mAP@0.5 | seg IoU | FPS | size MB |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {n} | {a_}% | {b}{'%' if b != '-' else ''} | {c} | {d} |" for n, a_, b, c, d in PAPER_TABLE],
        f"| this model | {100 * t['map50']:.1f}% | {100 * t['seg_iou_mean']:.1f}% | {r['fps_batch1_cpu2']} (2-core CPU) | {size_mb:.1f} |",
        "",
        "## Ablation (the paper's rows; same data, seed and epochs)",
        "| model | mAP@0.5 | seg IoU | miss | false det. | paper mAP |",
        "| --- | --- | --- | --- | --- | --- |",
        *ablation_rows(evals),
    ]
    if a.equal_time:
        et = {k: json.loads((a.equal_time / f"{k}.eval.json").read_text()) for k in ("base", "attention", "full")}
        lines += ["", "The same three rows trained for an equal wall-clock budget (5.5 minutes each on the GPU) instead:",
                  "", "| model | mAP@0.5 | seg IoU | miss | false det. | paper mAP |", "| --- | --- | --- | --- | --- | --- |",
                  *ablation_rows(et)]
    lines += [
        "",
        "What the ablation says, as measured: on this synthetic set the base model is already saturated",
        "(mAP above 99%). Cross-modal attention and then CBAM with dynamic convolutions did not add a gain: in",
        "both runs the rows come out base >= + attention >= full in mAP@0.5, by at most 0.6 points (a handful of",
        "the 1430 defects), while segmentation IoU stays within 0.3-1.0 points. The extra modules have more to",
        "learn and may need more epochs than these short runs give them. The paper's fourth row (self-supervised",
        "pre-training on coating-machine sensor series) is not reproduced: the project has no such sensor data.",
        "A harder dataset (or real images) is needed to "
        "measure what each module adds; the shipped model keeps the paper's full architecture, chosen before",
        "the test set was scored.",
    ]
    if a.cpu_run and a.cpu_log:
        c = json.loads(a.cpu_run.read_text())
        epochs, run = read_log(a.cpu_log)
        secs = [e["s"] for e in epochs]
        before = json.loads(a.cpu_before.read_text()) if a.cpu_before else None
        _, before_run = read_log(a.cpu_before_log) if a.cpu_before_log else (None, None)
        sweep = json.loads(a.cpu_sweep.read_text()) if a.cpu_sweep else None
        tuned = json.loads(a.cpu_tuned.read_text()) if a.cpu_tuned else None
        final = tuned or c  # the verdict is on the operating point a station would run
        keys = [("mAP@0.5", "map50", False), ("mean segmentation IoU", "seg_iou_mean", False),
                ("miss rate", "miss_rate", True), ("false-detection rate", "false_detection_rate", True)]
        ok = {k: (final[k] <= PAPER[k]) if low else (final[k] >= PAPER[k]) for _, k, low in keys}
        all_met = all(ok.values())
        lines += [
            "",
            f"## Training on a 2-core CPU in an hour: {'targets met' if all_met else 'targets not all met'}",
            "`bash scripts/train-electrode-cpu.sh` trains the same architecture on the same 4000 pairs with a recipe"
            f" for a 2-core machine: batch 8 (twice the updates per image), {recipe(run)}, channels-last"
            " convolutions (about 17% faster per step on the CPU), and a learning-rate schedule annealed over a"
            f" {run['args']['max_minutes']}-minute budget. The measured run: {run['epochs_run']} epochs of"
            f" {min(secs):.0f}-{max(secs):.0f} s ({run['minutes']} min of training on {run['device_name']}; best by"
            f" validation loss: epoch {run['best']['epoch']}).",
        ]
        if sweep and tuned:
            thr = tuned["score_threshold"]
            lines += [
                "",
                "After an hour the detections' scores are less confident than the shipped model's, so the script"
                " then chooses the station's operating point (`inspection.score_threshold`, the manifest's `score`)"
                " on the selection set (1000 pairs, seed 3; never the test set): the threshold with the lowest miss"
                " rate plus false-detection rate there (`electrode_evaluate.py --sweep`, then `--threshold-from`):",
                "",
                "| threshold | selection miss | selection false det. |",
                "| --- | --- | --- |",
                *[f"| {r['threshold']:.2f}{' (chosen)' if abs(r['threshold'] - thr) < 1e-9 else ''} | "
                  f"{pct(r['miss_rate'])} | {pct(r['false_detection_rate'])} |" for r in sweep],
            ]
        lines += [
            "",
            "Held-out set (seed 2, the same 1000 pairs as above), evaluated in PyTorch"
            " (`electrode_evaluate.py --checkpoint`); mAP@0.5 and segmentation IoU do not depend on the threshold:",
            "",
        ]
        cols = [(f"CPU hour at {c['score_threshold']:.2f}", c)]
        if tuned:
            cols.append((f"CPU hour at {tuned['score_threshold']:.2f} (chosen)", tuned))
        if before:
            cols.append((f"first recipe ({recipe(before_run)}) at {before['score_threshold']:.2f}"
                         if before_run else "first recipe", before))
        head = "| metric | paper | " + " | ".join(n for n, _ in cols) + " | target |"
        lines += [head, "| --- " * (head.count("|") - 1) + "|"]
        for name, k, _ in keys:
            lines.append(f"| {name} | {pct(PAPER[k])} | " + " | ".join(pct(e[k]) for _, e in cols)
                         + f" | {met(ok[k])} |")
        lines.append(f"| image-level accuracy | | " + " | ".join(pct(e["image_accuracy"]) for _, e in cols) + " | |")
        worst = min(c["ap50"], key=c["ap50"].get)
        ap = ", ".join(f"{k} {pct(v)}" for k, v in c["ap50"].items())
        lines += [
            "",
            f"AP@0.5 per class: {ap}; the weakest is `{worst}`"
            + (" (the smallest defects, seen only in the X-ray)" if worst == "inclusion" else "")
            + f". Validation loss at the end: {run['best']['val_loss']:.3f} (the GPU run ended at"
            f" {tr.get('best', {}).get('val_loss', float('nan')):.3f} after {tr['epochs_run']} epochs of twice as"
            " many images per update): the hour buys about half the image passes of the shipped run.",
        ]
        if tuned:
            lines += [
                "",
                "To ship such a model, export it with its operating point in the manifest: `electrode_export.py"
                " --checkpoint work/electrode/cpu-hour/full.pt --eval work/electrode/cpu-hour/full.tuned.eval.json"
                f" --threshold {tuned['score_threshold']:.2f} --out ...`. One run was measured; runs of one recipe"
                " differ (see below), so re-check the held-out figures of any model before it goes to a line.",
            ]
        if a.screen:
            lines += [
                "",
                "How the recipe was chosen: the hour buys 9 epochs at batch 8, so recipes were screened at exactly"
                " that (9 epochs, batch 8, the step-based schedule) on an H100, side by side, and scored on a"
                " selection set of 1000 pairs rendered with seed 3, never on the seed-2 test set. One run each;"
                " the spread between runs of one recipe is large (the first recipe's miss rate was 20.5% in its"
                " GPU screening run and 9.9% in its CPU hour), so only large differences count (val loss: the 400 pairs held back from training; focal alpha changes its scale):",
                "",
                "| recipe (9 epochs, batch 8) | mAP@0.5 | inclusion AP | miss | false det. | seg IoU | val loss |",
                "| --- | --- | --- | --- | --- | --- | --- |",
                *screen_rows(a.screen),
                "",
                "Drawing the inclusion images 3 times as often lifted inclusion AP by 7 to 10 points, and the"
                " doubled learning rate brought the under-trained scores over the 0.5 threshold (miss rate down);"
                " the two together scored best in mAP and went into the script.",
            ]
        lines += [
            "",
            "The shipped file is the GPU run above; this section shows that a line without a GPU can re-make"
            " a detector of this quality from the seeds in about an hour"
            + ("." if all_met else ", and by how much it falls short."),
        ]
    lines += zero_shot_section(a.zero_shot) + few_shot_section(a.few_shot)
    a.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
