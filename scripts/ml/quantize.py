"""Static INT8 (QDQ) versions of a cellgate model with ONNX Runtime's quantization tools, and what they cost
and gain: speed against the float model on this machine, and accuracy on held-out sets.

    python scripts/ml/quantize.py --model onnx/electrode_detector.onnx --calib DIR --out OUT.int8.onnx \
        [--eval DIR ...] [--ops Conv,MatMul] [--rounds 5]

- Calibration: `--calib` is a folder of TRAINING data in the model's DESIGN format (a seal folder, or an
  electrode COCO folder), never a test set. `scripts/quantize.sh` renders one from the training seeds.
- Weights per channel, activations per tensor (MinMax), both int8, QDQ format; `--ops` are the operator
  types quantized (ONNX Runtime has integer kernels for Conv and MatMul; others would only add Q/DQ pairs).
- A seal model's encoder and head companions are quantized too (`X.int8.encoder.onnx`, `X.int8.head.onnx`),
  each calibrated on what it sees (images; the embeddings of the float encoder).
- The manifest is the float model's with `precision: int8`, `calibration` (the folder, pairs, method, ops)
  and `float_model_sha256`; `weights_sha256` becomes a hash of the float one and the calibration, the same
  for the three seal graphs, so the station pairs them as it pairs the float ones.
- Speed: batch 1, ONNX Runtime's CPU provider, `--threads` intra-op threads, float and int8 interleaved for
  `--rounds` rounds; the median of the rounds' ratios. Accuracy: each `--eval` set through the project's own
  evaluators, float and int8, at the manifest's threshold. Nothing is chosen on those sets: they only report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, str(Path(__file__).resolve().parent))
import onnx_manifest  # noqa: E402
from export_common import cpu_session, time_ms  # noqa: E402

CALIB_BATCH = 8


class Batches(CalibrationDataReader):
    """Feeds a list of input dicts, CALIB_BATCH samples at a time."""

    def __init__(self, inputs: dict[str, np.ndarray]):
        self.inputs, self.at = inputs, 0
        self.n = len(next(iter(inputs.values())))

    def get_next(self):
        if self.at >= self.n:
            return None
        s = slice(self.at, self.at + CALIB_BATCH)
        self.at += CALIB_BATCH
        return {k: v[s] for k, v in self.inputs.items()}


def seal_inputs(folder: Path, count: int) -> dict[str, np.ndarray]:
    from seal_data import load_set, normalise

    data = load_set(folder)
    return {"image": normalise(data.images[:count]), "reference": normalise(data.references[data.ref_index[:count]])}


def electrode_inputs(folder: Path, count: int) -> dict[str, np.ndarray]:
    from electrode_data import load_set, normalise_visible, normalise_xray

    data = load_set(folder, limit=count)
    return {"visible": normalise_visible(data.visible), "xray": normalise_xray(data.xray)}


def quantize(src: Path, out: Path, inputs: dict[str, np.ndarray], ops: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(out), Batches(inputs), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, op_types_to_quantize=ops,
                        calibrate_method=CalibrationMethod.MinMax)


def label(src: Path, out: Path, calibration: dict) -> None:
    """The float model's manifest, marked int8 with its calibration."""
    m = onnx_manifest.read(src)
    weights = hashlib.sha256(f"{m.get('weights_sha256')}|{json.dumps(calibration, sort_keys=True)}".encode())
    m.update(precision="int8", calibration=calibration, float_model_sha256=onnx_manifest.file_sha256(src),
             weights_sha256=weights.hexdigest())
    onnx_manifest.embed(out, m)


def companion(path: Path, role: str) -> Path:
    return path.with_name(f"{path.name[: -len('.onnx')]}.{role}.onnx")


def feeds(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [i.name for i in cpu_session(path).get_inputs()]
    return {k: inputs[k][:1] for k in names}


def speed(pairs: list[tuple[str, Path, Path, dict]], rounds: int, threads: int) -> None:
    """Float against int8, interleaved, batch 1: ms per run and the median ratio of the rounds."""
    for what, f32, i8, feed in pairs:
        a, b = cpu_session(f32, threads), cpu_session(i8, threads)
        ratios, ms = [], []
        for _ in range(rounds):
            tf = time_ms(lambda: a.run(None, feed), 200, 20, 4)["mean"]
            ti = time_ms(lambda: b.run(None, feed), 200, 20, 4)["mean"]
            ratios.append(tf / ti)
            ms.append((tf, ti))
        med = statistics.median(ratios)
        each = ", ".join(f"{r:.2f}x" for r in ratios)
        f_ms, i_ms = statistics.median(m[0] for m in ms), statistics.median(m[1] for m in ms)
        print(f"speed {what}: float {f_ms:.3f} ms, int8 {i_ms:.3f} ms per run: int8 {med:.2f}x the float rate "
              f"(rounds: {each})")


def accuracy(kind: str, f32: Path, i8: Path, sets: list[Path]) -> None:
    for d in sets:
        if kind == "electrode":
            from electrode_data import load_set
            from electrode_evaluate import evaluate, onnx_runner

            data = load_set(d)
            rows = []
            for p in (f32, i8):
                run, thr = onnx_runner(p)
                [m] = evaluate(run, data, [thr])
                rows.append(m)
            keys = ("map50", "seg_iou_mean", "miss_rate", "false_detection_rate", "image_accuracy")
        else:
            from seal_data import load_set
            from seal_evaluate import predict_onnx
            from seal_metrics import seal_metrics

            data = load_set(d)
            rows = []
            for p in (f32, i8):
                p_ng, thr = predict_onnx(p, data)
                rows.append(seal_metrics(data.labels, p_ng, data.defects, thr))
            keys = ("accuracy", "ng_recall", "false_reject_rate")
        for k in keys:
            a, b = rows[0].get(k), rows[1].get(k)
            if a is None or b is None:
                continue
            print(f"accuracy {d} {k}: float {100 * a:.2f}%, int8 {100 * b:.2f}% ({100 * (b - a):+.2f} points)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True, help="the float model (a seal full graph or electrode)")
    p.add_argument("--calib", type=Path, required=True, help="TRAINING data in the model's DESIGN format")
    p.add_argument("--count", type=int, default=256, help="calibration pairs")
    p.add_argument("--out", type=Path, required=True, help="the int8 model (X.int8.onnx)")
    p.add_argument("--ops", default="Conv,MatMul", help="operator types to quantize")
    p.add_argument("--eval", type=Path, nargs="*", default=[], help="held-out sets to report accuracy on")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    kind = onnx_manifest.read(a.model)["task"]
    ops = [o for o in a.ops.split(",") if o]
    calibration = {"data": a.calib.resolve().name, "pairs": a.count, "method": "minmax", "format": "qdq",
                   "ops": ops}
    kind = "electrode" if kind == "electrode_detector" else "seal"
    inputs = (electrode_inputs if kind == "electrode" else seal_inputs)(a.calib, a.count)
    jobs = [("full graph", a.model, a.out, inputs)]
    enc, head = companion(a.model, "encoder"), companion(a.model, "head")
    if kind != "electrode" and enc.is_file() and head.is_file():
        # The head is calibrated on the float encoder's embeddings, of the live images and the references.
        e = cpu_session(enc)
        emb = lambda x: np.concatenate([e.run(["embedding"], {"image": x[i:i + 32]})[0] for i in range(0, len(x), 32)])
        head_in = {"embedding": emb(inputs["image"]), "reference_embedding": emb(inputs["reference"])}
        jobs += [("encoder", enc, companion(a.out, "encoder"), {"image": inputs["image"]}),
                 ("head", head, companion(a.out, "head"), head_in)]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    for what, src, out, x in jobs:
        quantize(src, out, x, ops)
        label(src, out, calibration)
        print(f"wrote {out} ({out.stat().st_size:,} bytes, float {src.stat().st_size:,}) from {what}")
    speed([(what, src, out, feeds(src, x)) for what, src, out, x in jobs], a.rounds, a.threads)
    accuracy(kind, a.model, a.out, a.eval)


if __name__ == "__main__":
    main()
