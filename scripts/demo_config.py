#!/usr/bin/env python3
"""The demo station's config for a measurement run (scripts/soak.sh, scripts/bench-mqtt.sh): its paths
made absolute, CPU only, its outputs (GPIO timeline, results log, model state) in WORK, no model watch.
The seal demo (scripts/demo/station.json) unless --electrode (scripts/demo/electrode.json). Each KEY=JSON
sets a dotted key (`trigger.rate_hz=50`, `http=null`, `records.archive={...}`).

    python3 scripts/demo_config.py WORK [--electrode] [KEY=JSON ...]     # writes WORK/station.json
"""
import json
import os
import sys


def main() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    work, edits = sys.argv[1], sys.argv[2:]
    electrode = edits[:1] == ["--electrode"]
    edits = edits[1:] if electrode else edits
    demo = f"{root}/scripts/demo"
    c = json.load(open(f"{demo}/{'electrode' if electrode else 'station'}.json"))
    c["runtime"]["providers"] = ["cpu"]
    c["inspection"]["model"] = os.path.normpath(f"{demo}/{c['inspection']['model']}")
    for r in c["inspection"].get("recipes", {}).values():
        r["reference"] = f"{demo}/{r['reference']}"
    c["source"]["path"] = f"{demo}/{'electrode' if electrode else 'seal'}"
    c["gpio"]["timeline"] = f"{work}/gpio.jsonl"
    c["records"] = {"results": f"{work}/results.jsonl"}
    c["model_updates"] = {"watch": False, "state_dir": f"{work}/state"}
    for edit in edits:
        key, value = edit.split("=", 1)
        *path, last = key.split(".")
        node = c
        for k in path:
            node = node.setdefault(k, {})
        node[last] = json.loads(value)
    os.makedirs(work, exist_ok=True)
    json.dump(c, open(f"{work}/station.json", "w"), indent=1)


if __name__ == "__main__":
    main()
