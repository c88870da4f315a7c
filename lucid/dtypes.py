"""Type promotion as PyTorch does it: the one dtype an op's operands are cast to when theirs differ.

Dtypes fall in categories, bool < integer < floating < complex. Operands are ranked too: tensors with
dimensions, then 0-d tensors, then Python numbers. The highest rank decides within its category, and
an operand of a lower rank counts only if its category is higher: `float32 tensor * 2.5` stays float32,
`int tensor + 0.5` takes the default float dtype (float32), a float64 0-d tensor widens an integer
tensor but not a float32 one. Across categories the higher one's dtype wins (int64 + float32 is
float32, where NumPy says float64); within one, NumPy's promotion agrees with PyTorch's (uint8 + int8
is int16).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import OpError

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_BOOL, _INT64 = np.dtype(np.bool_), np.dtype(np.int64)
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _Default:
    dtype = np.dtype(np.float32)


def get_default_dtype() -> np.dtype:
    """The dtype of Python floats in tensors and factories (float32 unless set_default_dtype changed it)."""
    return _Default.dtype


def set_default_dtype(dtype: Any) -> None:
    """Make `dtype` (float32 or float64) the default float dtype, as torch.set_default_dtype does."""
    try:
        wanted = np.dtype(dtype)
    except TypeError:
        wanted = None
    if wanted not in _FLOATS:
        raise OpError(f"set_default_dtype: expected lucid.float32 or lucid.float64, got {dtype!r}")
    _Default.dtype = wanted


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """The smallest dtype both convert to, PyTorch's way: across categories the higher one's dtype
    (a float64 meeting complex64 makes complex128), within one NumPy's answer."""
    if a == b:
        return a
    high, low = (a, b) if _CATEGORY[a.kind] >= _CATEGORY[b.kind] else (b, a)
    if _CATEGORY[high.kind] == _CATEGORY[low.kind] or (high.kind == "c" and low.kind == "f"):
        return np.promote_types(high, low)
    return high


def _number_dtype(value: Any) -> np.dtype:
    """A Python number's dtype when it stands alone: bool, int64, or the default float (complex) dtype."""
    if isinstance(value, (bool, np.bool_)):
        return _BOOL
    if isinstance(value, (int, np.integer)):
        return _INT64
    if isinstance(value, (complex, np.complexfloating)):
        return np.result_type(_Default.dtype, np.complex64)
    return _Default.dtype


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """The result of operands of a higher rank and of a lower one: the lower counts only where its
    category is higher (PyTorch's combine_categories)."""
    if higher is None or lower is None:
        return lower if higher is None else higher
    if _CATEGORY[lower.kind] > _CATEGORY[higher.kind]:
        return promote_types(higher, lower) if higher.kind == "f" or lower.kind == "f" else lower
    return higher


def result_type(*operands: Any) -> np.dtype:
    """The dtype PyTorch computes `operands` in: Tensors, NumPy arrays and Python numbers."""
    ranks: list[np.dtype | None] = [None, None, None]  # with dimensions, 0-d, Python numbers
    for x in operands:
        array = x if type(x) is np.ndarray else getattr(x, "data", x)  # a Tensor's array
        if isinstance(array, np.ndarray):
            rank, dtype = (0 if array.ndim else 1), array.dtype
        else:
            rank, dtype = 2, _number_dtype(x)
        known = ranks[rank]
        ranks[rank] = dtype if known is None or known is dtype else promote_types(known, dtype)
    result = _combine(_combine(ranks[0], ranks[1]), ranks[2])
    if result is None:
        raise OpError("result_type: expected at least one tensor or number")
    return result
