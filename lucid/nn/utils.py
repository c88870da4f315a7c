"""`lucid.nn.utils`: gradient clipping, with `torch.nn.utils`' names and semantics.

Clipping changes the `.grad` of each parameter in place, between `backward()` and the optimizer's
`step()`, outside any graph. Parameters without a gradient are skipped.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import OpError
from ..tensor import Tensor, no_grad

Tensors = Tensor | Iterable[Tensor]


def _gradients(parameters: Tensors, name: str) -> list[Tensor]:
    """The gradients of `parameters` (one tensor or an iterable, a generator included) that have one."""
    if isinstance(parameters, Tensor):
        return [parameters.grad] if parameters.grad is not None else []
    if not isinstance(parameters, Iterable):
        raise OpError(f"{name}: parameters must be a Tensor or an iterable of Tensors, "
                      f"got {type(parameters).__name__}")
    parameters = list(parameters)
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise OpError(f"{name}: parameters must be Tensors, but parameter {i} is {type(p).__name__!r}")
    return [p.grad for p in parameters if p.grad is not None]


def _check_bound(name: str, argument: str, value: Any) -> float:
    """A clipping threshold: a number >= 0 (infinity clips nothing)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) >= 0:
        raise OpError(f"{name}: {argument} must be a number >= 0, got {value!r}")
    return float(value)


@no_grad()
def get_total_norm(tensors: Tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The `norm_type`-norm of all the entries of `tensors` together (as one long vector): the
    norm of their norms. `norm_type` may be inf. With `error_if_nonfinite`, a NaN or infinite
    total is an error."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    try:
        ord = float(norm_type)
    except (TypeError, ValueError):
        raise OpError(f"get_total_norm: norm_type must be a number (or inf), got {norm_type!r}") from None
    if math.isnan(ord):
        raise OpError("get_total_norm: norm_type must be a number (or inf), got nan")
    if not tensors:
        return Tensor(np.array(0.0, dtype=np.float32))  # PyTorch's tensor(0.): nothing to clip
    # an empty tensor adds nothing to the norm (and has no largest entry)
    norms = [np.linalg.norm(t.data.ravel(), ord) for t in tensors if t.data.size]
    total = np.linalg.norm(np.stack(norms), ord) if norms else np.zeros((), dtype=tensors[0].dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise OpError(f"get_total_norm: the total norm of order {ord} of the gradients is {total}, so they "
                      f"cannot be clipped by it; pass error_if_nonfinite=False to scale them by it anyway")
    return Tensor(np.asarray(total))


@no_grad()
def _scale(gradients: list[Tensor], max_norm: float, total_norm: Tensor | float) -> None:
    total = np.asarray(total_norm.data if isinstance(total_norm, Tensor) else total_norm)
    scale = np.minimum(max_norm / (total + 1e-6), 1.0)  # in the norm's dtype, as PyTorch
    for grad in gradients:
        with np.errstate(invalid="ignore"):  # an infinite entry times a scale of 0: NaN, as in PyTorch
            grad.copy_(grad.data * scale)  # even by 1, as PyTorch: a NaN norm makes NaN gradients


def clip_grads_with_norm_(parameters: Tensors, max_norm: float, total_norm: Tensor | float) -> None:
    """Scale the gradients by max_norm / (total_norm + 1e-6) where that is below 1: the second
    half of `clip_grad_norm_`, for a `total_norm` computed by `get_total_norm` (and perhaps
    reduced across workers)."""
    name = "clip_grads_with_norm_"
    max_norm = _check_bound(name, "max_norm", max_norm)
    if not isinstance(total_norm, (Tensor, numbers.Real)) or isinstance(total_norm, bool):
        raise OpError(f"{name}: total_norm must be a Tensor or a number (from get_total_norm), "
                      f"got {total_norm!r}")
    _scale(_gradients(parameters, name), max_norm, total_norm)


def clip_grad_norm_(parameters: Tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all the gradients by one factor so that their total norm (see `get_total_norm`) is at
    most `max_norm`, and return that total norm from before the scaling (a 0-d Tensor)."""
    max_norm = _check_bound("clip_grad_norm_", "max_norm", max_norm)
    gradients = _gradients(parameters, "clip_grad_norm_")
    total_norm = get_total_norm(gradients, norm_type, error_if_nonfinite)
    _scale(gradients, max_norm, total_norm)
    return total_norm


@no_grad()
def clip_grad_value_(parameters: Tensors, clip_value: float) -> None:
    """Clamp every gradient entry into [-clip_value, clip_value] (a NaN stays NaN)."""
    bound = _check_bound("clip_grad_value_", "clip_value", clip_value)
    for grad in _gradients(parameters, "clip_grad_value_"):
        grad.copy_(np.clip(grad.data, -bound, bound))
