"""Tests of the electrode training renderer's two looks (electrode_render.py, electrode_wide.py).

Run with `bash scripts/test-seal-eval.sh` (numpy and Pillow only).
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
import electrode_render  # noqa: E402
import electrode_wide as wide  # noqa: E402
from electrode_data import decode_segmentation, load_set  # noqa: E402


def tree_digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


class WideLook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name)
        electrode_render.write_dataset(cls.root / "one", 40, seed=4, workers=1)
        electrode_render.write_dataset(cls.root / "two", 40, seed=4, workers=1)
        electrode_render.write_dataset(cls.root / "classic", 8, seed=4, workers=1, look="classic")
        cls.coco = json.loads((cls.root / "one" / "annotations.json").read_text())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_same_seed_writes_the_same_bytes(self):
        self.assertEqual(tree_digest(self.root / "one"), tree_digest(self.root / "two"))

    def test_boxes_are_the_tight_extent_of_the_drawn_polygons(self):
        self.assertGreater(len(self.coco["annotations"]), 40)
        for a in self.coco["annotations"]:
            m = decode_segmentation(a["segmentation"], 256, 256)
            ys, xs = np.nonzero(m)
            self.assertEqual(a["bbox"], [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)])
            self.assertEqual(a["area"], int(m.sum()))

    def test_draws_every_class_small_defects_and_clean_sheets(self):
        classes = {a["category_id"] for a in self.coco["annotations"]}
        self.assertEqual(classes, {1, 2, 3, 4, 5})
        self.assertTrue(any(a["area"] <= 16 for a in self.coco["annotations"]), "no defect of a few pixels")
        with_defects = {a["image_id"] for a in self.coco["annotations"]}
        clean = len(self.coco["images"]) - len(with_defects)
        self.assertTrue(2 <= clean <= 16, clean)

    def test_sheets_differ_in_tone_and_xray_depth(self):
        data = load_set(self.root / "one")  # also proves the loader reads 8- and 16-bit X-rays alike
        tone = data.visible.reshape(len(data.files), -1).mean(1)
        self.assertGreater(tone.max() - tone.min(), 50)  # graphite black to cathode grey
        modes = {Image.open(self.root / "one" / im["xray_file_name"]).mode for im in self.coco["images"]}
        self.assertEqual(modes, {"L", "I;16"})

    def test_defects_show_in_the_modality_physics_puts_them(self):
        rng = np.random.default_rng(3)
        for cls, vis_changes, xray_changes in (("inclusion", False, True), ("crack", True, True), ("dark_spot", True, False)):
            s = wide.sheet(rng)
            s["vis_noise"] = 2.0
            before_v, before_x = s["visible"].copy(), s["xray"].copy()
            mask = np.zeros((256, 256), bool)
            mask[120:130, 120:130] = True
            wide.apply(rng, cls, mask, s, (2, 0))
            dv = np.abs(s["visible"] - before_v)[mask].mean()
            dx = np.abs(s["xray"] - before_x)
            self.assertEqual(dv > 3, vis_changes, f"{cls} visible change {dv}")
            # the X-ray sees the defect 2 rows lower: misregistered modalities
            self.assertEqual(dx[122:132, 120:130].mean() > 3, xray_changes, f"{cls} X-ray change")

    def test_defects_keep_off_the_uncoated_foil(self):
        for i in range(200):
            s = wide.sheet(np.random.default_rng([8, i]))
            if not s["coated"].all():
                break
        else:
            self.fail("no sheet with a foil margin in 200")
        taken = np.zeros((256, 256), bool)
        for _ in range(30):
            rng = np.random.default_rng(len(taken.nonzero()[0]))
            placed = wide.place(rng, wide.shape(rng, "dark_spot"), taken, allowed=s["coated"])
            if placed is not None:
                self.assertFalse((placed[1] & ~s["coated"]).any())

    def test_classic_look_is_still_drawn(self):
        coco = json.loads((self.root / "classic" / "annotations.json").read_text())
        self.assertEqual(coco["info"]["look"], "classic")
        modes = {Image.open(self.root / "classic" / im["xray_file_name"]).mode for im in coco["images"]}
        self.assertEqual(modes, {"L"})


if __name__ == "__main__":
    unittest.main()
