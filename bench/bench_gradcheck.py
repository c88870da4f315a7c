"""Benchmark 5: one gradient check, `gradcheck.gradcheck` against `torch.autograd.gradcheck`.

Both sides check the same function at the same float64 point with the same step and tolerances
(eps=1e-6, atol=1e-5, rtol=1e-3), through each library's public call:
- full mode: the whole Jacobian of a (50,50) @ (50,50) matmul, both inputs (5,000 x 2,500 entries);
- fast mode: random projections of the Jacobian of small elementwise (exp, tanh), reduction
  (sum, mean) and softmax ops on a (16,16) input (PyTorch: `fast_mode=True`); softmax both as a
  function of x and as `functools.partial(softmax, dim=-1)`, which gradcheck calls as the op itself.
Each case first checks that both sides pass, then times them turn by turn. The targets are
Lucid at most 0.25x PyTorch's time in full mode and 0.5x in fast mode.

    python3 bench/bench_gradcheck.py
    python3 bench/bench_gradcheck.py --cases exp softmax
"""
from __future__ import annotations

import argparse
import functools

import timing  # noqa: F401  (first: it sets the thread count before NumPy loads)
from timing import compare, duration, np, setting, table, torch

import gradcheck
import lucid
import lucid.nn.functional as LF

TOLERANCES = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}
TARGET = {"full": 0.25, "fast": 0.5}


def lucid_softmax(x):
    return LF.softmax(x, dim=-1)


def torch_softmax(x):
    return torch.softmax(x, dim=-1)


#: name: (mode, input shapes, Lucid function, PyTorch function (by name: looked up only if installed))
CASES = {
    "matmul": ("full", [(50, 50), (50, 50)], lucid.matmul, lambda: torch.matmul),
    "exp": ("fast", [(16, 16)], lucid.exp, lambda: torch.exp),
    "tanh": ("fast", [(16, 16)], lucid.tanh, lambda: torch.tanh),
    "sum": ("fast", [(16, 16)], lucid.sum, lambda: torch.sum),
    "mean": ("fast", [(16, 16)], lucid.mean, lambda: torch.mean),
    "softmax": ("fast", [(16, 16)], lucid_softmax, lambda: torch_softmax),
    # the same check, the op handed over with its param (gradcheck then calls it directly)
    "softmax-partial": ("fast", [(16, 16)], functools.partial(LF.softmax, dim=-1), lambda: torch_softmax),
}


def sides(name: str) -> dict:
    mode, shapes, fn, torch_fn = CASES[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    xs = [lucid.tensor(a, requires_grad=True) for a in arrays]
    result = {"lucid": lambda: gradcheck.gradcheck(fn, xs, mode=mode, **TOLERANCES)}
    if torch:
        txs = tuple(torch.tensor(a, requires_grad=True) for a in arrays)
        tfn = torch_fn()
        result["torch"] = lambda: torch.autograd.gradcheck(tfn, txs, fast_mode=mode == "fast", **TOLERANCES)
    for side, check in result.items():
        if check() is not True:
            raise SystemExit(f"{name}: the {side} check does not pass")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    print(f"gradcheck of one function at one float64 point, median of up to {args.repeats} repeats; "
          f"{setting()}\n")
    header = ["case", "mode", "Lucid"] + (["PyTorch", "Lucid/PyTorch", "target"] if torch else [])
    rows = []
    for name in args.cases:
        mode, shapes = CASES[name][:2]
        t = compare(sides(name), repeats=args.repeats, budget_seconds=8.0 if mode == "full" else 4.0)
        what = f"{name} {' @ '.join(str(s) for s in shapes)}"
        row = [what, mode, duration(t["lucid"])]
        if torch:
            ratio = t["lucid"] / t["torch"]
            row += [duration(t["torch"]), f"{ratio:.2f}x",
                    f"<= {TARGET[mode]}x " + ("met" if ratio <= TARGET[mode] else "missed")]
        rows.append(row)
        print(table(header, rows[-1:]).splitlines()[-1], flush=True)
    print("\n" + table(header, rows))


if __name__ == "__main__":
    main()
