"""Writes and reads the cellgate manifest stored in an ONNX model's metadata (key `cellgate.manifest`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx

KEY = "cellgate.manifest"


def embed(path: Path, manifest: dict) -> None:
    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key = KEY
    entry.value = json.dumps(manifest, sort_keys=True)
    model.producer_name = "cellgate"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def read(path: Path) -> dict:
    model = onnx.load(str(path), load_external_data=False)
    for p in model.metadata_props:
        if p.key == KEY:
            return json.loads(p.value)
    raise KeyError(f"{path}: no '{KEY}' in metadata_props")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
