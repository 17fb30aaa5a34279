"""Tests of scripts/yocto-crates.py's licence list: SPDX to BitBake, which crates count as linked, and
that a changed licence makes the list stale. Run by scripts/lint-yocto.sh."""

from __future__ import annotations

import importlib.util
import unittest
from pathlib import Path

spec = importlib.util.spec_from_file_location("yocto_crates", Path(__file__).with_name("yocto-crates.py"))
yc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(yc)


def dep(pkg: str, *kinds: str | None) -> dict:
    return {"pkg": pkg, "dep_kinds": [{"kind": k, "target": None} for k in kinds]}


def package(name: str, licence: str | None) -> dict:
    return {"id": name, "name": name, "version": "1.0.0", "license": licence}


def metadata(licences: dict[str, str | None], deps: dict[str, list[dict]]) -> dict:
    return {"packages": [package(n, lic) for n, lic in licences.items()],
            "resolve": {"root": "app", "nodes": [{"id": n, "deps": deps.get(n, [])} for n in licences]}}


class SpdxToBitbake(unittest.TestCase):
    def test_operators(self):
        self.assertEqual(yc.to_bitbake("MIT OR Apache-2.0"), "Apache-2.0 | MIT")
        self.assertEqual(yc.to_bitbake("(MIT OR Apache-2.0) AND Unicode-3.0"), "(MIT | Apache-2.0) & Unicode-3.0")
        self.assertEqual(yc.to_bitbake("MIT/Apache-2.0"), "Apache-2.0 | MIT")

    def test_llvm_exception_has_its_common_licence_name(self):
        self.assertEqual(yc.to_bitbake("Apache-2.0 WITH LLVM-exception OR MIT"),
                         "Apache-2.0-with-LLVM-exception | MIT")
        self.assertEqual(yc.to_bitbake("Zlib OR Apache-2.0 OR MIT"), yc.to_bitbake("MIT OR Apache-2.0 OR Zlib"))

    def test_unknown_exception_and_odd_text_are_refused(self):
        with self.assertRaises(yc.LicenceError):
            yc.to_bitbake("GPL-2.0 WITH Classpath-exception-2.0")
        with self.assertRaises(yc.LicenceError):
            yc.to_bitbake("MIT, Apache-2.0")


class LinkedCrates(unittest.TestCase):
    def test_build_and_dev_dependencies_are_not_linked(self):
        meta = metadata({"app": "Apache-2.0", "lib": "MIT", "shared": "Zlib", "bindgen": "BSD-3-Clause",
                         "tempfile": "ISC"},
                        {"app": [dep("lib", None), dep("bindgen", "build"), dep("tempfile", "dev")],
                         "lib": [dep("shared", None)], "bindgen": [dep("shared", "build")]})
        self.assertEqual([p["name"] for p in yc.linked_packages(meta)], ["app", "lib", "shared"])

    def test_a_crate_both_normal_and_build_is_linked(self):
        meta = metadata({"app": "Apache-2.0", "cc": "MIT"}, {"app": [dep("cc", "build", None)]})
        self.assertEqual([p["name"] for p in yc.linked_packages(meta)], ["app", "cc"])


class LicenceList(unittest.TestCase):
    def test_every_licence_once_and_a_change_shows(self):
        meta = metadata({"app": "Apache-2.0", "a": "MIT OR Apache-2.0", "b": "Apache-2.0/MIT", "c": "MIT"},
                        {"app": [dep("a", None), dep("b", None), dep("c", None)]})
        text = yc.render_licenses(meta)
        self.assertIn('LICENSE = "(Apache-2.0 | MIT) \\\n           & Apache-2.0 \\\n           & MIT"', text)
        meta["packages"][3]["license"] = "BSD-3-Clause"
        self.assertNotEqual(yc.render_licenses(meta), text)

    def test_a_crate_without_licence_is_refused(self):
        meta = metadata({"app": "Apache-2.0", "a": None}, {"app": [dep("a", None)]})
        with self.assertRaises(yc.LicenceError):
            yc.render_licenses(meta)


if __name__ == "__main__":
    unittest.main()
