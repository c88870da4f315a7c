"""Exponentials and logarithms.

Every rule reuses the output where it can: d/dx e^x = e^x is `g * out`. logaddexp's weights are
PyTorch's, 1 / (1 + e^(b - a)): where a - b is infinite, their second derivatives read inf/inf, NaN,
as there.
"""
import math

import numpy as np

from lucid import Arg, Op, hookimpl

LN2, LN10 = math.log(2), math.log(10)
positive = (Arg("input", low=0),)

exp = Op("exp", np.exp, lambda g, out, x: (g * out,))
exp2 = Op("exp2", np.exp2, lambda g, out, x: (g * out * LN2,))
expm1 = Op("expm1", np.expm1, lambda g, out, x: (g * (out + 1),))
log = Op("log", np.log, lambda g, out, x: (g / x,), positive)
log2 = Op("log2", np.log2, lambda g, out, x: (g / (x * LN2),), positive)
log10 = Op("log10", np.log10, lambda g, out, x: (g / (x * LN10),), positive)
log1p = Op("log1p", np.log1p, lambda g, out, x: (g / (x + 1),), (Arg("input", low=-1),))
logaddexp = Op("logaddexp", np.logaddexp, lambda g, out, a, b: (g / (1 + exp(b - a)), g / (1 + exp(a - b))),
               (Arg("input"), Arg("other")))


@hookimpl
def lucid_ops():
    return [exp, exp2, expm1, log, log2, log10, log1p, logaddexp]
