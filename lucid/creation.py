"""Factories for new leaf tensors, and the random generator behind rand, randn and dropout."""
from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator used by rand, randn, dropout and parameter initialisation."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The current random generator (replaced by manual_seed)."""
    return _generator


def _shape(size: tuple) -> tuple[int, ...]:
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def _new(array: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    return Tensor(array if dtype is None else array.astype(dtype, copy=False), requires_grad=requires_grad)


def zeros(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return _new(np.zeros(_shape(size), dtype=dtype), None, requires_grad)


def ones(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(_shape(size), dtype=dtype), None, requires_grad)


def full(size: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    dtype = dtype or (np.float32 if isinstance(fill_value, float) else np.asarray(fill_value).dtype)
    return _new(np.full(_shape((size,)), fill_value, dtype=dtype), None, requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.zeros_like(t.data, dtype=dtype), None, requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones_like(t.data, dtype=dtype), None, requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Integers give int64 and any float gives float32, as in PyTorch."""
    if end is None:
        start, end = 0, start
    floating = any(isinstance(v, float) for v in (start, end, step))
    return _new(np.arange(start, end, step), dtype or (np.float32 if floating else np.int64), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return _new(np.linspace(start, end, steps), dtype, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return _new(np.eye(n, m), dtype, requires_grad)


def rand(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    return _new(_generator.random(_shape(size)), dtype, requires_grad)


def randn(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    return _new(_generator.standard_normal(_shape(size)), dtype, requires_grad)
