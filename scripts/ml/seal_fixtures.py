"""Golden fixtures for the firmware: image/reference pairs and the exact `probs` ONNX Runtime gives.

The pairs are taken from a held-out folder (one per recipe and defect kind where available) and copied
under `tests/fixtures/seal/` in the DESIGN seal format, so the Rust side can replay them and prove it
preprocesses and infers identically (tolerance 1e-4).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort

from seal_data import load_rgb, normalise, read_manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, default=Path("work/seal/test"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--per-kind", type=int, default=2, help="pairs per label/defect kind")
    a = p.parse_args()

    rows = read_manifest(a.data)
    picked, seen = [], {}
    for row in rows:
        kind = row.get("defect") or "ok"
        if seen.get(kind, 0) < a.per_kind:
            seen[kind] = seen.get(kind, 0) + 1
            picked.append(row)
    if a.out.exists():
        shutil.rmtree(a.out)
    (a.out / "samples").mkdir(parents=True)
    (a.out / "references").mkdir()
    sess = ort.InferenceSession(str(a.model), providers=["CPUExecutionProvider"])
    manifest = json.loads(sess.get_modelmeta().custom_metadata_map["cellgate.manifest"])
    golden = []
    with open(a.out / "manifest.jsonl", "w") as man:
        for row in picked:
            for key in ("image", "reference"):
                dst = a.out / row[key]
                if not dst.exists():
                    shutil.copy(a.data / row[key], dst)
            man.write(json.dumps(row) + "\n")
            x = normalise(load_rgb(a.out / row["image"])[None])
            r = normalise(load_rgb(a.out / row["reference"])[None])
            probs = sess.run(["probs"], {"image": x, "reference": r})[0][0]
            golden.append({"image": row["image"], "reference": row["reference"], "label": row["label"],
                           "probs": [float(v) for v in probs],
                           "input_checksum": {"image_sum": float(np.float64(x).sum()), "image_first": [float(v) for v in x.reshape(-1)[:4]]}})
    (a.out / "golden.json").write_text(json.dumps({"model": a.model.name, "threshold": manifest["thresholds"]["ng"], "tolerance": 1e-4, "pairs": golden}, indent=2) + "\n")
    print(f"{len(golden)} pairs -> {a.out}")


if __name__ == "__main__":
    main()
