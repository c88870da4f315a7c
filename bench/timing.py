"""What every benchmark shares: one thread count for every side, and fair, interleaved timing.

Import this module before NumPy: the BLAS thread count is read from the environment when NumPy
loads. `BENCH_THREADS=N` (default 1) sets OMP, OpenBLAS and MKL threads and PyTorch's threads.

With one thread the clock is the process's CPU time, not the wall clock: on a shared machine
other processes then cost the benchmark (almost) nothing. `BENCH_CLOCK=wall` uses the wall clock,
as it must when several threads work at once (CPU time would add theirs up).
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

THREADS = int(os.environ.get("BENCH_THREADS", "1"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)
CLOCK = os.environ.get("BENCH_CLOCK", "cpu" if THREADS == 1 else "wall")
now = time.process_time if CLOCK == "cpu" else time.perf_counter  # the clock every benchmark reads
os.environ.setdefault("LUCID_DISABLE_PLUGIN_AUTOLOAD", "1")  # the built-in ops only

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's lucid, not an installed one

import numpy as np  # noqa: E402

try:
    import torch  # noqa: E402

    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(THREADS)
except ImportError:
    torch = None


def setting() -> str:
    """One line saying where and how the numbers were taken."""
    sides = f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else ", torch not installed")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}, "
            f"{sides}; threads: OMP/OPENBLAS/MKL={THREADS}" + (f", torch={torch.get_num_threads()}" if torch else "")
            + f"; clock: {'process CPU time' if CLOCK == 'cpu' else 'wall'}")


def _batch(fn: Callable[[], object], number: int) -> float:
    start = now()
    for _ in range(number):
        fn()
    return now() - start


def compare(sides: dict[str, Callable[[], object]], repeats: int = 25, batch_seconds: float = 0.004,
            budget_seconds: float = 4.0) -> dict[str, float]:
    """The median time of one call of each side, in seconds.

    Each side runs in batches of calls long enough to time (`batch_seconds`); the sides take turns
    batch by batch, so a slow spell of a noisy machine hits every side alike. Fewer repeats are
    taken when one call is so slow that `budget_seconds` would be exceeded (at least 5)."""
    numbers = {}
    for name, fn in sides.items():
        fn()  # warm up: caches, lazy imports, first allocations
        once = _batch(fn, 1)
        numbers[name] = max(1, int(batch_seconds / max(once, 1e-9)))
    per_repeat = sum(_batch(fn, 1) * numbers[name] for name, fn in sides.items())
    repeats = max(5, min(repeats, int(budget_seconds / max(per_repeat, 1e-9))))
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            times[name].append(_batch(fn, numbers[name]) / numbers[name])
    return {name: statistics.median(t) for name, t in times.items()}


def duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, so that the output can be pasted into the README as it is."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])
