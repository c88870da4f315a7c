"""Benchmark 1: one op's forward and backward, `y = op(x); y.sum().backward()`, in float32.

Three sides compute the same values and the same gradients, and keep `y` until the gradients
are done, as that line does:
- Lucid;
- NumPy by hand: the forward, then the chain rule written out from the gradient of the final sum
  (ones: a multiplication by them is left out, as a person would write it). Each gradient is an
  array of its own, as Lucid and PyTorch guarantee: where the rule's result is an existing array
  (exp's gradient is its output) it is copied;
- PyTorch, if installed.

    python3 bench/bench_ops.py                     # every op at (4,4), (256,256), (2048,2048)
    python3 bench/bench_ops.py --shapes 4 --ops add mul
"""
from __future__ import annotations

import argparse

import timing  # noqa: F401  (first: it sets the thread count before NumPy loads)
from timing import compare, duration, np, setting, table, torch

import lucid
import lucid.nn.functional as LF


# --- each case: (lucid step, numpy step, torch step) for arrays of one shape -------------------

def torch_side(op):
    """PyTorch's step: y = op(x), kept until backward is done."""

    def step(tx, ty):
        out = op(tx, ty)
        out.sum().backward()
        return out

    return step


def _grads_reset(*tensors):
    for t in tensors:
        t.grad = None


def add(a, b):
    x, y = lucid.tensor(a, requires_grad=True), lucid.tensor(b, requires_grad=True)

    def lucid_step():
        _grads_reset(x, y)
        out = x + y
        out.sum().backward()
        return out

    def numpy_step():
        out = a + b
        out.sum()
        return out, np.ones_like(a), np.ones_like(b)

    return lucid_step, numpy_step, torch_side(lambda tx, ty: (tx + ty))


def mul(a, b):
    x, y = lucid.tensor(a, requires_grad=True), lucid.tensor(b, requires_grad=True)

    def lucid_step():
        _grads_reset(x, y)
        out = x * y
        out.sum().backward()
        return out

    def numpy_step():
        out = a * b
        out.sum()
        return out, b.copy(), a.copy()  # d/da = ones * b

    return lucid_step, numpy_step, torch_side(lambda tx, ty: (tx * ty))


def matmul(a, b):
    x, y = lucid.tensor(a, requires_grad=True), lucid.tensor(b, requires_grad=True)

    def lucid_step():
        _grads_reset(x, y)
        out = x @ y
        out.sum().backward()
        return out

    def numpy_step():
        out = a @ b
        out.sum()
        g = np.ones_like(out)
        return out, g @ b.T, a.T @ g

    return lucid_step, numpy_step, torch_side(lambda tx, ty: (tx @ ty))


def exp(a, b):
    x = lucid.tensor(a, requires_grad=True)

    def lucid_step():
        _grads_reset(x)
        out = lucid.exp(x)
        out.sum().backward()
        return out

    def numpy_step():
        out = np.exp(a)
        out.sum()
        return out, out.copy()  # ones * exp(a): the output, in an array of its own

    return lucid_step, numpy_step, torch_side(lambda tx, ty: torch.exp(tx))


def sum_(a, b):
    x = lucid.tensor(a, requires_grad=True)

    def lucid_step():
        _grads_reset(x)
        out = x.sum()
        out.sum().backward()
        return out

    def numpy_step():
        out = a.sum()
        out.sum()
        return out, np.ones_like(a)

    return lucid_step, numpy_step, torch_side(lambda tx, ty: tx.sum())


def relu(a, b):
    x = lucid.tensor(a, requires_grad=True)

    def lucid_step():
        _grads_reset(x)
        out = LF.relu(x)
        out.sum().backward()
        return out

    def numpy_step():
        out = np.maximum(a, 0)
        out.sum()
        return out, (out > 0).astype(a.dtype)

    return lucid_step, numpy_step, torch_side(lambda tx, ty: torch.relu(tx))


def tanh(a, b):
    x = lucid.tensor(a, requires_grad=True)

    def lucid_step():
        _grads_reset(x)
        out = lucid.tanh(x)
        out.sum().backward()
        return out

    def numpy_step():
        out = np.tanh(a)
        out.sum()
        return out, 1 - out * out

    return lucid_step, numpy_step, torch_side(lambda tx, ty: torch.tanh(tx))


def class_targets(a):
    """The class index of each row of a, the same on every side and in every benchmark."""
    return np.random.default_rng(1).integers(0, a.shape[1], a.shape[0])


def cross_entropy(a, b):
    """Softmax and cross-entropy over the rows of a, mean over the batch (integer class targets)."""
    target = class_targets(a)
    x, t = lucid.tensor(a, requires_grad=True), lucid.tensor(target)
    rows = np.arange(a.shape[0])

    def lucid_step():
        _grads_reset(x)
        out = LF.cross_entropy(x, t)
        out.sum().backward()
        return out

    def numpy_step():
        shifted = a - a.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        logp = shifted - np.log(total)
        loss = -logp[rows, target].mean()
        loss.sum()
        g = e / total  # softmax minus the one-hot of the targets, over the batch size
        g[rows, target] -= 1
        g /= a.shape[0]
        return loss, g

    tt = torch.from_numpy(target) if torch else None
    return lucid_step, numpy_step, torch_side(lambda tx, ty: torch.nn.functional.cross_entropy(tx, tt))


CASES = {"add": add, "mul": mul, "matmul": matmul, "exp": exp, "sum": sum_, "relu": relu, "tanh": tanh,
         "softmax+cross_entropy": cross_entropy}


def torch_step(step, a, b):
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)

    def run():
        tx.grad = ty.grad = None
        return step(tx, ty)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, nargs="+", default=[4, 256, 2048], help="n for square (n, n) inputs")
    parser.add_argument("--ops", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    print(f"forward + backward, float32, median of up to {args.repeats} repeats; {setting()}\n")
    header = ["op", "shape", "Lucid", "NumPy", "Lucid/NumPy"] + (["PyTorch", "Lucid/PyTorch"] if torch else [])
    rows = []
    rng = np.random.default_rng(0)
    for n in args.shapes:
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        for name in args.ops:
            lucid_step, numpy_step, torch_fn = CASES[name](a, b)
            sides = {"lucid": lucid_step, "numpy": numpy_step}
            if torch:
                sides["torch"] = torch_step(torch_fn, a, b)
            t = compare(sides, repeats=args.repeats)
            row = [name, f"({n},{n})", duration(t["lucid"]), duration(t["numpy"]), f"{t['lucid'] / t['numpy']:.2f}x"]
            if torch:
                row += [duration(t["torch"]), f"{t['lucid'] / t['torch']:.2f}x"]
            rows.append(row)
            print(table(header, rows[-1:]).splitlines()[-1], flush=True)
    print("\n" + table(header, rows))


if __name__ == "__main__":
    main()
