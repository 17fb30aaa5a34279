"""Evaluates a seal classifier (a PyTorch checkpoint or an exported ONNX file) on a DESIGN seal folder.

Prints accuracy, NG recall, OK false-reject rate, the confusion matrix and per-defect recall.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from seal_data import load_set, normalise
from seal_metrics import format_metrics, seal_metrics


def predict_onnx(model_path: Path, data, batch: int = 64) -> tuple[np.ndarray, float]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    manifest = json.loads(sess.get_modelmeta().custom_metadata_map["cellgate.manifest"])
    out = []
    for s in range(0, len(data.labels), batch):
        img = normalise(data.images[s : s + batch])
        ref = normalise(data.references[data.ref_index[s : s + batch]])
        out.append(sess.run(["probs"], {"image": img, "reference": ref})[0][:, 1])
    return np.concatenate(out), float(manifest["thresholds"]["ng"])


def predict_torch(ckpt_path: Path, data, batch: int = 128) -> tuple[np.ndarray, float]:
    import torch

    from seal_model import load_checkpoint

    model, _ = load_checkpoint(ckpt_path)
    out = []
    with torch.no_grad():
        for s in range(0, len(data.labels), batch):
            img = torch.from_numpy(normalise(data.images[s : s + batch]))
            ref = torch.from_numpy(normalise(data.references[data.ref_index[s : s + batch]]))
            out.append(model(img, ref)[:, 1].numpy())
    return np.concatenate(out), 0.5


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="PyTorch checkpoint from seal_train.py")
    src.add_argument("--model", type=Path, help="exported .onnx (threshold from its manifest)")
    p.add_argument("--data", type=Path, required=True, help="folder in the DESIGN seal format")
    p.add_argument("--threshold", type=float, help="NG threshold (default: the model's)")
    p.add_argument("--json", type=Path, help="also write the metrics here")
    a = p.parse_args()
    data = load_set(a.data)
    p_ng, thr = predict_onnx(a.model, data) if a.model else predict_torch(a.checkpoint, data)
    m = seal_metrics(data.labels, p_ng, data.defects, a.threshold if a.threshold is not None else thr)
    m["data"] = str(a.data)
    m["model"] = str(a.model or a.checkpoint)
    print(format_metrics(m))
    if a.json:
        a.json.write_text(json.dumps(m, indent=2) + "\n")


if __name__ == "__main__":
    main()
