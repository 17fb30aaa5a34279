#!/usr/bin/env python3
"""Reject timing figures of the measurement scripts (scripts/bench-mqtt.sh, scripts/bench-page.sh).

    bench_timing.py row METRICS_JSON CONFIG ROUND [KEY=JSON ...]    one run's figures as a JSON line
    bench_timing.py table FIGURES_JSONL PARTS RATE LABEL CONFIGS [EXTRA]
        the median of the rounds per config (CONFIGS comma-separated), as a Markdown table; EXTRA: one
        more column taken from the rows (e.g. requests)

A run's figures are the station's own counters (metrics.json at exit): the mean and max |actual -
scheduled| reject time of the fired pulses, late parts, rejects fired, parts settled.
"""
import json
import statistics
import sys


def row(metrics: str, config: str, rnd: str, extras: list) -> None:
    c = json.load(open(metrics))["counters"]
    fired = max(c["rejects_fired"], 1)
    r = {"config": config, "round": int(rnd), "rejects": c["rejects_fired"],
         "mean_us": c["reject_timing_error_us_sum"] / fired, "max_us": c["reject_timing_error_us_max"],
         "late": c["parts_late"], "settled": c["parts_settled"]}
    for e in extras:
        key, value = e.split("=", 1)
        r[key] = json.loads(value)
    print(json.dumps(r))


def table(figures: str, parts: str, rate: str, label: str, configs: str, extra: str = "") -> None:
    rows = [json.loads(line) for line in open(figures)]
    print(f"\nmedian of {max(r['round'] for r in rows)} rounds, {parts} parts at {rate}/s each:")
    cols = ["reject timing mean (us)", "max (us)", "late parts", "rejects"] + ([extra] if extra else [])
    print(f"| {label} | " + " | ".join(cols) + " |")
    print("|" + " --- |" * (len(cols) + 1))
    for name in configs.split(","):
        rs = [r for r in rows if r["config"] == name]
        med = lambda k: statistics.median(r[k] for r in rs)
        cells = [f"{med(k):.0f}" for k in ["mean_us", "max_us", "late", "rejects"] + ([extra] if extra else [])]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    {"row": lambda a: row(a[0], a[1], a[2], a[3:]), "table": lambda a: table(*a)}[sys.argv[1]](sys.argv[2:])
