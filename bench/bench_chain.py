"""Benchmark 3: backward through chains of 10^4, 10^5 and 10^6 ops: time and memory must grow linearly.

The chain is `t = t + c`, n times, from one leaf of shape (1,): the smallest op, so the numbers are
the engine's own cost per op. Time is taken without tracemalloc; memory in a second run with it
(tracemalloc sees Python objects and NumPy arrays alike): what the graph holds once built, and
the peak while backward walks it.

    python3 bench/bench_chain.py
    python3 bench/bench_chain.py --lengths 10000 100000
"""
from __future__ import annotations

import argparse
import gc
import tracemalloc

import timing  # noqa: F401  (first: it sets the thread count before NumPy loads)
from timing import duration, now, np, setting, table

import lucid


def chain(n: int):
    """A leaf and the end of a chain of n additions."""
    x = lucid.tensor(np.zeros(1, np.float32), requires_grad=True)
    c = lucid.tensor(np.ones(1, np.float32))
    t = x
    for _ in range(n):
        t = t + c
    return x, t.sum()


def timed(n: int) -> tuple[float, float]:
    """(seconds to build the chain, seconds for backward)."""
    gc.collect()
    start = now()
    x, y = chain(n)
    built = now()
    y.backward()
    done = now()
    assert x.grad.item() == 1.0
    return built - start, done - built


def measured(n: int) -> tuple[int, int, int]:
    """(bytes the built graph holds, peak bytes during backward, bytes left after it), by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    x, y = chain(n)
    graph = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.reset_peak()
    y.backward()
    peak = tracemalloc.get_traced_memory()[1] - base
    del y
    left = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return graph, peak, left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="time: the median of this many runs")
    args = parser.parse_args()
    print(f"chains of t = t + c, shape (1,), float32; median of {args.repeats} runs; {setting()}\n")
    header = ["ops", "build", "backward", "backward/op", "graph memory", "peak in backward", "bytes/op", "left after"]
    rows, backward_times = [], {}
    for n in args.lengths:
        runs = sorted(timed(n) for _ in range(args.repeats))
        build, back = runs[len(runs) // 2]
        backward_times[n] = back
        graph, peak, left = measured(n)
        rows.append([f"{n:,}", duration(build), duration(back), duration(back / n), f"{graph / 2**20:.1f} MiB",
                     f"{peak / 2**20:.1f} MiB", f"{graph / n:.0f}", f"{left / 2**10:.1f} KiB"])
        print(table(header, rows[-1:]).splitlines()[-1], flush=True)
    print("\n" + table(header, rows))
    lengths = sorted(backward_times)
    for a, b in zip(lengths, lengths[1:]):
        print(f"backward of {b:,} ops / backward of {a:,} ops: {backward_times[b] / backward_times[a]:.1f}x "
              f"(linear: {b / a:.0f}x)")


if __name__ == "__main__":
    main()
