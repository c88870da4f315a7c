"""Arithmetic: the four operations, powers, and their relatives.

Each entry is a forward on NumPy arrays and its local derivative written with Lucid ops, so
that the derivative can be differentiated again. Broadcasting is handled by the engine: a rule
returns the gradient in the output's shape and the engine sums it down to the input's.

Where an op has a corner (abs at 0, clamp at its bounds, maximum at a tie) the derivative is
not defined; each such rule picks PyTorch's convention and says so. A 0/1 mask computed from the
input's values is a constant: multiplying `g` by it keeps the rule differentiable in `g`. Each mask
is written with the comparison PyTorch's kernel makes, so that a NaN input, for which every
comparison is false, falls on the same side as there; slopes taken from a sign use `sgn`, which
is 0 at NaN as PyTorch's.
"""
import numpy as np

from lucid import Arg, Example, Op, OpError, Param, Tensor, get_default_dtype, hookimpl
from lucid_ops.common import has_zero, sgn
from lucid_ops.exponential import log

binary = (Arg("input", dtype="any"), Arg("other", dtype="any"))

add = Op("add", np.add, lambda g, out, a, b: (g, g), binary)
# A constant operand (x * 2, a dropout mask, x / n) gets no gradient: its rule would cost a pass.
sub = Op("sub", np.subtract,
         lambda g, out, a, b: (g if a.requires_grad else None, -g if b.requires_grad else None),
         (Arg("input", dtype="number"), Arg("other", dtype="number")))
mul = Op("mul", np.multiply,
         lambda g, out, a, b: (g * b if a.requires_grad else None, g * a if b.requires_grad else None), binary)


def _integer_division(op, a, b):
    """Refuse what PyTorch refuses of a rounding division: bools (no kernel) and an integer divisor 0
    (ZeroDivisionError; NumPy would answer 0 with a warning)."""
    if a.dtype.kind == "b":
        raise OpError(f"{op}: not implemented for bool tensors (as in PyTorch); convert them with .long()")
    if a.dtype.kind in "iu" and not np.all(b):
        raise OpError(f"{op}: integer division by zero (the divisor 'other' has a 0)")


def _floor_divide(a, b):
    """a / b rounded down, as Python's // (NumPy's floor_divide computes it as PyTorch's kernel does)."""
    _integer_division("floor_divide", a, b)
    return np.floor_divide(a, b)


def _truncated_divide(a, b):
    """a / b rounded toward zero: integers exactly (the floor, moved up by one where a remainder
    has the sign opposite to b's), floats as trunc(a / b), as in PyTorch."""
    _integer_division("div", a, b)
    if a.dtype.kind in "iu":
        quotient, remainder = np.divmod(a, b)
        return quotient + ((remainder != 0) & ((a < 0) != (b < 0)))
    return np.trunc(a / b)


def _divide(a, b, rounding_mode=None):
    """a / b; integers and bools (promoted to one dtype by then) divide in the default float dtype,
    as PyTorch's true division does, where NumPy's gives float64. rounding_mode "trunc" or "floor"
    rounds the quotient, in the inputs' dtype."""
    if rounding_mode == "floor":
        return _floor_divide(a, b)
    if rounding_mode == "trunc":
        return _truncated_divide(a, b)
    if a.dtype.kind in "biu":
        return np.true_divide(a, b, dtype=get_default_dtype())
    return np.true_divide(a, b)


def _div_vjp(g, out, a, b, rounding_mode=None):
    """A rounded quotient is piecewise constant: gradient 0 (PyTorch's rule too)."""
    if rounding_mode is not None:
        return _zeros(g, out, a, b)
    return g / b if a.requires_grad else None, -g * out / b if b.requires_grad else None


div = Op("div", _divide, _div_vjp, binary, params=(Param("rounding_mode", None, ("trunc", "floor"), "choice"),),
         kinks=(0.0,), ties=True)
neg = Op("neg", np.negative, lambda g, out, x: (-g,), (Arg("input", dtype="any"),))


def _pow_vjp(g, out, x, y):
    """d/dx = y x^(y-1), taken as 0 where y = 0 and x = 0 (0 * inf) or NaN; d/dy = x^y log x, taken as 0
    where x = 0 and y >= 0 (0 * -inf, or 1 * -inf at 0^0): PyTorch's pow_backward and
    pow_backward_exponent. PyTorch masks d/dx wherever y = 0; away from x = 0 the formula gives that 0
    itself and keeps its derivative in y, which the mask would cut. The masks are constants, so the
    rule differentiates again; they are only built when y (for d/dy, x) has a zero (`has_zero` is the cheap test)."""
    gx = gy = None
    if x.requires_grad:
        gx = g * y * x ** (y - 1)
        if has_zero(y.data):  # at x = 0 the formula reads 0 * inf, at x = NaN 0 * NaN
            gx = where((y.data == 0) & ((x.data == 0) | np.isnan(x.data)), 0.0, gx)
    if y.requires_grad:
        slope = out * log(x)
        if has_zero(x.data):
            slope = where((x.data == 0) & (y.data >= 0), 0.0, slope)
        gy = g * slope
    return gx, gy


def _power(x, y):
    """x ** y, as np.power, which also refuses integers to negative integer powers as PyTorch does;
    PyTorch has no kernel for bools (promoted to one dtype by then)."""
    if x.dtype.kind == "b":
        raise OpError("pow: not implemented for bool tensors (as in PyTorch); convert them with .long()")
    return np.power(x, y)


pow = Op("pow", _power, _pow_vjp, (Arg("input", low=0, dtype="any"), Arg("exponent", low=-3, high=3, dtype="any")),
         differences={"second order": "at y = 0 PyTorch's mask on d/dx also cuts d/dy d/dx = 1/x; Lucid keeps it"})

reciprocal = Op("reciprocal", np.reciprocal, lambda g, out, x: (-g * out * out,), kinks=(0.0,))
square = Op("square", np.square, lambda g, out, x: (g * (2 * x),), (Arg("input", dtype="any"),))
sqrt = Op("sqrt", np.sqrt, lambda g, out, x: (g / (2 * out),), (Arg("input", low=0),))
# d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 out^3, PyTorch's form: at x = -0.0 (out = -inf) -1/2 out / x flips its sign.
rsqrt = Op("rsqrt", lambda x: 1 / np.sqrt(x), lambda g, out, x: (g * out ** 3 * -0.5,), (Arg("input", low=0),))
# abs'(0) = sgn(0) = 0, and abs'(NaN) = sgn(NaN) = 0, as in PyTorch.
abs = Op("abs", np.abs, lambda g, out, x: (g * sgn(x.data),), (Arg("input", dtype="any"),), kinks=(0.0,))


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
    """The part of g that goes to `a` in maximum(a, b): none where it loses, half at a tie, all of
    it otherwise (PyTorch's convention: the halves add up to g, and where a or b is NaN, so is the
    result, and both get all of g)."""
    return np.where(a < b, 0.0, np.where(a == b, 0.5, 1.0)).astype(dtype)


def _where_vjp(g, out, condition, a, b):
    zero = np.zeros((), dtype=g.dtype)
    return (None, where(condition, g, zero) if a.requires_grad else None,
            where(condition, zero, g) if b.requires_grad else None)


clamp = Op("clamp", _clamp, _clamp_vjp, (Arg("input", dtype="any"),), params=(Param("min", None), Param("max", None)),
           sample=_clamp_sample, kinks=lambda p: tuple(v for v in (p.get("min"), p.get("max")) if v is not None))
maximum = Op("maximum", np.maximum, lambda g, out, a, b: (g * _share(a.data, b.data, g.dtype),
                                                           g * _share(b.data, a.data, g.dtype)),
             (Arg("input", dtype="any"), Arg("other", dtype="any")), ties=True)
minimum = Op("minimum", np.minimum, lambda g, out, a, b: (g * _share(b.data, a.data, g.dtype),
                                                           g * _share(a.data, b.data, g.dtype)),
             (Arg("input", dtype="any"), Arg("other", dtype="any")), ties=True)
where = Op("where", np.where, _where_vjp, (Arg("condition", dtype="bool"), Arg("input", dtype="any"),
                                         Arg("other", dtype="any")))



def flat_where(mask: np.ndarray, t: Tensor) -> Tensor:
    """t, with its derivative cut to 0 where `mask` holds (its value kept, as a constant). At a kink
    PyTorch's first-order rules take one side's slope (elu's `x <= 0`) while their own derivatives
    mask strictly (`x < 0`): at the kink the slope is the one side's, and its derivative is 0."""
    return where(mask, t.data, t) if mask.any() else t



def _copysign_vjp(g, out, x, other):
    """d/dx |x| sign(other) is out / x, +-1: PyTorch's rule takes that quotient, 0 where x = 0 (a
    kink: the subgradient 0) and NaN where x is infinite (inf / inf), and so does this one. The
    slope is a constant, so the second derivative is 0. The sign of `other` is piecewise constant:
    gradient 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(x.data == 0, 0, out.data / x.data).astype(g.dtype, copy=False)
    return g * Tensor(slope), Tensor(np.zeros_like(other.data))


def _nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN, inf and -inf replaced by `nan`, `posinf`, `neginf` (by default 0 and the dtype's largest
    and lowest finite values); integers come back unchanged."""
    return x.copy() if x.dtype.kind in "biu" else np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


copysign = Op("copysign", np.copysign, _copysign_vjp, (Arg("input"), Arg("other")), kinks=(0.0,),
              differences={"second order": "PyTorch differentiates its slope out / x again, as d out / x - out / x^2: "
                                           "0 up to rounding, which near x = 1e-30 is 1e12, and NaN at x = 0; "
                                           "Lucid's slope is a constant, whose derivative is the exact 0"})
# A replaced value is a constant: gradient 0 there, as PyTorch's g * isfinite(x) (g = inf gives NaN).
nan_to_num = Op("nan_to_num", _nan_to_num, lambda g, out, x, nan, posinf, neginf: (g * np.isfinite(x.data),),
                (Arg("input", dtype="any"),),
                params=(Param("nan", 0.0, (0.0, 1.5), "number"), Param("posinf", None, (None, 10.0), "number"),
                        Param("neginf", None, (None, -10.0), "number")))

# --- rounding: piecewise constant --------------------------------------------------------------
# Their derivative is 0 wherever it exists, and PyTorch's rule gives 0 at the jumps too, so each
# is an op whose vjp is zeros: a result of an input that requires grad has a grad_fn, and a
# gradient through it is 0, not missing. The jumps are every integer (half-integer for round): a
# finite tuple cannot list them, so `kinks` names only 0, where hypothesis shrinks its values, and
# the harness rejects any other drawn sample that straddles a jump (gradcheck/kinks.py).

def _zeros(g, out, *inputs, **params):
    return tuple(Tensor(np.zeros_like(x.data)) for x in inputs)


def _integers_unchanged(ufunc):
    """ufunc, except that an integer tensor comes back unchanged, in its own dtype (NumPy would
    answer floor, ceil and trunc of integers in float64)."""
    return lambda x: x.copy() if x.dtype.kind in "biu" else ufunc(x)


def _round(x, decimals=0):
    """Half to even (2.5 -> 2), as NumPy and PyTorch do; integers are unchanged for decimals >= 0."""
    return x.copy() if x.dtype.kind in "biu" and decimals >= 0 else np.round(x, decimals)


rounding_input = (Arg("input", dtype="any"),)
sign = Op("sign", sgn, _zeros, rounding_input, kinks=(0.0,))  # sign(NaN) = 0, as in PyTorch
floor = Op("floor", _integers_unchanged(np.floor), _zeros, rounding_input, kinks=(0.0,))
ceil = Op("ceil", _integers_unchanged(np.ceil), _zeros, rounding_input, kinks=(0.0,))
trunc = Op("trunc", _integers_unchanged(np.trunc), _zeros, rounding_input)
round = Op("round", _round, _zeros, rounding_input, params=(Param("decimals", 0, (0, 1, -1), kind="int"),))


def _remainder(a, b):
    """The remainder with the sign of the divisor, as Python's % and PyTorch's remainder."""
    _integer_division("remainder", a, b)
    return np.remainder(a, b)


def _fmod(a, b):
    """The remainder with the sign of the dividend, as C's fmod and PyTorch's."""
    _integer_division("fmod", a, b)
    return np.fmod(a, b)


def _quotient_vjp(rounding):
    """a - b q(a / b), for a quotient q rounded down (remainder) or toward zero (fmod): d/da = 1,
    d/db = -q, a piecewise constant (PyTorch's rules)."""
    def vjp(g, out, a, b):
        quotient = rounding(a.data, b.data).astype(g.dtype, copy=False)
        return g if a.requires_grad else None, -g * quotient if b.requires_grad else None
    return vjp


remainder = Op("remainder", _remainder, _quotient_vjp(np.floor_divide), binary, kinks=(0.0,), ties=True)
fmod = Op("fmod", _fmod, _quotient_vjp(lambda a, b: np.trunc(a / b)), binary, kinks=(0.0,), ties=True)
floor_divide = Op("floor_divide", _floor_divide, _zeros, binary, kinks=(0.0,), ties=True,
                  differences={"gradient": "PyTorch's floor_divide has no derivative (backward raises); Lucid's is "
                                           "0, as div(rounding_mode='floor')'s in both"})


def _lerp(a, b, w):
    """input + weight (end - input), computed from the nearer end as PyTorch does: exact at
    weight 1 (end itself, not -1e30 + (x + 1e30))."""
    diff = b - a
    return np.where(np.abs(w) < 0.5, a + w * diff, b - diff * (1 - w))


# lerp is linear in each argument.
lerp = Op("lerp", _lerp,
          lambda g, out, a, b, w: (g * (1 - w), g * w, g * (b - a) if w.requires_grad else None),
          (Arg("input"), Arg("end"), Arg("weight")), same_dtype=True)


@hookimpl
def lucid_ops():
    return [add, sub, mul, div, neg, pow, reciprocal, square, sqrt, rsqrt, abs, clamp, maximum, minimum, where, lerp,
            sign, floor, ceil, trunc, round, copysign, nan_to_num, remainder, fmod, floor_divide]
