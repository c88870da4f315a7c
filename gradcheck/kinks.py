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

Where the analytic and numerical derivatives disagree and such a point explains it, the sample is
rejected, not reported; the caller counts the rejections. (Where they agree, a kink changes
nothing, and on a full Jacobian not looking saves most of the cost.)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: A slope may bend by this fraction of the largest slope across the stencil before it is a kink.
RELATIVE_BEND = 1e-4
#: Bends below this many units of rounding (of the values, divided by h) are noise.
NOISE = 1e3


def nondifferentiable(ys: Sequence[np.ndarray], h: np.ndarray, eps: float = float(np.finfo(np.float64).eps),
                      largest: np.ndarray | None = None) -> np.ndarray:
    """ys: the values at offsets -2h, -h, 0, h, 2h along each direction, five arrays of shape
    (K, M) for K directions and M outputs (the center may be (M,)); h: each direction's step,
    shape (K,); eps: the values' precision; largest: max |ys| if the caller has it. Returns, per
    direction, whether some output is not differentiable (or not finite) inside the stencil."""
    ym2, ym1, y0, y1, y2 = ys
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(ym2) & np.isfinite(ym1) & np.isfinite(y0) & np.isfinite(y1) & np.isfinite(y2)
        some = np.isfinite(ym2) | np.isfinite(ym1) | np.isfinite(y0) | np.isfinite(y1) | np.isfinite(y2)
        # the slopes' second differences, times h: third differences of the values
        bend = np.maximum(np.abs(y1 - 3 * y0 + 3 * ym1 - ym2), np.abs(y2 - 3 * y1 + 3 * y0 - ym1))
        steepest = np.maximum(np.maximum(np.abs(ym1 - ym2), np.abs(y0 - ym1)),
                              np.maximum(np.abs(y1 - y0), np.abs(y2 - y1)))
        if largest is None:
            largest = np.maximum(np.maximum(np.maximum(np.abs(ym2), np.abs(ym1)), np.maximum(np.abs(y1), np.abs(y2))),
                                 np.abs(y0))
        kinked = bend > RELATIVE_BEND * steepest + NOISE * eps * largest
    return ((some & ~finite) | (kinked & finite)).any(axis=-1)
