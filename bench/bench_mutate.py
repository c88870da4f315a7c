"""Benchmark 8: mutation analysis (`gradcheck.mutate`), per op and per mutant.

For each op: how many mutants its rule gives, how many the check killed and how many survivors are
reviewed equivalent programs (`gradcheck/equivalent_mutants.json`), the score over the others, the
time of the whole analysis, and the time per mutant, beside what one mutant would cost if it were
checked in an interpreter of its own (the way a generic mutation tool runs a test suite per mutant):
the start-up of `python -c "import gradcheck.runner, lucid"`, which such a run pays before checking anything.
Checks of mutants stop at the first failing example, without shrinking; survivors are also replayed
against the rule.

    python3 bench/bench_mutate.py
    python3 bench/bench_mutate.py --ops exp matmul --max-examples 100
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import timing  # noqa: F401  (first: it sets the thread count before NumPy loads)
from timing import setting, table

from gradcheck.mutate import mutate

OPS = ["exp", "tanh", "mul", "sum", "matmul", "nn.functional.softmax", "nn.functional.hardswish",
       "nn.functional.cross_entropy", "nn.functional.conv2d"]


def interpreter_start(repeats: int = 5) -> float:
    """Seconds to start Python and import the harness: the least a mutant run in its own process costs."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import gradcheck.runner, lucid"], env=env, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", nargs="*", default=OPS)
    parser.add_argument("--max-examples", type=int, default=100)
    args = parser.parse_args()
    print(setting())
    start_up = interpreter_start()
    rows = []
    for name in args.ops:
        report = mutate(name, max_examples=args.max_examples, seed=0)
        n = len(report.mutants)
        killed = sum(m.killed for m in report.mutants)
        equivalent = sum(bool(m.equivalent) for m in report.mutants)
        per = report.duration / max(n, 1)
        rows.append([name, str(n), str(killed), str(equivalent), f"{killed / max(n - equivalent, 1):.1%}",
                     f"{report.duration:.2f}", f"{1000 * per:.0f}", f"{1000 * start_up:.0f}", f"{start_up / per:.1f}x"])
    print(table(["op", "mutants", "killed", "equivalent", "score", "seconds", "ms per mutant",
                 "interpreter start (ms)", "start / mutant"], rows))


if __name__ == "__main__":
    main()
