"""More of `torch.special`: Bessel functions, the normal distribution, entropy, from SciPy.

Each rule is PyTorch's formula (derivatives.yaml), written with Lucid ops so it differentiates
again, and reusing the output where PyTorch does: ndtri' = sqrt(2 pi) e^(out^2 / 2). Where the
formula reads 0/0 PyTorch substitutes a limit, and so do these: i1' and i1e' are 1/2 within one
machine epsilon of 0 (PyTorch's `i1_backward`). Near 0 sinc's rule is its series, where
PyTorch's cancels (declared). i0e and i1e have e^-|x| in them, so a kink at 0, where PyTorch's
slope takes sgn(0) = 0.
"""
import math

import numpy as np
import scipy.special as sp

from lucid import Arg, Op, hookimpl
from lucid_ops.arithmetic import where
from lucid_ops.common import sgn
from lucid_ops.exponential import exp, log
from lucid_ops.special import TWO_OVER_SQRT_PI, _same_dtype
from lucid_ops.trigonometric import cos, sin

SQRT_2PI = math.sqrt(2 * math.pi)
SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
SQRT_2_OVER_PI, SQRT_HALF = math.sqrt(2 / math.pi), math.sqrt(0.5)


def _away_from_zero(x):
    """(whether |x| exceeds one epsilon, x with those entries replaced by epsilon): PyTorch's guard
    for the rules that divide by x, so that the discarded branch of `where` is finite and its
    derivative is too."""
    eps = np.finfo(x.dtype).eps
    large = np.abs(x.data) > eps
    return large, where(large, x, np.asarray(eps, x.dtype))


def _i1_vjp(g, out, x):
    """i1' = i0 - i1 / x, and 1/2 at |x| <= eps."""
    large, safe = _away_from_zero(x)
    return (g * where(large, i0(safe) - out / safe, np.asarray(0.5, x.dtype)),)


def _i1e_vjp(g, out, x):
    """i1e' = i0e - i1e (sgn x + 1 / x), and 1/2 at |x| <= eps."""
    large, safe = _away_from_zero(x)
    slope = i0e(safe) - out * (sgn(safe.data).astype(x.dtype) + 1 / safe)
    return (g * where(large, slope, np.asarray(0.5, x.dtype)),)


def _sinc_vjp(g, out, x):
    """sinc' = (a cos a - sin a) / (pi x^2) with a = pi x; near 0, where that cancels to rounding
    (eps / a^3 in its second derivative), its series -pi a (1 - a^2 / 10 + a^4 / 280) / 3, whose
    error a^6 / 15120 is below eps there: below eps^(1/6), 2.5e-3 in float64 and 0.07 in float32."""
    small = np.abs(x.data) < np.finfo(x.dtype).eps ** (1 / 6)
    safe = where(small, np.ones((), x.dtype), x)
    a, safe_a = x * math.pi, safe * math.pi
    exact = (safe_a * cos(safe_a) - sin(safe_a)) / (safe * safe * math.pi)
    a2 = a * a
    return (g * where(small, a * (a2 / 10 - a2 * a2 / 280 - 1) * (math.pi / 3), exact),)


def _log_ndtr_vjp(g, out, x):
    """log_ndtr' = phi / Phi: PyTorch's exp(-(out + x^2 / 2)) / sqrt(2 pi) above 0; below, where its
    two terms cancel (float32 second derivatives 0.7% off at -25), sqrt(2 / pi) / erfcx(-x / sqrt 2),
    the same ratio without them. Each branch is evaluated on its own side of 0 only, so that the
    other's overflow never reaches the gradient."""
    above = x.data > 0
    zero = np.zeros((), x.dtype)
    right, left = where(above, x, zero), where(above, zero, x)
    slope_right = exp(-(log_ndtr(right) + right * right * 0.5)) / SQRT_2PI
    return (g * where(above, slope_right, SQRT_2_OVER_PI / erfcx(left * -SQRT_HALF)),)


def _xlog1py_vjp(g, out, x, y):
    """d/dx x log1p(y) = log1p(y), written xlog1py(1, y); where x = 0 and y <= -1 (where xlog1py
    is defined as 0) PyTorch takes 0 instead, written xlog1py(0, y)."""
    defined = ((x.data != 0) | (y.data > -1)).astype(g.dtype)
    return g * xlog1py(defined, y), g * x / (y + 1) if y.requires_grad else None


erfinv = Op("erfinv", _same_dtype(sp.erfinv), lambda g, out, x: (g * exp(out * out) * SQRT_PI_OVER_2,),
            (Arg("input", low=-1, high=1),))
sinc = Op("sinc", np.sinc, _sinc_vjp,
           differences={"second order": "near 0 PyTorch's rule (a cos a - sin a) / (pi x^2) cancels to rounding: "
                                        "its second derivative is NaN at 0, 0 at 1e-30 and 1.5% off at 1e-3 in "
                                        "float32; Lucid's series gives the true -pi^2 / 3 (1 - 3 a^2 / 10 ...)"})
i0 = Op("i0", _same_dtype(sp.i0), lambda g, out, x: (g * i1(x),))
i0e = Op("special.i0e", _same_dtype(sp.i0e), lambda g, out, x: (g * (i1e(x) - out * sgn(x.data).astype(x.dtype)),),
         kinks=(0.0,))
i1 = Op("special.i1", _same_dtype(sp.i1), _i1_vjp)
i1e = Op("special.i1e", _same_dtype(sp.i1e), _i1e_vjp, kinks=(0.0,))
ndtr = Op("special.ndtr", _same_dtype(sp.ndtr), lambda g, out, x: (g * exp(x * x * -0.5) / SQRT_2PI,))
ndtri = Op("special.ndtri", _same_dtype(sp.ndtri), lambda g, out, x: (g * exp(out * out * 0.5) * SQRT_2PI,),
           (Arg("input", low=0, high=1),))
log_ndtr = Op("special.log_ndtr", _same_dtype(sp.log_ndtr), _log_ndtr_vjp,
              differences={"evaluation order": "PyTorch's slope exp(-(out + x^2 / 2)) cancels two huge terms at "
                                               "large negative x: NaN at -inf, rounding at -1e30, where Lucid's "
                                               "sqrt(2 / pi) / erfcx(-x / sqrt 2) gives the asymptote -x"})
# e^(x^2) erfc(x) overflows below -26.6 (float32: -9.3): the harness stays above -9.
erfcx = Op("special.erfcx", _same_dtype(sp.erfcx), lambda g, out, x: (g * (x * out * 2 - TWO_OVER_SQRT_PI),),
           (Arg("input", low=-9),))
# -x log x, 0 at 0 and -inf below; the harness stays on x > 0, where it is smooth.
entr = Op("special.entr", _same_dtype(sp.entr), lambda g, out, x: (g * -(log(x) + 1),), (Arg("input", low=0),))
xlog1py = Op("special.xlog1py", _same_dtype(sp.xlog1py), _xlog1py_vjp, (Arg("input"), Arg("other", low=-1)))


@hookimpl
def lucid_ops():
    return [erfinv, sinc, i0, i0e, i1, i1e, ndtr, ndtri, log_ndtr, erfcx, entr, xlog1py]
