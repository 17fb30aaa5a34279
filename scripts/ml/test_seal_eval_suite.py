"""Tests of the firmware resize (seal_data.py, used by seal_eval_suite.py and for training on frames of
another size) and of the suite's wrong-reference pairing (numpy and Pillow only).

Run with `bash scripts/test-seal-eval.sh`. The resize's agreement with the firmware itself was measured
with `cellgate replay` on a 640x160/512x128/384x96 set (max |p_ng| difference 3.2e-6, see the card).
"""

from __future__ import annotations

import sys
import unittest
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seal_data  # noqa: E402
import seal_eval_suite as suite  # noqa: E402


def float_bilinear(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """The same convolution in floating point (no integer weights, no rounding between the passes)."""
    out = img.astype(np.float64)
    for axis, n in ((0, h), (1, w)):
        if out.shape[axis] == n:
            continue
        weights = seal_data._resize_weights(out.shape[axis], n)
        dense = weights[0] / float(1 << weights[1])
        out = np.moveaxis(np.tensordot(dense, out, axes=([1], [axis])), 0, axis)
    return out


class FirmwareResize(unittest.TestCase):
    def test_weights_of_each_output_pixel_sum_to_one(self):
        for n_in, n_out in ((640, 256), (160, 64), (100, 256), (64, 64)):
            w, p = seal_data._resize_weights(n_in, n_out)
            sums = w.sum(axis=1) / float(1 << p)
            self.assertTrue(np.all(np.abs(sums - 1) < 1e-3), (n_in, n_out))

    def test_within_one_level_of_the_float_convolution(self):
        rng = np.random.default_rng(0)
        img = rng.integers(0, 256, (160, 640, 3), dtype=np.uint8)
        got = seal_data.firmware_resize(img, 64, 256).astype(np.float64)
        self.assertEqual(got.shape, (64, 256, 3))
        self.assertLessEqual(np.abs(got - float_bilinear(img, 64, 256)).max(), 1.5)

    def test_uniform_stays_uniform_and_same_size_is_untouched(self):
        grey = np.full((128, 512, 3), 77, np.uint8)
        self.assertTrue(np.all(seal_data.firmware_resize(grey, 64, 256) == 77))
        img = np.random.default_rng(1).integers(0, 256, (64, 256, 3), dtype=np.uint8)
        self.assertIs(seal_data.firmware_resize(img, 64, 256), img)


class StubModel:
    """p_ng = 1 when image and reference differ, so a wrong reference is always caught."""

    threshold = 0.5

    def p_ng(self, images, refs):
        return (np.abs(images - refs).reshape(len(images), -1).max(axis=1) > 0).astype(np.float32)


class WrongReference(unittest.TestCase):
    def test_each_ok_part_meets_every_other_recipes_reference(self):
        refs = {f"references/r{i}.png": np.full((3, 2, 2), float(i), np.float32) for i in range(3)}
        rows = [{"image": f"s{k}", "reference": f"references/r{k % 3}.png", "label": "ok" if k < 4 else "ng"}
                for k in range(6)]
        data = {"rows": rows, "ref_paths": sorted(refs), "refs": refs,
                "images": np.stack([refs[r["reference"]] for r in rows])}
        out = suite.wrong_reference(StubModel(), data)
        self.assertEqual(out["pairs"], 4 * 2)  # 4 OK parts x 2 other recipes; NG parts are not used
        self.assertEqual(out["called_ng"], 1.0)
        self.assertEqual(sum(v["pairs"] for v in out["by_live_to_reference"].values()), 8)
        self.assertNotIn("r0 -> r0", out["by_live_to_reference"])


if __name__ == "__main__":
    unittest.main()
