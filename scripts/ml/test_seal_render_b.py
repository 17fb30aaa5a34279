"""Tests of the second seal renderer (seal_render_b.py) and of seal_render.py's held-out recipes.

Run with `bash scripts/test-seal-eval.sh` (numpy and Pillow; scripts/test.sh runs it).
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
import seal_render  # noqa: E402
import seal_render_b as rb  # noqa: E402
from seal_data import load_set  # noqa: E402


def tree_digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


class RendererB(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name)
        rb.generate(cls.root / "one", count=12, seed=21, ng_fraction=0.5, n_recipes=3)
        rb.generate(cls.root / "two", count=12, seed=21, ng_fraction=0.5, n_recipes=3)
        rb.generate(cls.root / "other", count=12, seed=22, ng_fraction=0.5, n_recipes=3)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_same_seed_writes_the_same_bytes(self):
        one, two = tree_digest(self.root / "one"), tree_digest(self.root / "two")
        self.assertEqual(len(one), 12 + 3 + 2)  # samples, references, manifest + dataset.json
        self.assertEqual(one, two)

    def test_another_seed_draws_other_recipes_and_images(self):
        one, other = tree_digest(self.root / "one"), tree_digest(self.root / "other")
        differing = [k for k in one if k.startswith("samples/") and one[k] != other.get(k)]
        self.assertEqual(len(differing), 12)
        a = json.loads((self.root / "one" / "dataset.json").read_text())["recipes"]
        b = json.loads((self.root / "other" / "dataset.json").read_text())["recipes"]
        self.assertNotEqual(a, b)

    def test_writes_the_design_seal_format(self):
        root = self.root / "one"
        rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]
        self.assertEqual(len(rows), 12)
        for row in rows:
            self.assertEqual(set(row), {"image", "reference", "label", "defect"})
            self.assertIn(row["label"], ("ok", "ng"))
            self.assertEqual(row["defect"] is None, row["label"] == "ok")
            if row["defect"] is not None:
                self.assertIn(row["defect"], rb.DEFECTS_B)
            live, ref = Image.open(root / row["image"]), Image.open(root / row["reference"])
            self.assertEqual((live.mode, ref.mode), ("RGB", "RGB"))
            self.assertEqual(live.size, ref.size)  # a reference is captured like its recipe's parts
            w, h = live.size
            self.assertTrue(256 <= w <= 640 and 64 <= h <= 160 and w == 4 * h, live.size)
        info = json.loads((root / "dataset.json").read_text())
        self.assertEqual(sum(info["counts"].values()), 12)
        # The training pipeline's reader takes it as it is (any DESIGN seal folder).
        data = load_set(root)
        self.assertEqual(data.images.shape, (12, 64, 256, 3))
        self.assertEqual(int(data.labels.sum()), sum(r["label"] == "ng" for r in rows))

    def test_every_defect_changes_the_part(self):
        recipe = rb.draw_recipe(np.random.default_rng(5), 0)
        pose = rb.reference_pose()
        clean = rb.camera(rb.Part(recipe, np.random.default_rng(9), jitter=False), np.random.default_rng(1), pose)
        for name, draw in rb.DEFECT_FUNCS_B.items():
            part = rb.Part(recipe, np.random.default_rng(9), jitter=False)
            draw(part)
            img = rb.camera(part, np.random.default_rng(1), pose)
            diff = np.abs(img.astype(np.int16) - clean.astype(np.int16)).max(axis=2)
            self.assertGreater(int((diff > 12).sum()), 3, name)

    def test_recipes_cover_every_knurl_family_and_size_range(self):
        recipes = [rb.draw_recipe(np.random.default_rng([s]), 0) for s in range(200)]
        self.assertEqual({r["knurl"] for r in recipes}, set(rb.KNURLS_B))
        heights = {r["size"][0] for r in recipes}
        self.assertEqual((min(heights), max(heights)), (64, 160))
        for r in recipes:
            self.assertLess(r["body_end"] + r["gap"] + r["band"] + r["lip"], 0.95)  # the trim edge is in frame


class TrainingRendererUnseenRecipes(unittest.TestCase):
    def test_unseen_recipes_lie_outside_the_training_ranges(self):
        train, unseen = seal_render.RECIPES, seal_render.UNSEEN_RECIPES
        for field in ("band_width", "knurl_pitch", "film_rgb"):
            values = [getattr(r, field) for r in train]
            for r in unseen:
                if r.knurl_family != "ridges":
                    continue  # another knurl family is the held-out part of these
                self.assertTrue(getattr(r, field) < min(values) or getattr(r, field) > max(values), (r.name, field))
        self.assertTrue({r.knurl_family for r in train} == {"ridges"})
        self.assertTrue({"crosshatch", "dots"} <= {r.knurl_family for r in unseen})
        self.assertFalse({r.name for r in train} & {r.name for r in unseen})

    def test_unseen_set_renders_and_training_set_description_is_unchanged(self):
        with tempfile.TemporaryDirectory() as tmp:
            info = seal_render.generate(Path(tmp) / "u", count=6, seed=4, ng_fraction=0.5, recipes="unseen")
            self.assertEqual([r["name"] for r in info["recipes"]], [r.name for r in seal_render.UNSEEN_RECIPES])
            refs = sorted(p.name for p in (Path(tmp) / "u" / "references").iterdir())
            self.assertEqual(refs, sorted(f"{r.name}.png" for r in seal_render.UNSEEN_RECIPES))
            seen = seal_render.generate(Path(tmp) / "s", count=2, seed=4, ng_fraction=0.5, recipes=4)
            self.assertTrue(all("knurl_family" not in r for r in seen["recipes"]))
            self.assertNotIn("recipe_set", seen)


if __name__ == "__main__":
    unittest.main()
