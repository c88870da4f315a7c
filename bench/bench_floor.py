"""Benchmark 7: how much of a small step is Lucid's own, against a bare Python tape.

Benchmark 1's `y = op(x); y.sum().backward()` at (4,4), float32, on three sides:
- Lucid;
- a bare tape, written below: each op records its inputs and a closure of NumPy calls for its
  backward, and backward walks the nodes in reverse topological order. No argument or dtype
  checks, no op registry, rules that cannot be differentiated again, no guarantee that gradients
  do not alias (except a copy at each leaf): about the least an engine in Python and NumPy
  can do per step;
- PyTorch, if installed.

Lucid / bare tape is what Lucid's guarantees cost per step; bare tape / PyTorch says how far
below PyTorch a Python engine can go at all.

    python3 bench/bench_floor.py
"""
from __future__ import annotations

import timing  # noqa: F401  (first: it sets the thread count before NumPy loads)
from timing import compare, duration, np, setting, table, torch

import lucid
import lucid.nn.functional as LF


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
            node.grad = np.array(g) if node.grad is None else node.grad + g
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


def cases(target):
    """name: (Lucid's op, the bare tape's op, PyTorch's op), each a function of two inputs."""
    tt = torch.from_numpy(target) if torch else None
    t = lucid.tensor(target)
    return {
        "add": (lambda x, y: x + y, lambda a, b: Bare(a.data + b.data, (a, b), lambda g: (g, g)),
                lambda x, y: x + y),
        "mul": (lambda x, y: x * y, lambda a, b: Bare(a.data * b.data, (a, b), lambda g: (g * b.data, g * a.data)),
                lambda x, y: x * y),
        "matmul": (lambda x, y: x @ y,
                   lambda a, b: Bare(a.data @ b.data, (a, b), lambda g: (g @ b.data.T, a.data.T @ g)),
                   lambda x, y: x @ y),
        "exp": (lambda x, y: lucid.exp(x), bare_unary(np.exp, lambda x, out: out), lambda x, y: torch.exp(x)),
        "sum": (lambda x, y: x.sum(), lambda a, b: bare_sum(a), lambda x, y: x.sum()),
        "relu": (lambda x, y: LF.relu(x), bare_unary(lambda x: np.maximum(x, 0), lambda x, out: out > 0),
                 lambda x, y: torch.relu(x)),
        "tanh": (lambda x, y: lucid.tanh(x), bare_unary(np.tanh, lambda x, out: 1 - out * out),
                 lambda x, y: torch.tanh(x)),
        "softmax+cross_entropy": (lambda x, y: LF.cross_entropy(x, t), bare_cross_entropy(target),
                                  lambda x, y: torch.nn.functional.cross_entropy(x, tt)),
    }


def main() -> None:
    print(f"forward + backward at (4,4), float32, medians; {setting()}\n")
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((4, 4)).astype(np.float32) for _ in range(2))
    header = ["op", "Lucid", "bare tape", "Lucid/bare"]
    header += ["PyTorch", "Lucid/PyTorch", "bare/PyTorch"] if torch else []
    rows = []
    for name, (lucid_op, bare_op, torch_op) in cases(rng.integers(0, 4, 4)).items():
        x, y = lucid.tensor(a, requires_grad=True), lucid.tensor(b, requires_grad=True)
        bx, by = Bare(a), Bare(b)

        def lucid_step():
            x.grad = y.grad = None
            out = lucid_op(x, y)
            out.sum().backward()
            return out

        def bare_step():
            bx.grad = by.grad = None
            out = bare_op(bx, by)
            backward(bare_sum(out))
            return out

        lucid_step(), bare_step()  # the same gradients, or the comparison means nothing
        pairs = [(t.grad.data, tape.grad) for t, tape in ((x, bx), (y, by)) if t.grad is not None]
        if not all(np.allclose(mine, theirs, atol=1e-6) for mine, theirs in pairs):
            raise SystemExit(f"{name}: the bare tape's gradients differ from Lucid's")
        sides = {"lucid": lucid_step, "bare": bare_step}
        if torch:
            tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)

            def torch_step():
                tx.grad = ty.grad = None
                out = torch_op(tx, ty)
                out.sum().backward()
                return out

            sides["torch"] = torch_step
        t = compare(sides)
        row = [name, duration(t["lucid"]), duration(t["bare"]), f"{t['lucid'] / t['bare']:.2f}x"]
        if torch:
            row += [duration(t["torch"]), f"{t['lucid'] / t['torch']:.2f}x", f"{t['bare'] / t['torch']:.2f}x"]
        rows.append(row)
        print(table(header, rows[-1:]).splitlines()[-1], flush=True)
    print("\n" + table(header, rows))


if __name__ == "__main__":
    main()
