"""Tests of the training distribution of seal recipes (seal_recipes.py) and its DESIGN-format writer."""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

import seal_pool
import seal_recipes as sr
from seal_data import INPUT_HW, read_manifest


def _in(ranges, v) -> bool:
    return any(a <= v <= b for a, b in ranges)


class RecipeSplits(unittest.TestCase):
    def test_unseen_draws_come_only_from_ranges_and_families_training_never_draws(self):
        for i in range(300):
            train = sr.draw_recipe(np.random.default_rng([1, i]), "train")
            unseen = sr.draw_recipe(np.random.default_rng([2, i]), "unseen")
            self.assertIn(train["family"], sr.TRAIN_FAMILIES)
            self.assertTrue(_in(sr.BAND_TRAIN, train["band"]) and _in(sr.PITCH_TRAIN, train["pitch"]))
            self.assertFalse(_in(sr.BAND_TRAIN, unseen["band"]), unseen["band"])
            self.assertFalse(_in(sr.PITCH_TRAIN, unseen["pitch"]), unseen["pitch"])
            self.assertTrue(_in(sr.FILM_TRAIN, train["film_lum"]))
            self.assertFalse(_in(sr.FILM_TRAIN, unseen["film_lum"]), unseen["film_lum"])
        families = {sr.draw_recipe(np.random.default_rng([3, i]), "unseen")["family"] for i in range(100)}
        self.assertIn("chevron", families)

    def test_capture_sizes_span_what_cameras_deliver(self):
        sizes = [sr.draw_recipe(np.random.default_rng([4, i]))["size"] for i in range(400)]
        hs, ws = [h for h, _ in sizes], [w for _, w in sizes]
        self.assertTrue(min(ws) >= 256 and max(ws) <= 640 and min(hs) >= 64 and max(hs) <= 160)
        self.assertLess(min(ws), 320)
        self.assertGreater(max(ws), 576)


class Pairs(unittest.TestCase):
    def test_the_same_seed_gives_the_same_pair(self):
        a = sr.draw_pair(np.random.default_rng([5, 7]))
        b = sr.draw_pair(np.random.default_rng([5, 7]))
        self.assertTrue(np.array_equal(a["image"], b["image"]) and np.array_equal(a["reference"], b["reference"]))
        self.assertEqual(a["image"].shape, (*INPUT_HW, 3))

    def test_every_defect_changes_the_seal_and_an_ok_cell_stays_close_to_its_recipe(self):
        rec = sr.draw_recipe(np.random.default_rng(6))
        rec["family"] = "ridges"
        fixed = {"phase_shift": False, "band_scale": 1.0, "gap_scale": 1.0}
        ok = sr.render_cell(rec, np.random.default_rng(0), dict(fixed))
        for defect in sr.DEFECTS:
            change = sr._live_change(np.random.default_rng(1), defect, sev=0.6)
            change.update(phase_shift=False)
            if defect not in ("width_out", "gap_out"):
                change.update(band_scale=1.0, gap_scale=1.0, top_offset=0.0)
            ng = sr.render_cell(rec, np.random.default_rng(0), change)
            diff = np.abs(ng - ok).max()
            self.assertGreater(diff, 0.05, f"{defect} changes the image by {diff:.3f} only")
        # Another cell of the same recipe: other grain, same seal (differences stay small on average).
        other = sr.render_cell(rec, np.random.default_rng(9), dict(fixed))
        self.assertLess(np.abs(other - ok).mean(), 0.03)


class DesignWriter(unittest.TestCase):
    def test_a_design_folder_at_capture_size_with_a_reference_per_pair(self):
        with tempfile.TemporaryDirectory() as d:
            info = seal_pool.build_design(Path(d), 6, 11, "unseen", 1)
            rows = read_manifest(Path(d))
            self.assertEqual(len(rows), 6)
            self.assertEqual(len({r["reference"] for r in rows}), 6)
            self.assertEqual(info["count"], 6)
            self.assertEqual(json.loads((Path(d) / "dataset.json").read_text())["seed"], 11)
            from PIL import Image

            for r in rows:
                w, h = Image.open(Path(d) / r["image"]).size
                self.assertTrue(256 <= w <= 640 and 64 <= h <= 160, (w, h))


if __name__ == "__main__":
    unittest.main()


class WrongReferenceTest(unittest.TestCase):
    """The made-up wrong-reference pairs of training: never the pair's own reference, and with
    `hard` > 1 the most alike of the drawn candidates (look-alike recipes are what lines confuse)."""

    def test_never_its_own_and_the_most_alike_of_the_candidates(self):
        from types import SimpleNamespace
        from seal_data import other_reference, thumbnails

        levels = np.array([10, 200, 60, 70, 250], np.float32)  # reference 3 is most like reference 2
        refs = levels[:, None, None, None] * np.ones((5, 16, 64, 3), np.float32)
        refs[:, :8] += 5.0  # some layout, the same for all
        data = SimpleNamespace(references=refs.astype(np.uint8))
        thumbs = thumbnails(data.references)
        rng = np.random.default_rng(0)
        picks = [other_reference(data, 2, rng, 1, None) for _ in range(200)]
        self.assertNotIn(2, picks)
        self.assertEqual(set(picks), {0, 1, 3, 4}, "any other reference when not hard")
        hard = [other_reference(data, 2, rng, 50, thumbs) for _ in range(20)]
        self.assertEqual(set(hard), {3}, "the most alike of many candidates")
