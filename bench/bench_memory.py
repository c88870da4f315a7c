"""Benchmark 4: memory. Peak memory of benchmark 1's (2048,2048) cases against the same computation
by hand in NumPy, and a long training loop that must not grow.

tracemalloc sees NumPy's array buffers as well as Python objects, so one measure serves both
sides: the peak during one forward + backward, above what was allocated before it (the inputs).
PyTorch's allocations are invisible to it, so PyTorch is not measured here.

    python3 bench/bench_memory.py                  # peaks, then 10,000 MLP steps
    python3 bench/bench_memory.py --steps 0        # peaks only
"""
from __future__ import annotations

import argparse
import gc
import resource
import tracemalloc

import timing  # noqa: F401  (first: it sets the thread count before NumPy loads)
from timing import np, setting, table

import bench_mlp
import bench_ops


def peak(step) -> int:
    """Peak bytes allocated during one call of `step`, above what was allocated when it started."""
    step()  # first-call allocations (caches) are not the step's
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step()
    result = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return result


def peaks(n: int) -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    header = ["op", "shape", "Lucid peak", "NumPy peak", "Lucid/NumPy"]
    rows = []
    for name, case in bench_ops.CASES.items():
        lucid_step, numpy_step, _ = case(a, b)
        lucid_bytes, numpy_bytes = peak(lucid_step), peak(numpy_step)
        rows.append([name, f"({n},{n})", f"{lucid_bytes / 2**20:.1f} MiB", f"{numpy_bytes / 2**20:.1f} MiB",
                     f"{lucid_bytes / numpy_bytes:.2f}x"])
        print(table(header, rows[-1:]).splitlines()[-1], flush=True)
    print("\n" + table(header, rows) + "\n")


def training_loop(steps: int) -> None:
    """Memory after each tenth of `steps` MLP training steps (float32): flat if nothing leaks.
    Each mark is taken after a full collection, which also empties CPython's free lists (their
    blocks count as traced memory until then, and would look like a slow leak)."""
    rng = np.random.default_rng(0)
    layers = bench_mlp.weights(np.float32, rng)
    x = rng.standard_normal((bench_mlp.BATCH, bench_mlp.SIZES[0])).astype(np.float32)
    target = rng.integers(0, bench_mlp.SIZES[-1], bench_mlp.BATCH)
    step = bench_mlp.lucid_step(layers, x, target)
    step()
    tracemalloc.start()
    marks = []
    for i in range(1, steps + 1):
        step()
        if i % max(steps // 10, 1) == 0:
            gc.collect()
            marks.append((i, tracemalloc.get_traced_memory()[0],
                          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
    tracemalloc.stop()
    print(table(["steps", "traced memory", "max RSS"],
                [[f"{i:,}", f"{traced / 2**20:.2f} MiB", f"{rss / 2**20:.1f} MiB"] for i, traced, rss in marks]))
    growth = marks[-1][1] - marks[0][1]
    print(f"\ntraced memory from step {marks[0][0]:,} to step {marks[-1][0]:,}: {growth / 2**10:+.1f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="n of the (n, n) inputs")
    parser.add_argument("--steps", type=int, default=10_000, help="training steps of the leak check (0: skip)")
    args = parser.parse_args()
    print(f"peak memory of one forward + backward, float32, tracemalloc; {setting()}\n")
    peaks(args.size)
    if args.steps:
        training_loop(args.steps)


if __name__ == "__main__":
    main()
