"""Exports a trained seal classifier to ONNX per DESIGN.md and writes its model card.

Three graphs with the same weights: the full pair model (`image`, `reference` -> `probs`), the encoder
(`image` -> `embedding`) and the head (`embedding`, `reference_embedding` -> `probs`). Each carries the
manifest in its metadata. Parity with PyTorch is checked under ONNX Runtime (max abs diff <= 1e-4) and the
export fails if it is not met. CPU latency is measured with ONNX Runtime (2 intra-op threads).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import export_common
import onnx_manifest
from export_common import cpu_session as session, weights_sha256
from seal_data import INPUT_HW, MEAN, STD, load_set, normalise
from seal_model import load_checkpoint

OPSET = 17
TOL = 1e-4


def image_input(name: str) -> dict:
    h, w = INPUT_HW
    return {
        "name": name,
        "shape": ["N", 3, h, w],
        "layout": "NCHW",
        "colour": "rgb",
        "mean": list(MEAN),
        "std": list(STD),
        "resize": "bilinear",
    }


def time_ms(fn) -> dict:
    return export_common.time_ms(fn, repeat=200, warmup=10, digits=3)


def export_graph(module, args, path: Path, inputs: list[str], outputs: list[str]) -> None:
    torch.onnx.export(
        module,
        args,
        str(path),
        dynamo=False,
        opset_version=OPSET,
        input_names=inputs,
        output_names=outputs,
        dynamic_axes={n: {0: "N"} for n in inputs + outputs},
        do_constant_folding=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--eval", type=Path, required=True, help="held-out metrics JSON from seal_evaluate.py")
    p.add_argument("--ablation", type=Path, action="append", default=[], help="ablation metrics JSONs")
    p.add_argument("--data", type=Path, default=Path("work/seal/test"), help="pairs for the parity check")
    p.add_argument("--out", type=Path, required=True, help="path of the full model (.onnx)")
    p.add_argument("--name", default="seal-siamese-attention")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--threshold", type=float, help="NG threshold (default: the one training chose on its selection set)")
    a = p.parse_args()

    model, ckpt = load_checkpoint(a.checkpoint)
    metrics = json.loads(a.eval.read_text())
    training = ckpt.get("training", {})
    threshold = a.threshold if a.threshold is not None else float(training.get("threshold", 0.5))
    stem = a.out.with_suffix("")
    enc_path, head_path = Path(f"{stem}.encoder.onnx"), Path(f"{stem}.head.onnx")
    a.out.parent.mkdir(parents=True, exist_ok=True)

    h, w = INPUT_HW
    img = torch.randn(2, 3, h, w)
    with torch.no_grad():
        emb = model.encoder(img)
    export_graph(model, (img, img), a.out, ["image", "reference"], ["probs"])
    export_graph(model.encoder, (img,), enc_path, ["image"], ["embedding"])
    export_graph(model.head, (emb, emb), head_path, ["embedding", "reference_embedding"], ["probs"])

    emb_shape = ["N"] + list(emb.shape[1:])
    common = {
        "schema": 1,
        "task": "seal_classifier",
        "name": a.name,
        "version": a.version,
        "weights_sha256": weights_sha256(model),
        "labels": ["ok", "ng"],
        "thresholds": {"ng": threshold},
        "distribution_gain": {"alpha": model.config["alpha"], "eps": 1e-6},
        "architecture": {
            "encoder": "shared-weight compact CNN, 6 conv layers, "
            + ("8x32" if model.config.get("fine") else "4x16") + " spatial tokens"
            + (", per-image standardisation" if model.config.get("standardise") else ""),
            "interaction": "bidirectional multi-head cross-attention over encoder tokens"
            + (", plus the same-place token difference" if model.config.get("same_pos") else ""),
            "classifier": "3 fully connected layers + Softmax",
            **model.config,
        },
        "training": {
            "data": training.get("data"),
            "dataset_generator": "scripts/ml/seal_recipes.py (a recipe per pair) + scripts/ml/seal_render.py",
            "threshold_chosen_on": training.get("select"),
            "seed": training.get("seed"),
            "epochs_run": training.get("epochs_run"),
            "best_epoch": training.get("best", {}).get("epoch"),
            "test_metrics": {k: metrics[k] for k in ("samples", "accuracy", "ng_recall", "false_reject_rate")},
        },
    }
    manifests = {
        a.out: {**common, "graph": "full", "inputs": [image_input("image"), image_input("reference")],
                "outputs": [{"name": "probs", "shape": ["N", 2]}],
                "companions": {"encoder": enc_path.name, "head": head_path.name}},
        enc_path: {**common, "graph": "encoder", "inputs": [image_input("image")],
                   "outputs": [{"name": "embedding", "shape": emb_shape}]},
        head_path: {**common, "graph": "head",
                    "inputs": [{"name": "embedding", "shape": emb_shape}, {"name": "reference_embedding", "shape": emb_shape}],
                    "outputs": [{"name": "probs", "shape": ["N", 2]}]},
    }
    for path, man in manifests.items():
        onnx_manifest.embed(path, man)

    # Parity: PyTorch vs ONNX Runtime on real held-out pairs, full graph and encoder+head.
    data = load_set(a.data)
    n = min(32, len(data.labels))
    x = normalise(data.images[:n])
    r = normalise(data.references[data.ref_index[:n]])
    with torch.no_grad():
        want = model(torch.from_numpy(x), torch.from_numpy(r)).numpy()
    full, enc, head = session(a.out), session(enc_path), session(head_path)
    got_full = full.run(["probs"], {"image": x, "reference": r})[0]
    e_img = enc.run(["embedding"], {"image": x})[0]
    e_ref = enc.run(["embedding"], {"image": r})[0]
    got_split = head.run(["probs"], {"embedding": e_img, "reference_embedding": e_ref})[0]
    parity = {"full": float(np.abs(got_full - want).max()), "encoder_head": float(np.abs(got_split - want).max())}
    print("parity (max abs diff vs PyTorch):", parity)
    if max(parity.values()) > TOL:
        raise SystemExit(f"parity check failed: {parity} > {TOL}")

    # CPU latency under ONNX Runtime, 2 threads.
    lat = {}
    for b in (1, 6):
        xb, rb = x[:b], r[:b]
        lat[f"full_batch{b}"] = time_ms(lambda: full.run(["probs"], {"image": xb, "reference": rb}))
        eb = e_ref[:b]
        lat[f"encoder_head_batch{b}"] = time_ms(
            lambda: head.run(["probs"], {"embedding": enc.run(["embedding"], {"image": xb})[0], "reference_embedding": eb})
        )
    sizes = {p.name: p.stat().st_size for p in (a.out, enc_path, head_path)}
    report = {"parity": parity, "latency_ms": lat, "sizes_bytes": sizes, "onnxruntime": ort.__version__,
              "test": metrics, "ablations": [json.loads(p.read_text()) for p in a.ablation],
              "training": training, "manifest": manifests[a.out]}
    Path(f"{stem}.report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"latency_ms": lat, "sizes_bytes": sizes}, indent=2))


if __name__ == "__main__":
    main()
