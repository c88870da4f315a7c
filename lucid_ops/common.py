"""Small helpers shared by the op families. (PyTorch `dim` arguments become NumPy axes with
`lucid.op.axes` and `lucid.op.one_axis`.)"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


#: The deliberate difference (`Op.differences["nan gradient"]`) of the rules whose PyTorch kernel
#: answers a NaN input one way in its scalar loop and another in its vectorized one.
NAN_GRADIENT_BY_POSITION = ("PyTorch's gradient at a NaN input depends on where the entry falls: its vectorized "
                            "loop (whole SIMD vectors) gives 0 or NaN where its scalar loop (a 0-d tensor, the "
                            "tail) applies its formula, which this rule follows; no rule can match both")

#: The deliberate difference of the p-norms (norm, linalg.norm, normalize), declared for the oracle check.
NORM_AT_ZERO = {"second order": "at a zero vector a norm has no Hessian: PyTorch's second derivative is NaN "
                                "there, Lucid's the finite value of its guarded rule"}

#: The deliberate difference of the ops whose PyTorch kernels add many products in an order of their
#: own (blocked matrix products with fused multiply-adds, SIMD lanes, a mean for a 1x1 output).
SUMMATION_ORDER = {"evaluation order": "PyTorch's kernel adds the products in its own order, with fused "
                                       "multiply-adds: 1e30 - 1e30 + x, and 0 * inf within a sum, come out x or "
                                       "0, NaN or inf, depending on that order"}

#: The deliberate difference of the ops that add values with NumPy (its pairwise sum), where PyTorch
#: adds in vectorized lanes: the order matters only where huge values of both signs cancel, or a
#: tiny one meets values that cancel (0.5 + 1e-30 - 0.5 is 1e-30 or 0).
PAIRWISE_SUMS = {"summation order": "NumPy adds pairwise, PyTorch in vectorized lanes: beside 1e30 and -1e30, "
                                    "1e30 - 1e30 + x comes out x or 0"}


def keepdim_shape(shape: Sequence[int], reduced: Sequence[int]) -> tuple[int, ...]:
    """The shape of a reduction's result with keepdim=True: reduced axes become 1."""
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


def vector_norm(x: np.ndarray, p: float, axis: tuple[int, ...], keepdims: bool = False) -> np.ndarray:
    """PyTorch's vector p-norm of x over `axis`: the largest or smallest |x| for p = inf or -inf, the
    count of non-zero entries for p = 0, (sum |x|^p)^(1/p) otherwise. Over slices of one entry it is
    |x| itself, as PyTorch's linalg.vector_norm has it: squared, a float32 1e30 would overflow to
    inf (and 1e-30 underflow to 0) where the norm is the value."""
    size = np.abs(x)
    if p == 0:
        return np.sum(size != 0, axis=axis, keepdims=keepdims).astype(x.dtype)
    if all(x.shape[a] == 1 for a in axis):
        return size if keepdims else np.squeeze(size, axis)
    if p == math.inf:
        return np.amax(size, axis=axis, keepdims=keepdims)
    if p == -math.inf:
        return np.amin(size, axis=axis, keepdims=keepdims)
    if p == 1:
        return np.sum(size, axis=axis, keepdims=keepdims)
    if p == 2:
        return np.sqrt(np.sum(size * size, axis=axis, keepdims=keepdims))
    return np.sum(size ** p, axis=axis, keepdims=keepdims) ** (1 / p)


def has_zero(a: np.ndarray) -> bool:
    """Whether `a` has a zero (NaN is not one): the test a rule runs before building an edge-point
    mask. np.count_nonzero skips the ufunc reduction machinery, so on small arrays it costs about a
    third of `not a.all()`, and the common case, no zero, pays only this."""
    return np.count_nonzero(a) < a.size


def zero_where(mask: np.ndarray, g: np.ndarray) -> np.ndarray:
    """g with exact zeros where `mask` holds, also where g is inf or NaN there (PyTorch's
    where(mask, 0, g), whereas g * ~mask is NaN there). One fast sum proves the common case, every g
    finite (a sum is finite only if each term is), which then pays little more than g * ~mask."""
    with np.errstate(all="ignore"):
        if np.isfinite(np.add.reduce(g, axis=None)):
            return g * ~mask
    return np.where(mask, 0, g)


def sgn(a: np.ndarray) -> np.ndarray:
    """PyTorch's sign: -1, 0 or 1, and 0 at NaN, where np.sign gives NaN. PyTorch's rules take their
    slopes from it (abs, l1_loss), so a NaN input gets a zero gradient there, not a NaN one. The
    common case, no NaN, pays one np.isnan pass over the result."""
    s = np.sign(a)
    if s.dtype.kind == "f":
        nan = np.isnan(s)
        if np.count_nonzero(nan):
            return np.where(nan, 0, s)
    return s


def reusing(buffer: np.ndarray, ufunc: np.ufunc, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ufunc(a, b), written over `buffer` (one of a and b, a temporary the rule just made) when the
    result has its shape and dtype. A fresh large array costs as much as the arithmetic (its pages
    are faulted in and zeroed), so a rule that reuses its temporaries runs up to twice as fast."""
    other = b if a is buffer else a
    if other.dtype == buffer.dtype and (other.shape == buffer.shape or np.broadcast(a, b).shape == buffer.shape):
        return ufunc(a, b, out=buffer)
    return ufunc(a, b)
