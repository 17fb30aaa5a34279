"""Sections both electrode model cards share (the shipped model's and a user's `--data` run's): results
against the paper's figures, the per-class table, the export's parity verdict, and the optional sets a model
is scored on apart from its own held-out split: a second renderer zero-shot, and few-shot runs."""

from __future__ import annotations

import json
from pathlib import Path

from electrode_data import CLASSES

PAPER = {"map50": 0.987, "seg_iou_mean": 0.893, "miss_rate": 0.023, "false_detection_rate": 0.052, "size_mb": 18.7}
KEYS = [("mAP@0.5", "map50", False), ("mean segmentation IoU", "seg_iou_mean", False),
        ("miss rate", "miss_rate", True), ("false-detection rate", "false_detection_rate", True)]


def pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}%"


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "**not met**"


def meets(e: dict, k: str, low: bool) -> bool | None:
    """Whether figure k of eval e meets the paper's; None when the set gave nothing to measure."""
    v = e.get(k)
    if v is None:
        return None
    return v <= PAPER[k] if low else v >= PAPER[k]


def results_table(t: dict, size_mb: float | None = None) -> list[str]:
    """The held-out figures against the paper's, each with its verdict."""
    lines = ["| metric | paper | this model | target |", "| --- | --- | --- | --- |"]
    for name, k, low in KEYS:
        label = f"{name} (score >= {t['score_threshold']:g}, same class, IoU >= 0.5)" if k == "miss_rate" else name
        lines.append(f"| {label} | {pct(PAPER[k])} | {pct(t[k])} | {met(meets(t, k, low))} |")
    if size_mb is not None:
        lines.append(f"| size | 18.7 MB | {size_mb:.1f} MB | {met(size_mb <= PAPER['size_mb'])} |")
    lines.append(f"| image-level accuracy (any detection = NG) | - | {pct(t['image_accuracy'])} | |")
    return lines


def class_table(t: dict) -> list[str]:
    """AP and seg IoU per class with the instances they were measured on ("n/a": none in the set)."""
    n = t.get("defects_per_class", {})
    return ["| class | instances | AP@0.5 | seg IoU |", "| --- | --- | --- | --- |",
            *[f"| {c} | {n.get(c, '')} | {pct(t['ap50'][c])} | {pct(t['seg_iou'][c])} |" for c in CLASSES]]


def parity_lines(r: dict) -> list[str]:
    """The export's parity with PyTorch; loud when above the fp32 tolerance (the export was kept)."""
    check = r.get("parity_check")
    abs_ = ", ".join(f"`{k}` {v:.1e}" for k, v in r["parity"].items())
    if not check:  # a report from before relative parity
        return [f"Parity with PyTorch (max abs diff): {abs_}."]
    rel = ", ".join(f"`{k}` {v:.1e}" for k, v in check["relative"].items())
    lines = [f"Parity with PyTorch under ONNX Runtime (max abs diff: {abs_}; relative to each part's scale: {rel};"
             f" tolerance {check['tolerance_relative']:g}, fp32 reordering noise): **{check['verdict']}**,"
             f" {check['decoded_differences']} decoded detections differ."]
    if check["verdict"] != "ok":
        lines += ["", f"> **WARNING: parity above tolerance.** {check['reason']}. The export was kept (it is refused"
                      f" only above {check['refuse_above_relative']:g} of the scale or when decoded detections"
                      " differ); check the held-out figures below, which are measured on the ONNX file itself."]
    return lines


def run_report(eval_path: Path) -> dict:
    """The export report of the run an eval JSON belongs to, when it lies beside it (a --data run's folder)."""
    for p in sorted(eval_path.parent.glob("*.report.json")):
        return json.loads(p.read_text())
    return {}


def eval_rows(pairs: list[tuple[str, dict]]) -> list[str]:
    head = "| set | images | defects | mAP@0.5 | seg IoU | miss | false det. | threshold |"
    return [head, "| --- " * 8 + "|",
            *[f"| {label} | {e['images']} | {e['defects']} | {pct(e['map50'])} | {pct(e['seg_iou_mean'])} |"
              f" {pct(e['miss_rate'])} | {pct(e['false_detection_rate'])} | {e['score_threshold']:g} |"
              for label, e in pairs]]


def zero_shot_section(specs: list[list[str]]) -> list[str]:
    """Sets the model never trained on nor chose anything with (e.g. the second renderer): EVAL.json LABEL."""
    if not specs:
        return []
    pairs = [(label, json.loads(Path(path).read_text())) for path, label in specs]
    return ["", "## Zero-shot: sets drawn by code the model never saw",
            "Each set is scored as it comes, at the model's own threshold; nothing was trained or chosen on it.",
            "", *eval_rows(pairs), "",
            *[f"- {label}: AP@0.5 per class " + ", ".join(f"{c} {pct(e['ap50'][c])}" for c in CLASSES)
              for label, e in pairs]]


def few_shot_section(specs: list[list[str]]) -> list[str]:
    """Runs fine-tuned on a few labelled pairs of a new set (`train-electrode.sh --data`), each scored on that
    set's own held-out split: EVAL.json LABEL."""
    if not specs:
        return []
    lines = ["", "## Few-shot: fine-tuned on a few labelled pairs of a new set",
             "Each run started from a checkpoint, trained on the set's train split, chose its threshold on the",
             "selection split and is scored here on the held-out split (images never used for any choice).", "",
             "| run | trained on | from | minutes | device | held-out images | mAP@0.5 | seg IoU | miss | false det. |",
             "| --- " * 10 + "|"]
    for path, label in specs:
        e = json.loads(Path(path).read_text())
        tr = run_report(Path(path)).get("training", {})
        start = (tr.get("from") or {}).get("checkpoint", "scratch") if tr else ""
        lines.append(f"| {label} | {tr.get('train_images', '')} | {start} | {tr.get('minutes', '')} |"
                     f" {tr.get('device_name', '')} | {e['images']} | {pct(e['map50'])} | {pct(e['seg_iou_mean'])} |"
                     f" {pct(e['miss_rate'])} | {pct(e['false_detection_rate'])} |")
    return lines
