"""Non-differentiable companions of the ops: comparisons, tests and arg-reductions.

They answer questions about values (which is larger? where is the maximum? is it NaN?) whose
answers are booleans or indices, so there is no gradient to carry: each function returns a new
Tensor outside the graph, whatever its inputs require. They are plain functions, not registered
ops, and take Tensors, arrays or numbers, with PyTorch's names and arguments. (Rounding and sign
return values of the input's kind, through which PyTorch passes a zero gradient: they are ops,
in lucid_ops/arithmetic.py.)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import OpError
from .op import axes, takes_pytorch_names
from .tensor import OPERATORS, Tensor

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite", "logical_and", "logical_or",
           "logical_not", "argmax", "argmin", "argsort", "all", "any", "isclose", "allclose", "equal", "count_nonzero",
           "nonzero"]

Dim = int | Sequence[int] | None


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _binary(ufunc: np.ufunc, name: str):
    def function(input: Any, other: Any) -> Tensor:
        return Tensor(ufunc(_array(input), _array(other)))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Elementwise {ufunc.__name__}, as a bool tensor without grad."
    return function


def _unary(ufunc: np.ufunc, name: str):
    def function(input: Any) -> Tensor:
        return Tensor(ufunc(_array(input)))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Elementwise {ufunc.__name__}, as a tensor without grad."
    return function


eq, ne = _binary(np.equal, "eq"), _binary(np.not_equal, "ne")
lt, le = _binary(np.less, "lt"), _binary(np.less_equal, "le")
gt, ge = _binary(np.greater, "gt"), _binary(np.greater_equal, "ge")
logical_and, logical_or = _binary(np.logical_and, "logical_and"), _binary(np.logical_or, "logical_or")
logical_not = _unary(np.logical_not, "logical_not")
isnan, isinf, isfinite = _unary(np.isnan, "isnan"), _unary(np.isinf, "isinf"), _unary(np.isfinite, "isfinite")


def _arg_reduction(reduce, name: str):
    def function(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
        x = _array(input)
        if x.size == 0:
            raise OpError(f"{name}: cannot take the {name} of an empty tensor (shape {x.shape})")
        axis = axes(name, dim, x.ndim) if dim is not None else ()
        return Tensor(reduce(x, axis=axis[0] if axis else None, keepdims=keepdim).astype(np.int64))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"Index of the {name[3:]}imum along `dim` (of the flattened tensor if dim is None); "
                        f"at a tie, the first one.")
    return takes_pytorch_names(function)


argmax, argmin = _arg_reduction(np.argmax, "argmax"), _arg_reduction(np.argmin, "argmin")


@takes_pytorch_names
def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Indices that sort `input` along `dim`; equal values keep their order (always stable).

    Descending order sorts the reversed tensor and reverses the answer back, rather than sorting
    -x: that keeps ties in order, works for bools, and puts NaN first, as PyTorch does."""
    x = _array(input)
    if x.ndim == 0:
        axes("argsort", dim, 0)
        return Tensor(np.zeros((), dtype=np.int64))
    (axis,) = axes("argsort", dim, x.ndim)
    if not descending:
        return Tensor(np.argsort(x, axis=axis, kind="stable"))
    order = np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)
    return Tensor(x.shape[axis] - 1 - order)


def _logical_reduction(reduce, name: str):
    def function(input: Any, dim: Dim = None, keepdim: bool = False) -> Tensor:
        x = _array(input)
        axis = None if dim is None else axes(name, dim, x.ndim)
        return Tensor(np.asarray(reduce(x, axis=axis, keepdims=keepdim)))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Whether {name} of the values along `dim` are nonzero, as a bool tensor."
    return takes_pytorch_names(function)


all, any = _logical_reduction(np.all, "all"), _logical_reduction(np.any, "any")


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """Where |input - other| <= atol + rtol |other| (equal infinities are close, NaN only to NaN
    with equal_nan), as a bool tensor."""
    return Tensor(np.isclose(_array(input), _array(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether isclose holds everywhere (a Python bool, as in PyTorch)."""
    return bool(np.allclose(_array(input), _array(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input: Any, other: Any) -> bool:
    """Whether both have the same shape and the same values (a Python bool)."""
    return bool(np.array_equal(_array(input), _array(other)))


@takes_pytorch_names
def count_nonzero(input: Any, dim: Dim = None) -> Tensor:
    x = _array(input)
    axis = None if dim is None else axes("count_nonzero", dim, x.ndim)
    return Tensor(np.asarray(np.count_nonzero(x, axis=axis), dtype=np.int64))


def nonzero(input: Any, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """The indices of the nonzero values: one row per value (shape (n, ndim)), or with
    `as_tuple`, one 1-D index tensor per dim (a 0-d input counts as 1-D)."""
    x = _array(input)
    if as_tuple:
        return tuple(Tensor(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(x)))
    return Tensor(np.argwhere(x).astype(np.int64))


# Tensor methods, PyTorch-style (`x.argmax(dim=1)`, `x.isnan()`), where Tensor has none already.
for _name in __all__:
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, globals()[_name])


def _where_method(self: Tensor, condition: Any, other: Any) -> Tensor:
    """`x.where(condition, y)` is `where(condition, x, y)`, as in PyTorch."""
    return OPERATORS["where"](condition, self, other)


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    """`x.polygamma(n)` is `polygamma(n, x)`, as in PyTorch."""
    return OPERATORS["polygamma"](n, self)


Tensor.where, Tensor.polygamma = _where_method, _polygamma_method  # type: ignore[attr-defined]  # as ops' methods
