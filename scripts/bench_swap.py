"""Model-swap benchmark: the station runs on the demo parts at a line rate, a technician's drop (a new
version of the shipped model, written beside and renamed over) arrives mid-run, and this prints the time
from the drop to the first part judged by the new model, and the per-part latency before, while the new
model warms, and after. Runs the real `cellgate run` binary; needs only the Python standard library."""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ["seal_classifier.onnx", "seal_classifier.encoder.onnx", "seal_classifier.head.onnx"]


def bumped(data: bytes, version: str) -> bytes:
    old, new = b'"version": "1.0.0"', f'"version": "{version}"'.encode()
    assert len(old) == len(new) and data.count(old) == 1, "manifest version not found once"
    return data.replace(old, new)


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def stats(xs):
    if not xs:
        return "n/a"
    xs = sorted(xs)
    return f"n={len(xs):4d}  p50 {statistics.median(xs):6.2f} ms  p99 {xs[int(0.99 * (len(xs) - 1))]:6.2f} ms  max {xs[-1]:6.2f} ms"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", default=str(ROOT / "target/release/cellgate"))
    p.add_argument("--rate", type=float, default=50.0, help="parts per second")
    p.add_argument("--delay-ms", type=int, default=400)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cellgate-swap-"))
    models = tmp / "onnx"
    models.mkdir()
    for f in FILES:
        shutil.copy(ROOT / "onnx" / f, models / f)
    cfg = json.loads((ROOT / "scripts/demo/station.json").read_text())
    demo = ROOT / "scripts/demo"
    cfg["inspection"]["model"] = str(models / FILES[0])
    for r in cfg["inspection"]["recipes"].values():
        r["reference"] = str(demo / r["reference"])
    cfg["runtime"]["providers"] = ["cpu"]
    cfg["source"] = {"kind": "replay", "path": str(demo / "seal"), "loop": True}
    cfg["trigger"]["rate_hz"] = a.rate
    cfg["actuation"]["delay_ms"] = a.delay_ms
    cfg["gpio"]["timeline"] = None
    cfg["records"] = {"results": str(tmp / "results.jsonl")}
    cfg["model_updates"] = {"state_dir": str(tmp / "state"), "settle_ms": 200}
    (tmp / "station.json").write_text(json.dumps(cfg))
    proc = subprocess.Popen([a.binary, "run", "--config", str(tmp / "station.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    time.sleep(3.0)
    drop = time.time()
    for f in [FILES[1], FILES[2], FILES[0]]:
        staged = models / f".{f}.new"
        staged.write_bytes(bumped((ROOT / "onnx" / f).read_bytes(), "1.0.1"))
        os.rename(staged, models / f)
    deadline = time.time() + 30
    status = tmp / "state/status.json"
    while time.time() < deadline:
        if status.exists() and json.loads(status.read_text()).get("swaps", 0) >= 1:
            break
        time.sleep(0.05)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    recs = [json.loads(l) for l in (tmp / "results.jsonl").read_text().splitlines()]
    new = [r for r in recs if r["model"] and r["model"]["version"] == "1.0.1"]
    if not new:
        sys.exit("no part was judged by the new model")
    takeover = ts(new[0]["time"])
    before = [r["latency"]["total_ms"] for r in recs if ts(r["time"]) < drop and r["p_ng"] is not None]
    warming = [r["latency"]["total_ms"] for r in recs if drop <= ts(r["time"]) < takeover and r["p_ng"] is not None]
    after = [r["latency"]["total_ms"] for r in new]
    late = sum(r["late"] for r in recs)
    metrics = next((l for l in out.decode().splitlines() if l.startswith("metrics ")), "metrics {}")
    m = json.loads(metrics[len("metrics "):])
    print(f"model swap at {a.rate:g} parts/s, reject delay {a.delay_ms} ms, {len(recs)} parts, CPU provider")
    print(f"drop -> first part judged by the new model: {1000 * (takeover - drop):.0f} ms "
          f"(settle 200 ms; files settled -> takeover {m.get('last_takeover_ms', 'n/a')} ms)")
    print(f"trigger->verdict before the drop:      {stats(before)}")
    print(f"trigger->verdict while the new warmed: {stats(warming)}")
    print(f"trigger->verdict after the takeover:   {stats(after)}")
    print(f"late parts: {late} (deadline {a.delay_ms} ms); swaps {m.get('model_swaps')}; refused {m.get('model_loads_refused')}")
    shutil.rmtree(tmp)
    if late:
        sys.exit(1)


if __name__ == "__main__":
    main()
