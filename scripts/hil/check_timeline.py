"""Reads the HIL console: the guest's verdict, and each station's own results log and GPIO timeline, to
check that every rejected part got exactly one pulse starting at trigger + delay, that no OK part got one,
and that the station left every output inactive. Exits non-zero, saying why, on any failure."""

import json
import sys

# (section prefix, reject delay, pulse length, parts the guest drove)
STATIONS = [("", 3000.0, 500.0, 10), ("eye-", 3000.0, 500.0, 2), ("electrode-", 30000.0, 500.0, 2)]
# Software emulation (no KVM) is slow and jittery: the tolerance is for the VM, not a station's figure.
TOLERANCE_MS = 50.0


def sections(text: str) -> dict:
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("HIL-FILES-BEGIN "):
            name = line.split(" ", 1)[1].strip()
            out[name] = []
        elif line.startswith("HIL-FILES-END"):
            name = None
        elif name:
            out[name].append(line)
    return out


def check_station(s: dict, prefix: str, delay_ms: float, pulse_ms: float, driven: int) -> list:
    label = prefix.rstrip("-") or "seal"
    problems = []
    parts = [json.loads(l) for l in s.get(prefix + "results", []) if l.startswith("{")]
    changes = [json.loads(l) for l in s.get(prefix + "timeline", []) if l.startswith("{")]
    rises = [c["t_ms"] for c in changes if c["line"] == "reject0" and c["value"] == 1]
    errors = []
    for p in parts:
        due = p["trigger_ms"] + delay_ms
        near = [r for r in rises if abs(r - due) <= TOLERANCE_MS]
        if p["rejected"] and not near:
            problems.append(f"{label}: part {p['part']} ({p['verdict']}) rejected but no pulse at {due:.0f} ms")
        if not p["rejected"] and any(abs(r - due) <= pulse_ms for r in rises):
            problems.append(f"{label}: part {p['part']} OK but a pulse came near its reject point")
        errors += [r - due for r in near]
    verdicts = {}
    for p in parts:
        verdicts[p["verdict"]] = verdicts.get(p["verdict"], 0) + 1
    print(f"hil {label}: {len(parts)} parts logged {verdicts}, {len(rises)} reject pulses")
    if errors:
        print(f"hil {label}: pulse start - (trigger + delay): min {min(errors):.2f} ms, max {max(errors):.2f} ms")
    # gpio-sim puts a released line back to its pull, so the sysfs reads after exit cannot tell whether
    # the station set its outputs safe itself; its timeline (written after each kernel call) can.
    last = {}
    for c in changes:
        last[c["line"]] = c["value"]
    if any(v != 0 for v in last.values()):
        problems.append(f"{label}: outputs not left inactive by the station at exit: {last}")
    else:
        print(f"hil {label}: every output's last state in the timeline is inactive: {sorted(last)}")
    if len(parts) != driven:
        problems.append(f"{label}: {len(parts)} parts in the results log, {driven} were driven")
    if problems:
        for l in s.get(prefix + "log", [])[-30:]:
            print(f"  {label} station: {l}")
    return problems


def main(path: str) -> int:
    text = open(path, errors="replace").read()
    problems = []
    if "HIL RESULT: PASS" not in text:
        problems.append("the guest did not report PASS" if "HIL RESULT" in text else "the guest never finished")
    s = sections(text)
    for station in STATIONS:
        problems += check_station(s, *station)
    for p in problems:
        print(f"HIL FAIL: {p}")
    if problems:
        return 1
    print("hil: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
