"""Non-differentiable points, detected on each sample as Chainer's `check_backward` does.

Finite differences assume the function is smooth across the stencil. Where it is not (relu at
0, max at a tie, a step), the numerical derivative is meaningless and a mismatch says nothing
about the analytic one. So each numerical derivative comes with a verdict from the five values
the stencil already computed, at offsets -2h, -h, 0, h, 2h along the perturbation:

- a smooth function's four one-sided slopes lie on a line, up to O(h^2); at a kink (a jump of
  the derivative) their second differences are of the order of the jump itself. This is the
  residual of a quadratic fit, in the units of a slope;
- a function that is finite at some of the five points and not at others has a jump or leaves
  its domain there.

A sample with such a point is rejected, not reported; the caller counts the rejections.
"""
from __future__ import annotations

import numpy as np

#: A slope may bend by this fraction of the largest slope across the stencil before it is a kink.
RELATIVE_BEND = 1e-4
#: Bends below this many units of rounding (of the values, divided by h) are noise.
NOISE = 1e3


def nondifferentiable(ys: np.ndarray, h: np.ndarray, eps: float = float(np.finfo(np.float64).eps)) -> np.ndarray:
    """ys: values at offsets (-2h, -h, 0, h, 2h) along each direction, shape (5, K, M) for K
    directions and M outputs; h: the step of each direction, shape (K,); eps: the values'
    precision. Returns, per direction,
    whether some output is not differentiable (or not finite) inside the stencil."""
    finite = np.isfinite(ys)
    broken = (~finite).any(axis=0) & finite.any(axis=0)
    with np.errstate(invalid="ignore", over="ignore"):
        slopes = np.diff(ys, axis=0) / h[None, :, None]  # (4, K, M)
        bend = np.maximum(np.abs(slopes[0] - 2 * slopes[1] + slopes[2]), np.abs(slopes[1] - 2 * slopes[2] + slopes[3]))
        scale = RELATIVE_BEND * np.abs(slopes).max(axis=0) + NOISE * eps * np.abs(ys).max(axis=0) / h[:, None]
        kinked = bend > scale
    return (broken | (kinked & finite.all(axis=0))).any(axis=-1)
