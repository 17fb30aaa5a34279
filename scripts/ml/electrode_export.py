"""Exports a trained electrode detector to ONNX per DESIGN.md (`visible`, `xray` -> `det`, `seg`, `cls`).

Dynamic batch; the manifest (labels, thresholds, decoding, training data and held-out metrics) is stored in
the model's metadata. Parity with PyTorch is checked under ONNX Runtime on held-out pairs, each output
relative to its own scale (electrode_parity.py): a figure above the fp32 tolerance is kept and reported
loudly; only a broken export (shapes, non-finite values, an error above 1e-2 of the scale, decoded
detections that differ) is refused, and its file removed. CPU latency is measured at batch 1 with ONNX
Runtime (2 intra-op threads), and a report JSON is written beside the model for the model card.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import onnxruntime as ort
import torch

import electrode_parity
import onnx_manifest
from export_common import cpu_session, time_ms, weights_sha256
from electrode_data import CLASSES, load_set, normalise_visible, normalise_xray
from electrode_model import (DET_STRIDE, NUM_CLASSES, SIZE, VIS_MEAN, VIS_STD, XRAY_MEAN, XRAY_STD,
                             count_parameters, load_checkpoint)

OPSET = 17


def manifest(a, model, ckpt, metrics: dict, anchors: int) -> dict:
    training = ckpt.get("training", {})
    return {
        "schema": 1,
        "task": "electrode_detector",
        "name": a.name,
        "version": a.version,
        "weights_sha256": weights_sha256(model),
        "labels": list(CLASSES),
        "thresholds": {"score": a.threshold, "nms_iou": 0.5},
        "inputs": [
            {"name": "visible", "shape": ["N", 3, SIZE, SIZE], "layout": "NCHW", "colour": "rgb",
             "mean": list(VIS_MEAN), "std": list(VIS_STD), "resize": "bilinear"},
            {"name": "xray", "shape": ["N", 1, SIZE, SIZE], "layout": "NCHW", "colour": "gray",
             "mean": list(XRAY_MEAN), "std": list(XRAY_STD), "resize": "bilinear"},
        ],
        "outputs": [
            {"name": "det", "shape": ["N", anchors, 4 + NUM_CLASSES]},
            {"name": "seg", "shape": ["N", NUM_CLASSES + 1, SIZE, SIZE]},
            {"name": "cls", "shape": ["N", NUM_CLASSES]},
        ],
        "decoding": {"det": "cx, cy, w, h in input pixels, then per-class sigmoid probabilities",
                     "score": "max class probability", "nms": "class-wise, IoU 0.5", "grid_stride": DET_STRIDE,
                     "seg": "argmax over channels, 0 = background"},
        "architecture": {
            "visible": "EfficientNet-style MBConv branch, strides 4/8/16",
            "xray": "Swin-style branch: windowed self-attention, shifted windows, patch merging",
            "fusion": "F = Softmax(Q_vis K_xray^T / sqrt(d)) V_xray + F_vis at strides 4, 8, 16",
            "pyramid": "top-down FPN with improved CBAM and dynamic depthwise-separable convolutions",
            "heads": "image-level cls, anchor-free boxes on the stride-4 grid, sub-pixel segmentation",
            "parameters": count_parameters(model),
            **model.config,
        },
        "training": {
            "data": training.get("data"),
            "dataset_generator": a.generator,
            "seed": training.get("seed"),
            "epochs_run": training.get("epochs_run"),
            "best_epoch": training.get("best", {}).get("epoch"),
            "test_metrics": {k: metrics[k] for k in ("images", "map50", "seg_iou_mean", "miss_rate",
                                                     "false_detection_rate", "image_accuracy")},
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--eval", type=Path, required=True, help="held-out metrics JSON from electrode_evaluate.py")
    p.add_argument("--ablation", type=Path, action="append", default=[], help="ablation metrics JSONs")
    p.add_argument("--data", type=Path, default=Path("work/electrode/test"), help="pairs for the parity check")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--name", default="electrode-dual-stream")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--generator", default="scripts/ml/electrode_render.py",
                   help="where the training data came from (the manifest's training.dataset_generator)")
    a = p.parse_args()

    model, ckpt = load_checkpoint(a.checkpoint)
    metrics = json.loads(a.eval.read_text())
    a.out.parent.mkdir(parents=True, exist_ok=True)
    vis, xr = torch.randn(2, 3, SIZE, SIZE), torch.randn(2, 1, SIZE, SIZE)
    names_in, names_out = ["visible", "xray"], ["det", "seg", "cls"]
    torch.onnx.export(model, (vis, xr), str(a.out), dynamo=False, opset_version=OPSET, input_names=names_in,
                      output_names=names_out, dynamic_axes={n: {0: "N"} for n in names_in + names_out},
                      do_constant_folding=True)
    with torch.no_grad():
        anchors = model(vis, xr)[0].shape[1]
    man = manifest(a, model, ckpt, metrics, anchors)
    onnx_manifest.embed(a.out, man)

    data = load_set(a.data, limit=16)
    v, x = normalise_visible(data.visible), normalise_xray(data.xray)
    with torch.no_grad():
        want = [o.numpy() for o in model(torch.from_numpy(v), torch.from_numpy(x))]
    sess = cpu_session(a.out)
    got = sess.run(names_out, {"visible": v, "xray": x})
    check = electrode_parity.check(got, want, a.threshold)
    if check["verdict"] == "refused":  # kept aside for a look, never where a station would load it from
        a.out.replace(a.out.with_suffix(".refused.onnx"))
        raise SystemExit(f"export refused, the ONNX file is broken: {check['reason']}"
                         f" (moved to {a.out.with_suffix('.refused.onnx')})")
    parity = check["max_abs"]
    print("parity (max abs diff vs PyTorch):", parity, "relative to scale:", check["relative"])
    if check["verdict"] != "ok":
        print(f"WARNING: parity above tolerance: {check['reason']}; the export is kept and the figure reported")

    lat = time_ms(lambda: sess.run(names_out, {"visible": v[:1], "xray": x[:1]}), repeat=50, warmup=5, digits=2)
    size = a.out.stat().st_size
    report = {"parity": parity, "parity_check": check, "latency_ms_batch1_cpu2": lat,
              "fps_batch1_cpu2": round(1000 / lat["p50"], 1), "size_bytes": size, "onnxruntime": ort.__version__, "test": metrics,
              "ablations": [json.loads(p.read_text()) for p in a.ablation], "training": ckpt.get("training", {}),
              "history": ckpt.get("history", []), "manifest": man}
    a.out.with_suffix(".report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"latency_ms": lat, "size_bytes": size}))


if __name__ == "__main__":
    main()
