"""`cellgate evaluate` (the station's own preprocess, inference and decision) against the Python evaluators
(`seal_evaluate.py`: ONNX Runtime on the full pair graph, `seal_metrics.py`; `electrode_evaluate.py`,
`electrode_metrics.py`, segmentation IoU included) on the same model and set.

Each set is drawn by a second renderer, so the figures are not all 100%: the seal's at capture sizes other
than the model's (both sides resize), the electrode's at the model's size (Python resizes with Pillow, the
firmware with its own resize). Needs the firmware built (`cargo build`; scripts/test.sh runs this after
`cargo test`). Run with `bash scripts/test-seal-eval.sh`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import electrode_data  # noqa: E402
import electrode_evaluate  # noqa: E402
import seal_data  # noqa: E402
import seal_evaluate  # noqa: E402
import seal_metrics  # noqa: E402

CELLGATE = ROOT / "target" / "debug" / "cellgate"
# The most a segmentation IoU of the firmware may differ from the Python evaluator's (see below).
SEG_DELTA = 1e-3


class CellgateEvaluateAgreesWithPython(unittest.TestCase):
    def test_same_scores_and_figures_on_a_second_renderer_set(self):
        self.assertTrue(CELLGATE.exists(), f"{CELLGATE} missing: build the firmware first (cargo build)")
        with tempfile.TemporaryDirectory() as d:
            data, figures = Path(d) / "set", Path(d) / "firmware.json"
            subprocess.run(
                [sys.executable, str(HERE / "seal_render_b.py"), "--out", str(data), "--count", "60", "--seed", "31"],
                check=True,
                capture_output=True,
            )
            run = subprocess.run(
                [str(CELLGATE), "evaluate", "--config", str(ROOT / "scripts/demo/station.json"), "--data", str(data),
                 "--json", str(figures)],
                capture_output=True,
                text=True,
            )
            self.assertEqual(run.returncode, 0, run.stderr)
            fw = json.loads(figures.read_text())
            s = seal_data.load_set(data)
            p_ng, threshold = seal_evaluate.predict_onnx(ROOT / "onnx" / "seal_classifier.onnx", s)
            py = seal_metrics.seal_metrics(s.labels, p_ng, s.defects, threshold)

        self.assertEqual(fw["errors"], 0, "every pair judged")
        by_frame = {x["frame"]: x for x in fw["per_sample"]}
        self.assertEqual(sorted(by_frame), sorted(s.image_paths))
        for path, p in zip(s.image_paths, p_ng):
            self.assertAlmostEqual(by_frame[path]["p_ng"], float(p), delta=1e-4, msg=path)
        self.assertAlmostEqual(fw["threshold"], threshold, places=6)
        self.assertEqual(fw["samples"], py["samples"])
        for key in ("accuracy", "ng_recall", "false_reject_rate"):
            self.assertAlmostEqual(fw[key], py[key], places=9, msg=key)
        self.assertEqual(fw["confusion_matrix"], py["confusion_matrix"]["counts"])
        self.assertEqual({k: v["n"] for k, v in fw["per_defect_recall"].items()},
                         {k: v["n"] for k, v in py["per_defect_recall"].items()})
        for k, v in py["per_defect_recall"].items():
            self.assertAlmostEqual(fw["per_defect_recall"][k]["recall"], v["recall"], places=9, msg=k)
        self.assertLess(py["accuracy"], 1.0, "a set the model does not get all right, so the figures are tested")

    def electrode_figures(self, render: list[str]) -> tuple[dict, dict]:
        """The firmware's and the Python evaluator's figures on the electrode set `render` draws (a command
        taking `--out`)."""
        self.assertTrue(CELLGATE.exists(), f"{CELLGATE} missing: build the firmware first (cargo build)")
        with tempfile.TemporaryDirectory() as d:
            data, figures = Path(d) / "set", Path(d) / "firmware.json"
            subprocess.run([sys.executable, *render, "--out", str(data)], check=True, capture_output=True)
            run = subprocess.run(
                [str(CELLGATE), "evaluate", "--config", str(ROOT / "scripts/demo/electrode.json"), "--data",
                 str(data), "--json", str(figures)],
                capture_output=True,
                text=True,
            )
            self.assertEqual(run.returncode, 0, run.stderr)
            fw = json.loads(figures.read_text())
            runner, threshold = electrode_evaluate.onnx_runner(ROOT / "onnx" / "electrode_detector.onnx")
            [py] = electrode_evaluate.evaluate(runner, electrode_data.load_set(data), [threshold])
        self.assertEqual(fw["errors"], 0, "every pair judged")
        self.assertAlmostEqual(fw["score_threshold"], threshold, places=6)
        return fw, py

    def assert_same_segmentation(self, fw: dict, py: dict) -> None:
        # The label maps are the same pixels (the firmware's unit tests hold its drawing to Pillow's masks; on
        # the polygon set below all 16 maps were compared whole). The predicted maps are the argmax of the same
        # model run by two ONNX Runtime sessions whose kernels round differently (scores agree within 1e-4):
        # a pixel whose two best classes are that close can flip. Measured: 0 difference on the RLE set,
        # at most 4.1e-4 (one pixel of dark_spot's 2351) on the polygon set.
        for key in ("seg_iou_mean", "background_iou"):
            self.assertAlmostEqual(fw[key], py[key], delta=SEG_DELTA, msg=key)
        self.assertEqual({c for c, v in fw["seg_iou"].items() if v is None},
                         {c for c, v in py["seg_iou"].items() if v is None}, "the classes some label has")
        for c, v in py["seg_iou"].items():
            if v is not None:
                self.assertAlmostEqual(fw["seg_iou"][c], v, delta=SEG_DELTA, msg=c)

    def test_same_detection_and_segmentation_figures_on_a_second_renderer_electrode_set(self):
        # Labels as COCO RLE.
        fw, py = self.electrode_figures([str(HERE / "electrode_render_b.py"), "--count", "40", "--seed", "47",
                                         "--size", "256x256"])
        for key in ("images", "defects", "defects_per_class", "detections"):
            self.assertEqual(fw[key], py[key], key)
        for key in ("map50", "miss_rate", "false_detection_rate", "image_accuracy"):
            self.assertAlmostEqual(fw[key], py[key], places=6, msg=key)
        for c, ap in py["ap50"].items():
            self.assertAlmostEqual(fw["ap50"][c], ap, places=4, msg=c)
        self.assertLess(py["map50"], 1.0, "a set the model does not get all right, so the figures are tested")
        self.assert_same_segmentation(fw, py)
        self.assertLess(py["seg_iou_mean"], 0.9, "a segmentation the model does not get all right")

    def test_same_segmentation_figures_on_polygon_labels(self):
        # Labels as polygons, filled as Pillow fills them (the training renderer's sets).
        fw, py = self.electrode_figures([str(HERE / "electrode_render.py"), "--count", "16", "--seed", "5",
                                         "--workers", "1"])
        self.assertEqual(fw["defects"], py["defects"])
        self.assert_same_segmentation(fw, py)
        self.assertGreater(sum(v is not None for v in py["seg_iou"].values()), 2, "several classes labelled")

if __name__ == "__main__":
    unittest.main()
