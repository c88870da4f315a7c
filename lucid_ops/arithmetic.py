"""Arithmetic: the four operations, powers, and their relatives.

Each entry is a forward on NumPy arrays and its local derivative written with Lucid ops, so
that the derivative can be differentiated again. Broadcasting is handled by the engine: a rule
returns the gradient in the output's shape and the engine sums it down to the input's.

Where an op has a corner (abs at 0, clamp at its bounds, maximum at a tie) the derivative is
not defined; each such rule picks PyTorch's convention and says so. A 0/1 mask computed from the
input's values is a constant: multiplying `g` by it keeps the rule differentiable in `g`.
"""
import numpy as np

from lucid import Arg, Example, Op, OpError, Param, hookimpl
from lucid_ops.exponential import log

binary = (Arg("input", dtype="any"), Arg("other", dtype="any"))

add = Op("add", np.add, lambda g, out, a, b: (g, g), binary)
# A constant operand (x * 2, a dropout mask, x / n) gets no gradient: its rule would cost a pass.
sub = Op("sub", np.subtract,
         lambda g, out, a, b: (g if a.requires_grad else None, -g if b.requires_grad else None), binary)
mul = Op("mul", np.multiply,
         lambda g, out, a, b: (g * b if a.requires_grad else None, g * a if b.requires_grad else None), binary)
div = Op("div", np.true_divide,
         lambda g, out, a, b: (g / b if a.requires_grad else None, -g * out / b if b.requires_grad else None),
         binary, kinks=(0.0,))
neg = Op("neg", np.negative, lambda g, out, x: (-g,), (Arg("input", dtype="any"),))
pow = Op("pow", np.power,
         lambda g, out, x, y: (g * y * x ** (y - 1), g * out * log(x) if y.requires_grad else None),
         (Arg("input", low=0), Arg("exponent", low=-3, high=3, dtype="any")))

reciprocal = Op("reciprocal", np.reciprocal, lambda g, out, x: (-g * out * out,), kinks=(0.0,))
square = Op("square", np.square, lambda g, out, x: (g * (2 * x),), (Arg("input", dtype="any"),))
sqrt = Op("sqrt", np.sqrt, lambda g, out, x: (g / (2 * out),), (Arg("input", low=0),))
# d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 * out / x
rsqrt = Op("rsqrt", lambda x: 1 / np.sqrt(x), lambda g, out, x: (g * out / x * -0.5,), (Arg("input", low=0),))
# abs'(0) = sign(0) = 0, as in PyTorch.
abs = Op("abs", np.abs, lambda g, out, x: (g * np.sign(x.data),), (Arg("input", dtype="any"),), kinks=(0.0,))


def _clamp(x, min=None, max=None):
    if min is None and max is None:
        raise OpError("clamp: at least one of 'min' or 'max' must not be None")
    return np.clip(x, min, max)


def _clamp_vjp(g, out, x, min, max):
    """g passes where min <= x <= max, bounds included (PyTorch's convention); with min > max
    the output is the constant max and nothing passes."""
    inside = np.ones(x.shape, dtype=bool)
    if min is not None:
        inside &= x.data >= min
    if max is not None:
        inside &= x.data <= max
    return (g * inside,)


def _clamp_sample(draw):
    bounds = draw.choice(((-0.5, 0.5), (None, 0.5), (-0.5, None), (0.5, -0.5)))  # the last has min > max
    return Example((draw.shape(),), dict(zip(("min", "max"), bounds)))


def _share(a, b, dtype):
    """The part of g that goes to `a` in maximum(a, b): all of it where a wins, none where it
    loses, half at a tie (PyTorch's convention, so that the halves add up to g)."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)).astype(dtype)


_KINDS = "biufc"  # bool < int < float < complex


def _where(condition, input, other):
    """np.where, promoted as PyTorch does: a 0-d operand (a Python number, say) of the same or a
    lower kind does not widen the other, so `where(mask, x, 0.0)` keeps x's float32."""
    if input.ndim == 0 < other.ndim and _KINDS.index(input.dtype.kind) <= _KINDS.index(other.dtype.kind):
        input = input.astype(other.dtype)
    elif other.ndim == 0 < input.ndim and _KINDS.index(other.dtype.kind) <= _KINDS.index(input.dtype.kind):
        other = other.astype(input.dtype)
    return np.where(condition, input, other)


def _where_vjp(g, out, condition, a, b):
    zero = np.zeros((), dtype=g.dtype)
    return (None, where(condition, g, zero) if a.requires_grad else None,
            where(condition, zero, g) if b.requires_grad else None)


clamp = Op("clamp", _clamp, _clamp_vjp, (Arg("input", dtype="any"),), params=(Param("min", None), Param("max", None)),
           sample=_clamp_sample, kinks=lambda p: tuple(v for v in (p.get("min"), p.get("max")) if v is not None))
maximum = Op("maximum", np.maximum, lambda g, out, a, b: (g * _share(a.data, b.data, g.dtype),
                                                           g * _share(b.data, a.data, g.dtype)),
             (Arg("input"), Arg("other")), ties=True)
minimum = Op("minimum", np.minimum, lambda g, out, a, b: (g * _share(b.data, a.data, g.dtype),
                                                           g * _share(a.data, b.data, g.dtype)),
             (Arg("input"), Arg("other")), ties=True)
where = Op("where", _where, _where_vjp, (Arg("condition", dtype="bool"), Arg("input", dtype="any"),
                                         Arg("other", dtype="any")))
# lerp = input + weight * (end - input), linear in each argument.
lerp = Op("lerp", lambda a, b, w: a + w * (b - a),
          lambda g, out, a, b, w: (g * (1 - w), g * w, g * (b - a) if w.requires_grad else None),
          (Arg("input"), Arg("end"), Arg("weight")))


@hookimpl
def lucid_ops():
    return [add, sub, mul, div, neg, pow, reciprocal, square, sqrt, rsqrt, abs, clamp, maximum, minimum, where, lerp]
