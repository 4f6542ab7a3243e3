#!/usr/bin/python3
"""CI smoke run of the netem harness (meson test 'netem/smoke-3g', suite 'netem').

20 users on the 3G profile, page starts for 20 s, through the userspace emulator and a warm
ghala edge. Passes only if the run is valid (no TUN overrun, emulator lag within bound), the
observed RTT and up/down rates are within 10 % of the profile, and every page loaded. Exits 77
(meson's SKIP) with the reason when the machine cannot run it (not root, no TUN, no netns).
"""
import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
import topology  # noqa: E402

TOLERANCE = 0.10


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", required=True)
    a = p.parse_args()
    why = topology.preflight()
    if why:
        print(f"SKIP: netem smoke test cannot run here: {why}")
        return 77
    out = tempfile.mkdtemp(prefix="netem-smoke-", dir=os.path.join(a.build_dir, "netem"))
    rc = run.main(["3g", "--users", "20", "--duration", "20", "--ramp", "5", "--think", "1",
                   "--scenario", "warm", "--page", "news", "--build-dir", a.build_dir, "--no-build",
                   "--out", out])
    if rc != 0:
        print(f"FAIL: netem/run exited {rc}")
        return 1
    with open(os.path.join(out, "result.json")) as f:
        doc = json.load(f)
    failures = []
    for s in doc["scenarios"]:
        name = s["scenario"]
        if not s["valid"]:
            failures.append(f"{name}: invalid run: {'; '.join(s['invalid_reasons'])}")
        for key in ("rtt_error", "rate_error_down", "rate_error_up"):
            err = s["checks"][key]
            if err is None or abs(err) > TOLERANCE:
                failures.append(f"{name}: {key} = {err} (tolerance {TOLERANCE})")
        if s["pages"] == 0 or s["pages_ok"] != s["pages"]:
            failures.append(f"{name}: {s['pages_ok']}/{s['pages']} pages loaded; errors "
                            f"{s['errors_by_cause']}")
        print(f"{name}: {s['pages_ok']}/{s['pages']} pages, RTT {s['rtt']['observed_ms']} ms "
              f"(configured {s['rtt']['configured_ms']}), checks {s['checks']}, "
              f"lag p99 {s['emulator']['lag_us']['p99']} us, write lag p99 "
              f"{s['emulator']['write_lag_us']['p99']} us")
    print(open(os.path.join(out, "report.md")).read())
    for f_ in failures:
        print("FAIL:", f_)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
