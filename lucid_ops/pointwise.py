"""Elementwise ops PyTorch code calls that are one line of arithmetic: hypot, frac, logaddexp2,
deg2rad, rad2deg, addcmul, addcdiv, threshold.

Each rule is PyTorch's (derivatives.yaml): hypot's slopes x / out and y / out are NaN at (0, 0),
as there; frac's slope is 1 (its jumps at the integers have none); threshold passes the gradient
strictly above the threshold (and at NaN), PyTorch's threshold_backward.
"""
import math

import numpy as np

from lucid import Arg, Op, Param, hookimpl
from lucid_ops.arithmetic import where
from lucid_ops.exponential import exp2

DEGREES_PER_RADIAN = 180 / math.pi
pair = (Arg("input"), Arg("other"))
scaled_by = (Arg("input"), Arg("tensor1"), Arg("tensor2"))
value = Param("value", 1, (1, 0.5, -2.0), "number")


def _threshold(x, threshold, value):
    """x above the threshold, `value` at or below it; a NaN stays NaN (PyTorch's `x <= threshold`)."""
    return np.where(x <= threshold, np.asarray(value, x.dtype), x)


def _addcmul(x, t1, t2, value=1):
    """x + value * t1 * t2 as PyTorch's CPU kernel rounds it: value * t1 in the inputs' dtype, then
    one fused multiply-add. For float32 that is float64 arithmetic (a product of two float32s is
    exact in it), so that -inf + (-1e30) * (-1e30) is -inf there too, not -inf + inf = NaN. A
    float64 result is rounded twice, NumPy having no fused multiply-add: an ulp from PyTorch's in
    about one entry in six at value=0.1."""
    scaled = value * t1
    if scaled.dtype != np.float32:
        return x + scaled * t2
    return (x + scaled.astype(np.float64) * t2).astype(np.float32)


hypot = Op("hypot", np.hypot, lambda g, out, x, y: (g * x / out, g * y / out), pair,
           differences={"second order": "beside 1e-30 the Hessian's entries are 1e30 or 0; PyTorch's double "
                                        "backward takes 0 as 1/r - y^2/r^3, a rounding error of 1.8e13, where "
                                        "Lucid's graph of x/r and y/r gives the exact 0"})
frac = Op("frac", lambda x: x - np.trunc(x), lambda g, out, x: (g,))
logaddexp2 = Op("logaddexp2", np.logaddexp2, lambda g, out, a, b: (g / (1 + exp2(b - a)), g / (1 + exp2(a - b))),
                pair)
deg2rad = Op("deg2rad", np.deg2rad, lambda g, out, x: (g / DEGREES_PER_RADIAN,))
rad2deg = Op("rad2deg", np.rad2deg, lambda g, out, x: (g * DEGREES_PER_RADIAN,))
# input + value * tensor1 * tensor2 and input + value * tensor1 / tensor2, value keyword-only as in PyTorch.
addcmul = Op("addcmul", _addcmul,
             lambda g, out, x, t1, t2, value: (g, g * t2 * value, g * t1 * value), scaled_by, params=(value,),
             signature=("input", "tensor1", "tensor2", "*", "value"))
addcdiv = Op("addcdiv", lambda x, t1, t2, value=1: x + value * t1 / t2,
             lambda g, out, x, t1, t2, value: (g, g * (value / t2), -g * (t1 * value / (t2 * t2))), scaled_by,
             params=(value,), signature=("input", "tensor1", "tensor2", "*", "value"), kinks=(0.0,))
threshold = Op("nn.functional.threshold", _threshold,
               lambda g, out, x, threshold, value: (where(x.data <= threshold, np.zeros((), g.dtype), g),),
               params=(Param("threshold", 0.5, (0.5, 0.0, -1.0), "number"), Param("value", 0.0, (0.0, 2.0), "number")),
               kinks=lambda p: (p["threshold"],))


@hookimpl
def lucid_ops():
    return [hypot, frac, logaddexp2, deg2rad, rad2deg, addcmul, addcdiv, threshold]
