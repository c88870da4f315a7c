"""Trigonometric and hyperbolic functions and their inverses.

The inverse functions are defined on intervals (asin on (-1, 1), acosh above 1, tan between
its poles at ±π/2): each Arg declares that interval so the harness draws only valid inputs.
"""
import math

import numpy as np

from lucid import Arg, Op, hookimpl
from lucid_ops.arithmetic import sqrt, where
from lucid_ops.common import has_zero, reusing

unit = (Arg("input", low=-1, high=1),)

sin = Op("sin", np.sin, lambda g, out, x: (g * cos(x),))
cos = Op("cos", np.cos, lambda g, out, x: (-g * sin(x),))
tan = Op("tan", np.tan, lambda g, out, x: (g * (1 + out * out),), (Arg("input", low=-math.pi / 2, high=math.pi / 2),))
asin = Op("asin", np.arcsin, lambda g, out, x: (g / sqrt(1 - x * x),), unit)
acos = Op("acos", np.arccos, lambda g, out, x: (-g / sqrt(1 - x * x),), unit)
atan = Op("atan", np.arctan, lambda g, out, x: (g / (1 + x * x),))


def _atan2_vjp(g, out, y, x):
    """atan2(y, x) is the angle of the point (x, y): d/dy = x / r², d/dx = -y / r². At the origin,
    where that reads 0/0, both are 0, as in PyTorch: 1 / r² is taken as 0 there. That mask hides an
    infinite 1 / r², so the second derivative there is NaN, as PyTorch's."""
    r2 = x * x + y * y
    recip = 1 / r2
    if has_zero(r2.data):
        recip = where(r2.data == 0, 0.0, recip)
    return g * x * recip, -g * y * recip


# atan2 jumps from π to -π across the negative x axis, so the harness keeps y > 0, where it is smooth.
atan2 = Op("atan2", np.arctan2, _atan2_vjp, (Arg("input", low=0), Arg("other")))
sinh = Op("sinh", np.sinh, lambda g, out, x: (g * cosh(x),))
cosh = Op("cosh", np.cosh, lambda g, out, x: (g * sinh(x),))


# tanh' = 1 - tanh², from the output alone. The rule is an op of its own, as PyTorch's tanh_backward:
# one op call in a backward instead of three, one buffer for its temporaries (`reusing`), and a
# derivative, for second order, that the harness verifies like any other.
def _tanh_backward(g, out):
    slope = np.multiply(out, out, out=np.empty_like(out))  # an array even when out is 0-d
    return reusing(slope, np.multiply, g, np.subtract(1, slope, out=slope))


tanh_backward = Op("tanh_backward", _tanh_backward,
                   lambda gg, _, g, out: (tanh_backward(gg, out), -2 * gg * g * out),
                   (Arg("grad"), Arg("output", low=-1, high=1)))
tanh = Op("tanh", np.tanh, lambda g, out, x: (tanh_backward(g, out),))
asinh = Op("asinh", np.arcsinh, lambda g, out, x: (g / sqrt(x * x + 1),))
acosh = Op("acosh", np.arccosh, lambda g, out, x: (g / sqrt(x * x - 1),), (Arg("input", low=1),))
atanh = Op("atanh", np.arctanh, lambda g, out, x: (g / (1 - x * x),), unit)


@hookimpl
def lucid_ops():
    return [sin, cos, tan, asin, acos, atan, atan2, sinh, cosh, tanh, tanh_backward, asinh, acosh, atanh]
