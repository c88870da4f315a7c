"""How long `lucid-gradcheck` takes over every built-in op, in one process and in two.

    python3 bench/bench_cli.py [--runs 3] [--jobs 1 2] [extra lucid-gradcheck arguments...]

Each run is a fresh `python -m gradcheck.cli` process with the default (dev) profile, a fixed
seed so that every run checks the same examples, and entry-point plugins turned off so that
only the built-ins count. Prints the median wall time per job count and the ratio to -j 1.
Issue 5's target: under 2 minutes on a 2-core machine, and -j 2 measurably faster than -j 1.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_run(jobs: int, extra: list[str]) -> tuple[float, float, int, str]:
    """Wall time, CPU time (of the run and its workers), exit code and summary line of one run.
    On a busy machine the CPU time says what the run itself costs."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), LUCID_DISABLE_PLUGIN_AUTOLOAD="1")
    env.pop("CI", None)
    command = [sys.executable, "-m", "gradcheck.cli", "-q", "--profile", "dev", "--seed", "0", "-j", str(jobs), *extra]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    lines = done.stdout.strip().splitlines()
    return seconds, cpu, done.returncode, lines[-1] if lines else done.stderr.strip()[-200:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per job count (the median is reported)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args, extra = parser.parse_known_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"lucid-gradcheck over the built-in ops, {os.cpu_count()} cores (load average {load}), "
          f"median of {args.runs} runs")
    medians = {}
    for jobs in args.jobs:
        times = []
        for _ in range(args.runs):
            seconds, cpu, code, line = timed_run(jobs, extra)
            times.append(seconds)
            print(f"  -j {jobs}: {seconds:6.1f}s wall, {cpu:6.1f}s CPU, exit {code} ({line})", flush=True)
        medians[jobs] = statistics.median(times)
    base = medians[args.jobs[0]]
    for jobs, median in medians.items():
        print(f"-j {jobs}: median {median:6.1f}s  ratio {median / base:.2f}x of -j {args.jobs[0]}")


if __name__ == "__main__":
    main()
