"""The model card of a detector trained on a user's folder by `scripts/train-electrode.sh --data`: its data and
split, training, the operating point chosen on the selection split, the held-out figures of the exported ONNX
file, the export's parity, and (when given) zero-shot and few-shot sets. Every figure comes from a JSON one of
the pipeline's steps wrote; a section whose input is absent is left out."""

from __future__ import annotations

import json
from pathlib import Path

from electrode_card_parts import (class_table, few_shot_section, parity_lines, pct, results_table,
                                  zero_shot_section)
from electrode_data import CLASSES

SPLIT_NAMES = {"train": "train", "select": "selection", "test": "held-out"}


def data_section(split: dict) -> list[str]:
    s = split["splits"]
    lines = [
        "## Data",
        f"{split['how']}" if split.get("how") else
        f"`{split['source']}`: {split['images']} labelled pairs, split by image (seeded hash of the file name, seed"
        f" {split['seed']}; `electrode_split.py`) into train (weights), selection (the epoch kept and the score"
        " threshold) and held-out (the figures below only).",
        "",
        "| split | images | defect-free | defects | " + " | ".join(CLASSES) + " |",
        "| --- " * (4 + len(CLASSES)) + "|",
    ]
    for k, name in SPLIT_NAMES.items():
        v = s[k]
        lines.append(f"| {name} | {v['images']} | {v['defect_free_images']} | {v['defects']} | "
                     + " | ".join(str(v["defects_per_class"][c]) for c in CLASSES) + " |")
    absent = [c for c in CLASSES if s["test"]["defects_per_class"][c] == 0]
    if absent:
        lines += ["", f"No held-out instance of {', '.join(f'`{c}`' for c in absent)}: their figures are n/a and"
                      " left out of the means."]
    return lines


def training_section(tr: dict, notes: list[str]) -> list[str]:
    start = tr.get("from")
    args = tr.get("args", {})
    lines = [
        "## Training",
        (f"Started from `{start['checkpoint']}`" if start else "From scratch (no starting checkpoint)")
        + f", variant `{tr.get('variant')}`: {tr.get('epochs_run')} epoch(s) in {tr.get('minutes')} minutes on"
        f" {tr.get('device_name')} (budget {args.get('max_minutes')} min), batch {args.get('batch')}, lr"
        f" {args.get('lr')}; the weights kept are those of epoch {tr.get('best', {}).get('epoch')}, the lowest"
        " validation loss on " + ("the selection split" if args.get("val_data") not in (None, "None") else
                                  f"the {tr.get('val_images')} training pairs held back from the weights")
        + (" (epoch 0: the starting weights)." if
                                                     tr.get("best", {}).get("epoch") == 0 else "."),
    ]
    return lines + [f"- {n}" for n in notes]


def threshold_section(sweep: list[dict], chosen: float) -> list[str]:
    return [
        "## Operating point",
        "The score threshold (`inspection.score_threshold`, the manifest's `score`) with the lowest miss rate plus"
        " false-detection rate on the selection split (ties: the lower threshold):",
        "",
        "| threshold | selection miss | selection false det. |",
        "| --- | --- | --- |",
        *[f"| {r['threshold']:.2f}{' (chosen)' if abs(r['threshold'] - chosen) < 1e-9 else ''} |"
          f" {pct(r['miss_rate'])} | {pct(r['false_detection_rate'])} |" for r in sweep],
    ]


def user_card(a) -> list[str]:
    r = json.loads(a.report.read_text())
    split = json.loads(a.split.read_text())
    held = json.loads(a.heldout.read_text()) if a.heldout else r["test"]
    m, lat, size_mb = r["manifest"], r["latency_ms_batch1_cpu2"], r["size_bytes"] / 1e6
    intro = a.intro or [
        "Made by `scripts/train-electrode.sh --data` (" + (f"`{a.command}`" if a.command else "see README") + ")."
        " The architecture and the input/output contract are the shipped model's (`onnx/electrode_detector.md`,"
        f" {m['architecture']['parameters']:,} parameters); only the weights and the threshold are this run's."]
    lines = [
        f"# Model card: {a.title or 'electrode detector trained on `' + Path(split['source']).name + '`'}"
        f" ({m['name']} {m['version']})",
        "",
        *intro,
        "",
        *data_section(split),
        "",
        *training_section(r.get("training", {}), a.note),
    ]
    if a.sweep:
        lines += ["", *threshold_section(json.loads(a.sweep.read_text()), m["thresholds"]["score"])]
    lines += [
        "",
        f"## Held-out results (the exported ONNX file, threshold {held['score_threshold']:g})",
        f"{held['images']} held-out pairs, {held['defects']} defects, never used for any choice. The paper's"
        " figures are from its own real images: a target, not a like-for-like comparison.",
        "",
        *results_table(held, size_mb),
        "",
        *class_table(held),
        "",
        "## Export",
        *parity_lines(r),
        "",
        f"CPU latency, ONNX Runtime {r['onnxruntime']}, 2 intra-op threads, batch 1: p50 {lat['p50']} ms, p99"
        f" {lat['p99']} ms (measured on the machine that trained it, which may have been busy).",
    ]
    lines += zero_shot_section(a.zero_shot) + few_shot_section(a.few_shot)
    return lines
