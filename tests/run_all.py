#!/usr/bin/env python3
"""Runs every test of each given build directory with `meson test` and prints one summary.

Usage: run_all.py BUILD_DIR [BUILD_DIR...]
The release build runs every suite; a sanitizer build (its directory name contains "asan") skips
the suites that measure rather than check behaviour under instrumentation ("netem", "slow").
The last line is "N passed, N failed" (and ", N skipped").
"""
import json
import os
import subprocess
import sys


def run(build_dir: str) -> list[dict]:
    sanitizer = "asan" in os.path.basename(os.path.normpath(build_dir))
    cmd = ["meson", "test", "-C", build_dir, "--print-errorlogs", "--num-processes", "2"]
    if sanitizer:
        cmd += ["--no-suite", "netem", "--no-suite", "slow"]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    print(f"== {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, env=env, check=False)
    log = os.path.join(build_dir, "meson-logs", "testlog.json")
    results = []
    if os.path.exists(log):
        with open(log, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    r = json.loads(line)
                    r["build"] = build_dir
                    results.append(r)
    return results


def main() -> int:
    dirs = sys.argv[1:] or ["build"]
    results = []
    for d in dirs:
        results += run(d)
    passed = [r for r in results if r["result"] in ("OK", "EXPECTEDFAIL")]
    skipped = [r for r in results if r["result"] == "SKIP"]
    failed = [r for r in results if r not in passed and r not in skipped]
    print()
    for r in failed:
        print(f"FAILED: [{r['build']}] {r['name']} ({r['result']})")
    print(f"{len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped")
    if not results:
        print("no tests ran", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
