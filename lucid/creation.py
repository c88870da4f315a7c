"""Factories for new leaf tensors, and the random generator behind rand, randn and dropout."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .dtypes import get_default_dtype
from .errors import OpError
from .tensor import Tensor

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator used by rand, randn, dropout and parameter initialisation. As in PyTorch,
    the seed is taken as int(seed), and a negative one wraps around 2**64."""
    global _generator
    try:
        value = int(seed)
    except (TypeError, ValueError):
        raise OpError(f"manual_seed: seed must be an int, got {seed!r} ({type(seed).__name__})") from None
    _generator = np.random.default_rng(value % 2**64)


def generator() -> np.random.Generator:
    """The current random generator (replaced by manual_seed)."""
    return _generator


def _shape(size: tuple, where: str) -> tuple[int, ...]:
    """`zeros(2, 3)` and `zeros((2, 3))` mean the same, as in PyTorch; each size a count >= 0."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    for n in shape:
        check_count(n, "size", where, shape)
    return tuple(int(n) for n in shape)


def check_count(n: Any, name: str, where: str, shape: tuple | None = None) -> None:
    """A size, a number of steps or of features must be a non-negative int (a float or a bool is a mistake)."""
    within = f" in {shape}" if shape is not None else ""
    if not isinstance(n, (int, np.integer)) or isinstance(n, (bool, np.bool_)):
        raise OpError(f"{where}: {name} must be a non-negative int, got {n!r} ({type(n).__name__}){within}")
    if n < 0:
        raise OpError(f"{where}: {name} must be a non-negative int, got {n}{within}")


def _new(where: str, make: Callable[[], np.ndarray], shape: tuple[int, ...], dtype: Any,
         requires_grad: bool) -> Tensor:
    """A leaf Tensor of `make()` in `dtype`, with a clear error for a bad dtype or a size too large."""
    try:
        dtype = None if dtype is None else np.dtype(dtype)
    except TypeError:
        raise OpError(f"{where}: {dtype!r} is not a dtype") from None
    try:
        array = make()
        return Tensor(array if dtype is None else array.astype(dtype, copy=False), requires_grad=requires_grad)
    except MemoryError:
        itemsize = (dtype or np.dtype(np.float64)).itemsize
        wanted = math.prod(shape) * itemsize
        raise OpError(f"{where}: can't allocate {wanted} bytes ({wanted / 2**30:.1f} GiB) for a tensor of shape "
                      f"{shape} and dtype {dtype or 'float64'}") from None


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _shape(size, "zeros()"), dtype or get_default_dtype()
    return _new("zeros()", lambda: np.zeros(shape, dtype=dtype), shape, dtype, requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _shape(size, "ones()"), dtype or get_default_dtype()
    return _new("ones()", lambda: np.ones(shape, dtype=dtype), shape, dtype, requires_grad)


def full(size: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    dtype = dtype or (get_default_dtype() if isinstance(fill_value, float) else np.asarray(fill_value).dtype)
    shape = _shape((size,), "full()")
    return _new("full()", lambda: np.full(shape, fill_value, dtype=dtype), shape, dtype, requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor whose values are whatever its fresh memory holds, as in PyTorch: write them before reading."""
    shape, dtype = _shape(size, "empty()"), dtype or get_default_dtype()
    return _new("empty()", lambda: np.empty(shape, dtype=dtype), shape, dtype, requires_grad)


def empty_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new("empty_like()", lambda: np.empty_like(t.data, dtype=dtype), t.shape, dtype, requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`fill_value` in t's shape and, unless `dtype` says otherwise, t's dtype (2.7 in an int64 tensor is 2)."""
    return _new("full_like()", lambda: np.full_like(t.data, fill_value, dtype=dtype), t.shape, dtype, requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new("zeros_like()", lambda: np.zeros_like(t.data, dtype=dtype), t.shape, dtype, requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new("ones_like()", lambda: np.ones_like(t.data, dtype=dtype), t.shape, dtype, requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Integers give int64 and any float gives float32, as in PyTorch, which also refuses a zero
    step, a step pointing away from `end` and infinite bounds (NumPy divides by zero or returns
    an empty array)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise OpError(f"arange(): step must be nonzero, got arange({start}, {end}, {step})")
    if not all(math.isfinite(v) for v in (start, end, step)):
        raise OpError(f"arange(): unsupported range {start} -> {end} with step {step}; it must be finite")
    if (end - start) * step < 0:
        raise OpError(f"arange(): the bounds {start} -> {end} are inconsistent with the sign of step {step}")
    floating = any(isinstance(v, float) for v in (start, end, step))
    length = (math.ceil((end - start) / step),)
    default = get_default_dtype() if floating else np.int64
    return _new("arange()", lambda: np.arange(start, end, step), length, dtype or default, requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    check_count(steps, "steps", "linspace()")
    return _new("linspace()", lambda: np.linspace(start, end, steps), (steps,), dtype or get_default_dtype(),
                requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    check_count(n, "n", "eye()")
    if m is not None:
        check_count(m, "m", "eye()")
    return _new("eye()", lambda: np.eye(n, m), (n, n if m is None else m), dtype or get_default_dtype(),
                requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    shape = _shape(size, "rand()")
    return _new("rand()", lambda: _generator.random(shape), shape, dtype or get_default_dtype(), requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    shape = _shape(size, "randn()")
    return _new("randn()", lambda: _generator.standard_normal(shape), shape, dtype or get_default_dtype(),
                requires_grad)
