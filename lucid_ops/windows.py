"""Sliding windows: `x.unfold(dimension, size, step)`, PyTorch's Tensor.unfold.

The result is a view of the input (NumPy's sliding_window_view, every `step`-th window), with the
window as a new last dim. Windows overlap where step < size, so an input value appears in several:
the gradient scatters each window back onto the values it read, and the overlaps add up
(`index_backward`, whose own gradient is the same pick again).
"""
from __future__ import annotations

import numpy as np

from lucid import Example, Op, OpError, Param, hookimpl
from lucid.op import dim, one_axis
from lucid_ops.shape import anything, index_backward, permute


def _check(x, dimension, size, step):
    """The axis the windows slide along, after PyTorch's checks of size and step."""
    d = one_axis("unfold", dimension, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if not 0 <= size <= n:
        raise OpError(f"unfold: size must be between 0 and {n}, the size of dim {dimension} of the input of shape "
                      f"{x.shape}, got {size}")
    if step <= 0:
        raise OpError(f"unfold: step must be > 0, got {step}")
    return d


def _unfold(x, dimension, size, step):
    d = _check(x, dimension, size, step)
    if x.ndim == 0:
        return x.reshape(1)[:size]
    windows = np.lib.stride_tricks.sliding_window_view(x, size, axis=d)
    return windows[(slice(None),) * d + (slice(None, None, step),)]


def _unfold_vjp(g, out, x, dimension, size, step):
    """Window i, entry j read x[..., i * step + j, ...]: move the window dim back beside the window
    count and scatter g onto those positions."""
    d = _check(x.data, dimension, size, step)
    if x.ndim == 0:
        return (g.sum(),)
    count = out.shape[d]
    positions = (np.arange(count) * step)[:, None] + np.arange(size)
    order = (*range(d + 1), out.ndim - 1, *range(d + 1, out.ndim - 1))
    return (index_backward(permute(g, order), x.shape, (slice(None),) * d + (positions,)),)


def _unfold_sample(draw):
    shape = draw.shape()
    d = draw.integer(-max(len(shape), 1), max(len(shape), 1) - 1)
    n = shape[d] if shape else 1
    return Example((shape,), {"dimension": d, "size": draw.integer(0, n), "step": draw.integer(1, 3)})


unfold = Op("unfold", _unfold, _unfold_vjp, anything,
            params=(Param("dimension", choices=dim, kind="dim"), Param("size", kind="int"), Param("step", kind="int")),
            sample=_unfold_sample)


@hookimpl
def lucid_ops():
    return [unfold]
