"""Golden fixtures for the firmware's electrode parity test.

A few held-out pairs (one defect-free, the rest covering all five classes) are copied under
`tests/fixtures/electrode/` in the DESIGN COCO format, with what ONNX Runtime gives for them: `cls` in full,
`det` rows for every candidate point whose score passes 0.05 plus every 97th row, `seg` logits at every
257th element with per-channel sums, the argmax class-pixel counts, and the decoded detections at the
manifest's threshold. Sampling keeps the fixtures small while any preprocessing or decoding difference
still shows.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort

from electrode_data import load_set, normalise_visible, normalise_xray
from electrode_metrics import decode

DET_EVERY, SEG_EVERY, DET_FLOOR = 97, 257, 0.05


def pick(coco: dict, count: int) -> list[int]:
    """Image ids: the first defect-free one, then images until every class is covered (and `count` reached)."""
    by_image: dict[int, set] = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], set()).add(a["category_id"])
    ids = [next(im["id"] for im in coco["images"] if im["id"] not in by_image)]
    covered: set = set()
    for im in coco["images"]:
        cats = by_image.get(im["id"], set())
        if (cats - covered and len(cats) >= 2) or (len(ids) < count and cats and not cats <= covered):
            ids.append(im["id"])
            covered |= cats
        if len(covered) == 5 and len(ids) >= count:
            break
    return ids


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, default=Path("work/electrode/test"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--count", type=int, default=4)
    a = p.parse_args()

    coco = json.loads((a.data / "annotations.json").read_text())
    ids = pick(coco, a.count)
    if a.out.exists():
        shutil.rmtree(a.out)
    (a.out / "visible").mkdir(parents=True)
    (a.out / "xray").mkdir()
    images = [im for im in coco["images"] if im["id"] in ids]
    anns = [an for an in coco["annotations"] if an["image_id"] in ids]
    for im in images:
        for key in ("file_name", "xray_file_name"):
            shutil.copy(a.data / im[key], a.out / im[key])
    subset = {**coco, "images": images, "annotations": anns}
    (a.out / "annotations.json").write_text(json.dumps(subset, indent=1) + "\n")

    data = load_set(a.out)
    sess = ort.InferenceSession(str(a.model), providers=["CPUExecutionProvider"])
    manifest = json.loads(sess.get_modelmeta().custom_metadata_map["cellgate.manifest"])
    threshold = float(manifest["thresholds"]["score"])
    golden = []
    for i, name in enumerate(data.files):
        det, seg, cls = (o[0] for o in sess.run(["det", "seg", "cls"], {
            "visible": normalise_visible(data.visible[i : i + 1]), "xray": normalise_xray(data.xray[i : i + 1])}))
        rows = sorted(set(np.nonzero(det[:, 4:].max(1) > DET_FLOOR)[0].tolist()) | set(range(0, len(det), DET_EVERY)))
        flat = seg.reshape(-1)
        counts = np.bincount(seg.argmax(0).reshape(-1), minlength=seg.shape[0])
        golden.append({
            "visible": name,
            "xray": images[i]["xray_file_name"],
            "cls": cls.tolist(),
            "det_rows": rows,
            "det": det[rows].tolist(),
            "seg_every": SEG_EVERY,
            "seg": flat[::SEG_EVERY].tolist(),
            "seg_channel_sums": seg.reshape(seg.shape[0], -1).astype(np.float64).sum(1).tolist(),
            "seg_argmax_counts": counts.tolist(),
            "detections": [{"box": r[:4].tolist(), "score": float(r[4]), "class": manifest["labels"][int(r[5])]}
                           for r in decode(det, threshold)],
            "truth": [{"box": b[:4].tolist(), "class": manifest["labels"][int(b[4])]} for b in data.boxes[i]],
        })
    (a.out / "golden.json").write_text(json.dumps(
        {"model": a.model.name, "tolerance": 1e-4, "score_threshold": threshold, "pairs": golden}) + "\n")
    print(f"{len(golden)} pairs -> {a.out}")


if __name__ == "__main__":
    main()
