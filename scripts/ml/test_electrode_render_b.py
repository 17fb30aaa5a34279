"""Tests of the second electrode renderer (electrode_render_b.py).

Run with `bash scripts/test-seal-eval.sh` (numpy and Pillow; scripts/test.sh runs it). About 15 s.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import electrode_render_b as rb  # noqa: E402
from electrode_render_b_fields import blob_cover  # noqa: E402
from electrode_data import _rle_counts, decode_segmentation, load_set  # noqa: E402


def tree_digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def change_over_texture(with_defect: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> float:
    """Mean change inside the mask, in units of the clean image's spread just around it."""
    a, b = with_defect.astype(float), clean.astype(float)
    if a.ndim == 3:
        a, b = a.mean(axis=2), b.mean(axis=2)
    ring = rb.dilate(mask, 8) & ~rb.dilate(mask, 2)
    return abs(float((a - b)[mask].mean())) / (float(b[ring].std()) + 1e-6)


class RendererB(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name)
        rb.generate(cls.root / "one", count=6, seed=21)
        rb.generate(cls.root / "two", count=6, seed=21, workers=2)
        rb.generate(cls.root / "other", count=6, seed=22)
        cls.info = rb.generate(cls.root / "fifty", count=50, seed=23, size=(256, 224))
        cls.info16 = rb.generate(cls.root / "b16", count=6, seed=24, size=(384, 256), bits=16, rle="compressed")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def coco(self, name: str) -> dict:
        return json.loads((self.root / name / "annotations.json").read_text())

    def test_same_seed_writes_the_same_bytes_whatever_the_workers(self):
        one, two = tree_digest(self.root / "one"), tree_digest(self.root / "two")
        self.assertEqual(len(one), 6 + 6 + 1)  # visible, X-ray, annotations.json
        self.assertEqual(one, two)

    def test_another_seed_draws_other_sheets(self):
        one, other = tree_digest(self.root / "one"), tree_digest(self.root / "other")
        self.assertEqual(sum(one[k] != other[k] for k in one if k.endswith(".png")), 12)

    def test_default_size_is_not_the_model_input(self):
        for im in self.coco("one")["images"]:
            self.assertEqual((im["width"], im["height"]), (320, 320))
            with Image.open(self.root / "one" / im["file_name"]) as v, Image.open(self.root / "one" / im["xray_file_name"]) as x:
                self.assertEqual((v.mode, v.size, x.mode, x.size), ("RGB", (320, 320), "L", (320, 320)))

    def test_coco_labels_are_exact_and_cover_every_class(self):
        coco = self.coco("fifty")
        self.assertEqual([c["id"] for c in coco["categories"]], [1, 2, 3, 4, 5])
        self.assertEqual([c["name"] for c in coco["categories"]], list(rb.CLASSES_B))
        images = {im["id"]: im for im in coco["images"]}
        self.assertEqual(len(images), 50)
        for a in coco["annotations"]:
            im = images[a["image_id"]]
            m = decode_segmentation(a["segmentation"], im["height"], im["width"])
            ys, xs = np.nonzero(m)
            tight = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
            self.assertEqual(a["bbox"], tight, a["id"])
            self.assertEqual(a["area"], int(m.sum()))
            self.assertGreaterEqual(a["area"], 2)
            self.assertEqual(a["iscrowd"], 0)
        self.assertEqual({a["category_id"] for a in coco["annotations"]}, {1, 2, 3, 4, 5})
        labelled = {a["image_id"] for a in coco["annotations"]}
        free = [im for im in coco["images"] if im["id"] not in labelled]
        self.assertTrue(0.15 <= len(free) / 50 <= 0.25, len(free))
        self.assertEqual(len(free), self.info["defect_free"])
        # Harmless marks are drawn on defect-free sheets too, and never labelled.
        self.assertTrue(any(im["sheet"]["confusers"] for im in free))
        self.assertTrue(any(im["sheet"]["foil_edge"] for im in coco["images"]))
        for im in coco["images"]:
            self.assertLessEqual(float(np.hypot(*im["sheet"]["xray_shift_px"])), 3.0)

    def test_the_loader_reads_it_resized_to_the_model_input(self):
        coco = self.coco("fifty")
        data = load_set(self.root / "fifty")
        self.assertEqual(data.visible.shape, (50, 256, 256, 3))
        self.assertEqual(data.xray.shape, (50, 256, 256))
        per_image = [sum(a["image_id"] == im["id"] for a in coco["annotations"]) for im in coco["images"]]
        self.assertEqual([len(b) for b in data.boxes], per_image)
        self.assertEqual(set(np.unique(data.masks)) - {0}, {1, 2, 3, 4, 5})
        for b in data.boxes:  # boxes scaled from 256x224 to 256x256
            self.assertTrue((b[:, :4] >= 0).all() and (b[:, [0, 2]] <= 256).all() and (b[:, [1, 3]] <= 256).all())

    def test_sixteen_bit_xray_and_compressed_rle(self):
        coco = self.coco("b16")
        for im in coco["images"]:
            with Image.open(self.root / "b16" / im["xray_file_name"]) as x:
                self.assertTrue(x.mode.startswith("I"), x.mode)
                a = np.asarray(x)
            self.assertEqual(a.shape, (256, 384))
            self.assertGreater(int(a.max()), 255)
            self.assertGreater(len(np.unique(a & 0xFF)), 64)  # the low byte carries signal, not zeros
        for ann in coco["annotations"]:
            self.assertIsInstance(ann["segmentation"]["counts"], str)
        data = load_set(self.root / "b16")
        self.assertEqual(data.xray.shape, (6, 256, 256))
        self.assertTrue(80 < data.xray.mean() < 200)

    def test_rle_helpers_round_trip_through_the_loader(self):
        rng = np.random.default_rng(3)
        for start in (False, True):
            m = rng.random((37, 53)) < 0.3
            m[0, 0] = start
            counts = rb.rle_counts(m)
            self.assertTrue(np.array_equal(decode_segmentation({"size": [37, 53], "counts": counts}, 37, 53), m))
            self.assertEqual(_rle_counts(rb.rle_string(counts)), counts)

    def test_defects_show_where_they_are_drawn(self):
        # Same sheet, imagers and noise with and without one defect of each class.
        for name in rb.CLASSES_B:
            scores_vis, scores_xr = [], []
            for index in range(4):
                clean = rb.render_pair(31, index, 320, 320, 8, plan=[])
                got = rb.render_pair(31, index, 320, 320, 8, plan=[name])
                self.assertEqual(len(got["labels"]), 1, (name, index))
                mask = got["labels"][0][1]
                scores_vis.append(change_over_texture(got["visible"], clean["visible"], mask))
                scores_xr.append(change_over_texture(got["xray"], clean["xray"], mask))
            if name == "inclusion":  # inside the coating: X-ray only
                self.assertGreater(min(scores_xr), 1.0, scores_xr)
                self.assertLess(max(scores_vis), 0.5, scores_vis)
            else:
                self.assertGreater(min(scores_vis), 0.75, (name, scores_vis))
                self.assertGreater(float(np.median(scores_vis)), 2.0, (name, scores_vis))
            # Nothing changes away from the defect beyond the imagers' re-exposure.
            far = ~rb.dilate(mask, 12)
            d = np.abs(got["visible"].astype(int) - clean["visible"].astype(int))[far]
            self.assertLess(float(d.mean()), 1.0, name)

    def test_xray_is_misregistered_by_the_recorded_shift_up_to_3_px(self):
        cv = rb.Canvas(128, 128)
        sheet = rb.Sheet(cv, np.random.default_rng(0))
        sheet.region[:] = 0
        dense = 3 * blob_cover(cv, 64.0, 64.0, 4.0, 1.0, 0.0, np.zeros(2))
        ys, xs = np.mgrid[:128, :128]
        near = (np.abs(ys - 64) <= 12) & (np.abs(xs - 64) <= 12)
        shifts = []
        for s in range(40):
            sheet.mu[:] = 0
            clean, _ = rb.xray_camera(sheet, np.random.default_rng(s), 16)
            sheet.mu += dense
            dark, shift = rb.xray_camera(sheet, np.random.default_rng(s), 16)
            w = (clean.astype(float) - dark.astype(float)) * near
            seen = (64 - (w * xs).sum() / w.sum(), 64 - (w * ys).sum() / w.sum())  # where the X-ray shows it
            self.assertLess(float(np.hypot(seen[0] - shift[0], seen[1] - shift[1])), 0.25, (s, shift, seen))
            shifts.append(float(np.hypot(*shift)))
        self.assertTrue(1.5 < max(shifts) <= 3.0, max(shifts))

    def test_every_style_of_each_class_is_drawn(self):
        cv = rb.Canvas(160, 160)
        sheet = rb.Sheet(cv, np.random.default_rng(41))
        styles = {name: {f(np.random.default_rng(k), sheet, 80.0, 80.0)[1] for k in range(60)}
                  for name, f in rb.DEFECT_FUNCS_B.items()}
        self.assertEqual(styles["scratch"], {"straight", "curved", "interrupted", "tiny"})
        self.assertEqual(styles["dark_spot"], {"soft", "hard"})
        self.assertEqual(styles["foreign_object"], {"particle", "fibre", "flake", "metal_chip"})
        self.assertEqual(styles["inclusion"], {"single", "cluster"})
        self.assertEqual(styles["crack"], {"hairline", "branching", "through"})


if __name__ == "__main__":
    unittest.main()
