"""Central differences against Lucid's first and second derivatives, at points a test chooses.

The gradcheck harness draws its own points; tests use this to check the points that matter most
to an op (zeros of prod, ties of amax) and to check second derivatives through create_graph.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import lucid


def _weighted_sum(out, weights) -> lucid.Tensor:
    """A scalar that depends on every float output: sum_k <w_k, out_k>."""
    outs = out if isinstance(out, tuple) else (out,)
    terms = [(o * lucid.tensor(w)).sum() for o, w in zip(outs, weights) if o.dtype.kind == "f"]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _numerical(f: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray], eps: float) -> list[np.ndarray]:
    grads = []
    for i, a in enumerate(arrays):
        grad = np.zeros_like(a)
        for j in np.ndindex(a.shape):
            up, down = [b.copy() for b in arrays], [b.copy() for b in arrays]
            up[i][j] += eps
            down[i][j] -= eps
            grad[j] = (f(up) - f(down)) / (2 * eps)
        grads.append(grad)
    return grads


def _grads(y: lucid.Tensor, xs: list[lucid.Tensor], create_graph: bool) -> list:
    if not y.requires_grad:
        return [lucid.zeros_like(x, dtype=np.float64) for x in xs]
    found = lucid.grad(y, xs, create_graph=create_graph, allow_unused=True)
    return [lucid.zeros_like(x, dtype=np.float64) if g is None else g for g, x in zip(found, xs)]


def check_derivatives(fn: Callable[..., object], arrays: Sequence[np.ndarray], *, order: int = 2, eps: float = 1e-6,
                      atol: float = 1e-6, rtol: float = 1e-4, seed: int = 0) -> None:
    """Assert that fn's gradient (and, with order=2, the gradient of a random projection of
    that gradient) matches central differences at `arrays` (float64)."""
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    out = fn(*[lucid.tensor(a) for a in arrays])
    weights = [rng.standard_normal(np.shape(o.data)) for o in (out if isinstance(out, tuple) else (out,))]

    def loss(xs):
        return _weighted_sum(fn(*xs), weights)

    def leaves(values):
        return [lucid.tensor(a, requires_grad=True) for a in values]

    xs = leaves(arrays)
    analytic = [g.data for g in _grads(loss(xs), xs, create_graph=False)]
    numerical = _numerical(lambda values: loss([lucid.tensor(a) for a in values]).item(), arrays, eps)
    for i, (a, n) in enumerate(zip(analytic, numerical)):
        np.testing.assert_allclose(a, n, atol=atol, rtol=rtol, err_msg=f"first derivative, input {i}")
    if order < 2:
        return
    directions = [rng.standard_normal(a.shape) for a in arrays]

    def projected_gradient(xs):
        total = None
        for g, v in zip(_grads(loss(xs), xs, create_graph=True), directions):
            term = (g * lucid.tensor(v)).sum()
            total = term if total is None else total + term
        return total

    xs = leaves(arrays)
    analytic = [g.data for g in _grads(projected_gradient(xs), xs, create_graph=False)]
    numerical = _numerical(lambda values: projected_gradient(leaves(values)).item(), arrays, eps)
    for i, (a, n) in enumerate(zip(analytic, numerical)):
        np.testing.assert_allclose(a, n, atol=10 * atol, rtol=10 * rtol, err_msg=f"second derivative, input {i}")
