"""The loop a user would write in an afternoon, for `cellgate bench --compare-python PYTHON` to measure the
station against: OpenCV + onnxruntime, one part at a time, every image decoded beforehand.

The binary carries this file (include_str!) and feeds it to PYTHON on standard input each round, so that
the baseline and the station run on the same machine in the same minutes. It needs numpy, OpenCV and
onnxruntime (`bash scripts/setup-bench.sh` prints such an interpreter). It times the loop only (decoded
image -> resize -> normalise -> run -> verdict), after 20 warm-up parts, and prints one JSON line:
parts_per_s, p50 and p99 in ms per part, and what it ran.

    PYTHON - --kind seal --model M.onnx --images DIR [--split] [--parts N] [--threads T] < bench_python.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort


def session(path: Path, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def manifest(sess: ort.InferenceSession) -> dict:
    return json.loads(sess.get_modelmeta().custom_metadata_map["cellgate.manifest"])


def preprocess(img: np.ndarray, spec: dict) -> np.ndarray:
    """A decoded image (BGR, or grey) -> the model's (1, C, H, W) float32 input, as its manifest says."""
    _, c, h, w = spec["shape"]
    x = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    if c == 3:
        x = cv2.cvtColor(x, cv2.COLOR_BGR2RGB)
    x = x.reshape(h, w, c).astype(np.float32) / 255.0
    x = (x - np.float32(spec["mean"])) / np.float32(spec["std"])
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def read(path: Path, grey: bool = False) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED if grey else cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"bench_python: cannot decode {path}")
    if grey and img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    return img


def seal_loop(args) -> tuple[str, callable, int]:
    rows = [json.loads(line) for line in (args.images / "manifest.jsonl").read_text().splitlines() if line.strip()]
    frames = [read(args.images / r["image"]) for r in rows]
    refs = {r["reference"]: read(args.images / r["reference"]) for r in rows}
    if args.split:
        stem = str(args.model)[: -len(".onnx")]
        enc = session(Path(f"{stem}.encoder.onnx"), args.threads)
        head = session(Path(f"{stem}.head.onnx"), args.threads)
        spec, threshold = manifest(enc)["inputs"][0], manifest(head)["thresholds"]["ng"]
        ref_emb = {k: enc.run(["embedding"], {"image": preprocess(v, spec)})[0] for k, v in refs.items()}

        def part(i: int) -> bool:
            emb = enc.run(["embedding"], {"image": preprocess(frames[i], spec)})[0]
            probs = head.run(["probs"], {"embedding": emb, "reference_embedding": ref_emb[rows[i]["reference"]]})[0]
            return bool(probs[0, 1] >= threshold)

        return "seal encoder+head, cached reference embedding, batch 1", part, len(frames)
    sess = session(args.model, args.threads)
    m = manifest(sess)
    spec, threshold = m["inputs"][0], m["thresholds"]["ng"]
    ref_t = {k: preprocess(v, spec) for k, v in refs.items()}

    def part(i: int) -> bool:
        probs = sess.run(["probs"], {"image": preprocess(frames[i], spec), "reference": ref_t[rows[i]["reference"]]})[0]
        return bool(probs[0, 1] >= threshold)

    return "seal full graph, cached reference tensor, batch 1", part, len(frames)


def electrode_loop(args) -> tuple[str, callable, int]:
    coco = json.loads((args.images / "annotations.json").read_text())
    pairs = [(read(args.images / im["file_name"]), read(args.images / im["xray_file_name"], grey=True))
             for im in coco["images"]]
    sess = session(args.model, args.threads)
    m = manifest(sess)
    spec = {s["name"]: s for s in m["inputs"]}
    score, iou = m["thresholds"]["score"], m["thresholds"]["nms_iou"]

    def part(i: int) -> bool:
        vis, xray = pairs[i]
        det = sess.run(["det"], {"visible": preprocess(vis, spec["visible"]), "xray": preprocess(xray, spec["xray"])})[0][0]
        scores = det[:, 4:].max(1)
        keep = scores > score
        if not keep.any():
            return False
        d, s = det[keep], scores[keep]
        cls = d[:, 4:].argmax(1)
        boxes = np.stack([d[:, 0] - d[:, 2] / 2, d[:, 1] - d[:, 3] / 2, d[:, 2], d[:, 3]], 1)
        found = 0
        for c in np.unique(cls):
            sel = cls == c
            found += len(cv2.dnn.NMSBoxes(boxes[sel].tolist(), s[sel].tolist(), score, iou))
        return found > 0

    return "electrode full graph, batch 1", part, len(pairs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=["seal", "electrode"], required=True)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--images", type=Path, required=True, help="a DESIGN seal folder or electrode COCO folder")
    p.add_argument("--split", action="store_true", help="seal: the encoder+head pair (companion files)")
    p.add_argument("--parts", type=int, default=600)
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    args = p.parse_args()
    cv2.setNumThreads(1)
    what, part, n = (seal_loop if args.kind == "seal" else electrode_loop)(args)
    for i in range(20):
        part(i % n)
    lat = []
    for i in range(args.parts):
        t = time.perf_counter()
        part(i % n)
        lat.append((time.perf_counter() - t) * 1e3)
    lat.sort()
    print(json.dumps({"parts_per_s": len(lat) / (sum(lat) / 1e3), "p50": lat[len(lat) // 2],
                      "p99": lat[max(0, int(len(lat) * 0.99) - 1)], "what": what}))


if __name__ == "__main__":
    main()
