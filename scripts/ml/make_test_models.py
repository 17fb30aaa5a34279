"""Tiny ONNX files the firmware's tests use to prove that bad models are refused with the right reason.

Each is a valid ONNX graph (MatMul + Softmax) that fails one cellgate check: no manifest, a manifest of
another task, a manifest that disagrees with the graph, a manifest that is not JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tiny_graph(inp: str = "image", out: str = "probs") -> onnx.ModelProto:
    w = numpy_helper.from_array(np.full((4, 2), 0.25, np.float32), "w")
    nodes = [helper.make_node("MatMul", [inp, "w"], ["z"]), helper.make_node("Softmax", ["z"], [out], axis=-1)]
    g = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info(inp, TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 2])],
        [w],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def with_manifest(m: onnx.ModelProto, value: str) -> onnx.ModelProto:
    e = m.metadata_props.add()
    e.key = "cellgate.manifest"
    e.value = value
    return m


def manifest(task: str, inp: str) -> str:
    return json.dumps(
        {
            "task": task,
            "name": "tiny",
            "version": "0.0.1",
            "graph": "full",
            "inputs": [{"name": inp, "shape": ["N", 4]}],
            "outputs": [{"name": "probs", "shape": ["N", 2]}],
            "labels": ["ok", "ng"],
            "thresholds": {"ng": 0.5},
        }
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    onnx.save(tiny_graph(), a.out / "no_manifest.onnx")
    onnx.save(with_manifest(tiny_graph(), manifest("electrode_detector", "image")), a.out / "wrong_task.onnx")
    # The manifest names an input the graph does not have.
    onnx.save(with_manifest(tiny_graph("x"), manifest("seal_classifier", "image")), a.out / "graph_mismatch.onnx")
    onnx.save(with_manifest(tiny_graph(), "{not json"), a.out / "bad_manifest.onnx")
    # Right task, graph agrees, but the seal contract (image + reference, NCHW) is broken.
    onnx.save(with_manifest(tiny_graph(), manifest("seal_classifier", "image")), a.out / "seal_contract_broken.onnx")
    print(sorted(x.name for x in a.out.iterdir()))


if __name__ == "__main__":
    main()
