"""Special functions, from SciPy where NumPy has none.

SciPy computes some of them in float64 whatever the input; `_same_dtype` casts the result back,
so that float32 stays float32 as everywhere else in Lucid.
"""
import math

import numpy as np
import scipy.special as sp

from lucid import Arg, Op, OpError, Param, hookimpl
from lucid_ops.arithmetic import flat_where, where
from lucid_ops.common import NAN_GRADIENT_BY_POSITION, has_zero, reusing
from lucid_ops.exponential import exp

TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def _same_dtype(ufunc):
    """`ufunc` with its result in the inputs' dtype."""
    def forward(*arrays):
        return ufunc(*arrays).astype(np.result_type(*arrays), copy=False)

    forward.__name__, forward.__doc__ = ufunc.__name__, ufunc.__doc__
    return forward


def _polygamma(n, x):
    if np.any(n < 0) or np.any(n != np.floor(n)):
        raise OpError(f"polygamma: n must be a non-negative integer, got {n}")
    return sp.polygamma(n, x).astype(x.dtype, copy=False)


def _logit(x, eps=None):
    return sp.logit(x if eps is None else np.clip(x, eps, 1 - eps))


def _logit_vjp(g, out, x, eps):
    """With eps, the input is first clamped to [eps, 1 - eps]: outside it, the gradient is 0 (a NaN
    is not outside: PyTorch masks `x < eps | x > 1 - eps`). At x = 0 the slope is +inf from either
    zero, as PyTorch's scalar loop has it: -0.0 (1 - x) is -0.0, and + 0.0 turns it into 0, an op
    paid only when x has a zero."""
    denominator = x * (1 - x)
    if has_zero(x.data):
        denominator = denominator + 0.0
    gx = g / denominator
    return (gx if eps is None else where((x.data < eps) | (x.data > 1 - eps), 0.0, gx),)


def _softplus(x, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, computed without overflow; above the threshold, x itself."""
    z = x * beta
    return np.where(z > threshold, x, np.logaddexp(0, z) / beta)


def _softplus_vjp(g, out, x, beta, threshold):
    """Slope 1 above the threshold, sigmoid(beta x) up to it; at it, PyTorch's second derivative is
    0 (its mask there is `beta x < threshold`)."""
    z = x.data * beta
    return (g * where(z > threshold, 1.0, flat_where(z == threshold, sigmoid(x * beta))),)


def _xlogy_vjp(g, out, x, y):
    """d/dx x log y = log y, written xlogy(1, y); at x = 0, y <= 0 (where xlogy is defined as 0)
    PyTorch takes 0 instead, written xlogy(0, y)."""
    defined = ((x.data != 0) | (y.data > 0)).astype(g.dtype)
    return g * xlogy(defined, y), g * x / y if y.requires_grad else None


erf = Op("erf", _same_dtype(sp.erf), lambda g, out, x: (g * exp(-x * x) * TWO_OVER_SQRT_PI,))
erfc = Op("erfc", _same_dtype(sp.erfc), lambda g, out, x: (g * exp(-x * x) * -TWO_OVER_SQRT_PI,))
# lgamma = log|Γ(x)|; it has poles at 0, -1, -2..., so the harness stays on x > 0.
lgamma = Op("lgamma", _same_dtype(sp.gammaln), lambda g, out, x: (g * digamma(x),), (Arg("input", low=0),))
# PyTorch's polygamma(n, inf) is NaN for n >= 2 (its Hurwitz zeta at infinity); Lucid gives the limit 0,
# SciPy's value.
POLYGAMMA_AT_INF = "at x = inf PyTorch's polygamma(n >= 2, x) is NaN; Lucid gives the limit, 0, as SciPy"
digamma = Op("digamma", _same_dtype(sp.psi), lambda g, out, x: (g * polygamma(1, x),), (Arg("input", low=0),),
             differences={"second order": POLYGAMMA_AT_INF})
# polygamma(n, x) is the n-th derivative of digamma: n comes first, as in PyTorch.
polygamma = Op("polygamma", _polygamma, lambda g, out, n, x: (None, g * polygamma(n + 1, x)),
               (Arg("n", low=0, high=4, dtype="int"), Arg("input", low=0)), differences={"edges": POLYGAMMA_AT_INF})


# sigmoid' = out (1 - out), one fused op as tanh's (see tanh_backward).
def _sigmoid_backward(g, out):
    slope = np.subtract(1, out, out=np.empty_like(out))  # an array even when out is 0-d
    return reusing(slope, np.multiply, g, np.multiply(out, slope, out=slope))


sigmoid_backward = Op("sigmoid_backward", _sigmoid_backward,
                      lambda gg, _, g, out: (sigmoid_backward(gg, out), gg * g * (1 - 2 * out)),
                      (Arg("grad"), Arg("output", low=0, high=1)))
sigmoid = Op("sigmoid", _same_dtype(sp.expit), lambda g, out, x: (sigmoid_backward(g, out),))
logit = Op("logit", _logit, _logit_vjp, (Arg("input", low=0, high=1),),
           params=(Param("eps", None, (None, 0.1), "number"),),
           kinks=lambda p: () if p.get("eps") is None else (p["eps"], 1 - p["eps"]),
           differences={"nan gradient": NAN_GRADIENT_BY_POSITION,
                        "negative zero": "PyTorch's slope at x = -0.0 depends on where the entry falls: its "
                                         "scalar loop (a 0-d tensor, the tail) takes +inf at x == 0, this rule's "
                                         "one-sided limit; its vectorized loop divides by x (1 - x) = -0.0, -inf"})
softplus = Op("nn.functional.softplus", _softplus, _softplus_vjp,
              params=(Param("beta", 1.0, (1.0, 2.0, 0.5), "number"), Param("threshold", 20.0, (20.0, 1.0), "number")),
              kinks=lambda p: (p["threshold"] / p["beta"],))
xlogy = Op("xlogy", _same_dtype(sp.xlogy), _xlogy_vjp, (Arg("input"), Arg("other", low=0)))


@hookimpl
def lucid_ops():
    return [erf, erfc, lgamma, digamma, polygamma, sigmoid, sigmoid_backward, logit, softplus, xlogy]
