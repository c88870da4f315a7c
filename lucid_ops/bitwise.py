"""Bitwise operations on integer and bool tensors: `& | ^ ~ << >>`.

As in PyTorch they take no floating-point input, so nothing through them is differentiated: each
input is declared "integral", and their rule is never called (the shifts refuse bools, which
PyTorch has no kernel for). Operands of different dtypes are promoted as every op's are
(`lucid.dtypes`): an int32 tensor & 1 stays int32, a bool tensor | an int64 one is int64.
"""
import numpy as np

from lucid import Arg, Op, OpError, hookimpl

integral = (Arg("input", dtype="integral"), Arg("other", dtype="integral"))


def _no_gradient(g, out, *inputs):
    """Never called: an integer or bool input cannot require grad."""
    raise OpError("bitwise operations have no derivative: their inputs are integers or bools")


def _in_range(op, a, b):
    """Where the count `b` is one PyTorch shifts by directly: 0 up to the width of a's dtype, less one.
    Bools (promoted to one dtype with the count by then) are refused, as PyTorch has no kernel for them."""
    if a.dtype.kind == "b":
        raise OpError(f"{op}: not implemented for bool tensors (as in PyTorch); convert them with .long()")
    return (b >= 0) & (b < a.dtype.itemsize * 8)


def _left_shift(a, b):
    """a shifted left by b bits; by a negative count or by the width or more, 0 as in PyTorch (NumPy
    answers what the processor does)."""
    inside = _in_range("bitwise_left_shift", a, b)
    return np.where(inside, np.left_shift(a, np.where(inside, b, 0)), 0)


def _right_shift(a, b):
    """a shifted right by b bits, the sign repeated; by a negative count or by the width or more, as by
    the width less one (0, or -1 for a negative a), as in PyTorch."""
    return np.right_shift(a, np.where(_in_range("bitwise_right_shift", a, b), b, a.dtype.itemsize * 8 - 1))


bitwise_and = Op("bitwise_and", np.bitwise_and, _no_gradient, integral)
bitwise_or = Op("bitwise_or", np.bitwise_or, _no_gradient, integral)
bitwise_xor = Op("bitwise_xor", np.bitwise_xor, _no_gradient, integral)
bitwise_not = Op("bitwise_not", np.invert, _no_gradient, (Arg("input", dtype="integral"),))
bitwise_left_shift = Op("bitwise_left_shift", _left_shift, _no_gradient, integral)
bitwise_right_shift = Op("bitwise_right_shift", _right_shift, _no_gradient, integral)


@hookimpl
def lucid_ops():
    return [bitwise_and, bitwise_or, bitwise_xor, bitwise_not, bitwise_left_shift, bitwise_right_shift]
