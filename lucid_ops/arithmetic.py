"""Arithmetic: the four operations, powers, and their relatives.

Each entry is a forward on NumPy arrays and its local derivative written with Lucid ops, so
that the derivative can be differentiated again. Broadcasting is handled by the engine: a rule
returns the gradient in the output's shape and the engine sums it down to the input's.
"""
import numpy as np

from lucid import Arg, Op, hookimpl
from lucid_ops.exponential import log

binary = (Arg("input", dtype="any"), Arg("other", dtype="any"))

add = Op("add", np.add, lambda g, out, a, b: (g, g), binary)
sub = Op("sub", np.subtract, lambda g, out, a, b: (g, -g), binary)
mul = Op("mul", np.multiply, lambda g, out, a, b: (g * b, g * a), binary)
div = Op("div", np.true_divide, lambda g, out, a, b: (g / b, -g * out / b), binary, kinks=(0.0,))
neg = Op("neg", np.negative, lambda g, out, x: (-g,), (Arg("input", dtype="any"),))
pow = Op("pow", np.power,
         lambda g, out, x, y: (g * y * x ** (y - 1), g * out * log(x) if y.requires_grad else None),
         (Arg("input", low=0), Arg("exponent", low=-3, high=3, dtype="any")))


@hookimpl
def lucid_ops():
    return [add, sub, mul, div, neg, pow]
