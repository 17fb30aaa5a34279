"""Tiny ONNX files the firmware's tests use to prove that bad models are refused with the right reason.

Each is a valid ONNX graph (MatMul + Softmax) that fails one cellgate check: no manifest, a manifest of
another task, a manifest that disagrees with the graph, a manifest that is not JSON; and one valid model
whose inference hangs on demand. Then hostile ones that keep every contract: a seal graph that calls
every part OK, an electrode detector that never finds a defect, a seal graph that loops 2^62 times, a seal graph whose session creation takes minutes, and a
seal graph whose weights live in an external data file.
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


def hang_on_uniform(seal_model: Path) -> onnx.ModelProto:
    """A seal model that is valid, passes its self-test and judges real frames, but whose inference never
    returns for a uniform frame (max == min): a Loop whose trip count becomes 10^15. It makes a hung
    inference happen inside ONNX Runtime, for the watchdog test. Its NG logit grows with the difference of
    the image's and the reference's mean brightness, so the self-test's drawn crack is NG and the
    reference against itself OK."""
    h, w = 64, 256
    img = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, h, w])
    ref = helper.make_tensor_value_info("reference", TensorProto.FLOAT, ["N", 3, h, w])
    out = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 2])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["acc_in", "zero_f"], ["acc_out"])],
        "spin",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [])],
        [numpy_helper.from_array(np.array(0.0, np.float32), "zero_f")],
    )
    consts = {"eps": np.array(1e-6, np.float32), "forever": np.array(10**15, np.int64), "never": np.array(0, np.int64),
              "yes": np.array(True), "acc0": np.array(0.0, np.float32), "zero": np.array(0.0, np.float32),
              "one": np.array(1.0, np.float32), "col": np.array([-1, 1], np.int64), "gain": np.array(1000.0, np.float32)}
    nodes = [
        helper.make_node("ReduceMax", ["image"], ["hi"], keepdims=0),
        helper.make_node("ReduceMin", ["image"], ["lo"], keepdims=0),
        helper.make_node("Sub", ["hi", "lo"], ["span"]),
        helper.make_node("Less", ["span", "eps"], ["uniform"]),
        helper.make_node("Where", ["uniform", "forever", "never"], ["trips"]),
        helper.make_node("Loop", ["trips", "yes", "acc0"], ["acc"], body=body),
        helper.make_node("ReduceMean", ["image"], ["s4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("ReduceMean", ["reference"], ["r4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["s4", "col"], ["s"]),
        helper.make_node("Reshape", ["r4", "col"], ["r"]),
        helper.make_node("Sub", ["s", "r"], ["d"]),
        helper.make_node("Abs", ["d"], ["ad"]),
        helper.make_node("Mul", ["ad", "gain"], ["d0"]),
        helper.make_node("Add", ["d0", "acc"], ["z1"]),
        helper.make_node("Mul", ["d", "zero"], ["dz"]),
        helper.make_node("Add", ["dz", "one"], ["ok_logit"]),
        helper.make_node("Concat", ["ok_logit", "z1"], ["z"], axis=1),
        helper.make_node("Softmax", ["z"], ["probs"], axis=-1),
    ]
    g = helper.make_graph(nodes, "hang_on_uniform", [img, ref], [out], [numpy_helper.from_array(v, k) for k, v in consts.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    man = json.loads(next(p.value for p in onnx.load(str(seal_model), load_external_data=False).metadata_props
                          if p.key == "cellgate.manifest"))
    man.update({"name": "hang-on-uniform", "version": "0.0.1", "graph": "full"})
    for k in ("companions", "weights_sha256"):
        man.pop(k, None)
    return with_manifest(m, json.dumps(man))


def seal_manifest(seal_model: Path, name: str) -> str:
    man = json.loads(next(p.value for p in onnx.load(str(seal_model), load_external_data=False).metadata_props
                          if p.key == "cellgate.manifest"))
    man.update({"name": name, "version": "0.0.1", "graph": "full"})
    for k in ("companions", "weights_sha256"):
        man.pop(k, None)
    return json.dumps(man)


def seal_io():
    h, w = 64, 256
    return ([helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 3, h, w]) for n in ("image", "reference")],
            [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 2])])


def finish(g: onnx.GraphProto) -> onnx.ModelProto:
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def always_ok(seal_model: Path) -> onnx.ModelProto:
    """Keeps the seal contract and calls every part OK: probs [1, 0] whatever the frames."""
    inputs, outputs = seal_io()
    consts = {"zero": np.array(0.0, np.float32), "one": np.array(1.0, np.float32), "col": np.array([-1, 1], np.int64)}
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["m4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["m4", "col"], ["m"]),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["z", "one"], ["ok"]),
        helper.make_node("Concat", ["ok", "z"], ["probs"], axis=1),
    ]
    g = helper.make_graph(nodes, "always_ok", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in consts.items()])
    return with_manifest(finish(g), seal_manifest(seal_model, "always-ok"))


def rejects_all_real_parts(seal_model: Path) -> onnx.ModelProto:
    """Keeps the seal contract and passes the self-test, yet is useless on a line: NG when any pixel of the
    image differs from the reference's by more than an eighth of the normalised range (its largest
    absolute difference). The reference against itself is OK and a drawn crack NG, but every real part
    differs from its reference somewhere (another cell, shifted, another exposure), so nearly every good
    part is rejected: the model a qualification gate on a golden set must refuse."""
    inputs, outputs = seal_io()
    consts = {"gain": np.array(40.0, np.float32), "margin": np.array(0.5, np.float32), "zero": np.array(0.0, np.float32),
              "col": np.array([-1, 1], np.int64)}
    nodes = [
        helper.make_node("Sub", ["image", "reference"], ["d"]),
        helper.make_node("Abs", ["d"], ["ad"]),
        helper.make_node("ReduceMax", ["ad"], ["m4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["m4", "col"], ["m"]),
        helper.make_node("Sub", ["m", "margin"], ["over"]),
        helper.make_node("Mul", ["over", "gain"], ["ng_logit"]),
        helper.make_node("Mul", ["m", "zero"], ["ok_logit"]),
        helper.make_node("Concat", ["ok_logit", "ng_logit"], ["z"], axis=1),
        helper.make_node("Softmax", ["z"], ["probs"], axis=-1),
    ]
    g = helper.make_graph(nodes, "rejects_all_real_parts", inputs, outputs,
                          [numpy_helper.from_array(v, k) for k, v in consts.items()])
    return with_manifest(finish(g), seal_manifest(seal_model, "rejects-real-parts"))


def loop_forever(seal_model: Path) -> onnx.ModelProto:
    """Keeps the seal contract; every run is a Loop of 2^62 iterations before the constant answer."""
    inputs, outputs = seal_io()
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["acc_in", "zero_f"], ["acc_out"])],
        "spin",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [])],
        [numpy_helper.from_array(np.array(0.0, np.float32), "zero_f")],
    )
    consts = {"trips": np.array(2**62, np.int64), "yes": np.array(True), "acc0": np.array(0.0, np.float32),
              "zero": np.array(0.0, np.float32), "one": np.array(1.0, np.float32), "col": np.array([-1, 1], np.int64)}
    nodes = [
        helper.make_node("Loop", ["trips", "yes", "acc0"], ["acc"], body=body),
        helper.make_node("ReduceMean", ["image"], ["m4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["m4", "col"], ["m"]),
        helper.make_node("Mul", ["m", "zero"], ["z0"]),
        helper.make_node("Add", ["z0", "acc"], ["z"]),
        helper.make_node("Add", ["z", "one"], ["ok"]),
        helper.make_node("Concat", ["ok", "z"], ["probs"], axis=1),
    ]
    g = helper.make_graph(nodes, "loop_forever", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in consts.items()])
    return with_manifest(finish(g), seal_manifest(seal_model, "loop-forever"))


def slow_to_optimise(seal_model: Path) -> onnx.ModelProto:
    """Keeps the seal contract in a few hundred bytes, and makes ONNX Runtime's session creation (not a
    run) take minutes: a 1x1 constant tiled to 2048x2048 and squared 100 times, which constant folding
    computes while the session is built (about 0.5 s and 16 MB each on a 2-core box). A run can be
    terminated; session creation cannot."""
    inputs, outputs = seal_io()
    consts = {"one1": np.full((1, 1), 1e-3, np.float32), "tiles": np.array([2048, 2048], np.int64),
              "zero": np.array(0.0, np.float32), "one": np.array(1.0, np.float32), "col": np.array([-1, 1], np.int64)}
    nodes = [helper.make_node("Tile", ["one1", "tiles"], ["c0"])]
    for i in range(100):
        nodes.append(helper.make_node("MatMul", [f"c{i}", f"c{i}"], [f"c{i + 1}"]))
    nodes += [
        helper.make_node("ReduceSum", ["c100"], ["s"], keepdims=0),
        helper.make_node("Mul", ["s", "zero"], ["sz"]),
        helper.make_node("ReduceMean", ["image"], ["m4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["m4", "col"], ["m"]),
        helper.make_node("Mul", ["m", "zero"], ["z0"]),
        helper.make_node("Add", ["z0", "sz"], ["z"]),
        helper.make_node("Add", ["z", "one"], ["ok"]),
        helper.make_node("Concat", ["ok", "z"], ["probs"], axis=1),
    ]
    g = helper.make_graph(nodes, "slow_to_optimise", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in consts.items()])
    return with_manifest(finish(g), seal_manifest(seal_model, "slow-to-optimise"))


def electrode_stub_io(electrode_model: Path, name: str):
    """The shipped detector's manifest under a test model's name, and the electrode contract's inputs and
    outputs (256x256 pairs; 64 candidates, 64x64 masks): what every hand-made detector graph keeps."""
    man = json.loads(next(p.value for p in onnx.load(str(electrode_model), load_external_data=False).metadata_props
                          if p.key == "cellgate.manifest"))
    man.update({"name": name, "version": "0.0.1"})
    man.pop("weights_sha256", None)
    s = 256
    inputs = [helper.make_tensor_value_info("visible", TensorProto.FLOAT, ["N", 3, s, s]),
              helper.make_tensor_value_info("xray", TensorProto.FLOAT, ["N", 1, s, s])]
    outputs = [helper.make_tensor_value_info("det", TensorProto.FLOAT, ["N", 64, 9]),
               helper.make_tensor_value_info("seg", TensorProto.FLOAT, ["N", 6, 64, 64]),
               helper.make_tensor_value_info("cls", TensorProto.FLOAT, ["N", 5])]
    for o in man["outputs"]:
        o["shape"] = {"det": ["N", 64, 9], "seg": ["N", 6, 64, 64], "cls": ["N", 5]}[o["name"]]
    return man, inputs, outputs


def never_finds(electrode_model: Path) -> onnx.ModelProto:
    """Keeps the electrode contract and finds nothing: zero scores, background everywhere, no class."""
    man, inputs, outputs = electrode_stub_io(electrode_model, "never-finds")
    bg = np.zeros((1, 6, 1, 1), np.float32)
    bg[0, 0] = 1.0
    consts = {"zero": np.array(0.0, np.float32), "det0": np.zeros((1, 64, 9), np.float32), "seg0": bg,
              "segshape": np.array([1, 6, 64, 64], np.int64), "cls0": np.zeros((1, 5), np.float32)}
    nodes = [
        helper.make_node("ReduceMean", ["visible"], ["m4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["m4", "zero"], ["z4"]),
        helper.make_node("Squeeze", ["z4", "sq"], ["z1"]),
        helper.make_node("Unsqueeze", ["z1", "ax12"], ["z3"]),
        helper.make_node("Add", ["z3", "det0"], ["det"]),
        helper.make_node("Add", ["z4", "seg0"], ["segc"]),
        helper.make_node("Shape", ["z4"], ["n4"]),
        helper.make_node("Slice", ["n4", "s0", "s1"], ["n1"]),
        helper.make_node("Concat", ["n1", "segtail"], ["segfull"], axis=0),
        helper.make_node("Expand", ["segc", "segfull"], ["seg"]),
        helper.make_node("Unsqueeze", ["z1", "ax1"], ["z2"]),
        helper.make_node("Add", ["z2", "cls0"], ["cls"]),
    ]
    consts.update({"sq": np.array([1, 2, 3], np.int64), "ax12": np.array([1, 2], np.int64), "ax1": np.array([1], np.int64),
                   "s0": np.array([0], np.int64), "s1": np.array([1], np.int64), "segtail": np.array([6, 64, 64], np.int64)})
    consts.pop("segshape")
    g = helper.make_graph(nodes, "never_finds", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in consts.items()])
    return with_manifest(finish(g), json.dumps(man))


def nan_on_parts(electrode_model: Path) -> onnx.ModelProto:
    """Passes its self-test and gives real parts NaN scores: one box of each class, score 0.9, on every
    image; multiplied by NaN when the X-ray's two top rows differ (sensor noise on a real image; the
    self-test sheet's rows are equal there). A model fault that only shows on the line."""
    man, inputs, outputs = electrode_stub_io(electrode_model, "nan-on-parts")
    det0 = np.zeros((1, 64, 9), np.float32)
    for k in range(5):
        det0[0, k, :4] = [30 + 45 * k, 128, 20, 20]
        det0[0, k, 4 + k] = 0.9
    bg = np.zeros((1, 6, 1, 1), np.float32)
    bg[0, 0] = 1.0
    consts = {"det0": det0, "seg0": bg, "segtail": np.array([6, 64, 64], np.int64), "cls0": np.zeros((1, 5), np.float32), "zero": np.array(0.0, np.float32),
              "one": np.array(1.0, np.float32), "nan": np.array(np.nan, np.float32), "eps": np.array(1e-6, np.float32),
              "r0": np.array([0], np.int64), "r1": np.array([1], np.int64), "r2": np.array([2], np.int64),
              "ax2": np.array([2], np.int64), "n11": np.array([-1, 1, 1], np.int64), "n1": np.array([-1, 1], np.int64)}
    nodes = [
        helper.make_node("Slice", ["xray", "r0", "r1", "ax2"], ["row0"]),
        helper.make_node("Slice", ["xray", "r1", "r2", "ax2"], ["row1"]),
        helper.make_node("Sub", ["row0", "row1"], ["d"]),
        helper.make_node("Abs", ["d"], ["ad"]),
        helper.make_node("ReduceMax", ["ad"], ["noise"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Greater", ["noise", "eps"], ["real"]),
        helper.make_node("Where", ["real", "nan", "one"], ["f4"]),
        helper.make_node("Reshape", ["f4", "n11"], ["f3"]),
        helper.make_node("Mul", ["f3", "det0"], ["det"]),
        helper.make_node("Reshape", ["f4", "n1"], ["f2"]),
        helper.make_node("Mul", ["f2", "zero"], ["z2"]),
        helper.make_node("Add", ["z2", "cls0"], ["cls"]),
        helper.make_node("Unsqueeze", ["z2", "ax2"], ["z3"]),
        helper.make_node("Unsqueeze", ["z3", "r2"], ["z4"]),
        helper.make_node("Add", ["z4", "seg0"], ["segc"]),
        helper.make_node("Shape", ["xray"], ["xs"]),
        helper.make_node("Slice", ["xs", "r0", "r1"], ["n"]),
        helper.make_node("Concat", ["n", "segtail"], ["segfull"], axis=0),
        helper.make_node("Expand", ["segc", "segfull"], ["seg"]),
    ]
    g = helper.make_graph(nodes, "nan_on_parts", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in consts.items()])
    return with_manifest(finish(g), json.dumps(man))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seal", type=Path, default=Path("onnx/seal_classifier.onnx"), help="manifest source")
    p.add_argument("--electrode", type=Path, default=Path("onnx/electrode_detector.onnx"), help="manifest source")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    onnx.save(tiny_graph(), a.out / "no_manifest.onnx")
    onnx.save(with_manifest(tiny_graph(), manifest("electrode_detector", "image")), a.out / "wrong_task.onnx")
    # The manifest names an input the graph does not have.
    onnx.save(with_manifest(tiny_graph("x"), manifest("seal_classifier", "image")), a.out / "graph_mismatch.onnx")
    onnx.save(with_manifest(tiny_graph(), "{not json"), a.out / "bad_manifest.onnx")
    # Right task, graph agrees, but the seal contract (image + reference, NCHW) is broken.
    onnx.save(with_manifest(tiny_graph(), manifest("seal_classifier", "image")), a.out / "seal_contract_broken.onnx")
    onnx.save(hang_on_uniform(a.seal), a.out / "hang_on_uniform.onnx")
    onnx.save(always_ok(a.seal), a.out / "always_ok.onnx")
    onnx.save(loop_forever(a.seal), a.out / "loop_forever.onnx")
    onnx.save(rejects_all_real_parts(a.seal), a.out / "rejects_real_parts.onnx")
    onnx.save(slow_to_optimise(a.seal), a.out / "slow_to_optimise.onnx")
    onnx.save(never_finds(a.electrode), a.out / "never_finds.onnx")
    onnx.save(nan_on_parts(a.electrode), a.out / "nan_on_parts.onnx")
    # The always-OK graph with its constants in a side file: a signature of the .onnx would not cover them.
    (a.out / "external_data.onnx.data").unlink(missing_ok=True)  # onnx appends to an existing side file
    ext = always_ok(a.seal)
    onnx.external_data_helper.convert_model_to_external_data(ext, all_tensors_to_one_file=True,
                                                             location="external_data.onnx.data", size_threshold=0)
    onnx.save(ext, a.out / "external_data.onnx")
    print(sorted(x.name for x in a.out.iterdir()))


if __name__ == "__main__":
    main()
