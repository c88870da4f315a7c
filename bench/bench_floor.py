"""Benchmark 7: how much of a small step is Lucid's own, against a bare Python tape.

Benchmark 1's `y = op(x); y.sum().backward()` at (4,4) (`--shapes 4 256` for more), float32,
on four sides:
- Lucid, benchmark 1's own step (`bench_ops.CASES`);
- a bare tape, written below: each op records its inputs and a closure of NumPy calls for its
  backward, and backward walks the nodes in reverse topological order. No argument or dtype
  checks, no op registry, rules that cannot be differentiated again, no guarantee that gradients
  do not alias (except a copy at a leaf whose gradient is a view, as Lucid makes): about the least
  an engine in Python and NumPy can do per step;
- NumPy by hand and PyTorch, if installed: benchmark 1's own steps too.

Lucid / bare tape is what Lucid's guarantees cost per step; bare tape / PyTorch says how far
below PyTorch a Python engine can go at all, and bare tape / NumPy how close to NumPy by hand.

    python3 bench/bench_floor.py
    python3 bench/bench_floor.py --shapes 4 256
"""
from __future__ import annotations

import argparse

import timing  # noqa: F401  (first: it sets the thread count before NumPy loads)
from timing import compare, duration, np, setting, table, torch

from bench_ops import CASES, class_targets, torch_step


class Bare:
    """A tape node: its value, its grad, its parents and the function from g to their gradients."""

    __slots__ = ("data", "grad", "parents", "back")

    def __init__(self, data, parents=(), back=None):
        self.data, self.grad, self.parents, self.back = data, None, parents, back


def backward(root: Bare) -> None:
    order, seen, stack = [], set(), [(root, False)]
    while stack:  # depth-first, without recursion: a node after everything it depends on
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents)
    grads = {id(root): np.ones((), root.data.dtype)}
    for node in reversed(order):
        g = grads.pop(id(node))
        if node.back is None:  # a leaf
            own = g if g.base is None and g.flags.writeable else np.array(g)  # a view (of a broadcast, say): copied
            node.grad = own if node.grad is None else node.grad + g
            continue
        for parent, gp in zip(node.parents, node.back(g)):
            grads[id(parent)] = gp if id(parent) not in grads else grads[id(parent)] + gp


def bare_sum(a):
    return Bare(a.data.sum(), (a,), lambda g: (np.broadcast_to(g, a.data.shape),))


def bare_unary(forward, derivative):
    def op(a, b):
        out = forward(a.data)
        return Bare(out, (a,), lambda g: (g * derivative(a.data, out),))
    return op


def bare_cross_entropy(target):
    rows = np.arange(len(target))

    def op(a, b):
        shifted = a.data - a.data.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        loss = (np.log(total[:, 0]) - shifted[rows, target]).mean()

        def back(g):
            grad = e / total
            grad[rows, target] -= 1
            return (grad * (g / len(target)),)
        return Bare(loss, (a,), back)
    return op


def bare_ops(a):
    """Benchmark 1's ops on the bare tape, for inputs shaped like a: each a function of two inputs."""
    return {
        "add": lambda a, b: Bare(a.data + b.data, (a, b), lambda g: (g, g)),
        "mul": lambda a, b: Bare(a.data * b.data, (a, b), lambda g: (g * b.data, g * a.data)),
        "matmul": lambda a, b: Bare(a.data @ b.data, (a, b), lambda g: (g @ b.data.T, a.data.T @ g)),
        "exp": bare_unary(np.exp, lambda x, out: out),
        "sum": lambda a, b: bare_sum(a),
        "relu": bare_unary(lambda x: np.maximum(x, 0), lambda x, out: out > 0),
        "tanh": bare_unary(np.tanh, lambda x, out: 1 - out * out),
        "softmax+cross_entropy": bare_cross_entropy(class_targets(a)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, nargs="+", default=[4], help="n for square (n, n) inputs")
    shapes = parser.parse_args().shapes
    print(f"forward + backward, float32, medians; {setting()}\n")
    header = ["op", "shape", "Lucid", "bare tape", "NumPy", "Lucid/bare", "bare/NumPy"]
    header += ["PyTorch", "Lucid/PyTorch", "bare/PyTorch"] if torch else []
    rows = []
    for n in shapes:
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        for name, bare_op in bare_ops(a).items():
            lucid_step, numpy_step, torch_fn = CASES[name](a, b)  # benchmark 1's own steps
            bx, by = Bare(a), Bare(b)

            def bare_step():
                bx.grad = by.grad = None
                out = bare_op(bx, by)
                backward(bare_sum(out))
                return out

            bare_step()  # the gradients NumPy by hand gives, or the comparison means nothing
            _, *expected = numpy_step()
            if not all(np.allclose(tape.grad, e, atol=1e-6) for tape, e in zip((bx, by), expected)):
                raise SystemExit(f"{name}: the bare tape's gradients differ from NumPy's by hand")
            sides = {"lucid": lucid_step, "bare": bare_step, "numpy": numpy_step}
            if torch:
                sides["torch"] = torch_step(torch_fn, a, b)
            t = compare(sides)
            row = [name, f"({n},{n})", duration(t["lucid"]), duration(t["bare"]), duration(t["numpy"]),
                   f"{t['lucid'] / t['bare']:.2f}x", f"{t['bare'] / t['numpy']:.2f}x"]
            if torch:
                row += [duration(t["torch"]), f"{t['lucid'] / t['torch']:.2f}x", f"{t['bare'] / t['torch']:.2f}x"]
            rows.append(row)
            print(table(header, rows[-1:]).splitlines()[-1], flush=True)
    print("\n" + table(header, rows))


if __name__ == "__main__":
    main()
