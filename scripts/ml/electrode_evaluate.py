"""Evaluates an electrode detector (a PyTorch checkpoint or an exported ONNX file) on a DESIGN COCO folder.

Prints mAP@0.5, per-class AP and segmentation IoU, mean IoU, miss rate, false-detection rate and image
accuracy. Detections for AP are kept down to score 0.05; miss and false-detection rates use the decision
threshold (the model's manifest, or --threshold).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from electrode_data import load_set, normalise_visible, normalise_xray
from electrode_metrics import Accumulator, decode, format_report, pct

AP_FLOOR = 0.05


def onnx_runner(model_path: Path):
    from export_common import cpu_session

    sess = cpu_session(model_path)
    manifest = json.loads(sess.get_modelmeta().custom_metadata_map["cellgate.manifest"])

    def run(vis, xray):
        return sess.run(["det", "seg", "cls"], {"visible": vis, "xray": xray})

    return run, float(manifest["thresholds"]["score"])


def torch_runner(ckpt_path: Path):
    import torch

    from electrode_model import load_checkpoint

    model, _ = load_checkpoint(ckpt_path)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)

    def run(vis, xray):
        with torch.no_grad():
            out = model(torch.from_numpy(vis).to(device), torch.from_numpy(xray).to(device))
        return [o.cpu().numpy() for o in out]

    return run, 0.5


def evaluate(run, data, thresholds: list[float], batch: int = 32) -> list[dict]:
    """The metrics at each decision threshold, from one pass of the model over the set."""
    accs = [Accumulator(t) for t in thresholds]
    for s in range(0, len(data.files), batch):
        det, seg, cls = run(normalise_visible(data.visible[s : s + batch]), normalise_xray(data.xray[s : s + batch]))
        for j in range(len(det)):
            found = decode(det[j], AP_FLOOR)
            for acc in accs:
                acc.add(found, data.boxes[s + j], seg[j], data.masks[s + j], cls[j])
    return [acc.report() for acc in accs]


def chosen_threshold(sweep: list[dict]) -> float:
    """The operating point from a --sweep JSON: the lowest miss rate plus false-detection rate (ties: the lower
    threshold, since a missed defect costs more on a line than a false reject). A selection set without defects
    has no miss rate: then the false-detection rate alone decides."""
    best = min(sweep, key=lambda r: ((r["miss_rate"] or 0.0) + r["false_detection_rate"], r["threshold"]))
    return float(best["threshold"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="PyTorch checkpoint from electrode_train.py")
    src.add_argument("--model", type=Path, help="exported .onnx (threshold from its manifest)")
    p.add_argument("--data", type=Path, required=True, help="folder in the DESIGN electrode COCO format")
    at = p.add_mutually_exclusive_group()
    at.add_argument("--threshold", type=float, help="decision score threshold (default: the model's)")
    at.add_argument("--threshold-from", type=Path, help="a --sweep JSON from a selection set: use the threshold"
                                                        " with the lowest miss + false-detection rate there")
    p.add_argument("--json", type=Path, help="also write the metrics here")
    p.add_argument("--sweep", help="comma-separated thresholds: miss and false-detection rate at each, to choose"
                                   " the station's inspection.score_threshold on a validation set")
    a = p.parse_args()
    data = load_set(a.data)
    run, thr = onnx_runner(a.model) if a.model else torch_runner(a.checkpoint)
    if a.sweep:
        thresholds = [float(t) for t in a.sweep.split(",")]
        rows = evaluate(run, data, thresholds)
        print("threshold  miss rate  false-detection rate  image accuracy")
        for t, m in zip(thresholds, rows):
            print(f"{t:9.2f}  {pct(m['miss_rate']):>9s}  {pct(m['false_detection_rate']):>20s}"
                  f"  {pct(m['image_accuracy']):>14s}")
        if a.json:
            a.json.write_text(json.dumps([dict(m, threshold=t) for t, m in zip(thresholds, rows)], indent=2) + "\n")
        return
    if a.threshold_from:
        thr = chosen_threshold(json.loads(a.threshold_from.read_text()))
    elif a.threshold is not None:
        thr = a.threshold
    [m] = evaluate(run, data, [thr])
    m["data"] = str(a.data)
    m["model"] = str(a.model or a.checkpoint)
    print(format_report(m))
    if a.json:
        a.json.write_text(json.dumps(m, indent=2) + "\n")


if __name__ == "__main__":
    main()
