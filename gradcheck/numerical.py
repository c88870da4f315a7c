"""Finite differences in float64, with an error estimate, and the analytic Jacobian to compare.

Every numerical derivative here is a central difference taken with two steps, h and 2h:

    D(h) = (f(x + h v) - f(x - h v)) / 2h        D(2h) = (f(x + 2h v) - f(x - 2h v)) / 4h

D(h) is the estimate. Their difference, about three times D(h)'s truncation error plus the
rounding noise of both, is its error estimate: the comparison tolerates it on top of the fixed
atol/rtol, so a steep or noisy function does not fail for the finite difference's sake. The
five values f(x + t h v), t in -2..2, also tell whether f is smooth there (`kinks`), which is
asked only where the derivatives disagree.

The step is relative, h = eps * max(1, |x|), and always taken on float64 copies of the
inputs, whatever dtype the function is checked in.

Cost: a full Jacobian needs 4 evaluations per input element. For a target that broadcasts
over a leading axis they are stacked and evaluated in a few calls (`Target.forward_batch`);
the analytic Jacobian likewise takes one VJP call per chunk of output elements.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .kinks import nondifferentiable
from .target import NotBatchable, Target

OFFSETS = np.array([-2.0, -1.0, 1.0, 2.0])
#: Largest stack (elements of inputs plus outputs) evaluated in one batched call.
BATCH_ELEMENTS = 1 << 21
EPS64 = np.finfo(np.float64).eps


@dataclass
class Derivatives:
    """Numerical derivatives along K directions: `value` and `error`, shape (K, M) for M outputs.
    `kinked(directions)` tells whether the function is not differentiable (or not finite) inside
    the stencil of those directions; it is asked only where analytic and numerical disagree,
    because elsewhere the answer would change nothing (and on a full Jacobian it is costly)."""

    value: np.ndarray
    error: np.ndarray
    samples: tuple  # the five values along each direction, and the step and precision
    h: np.ndarray
    eps: float

    def kinked(self, directions: np.ndarray | slice = slice(None)) -> np.ndarray:
        ym2, ym1, y0, y1, y2 = self.samples  # y0, the center, is the same for every direction
        return nondifferentiable((ym2[directions], ym1[directions], y0, y1[directions], y2[directions]),
                                 self.h[directions], self.eps)

    @property
    def smooth(self) -> np.ndarray:
        return ~self.kinked()


class Evaluator:
    """Evaluates a target on stacks of perturbed inputs: batched where the target allows it
    (checked once per input against one-at-a-time calls), one call per row otherwise."""

    def __init__(self, target: Target):
        self.target = target
        self.base = target.points64()
        self.batched: dict[int, bool] = {}
        self.calls = 0
        self._center: np.ndarray | None = None

    @property
    def center(self) -> np.ndarray:
        """The flat outputs at the unperturbed point."""
        if self._center is None:
            self._center = self.target.center
        if self._center is None:
            self._center = self.target.forward(self.base)
            self.calls += 1
        return self._center

    def __call__(self, i: int, rows: int, make: Callable[[int, int], np.ndarray]) -> np.ndarray:
        """The flat outputs, shape (rows, M), for input i set to each of make(lo, hi)'s rows."""
        n_in = self.base[i].size
        chunk = max(1, BATCH_ELEMENTS // max(1, n_in + self.target.out_size))
        if self.batched.get(i, True):
            try:
                out = np.empty((rows, self.target.out_size))
                for lo in range(0, rows, chunk):
                    out[lo:lo + chunk] = self._batch(i, make(lo, min(lo + chunk, rows)))
                return out
            except NotBatchable:
                self.batched[i] = False
        out = np.empty((rows, self.target.out_size))
        arrays = list(self.base)
        for lo in range(0, rows, chunk):
            stack = make(lo, min(lo + chunk, rows))
            for r, x in enumerate(stack):
                if lo + r == 0 and self.target.center is not None and np.array_equal(x, self.base[i]):
                    out[0] = self.target.center  # the unperturbed point, whose outputs are known
                    continue
                arrays[i] = x
                out[lo + r] = self.target.forward(arrays)
                self.calls += 1
        return out

    def _batch(self, i: int, stack: np.ndarray) -> np.ndarray:
        if i not in self.batched:
            # First use: the first two rows and the last must match one-at-a-time calls: a forward
            # that mixes the rows of a stack (a mean over all axes) fails there. Row 0 is the
            # unperturbed point where a stencil has one; its outputs are known or computed once.
            ys = self.target.forward_batch(i, stack)
            self.calls += 1
            arrays = list(self.base)
            for r in sorted({0, min(1, len(stack) - 1), len(stack) - 1}):
                if r == 0 and np.array_equal(stack[0], self.base[i]):
                    y = self.center
                else:
                    arrays[i] = stack[r]
                    y = self.target.forward(arrays)
                if not close(ys[r], y, 1e-12):
                    raise NotBatchable
            self.batched[i] = True
            return ys
        self.calls += 1
        return self.target.forward_batch(i, stack)


def close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    """a equals b up to rtol, relative to b's largest entry (NaNs equal); cheaper than np.allclose."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if np.array_equal(a, b):
        return True
    largest = float(np.abs(b).max(initial=0.0))
    if np.isfinite(largest) and float(np.abs(a - b).max(initial=0.0)) <= rtol * largest:
        return True  # b finite: within the slack every entry gets (NaN differences fail here)
    both_nan = np.isnan(a) & np.isnan(b)
    scale = rtol * float(np.abs(np.where(np.isfinite(b), b, 0.0)).max(initial=0.0))
    return bool(np.all(both_nan | (np.abs(a - b) <= scale + rtol * np.abs(b))))


def steps(x: np.ndarray, eps: float) -> np.ndarray:
    return eps * np.maximum(1.0, np.abs(x))


def along(evaluate: Evaluator, i: int, k: int, make: Callable[[int, int], np.ndarray], h: np.ndarray) -> Derivatives:
    """Derivatives along k directions of input i. make(lo, hi) gives rows lo..hi of the stack
    [center, then k rows for each offset in OFFSETS]; h, shape (k,), is each direction's step."""
    ys = evaluate(i, 1 + 4 * k, make)
    center, ys = ys[0], ys[1:].reshape(4, k, -1)
    ym2, ym1, y1, y2 = ys
    with np.errstate(invalid="ignore", over="ignore"):
        d1 = y1 - ym1
        d1 /= (2 * h)[:, None]
        error = y2 - ym2
        error /= (4 * h)[:, None]
        error -= d1
        np.abs(error, out=error)
        error += rounding_error(center, d1, h, evaluate.target.out_eps)
    return Derivatives(d1, error, (ym2, ym1, center, y1, y2), h, evaluate.target.out_eps)


def rounding_error(center: np.ndarray, d1: np.ndarray, h: np.ndarray, noise: float) -> np.ndarray:
    """The rounding part of D(h)'s error: ~10 ulps of the values (|f| at the stencil is
    |f(x)| + 2h |f'|), over h. Called under errstate(invalid, over): values may be inf or NaN."""
    error = np.abs(d1)
    error *= 20 * noise
    error += (10 * noise * np.abs(center))[None, :] / h[:, None]
    return error


def step(target: Target, eps: float) -> float:
    """The relative step: `eps`, or larger for outputs rounded to less than float64 (the optimal
    central-difference step grows as the cube root of the rounding)."""
    return max(eps, float(np.cbrt(target.out_eps))) if target.out_eps > EPS64 else eps


def jacobian(evaluate: Evaluator, i: int, eps: float, columns: np.ndarray | None = None) -> Derivatives:
    """d outputs / d input i, one direction per element (or per flat index in `columns`): value
    and error of shape (K, M)."""
    x = evaluate.base[i]
    flat = x.reshape(-1)
    columns = np.arange(flat.size) if columns is None else np.asarray(columns)
    k = columns.size
    if k == 0:
        empty = np.zeros((0, evaluate.target.out_size))
        return Derivatives(empty, empty, (empty,) * 5, np.zeros(0), 1.0)
    h = steps(flat[columns], step(evaluate.target, eps))

    def make(lo: int, hi: int) -> np.ndarray:
        r = np.arange(lo, hi)
        stack = np.repeat(flat[None], hi - lo, axis=0)
        perturbed = r > 0
        which = (r[perturbed] - 1) % k
        t = OFFSETS[(r[perturbed] - 1) // k]
        stack[np.nonzero(perturbed)[0], columns[which]] += t * h[which]
        return stack.reshape((hi - lo,) + x.shape)

    return along(evaluate, i, k, make, h)


def central(evaluate: Evaluator, i: int, eps: float, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """D(h) for the input elements lo..hi of input i (flat), shape (hi - lo, M), and the rounding
    part of its error only: half the evaluations of `jacobian`. Where D(h) agrees with the
    analytic derivative even so, the 2h step's truncation estimate could only add slack."""
    x = evaluate.base[i]
    flat = x.reshape(-1)
    k = hi - lo
    h = steps(flat[lo:hi], step(evaluate.target, eps))

    def make(a: int, b: int) -> np.ndarray:
        r = np.arange(a, b)
        stack = np.repeat(flat[None], b - a, axis=0)
        stack[r - a, lo + r % k] += np.where(r < k, -h[r % k], h[r % k])
        return stack.reshape((b - a,) + x.shape)

    ym1, y1 = evaluate(i, 2 * k, make).reshape(2, k, -1)
    center = evaluate.center
    with np.errstate(invalid="ignore", over="ignore"):
        d1 = y1 - ym1
        d1 /= (2 * h)[:, None]
        return d1, rounding_error(center, d1, h, evaluate.target.out_eps)


def directional(evaluate: Evaluator, i: int, directions: np.ndarray, eps: float) -> Derivatives:
    """d outputs / d input i along each row of `directions` (shape (K, N_i)): J v for each v."""
    x = evaluate.base[i]
    flat = x.reshape(-1)
    k = len(directions)
    h = np.full(k, step(evaluate.target, eps) * max(1.0, float(np.abs(flat).max(initial=0.0))))
    which = np.arange(k * len(OFFSETS)) % k  # 0..k-1, once per offset
    moves = (np.repeat(OFFSETS, k) * h[which])[:, None] * directions[which]  # row 1 + r moves by moves[r]

    def make(lo: int, hi: int) -> np.ndarray:
        stack = np.empty((hi - lo, flat.size))
        start = max(lo, 1)
        np.add(flat, moves[start - 1:hi - 1], out=stack[start - lo:])
        if lo == 0:
            stack[0] = flat
        return stack.reshape((hi - lo,) + x.shape)

    return along(evaluate, i, k, make, h)


def analytic_jacobian(target: Target, check_row: np.ndarray, check_grads: list[np.ndarray]) -> list[np.ndarray]:
    """d outputs / d each input in `target.wrt`, shape (M, N_i), one VJP per output element:
    all at once where the target allows it. The batched form must reproduce `check_grads`,
    the unbatched VJP of `check_row`, or it is not used."""
    m = target.out_size
    sizes = [target.arrays[i].size for i in target.wrt]
    chunk = max(1, BATCH_ELEMENTS // max(1, m + sum(sizes)))
    try:
        # Three different rows (the check row, the first basis row, another row last) must match
        # one-at-a-time VJPs: a rule that mixes the rows of a stack (a sum over all axes, a dim
        # that means the stack's axis) cannot match all three.
        other = 0.5 * np.roll(check_row, 1) + 0.25
        first = target.vjp_batch(np.concatenate([check_row[None], np.eye(min(chunk, m), m), other[None]]))
        expected = {0: check_grads, 1: target.vjp(np.eye(1, m)[0]), -1: target.vjp(other)}
        rtol = 1e4 * np.finfo(target.arrays[target.wrt[0]].dtype).eps
        if not all(close(f[r], g.reshape(-1), rtol) for r, grads in expected.items() for f, g in zip(first, grads)):
            raise NotBatchable
        parts = [[f[1:-1]] for f in first]
        for lo in range(chunk, m, chunk):
            eye = np.zeros((min(chunk, m - lo), m))
            eye[np.arange(len(eye)), lo + np.arange(len(eye))] = 1.0
            for part, f in zip(parts, target.vjp_batch(eye)):
                part.append(f)
        jac = [np.concatenate(p) if p else np.zeros((0, n)) for p, n in zip(parts, sizes)]
        # and all rows together: u^T J must be the VJP of u
        if not all(close(check_row @ j, g.reshape(-1), rtol * max(1, m)) for j, g in zip(jac, check_grads)):
            raise NotBatchable
        return jac
    except NotBatchable:
        pass
    except Exception:  # a rule that cannot take a stack of gradients: the loop below reports its errors
        pass
    rows = [np.empty((m, n)) for n in sizes]
    e = np.zeros(m)
    for k in range(m):
        e[k] = 1.0
        for r, g in zip(rows, target.vjp(e)):
            r[k] = g.reshape(-1)
        e[k] = 0.0
    return rows
