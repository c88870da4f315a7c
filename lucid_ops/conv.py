"""Convolution and pooling (`lucid.nn.functional`): conv1d, conv2d, unfold, fold, max/avg pooling.

Everything rests on one picture: `unfold` (im2col) lays every kernel-sized window of the input out
as a column, so a convolution is a matrix product of the weight with those columns. Its adjoint,
`fold` (col2im), adds each column back onto the window it came from. So:

- conv2d's forward is a matmul of the weight with the columns, read from NumPy's sliding-window
  view (vectorized, no loop over pixels);
- the weight's gradient is the output gradient times the input's columns: matmul(g, unfold(x)^T);
- the input's gradient is fold of weight^T times g: a transposed convolution;
- unfold and fold are each other's gradient, so all of this can be differentiated again.

conv1d is conv2d on inputs of height 1. Pooling reads the same windows: avg_pool2d's gradient is
a fold, max_pool2d's is a scatter of g onto each window's maximum.
"""
from __future__ import annotations

import itertools
import math
import numbers
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lucid import Arg, Example, Op, OpError, Param, hookimpl
from lucid_ops.common import SUMMATION_ORDER
from lucid_ops.linalg import matmul
from lucid_ops.shape import expand, index_backward


# --- geometry --------------------------------------------------------------------------------

def _tuple(name, arg, value, n, low=1, one_for_all=False):
    """An int or a tuple (or list) of n ints, as an n-tuple of ints >= low. With `one_for_all`, a
    tuple of one int stands for it in every dim, as pooling and convolutions take it in PyTorch
    (unfold and fold do not)."""
    values = (value,) * n if isinstance(value, numbers.Integral) else \
        tuple(value) if isinstance(value, (tuple, list)) else ()
    if one_for_all and len(values) == 1:
        values *= n
    if len(values) != n or not all(isinstance(v, numbers.Integral) and v >= low for v in values):
        count = f"1 or {n}" if one_for_all and n > 1 else n
        raise OpError(f"{name}: {arg} must be an int >= {low} or a tuple of {count} of them, got {value!r}")
    return tuple(int(v) for v in values)


def _per_dim(name, n, stride, padding, dilation):
    """The stride, padding and dilation of a pooling or a convolution, in any form PyTorch takes
    there, as n-tuples (a word for padding, 'same' or 'valid', is left to `_windows`)."""
    return (_tuple(name, "stride", stride, n, one_for_all=True),
            padding if isinstance(padding, str) else _tuple(name, "padding", padding, n, low=0, one_for_all=True),
            _tuple(name, "dilation", dilation, n, one_for_all=True))


def _drawn_form(draw, values, one_for_all=True):
    """Per-dim values (drawn independently, so they often differ) in a form PyTorch takes: the
    tuple, or where they are all equal, also an int or (with `one_for_all`) a tuple of one."""
    if len(set(values)) > 1:
        return values
    return draw.choice((values, values[0]) + ((values[:1],) if one_for_all and len(values) > 1 else ()))


class Windows(NamedTuple):
    """Where the windows of a sliding op lie: per spatial dim, the kernel size, stride, dilation,
    padding (before, after) and the number of windows."""

    kernel: tuple
    stride: tuple
    dilation: tuple
    pads: tuple
    out: tuple

    @property
    def span(self):
        """The extent of a dilated kernel."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))


def _windows(name, spatial, kernel_size, stride, padding, dilation):
    """The windows over an input of spatial size `spatial`. padding is an int, a tuple, 'valid',
    'same' (stride 1 only; any odd extra goes after, as in PyTorch) or, for unfold and fold,
    a tuple of (before, after) pairs."""
    n = len(spatial)
    kernel = _tuple(name, "kernel_size", kernel_size, n)
    stride = _tuple(name, "stride", stride, n)
    dilation = _tuple(name, "dilation", dilation, n)
    if padding == "valid":
        pads = ((0, 0),) * n
    elif padding == "same":
        if stride != (1,) * n:
            raise OpError(f"{name}: padding='same' is not supported for strided convolutions (stride {stride})")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        pads = tuple((t // 2, t - t // 2) for t in totals)
    elif not isinstance(padding, str) and len(np.shape(padding)) == 2:
        pads = tuple(tuple(_tuple(name, "padding", p, 2, low=0)) for p in padding)
    else:
        pads = tuple((p, p) for p in _tuple(name, "padding", padding, n, low=0))
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    out = tuple((size + lo + hi - s) // st + 1 for size, (lo, hi), s, st in zip(spatial, pads, span, stride))
    if len(pads) != n or min(out) < 1:
        raise OpError(f"{name}: input of spatial size {tuple(spatial)} padded by {pads} is smaller than the "
                      f"kernel {kernel} dilated by {dilation}")
    return Windows(kernel, stride, dilation, pads, out)


def _views(x, w: Windows):
    """Every window of x (N, C, *S) as a strided view of shape (N, C, *out, *kernel): no copy."""
    n = len(w.kernel)
    if any(p != (0, 0) for p in w.pads):
        x = np.pad(x, ((0, 0),) * (x.ndim - n) + w.pads)
    views = sliding_window_view(x, w.span, axis=tuple(range(x.ndim - n, x.ndim)))
    return views[(..., *(slice(None, None, s) for s in w.stride), *(slice(None, None, d) for d in w.dilation))]


def _batched(x, n, name, what="input"):
    """x with a leading batch axis (added for an unbatched input), and whether one was added."""
    if x.ndim not in (n + 1, n + 2):
        raise OpError(f"{name}: expected a {n + 2}-D (batched) or {n + 1}-D (unbatched) {what}, got shape {x.shape}")
    return (x, False) if x.ndim == n + 2 else (x[None], True)


# --- unfold and fold -------------------------------------------------------------------------

def _unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, H, W) -> (N, C * kH * kW, L): each column a window, channel-major as in PyTorch."""
    xb, added = _batched(x, 2, "nn.functional.unfold")
    w = _windows("nn.functional.unfold", xb.shape[2:], kernel_size, stride, padding, dilation)
    views = _views(xb, w)  # (N, C, oH, oW, kH, kW)
    cols = views.transpose(0, 1, 4, 5, 2, 3).reshape(len(xb), xb.shape[1] * math.prod(w.kernel), math.prod(w.out))
    return cols[0] if added else cols


def _fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold: each column added back onto its window (overlaps add up)."""
    name = "nn.functional.fold"
    cb, added = _batched(cols, 1, name)
    size = _tuple(name, "output_size", output_size, 2)
    w = _windows(name, size, kernel_size, stride, padding, dilation)
    k, length = math.prod(w.kernel), math.prod(w.out)
    if cb.shape[1] % k or cb.shape[2] != length:
        raise OpError(f"{name}: input of shape {cols.shape} does not fit kernel {w.kernel} and output_size {size}: "
                      f"expected (N, C * {k}, {length})")
    blocks = cb.reshape(len(cb), cb.shape[1] // k, *w.kernel, *w.out)
    (top, bottom), (left, right) = w.pads
    out = np.zeros((len(cb), blocks.shape[1], size[0] + top + bottom, size[1] + left + right), dtype=cols.dtype)
    for i, j in np.ndindex(*w.kernel):  # one pass per kernel offset, each over all windows at once
        r, c = i * w.dilation[0], j * w.dilation[1]
        out[:, :, r:r + w.stride[0] * (w.out[0] - 1) + 1:w.stride[0],
            c:c + w.stride[1] * (w.out[1] - 1) + 1:w.stride[1]] += blocks[:, :, i, j]
    out = out[:, :, top:top + size[0], left:left + size[1]]
    return out[0] if added else out


def _spatial_sample(draw):
    """Kernel, stride, dilation and padding, each per dim, and an input large enough for them."""
    kernel, dilation, stride = ((draw.integer(1, high), draw.integer(1, high)) for high in (3, 2, 2))
    padding = (draw.integer(0, 1), draw.integer(0, 1))
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw.integer(0, 2) for k, d, p in zip(kernel, dilation, padding))
    shape = (draw.integer(1, 2), draw.integer(1, 2)) + size
    params = {"kernel_size": kernel, "dilation": dilation, "padding": padding, "stride": stride}
    return shape, {name: _drawn_form(draw, values, one_for_all=False) for name, values in params.items()}


def _unfold_sample(draw):
    shape, params = _spatial_sample(draw)
    return Example((shape[1:] if draw.boolean() else shape,), params)


def _fold_sample(draw):
    shape, params = _spatial_sample(draw)
    w = _windows("fold", shape[2:], params["kernel_size"], params["stride"], params["padding"], params["dilation"])
    cols = (shape[0], shape[1] * math.prod(w.kernel), math.prod(w.out))
    return Example((cols,), {"output_size": _drawn_form(draw, shape[2:], one_for_all=False), **params})


unfold = Op("nn.functional.unfold", _unfold,
            lambda g, out, x, kernel_size, dilation, padding, stride:
                (fold(g, x.shape[-2:], kernel_size, dilation, padding, stride),),
            params=(Param("kernel_size"), Param("dilation", 1), Param("padding", 0), Param("stride", 1)),
            sample=_unfold_sample)
fold = Op("nn.functional.fold", _fold,
          lambda g, out, cols, output_size, kernel_size, dilation, padding, stride:
              (unfold(g, kernel_size, dilation, padding, stride),),
          params=(Param("output_size"), Param("kernel_size"), Param("dilation", 1), Param("padding", 0),
                  Param("stride", 1)),
          sample=_fold_sample)


# --- convolution -----------------------------------------------------------------------------

def _conv_check(name, x, weight, bias, groups, n):
    """Validate the shapes of a convolution; returns x with a batch axis and whether one was added."""
    xb, added = _batched(x, n, name)
    if weight.ndim != n + 2:
        raise OpError(f"{name}: weight must be {n + 2}-D (out_channels, in_channels / groups, *kernel), "
                      f"got shape {weight.shape}")
    if not isinstance(groups, numbers.Integral) or groups < 1 or weight.shape[0] % groups:
        raise OpError(f"{name}: groups={groups!r} must be a positive int dividing out_channels "
                      f"(weight of shape {weight.shape})")
    if xb.shape[1] != weight.shape[1] * groups:
        raise OpError(f"{name}: weight of shape {weight.shape} with groups={groups} expects "
                      f"{weight.shape[1] * groups} input channels, but input of shape {x.shape} has {xb.shape[1]}")
    if bias is not None and bias.shape != weight.shape[:1]:
        raise OpError(f"{name}: bias of shape {bias.shape} must have one value per output channel "
                      f"({weight.shape[0]},)")
    return xb, added


def _conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The weight times the input's columns, per group: (G, O/G, C/G k) @ (N, G, C/G k, L)."""
    name = "nn.functional.conv2d"
    xb, added = _conv_check(name, x, weight, bias, groups, 2)
    w = _windows(name, xb.shape[2:], weight.shape[2:], *_per_dim(name, 2, stride, padding, dilation))
    n, (c_out, c_in), k, length = len(xb), weight.shape[:2], math.prod(w.kernel), math.prod(w.out)
    cols = _unfold(xb, w.kernel, w.dilation, w.pads, w.stride).reshape(n, groups, c_in * k, length)
    out = (weight.reshape(groups, c_out // groups, c_in * k) @ cols).reshape(n, c_out, *w.out)
    if bias is not None:
        out += bias.reshape(-1, 1, 1)
    return out[0] if added else out


def _conv2d_grads(g, x, weight, bias, stride, padding, dilation, groups, need_x, need_w):
    """With the input's columns X = unfold(x), grouped: y = W X, so gW = g X^T and gX = W^T g,
    folded back onto the input."""
    xb = x if x.ndim == 4 else x.reshape(1, *x.shape)
    name = "nn.functional.conv2d"
    w = _windows(name, xb.shape[2:], weight.shape[2:], *_per_dim(name, 2, stride, padding, dilation))
    n, (c_out, c_in), k, length = len(xb.data), weight.shape[:2], math.prod(w.kernel), math.prod(w.out)
    gy = g.reshape(n, groups, c_out // groups, length)  # (N, G, O/G, L)
    gx = gw = None
    if need_w:
        cols = unfold(xb, w.kernel, w.dilation, w.pads, w.stride).reshape(n, groups, c_in * k, length)
        gw = (gy @ cols.mT).sum(0).reshape(weight.shape)
    if need_x:
        wm = weight.reshape(groups, c_out // groups, c_in * k)
        gcols = (wm.mT @ gy).reshape(n, groups * c_in * k, length)
        gx = fold(gcols, xb.shape[2:], w.kernel, w.dilation, w.pads, w.stride).reshape(x.shape)
    return gx, gw, gy.sum((0, 3)).reshape(c_out) if bias is not None else None


def _conv2d_vjp(g, out, x, weight, bias, stride, padding, dilation, groups):
    return _conv2d_grads(g, x, weight, bias, stride, padding, dilation, groups, x.requires_grad,
                         weight.requires_grad)


def _conv_sample(draw, n):
    """Stride, dilation and padding per dim (or padding 'valid' or 'same'), each in any of PyTorch's
    forms, and an input large enough for the kernel."""
    groups = draw.integer(1, 2)
    c_in, c_out = groups * draw.integer(1, 2), groups * draw.integer(1, 2)
    kernel, dilation, stride = (tuple(draw.integer(1, high) for _ in range(n)) for high in (3, 2, 2))
    padding = draw.choice(("per dim", "per dim", "valid") + (("same",) if stride == (1,) * n else ()))
    pads = tuple(draw.integer(0, 1) for _ in range(n)) if padding == "per dim" else (0,) * n
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw.integer(0, 2) for k, d, p in zip(kernel, dilation, pads))
    shape = (c_in,) + size if draw.boolean() else (draw.integer(1, 2), c_in) + size
    return Example((shape, (c_out, c_in // groups) + kernel, (c_out,) if draw.boolean() else None),
                   {"stride": _drawn_form(draw, stride), "dilation": _drawn_form(draw, dilation), "groups": groups,
                    "padding": _drawn_form(draw, pads) if padding == "per dim" else padding})


conv_params = (Param("stride", 1), Param("padding", 0), Param("dilation", 1), Param("groups", 1, kind="int"))
conv2d = Op("nn.functional.conv2d", _conv2d, _conv2d_vjp, (Arg("input"), Arg("weight"), Arg("bias", optional=True)),
            params=conv_params, sample=lambda draw: _conv_sample(draw, 2), differences=SUMMATION_ORDER, same_dtype=True)


def _as_2d(name, stride, padding, dilation):
    """conv1d's stride, padding and dilation as conv2d's, on inputs of height 1."""
    stride, padding, dilation = _per_dim(name, 1, stride, padding, dilation)
    return (1,) + stride, padding if isinstance(padding, str) else (0,) + padding, (1,) + dilation


def _conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    name = "nn.functional.conv1d"
    _conv_check(name, x, weight, bias, groups, 1)
    stride, padding, dilation = _as_2d(name, stride, padding, dilation)
    return _conv2d(_height1(x), _height1(weight), bias, stride, padding, dilation, groups)[..., 0, :]


def _height1(t):
    """A (..., L) tensor as (..., 1, L)."""
    return t.reshape(*t.shape[:-1], 1, t.shape[-1])


def _conv1d_vjp(g, out, x, weight, bias, stride, padding, dilation, groups):
    stride, padding, dilation = _as_2d("nn.functional.conv1d", stride, padding, dilation)
    gx, gw, gb = _conv2d_grads(_height1(g), _height1(x), _height1(weight), bias, stride, padding, dilation, groups,
                               x.requires_grad, weight.requires_grad)
    return (None if gx is None else gx.reshape(x.shape), None if gw is None else gw.reshape(weight.shape), gb)


conv1d = Op("nn.functional.conv1d", _conv1d, _conv1d_vjp, (Arg("input"), Arg("weight"), Arg("bias", optional=True)),
            params=conv_params, sample=lambda draw: _conv_sample(draw, 1), differences=SUMMATION_ORDER, same_dtype=True)


# --- pooling ---------------------------------------------------------------------------------

def _pool_windows(name, x, kernel_size, stride, padding, dilation=1):
    """The windows of a pooling, whose params take PyTorch's forms: an int or a tuple of 1 or 2
    ints each, and a stride of None or () for the kernel size. As there, the padding may be at
    most half the kernel size (without the dilation), so that every window holds an input value."""
    xb, added = _batched(x, 2, name)
    kernel = _tuple(name, "kernel_size", kernel_size, 2, one_for_all=True)
    if stride is None or isinstance(stride, (tuple, list)) and not stride:
        stride = kernel
    if isinstance(padding, str):
        raise OpError(f"{name}: padding must be an int >= 0 or a tuple of 1 or 2 of them, got {padding!r}")
    w = _windows(name, xb.shape[2:], kernel, *_per_dim(name, 2, stride, padding, dilation))
    if any(lo > k // 2 for (lo, _), k in zip(w.pads, w.kernel)):
        raise OpError(f"{name}: padding {padding} should be at most half of kernel_size {w.kernel}")
    return xb, added, w


def _max_windows(x, kernel_size, stride, padding, dilation):
    """The windows max_pool2d reads, padded with -inf (so that padding is never the max)."""
    xb, added, w = _pool_windows("nn.functional.max_pool2d", x, kernel_size, stride, padding, dilation)
    if all(p == (0, 0) for p in w.pads):
        return _views(xb, w), added, w
    padded = np.pad(xb, ((0, 0), (0, 0)) + w.pads, constant_values=-np.inf)
    return _views(padded, w._replace(pads=((0, 0), (0, 0)))), added, w


def _max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    views, added, _ = _max_windows(x, kernel_size, stride, padding, dilation)
    out = views.max(axis=(-2, -1))
    return out[0] if added else out


def _max_pool2d_vjp(g, out, x, kernel_size, stride, padding, dilation):
    """Each window's g goes to the first input position holding its maximum (never the padding,
    also where the maximum is -inf), or to its last NaN (PyTorch's kernel takes a NaN as the new
    maximum and keeps scanning); positions that are the maximum of several windows collect all their g.
    A dilated window over a small input can hold padding only (its maximum is -inf whatever x is):
    its g goes nowhere (PyTorch's kernel sends it to an index computed past the end of the row)."""
    views, added, w = _max_windows(x.data, kernel_size, stride, padding, dilation)
    flat = views.reshape(*views.shape[:4], math.prod(w.kernel))
    hit = flat == out.data.reshape(*flat.shape[:4], 1)
    padding_only = np.zeros(w.out, dtype=bool)
    if any(p != (0, 0) for p in w.pads):
        inside = _views(np.ones((1, 1) + x.shape[-2:], dtype=bool), w).reshape(*w.out, -1)
        hit &= inside
        padding_only = ~inside.any(-1)
    best = hit.argmax(-1)  # (N, C, oH, oW): offset inside the window
    nan = np.isnan(flat)
    if nan.any():
        best = np.where(nan.any(-1), flat.shape[-1] - 1 - nan[..., ::-1].argmax(-1), best)
    n, c, oh, ow = np.ogrid[:views.shape[0], :views.shape[1], :w.out[0], :w.out[1]]
    rows = oh * w.stride[0] + best // w.kernel[1] * w.dilation[0] - w.pads[0][0]
    cols = ow * w.stride[1] + best % w.kernel[1] * w.dilation[1] - w.pads[1][0]
    if padding_only.any():
        g = g * ~padding_only
        rows, cols = np.where(padding_only, 0, rows), np.where(padding_only, 0, cols)  # a place in x, for the 0
    key = (c[0], rows[0], cols[0]) if added else (n, c, rows, cols)
    return (index_backward(g, x.shape, key),)


def _avg_divisor(xb, w, count_include_pad, divisor_override):
    """What each window's sum is divided by: the kernel size, the number of non-padding elements,
    or the override."""
    if divisor_override is not None:
        return divisor_override
    if count_include_pad or all(p == (0, 0) for p in w.pads):
        return math.prod(w.kernel)
    return _views(np.ones((1, 1) + xb.shape[2:], dtype=xb.dtype), w).sum(axis=(-2, -1))


def _window_sums(views):
    """The sum of each window (the last two axes of `views`), added in PyTorch's order, row by row:
    where huge values cancel (1e30 - 1e30 + 0.02), the order decides whether the small ones survive."""
    total = views[..., 0, 0].copy()
    for i, j in list(np.ndindex(*views.shape[-2:]))[1:]:
        total += views[..., i, j]
    return total


def _avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True, divisor_override=None):
    xb, added, w = _pool_windows("nn.functional.avg_pool2d", x, kernel_size, stride, padding)
    out = _window_sums(_views(xb, w)) / _avg_divisor(xb, w, count_include_pad, divisor_override)
    out = out.astype(x.dtype, copy=False)
    return out[0] if added else out


def _avg_pool2d_vjp(g, out, x, kernel_size, stride, padding, count_include_pad, divisor_override):
    """Each window spreads g / divisor evenly over itself: a fold of that value repeated per kernel position."""
    xb, added, w = _pool_windows("nn.functional.avg_pool2d", x.data, kernel_size, stride, padding)
    n, c = xb.shape[:2]
    k, length = math.prod(w.kernel), math.prod(w.out)
    g = (g.reshape(n, c, *w.out) / _avg_divisor(xb, w, count_include_pad, divisor_override)).reshape(n, c, 1, length)
    spread = expand(g, (n, c, k, length)).reshape(n, c * k, length)
    return (fold(spread, xb.shape[2:], w.kernel, 1, w.pads, w.stride).reshape(x.shape),)


def _pool_sample(draw, dilated: bool):
    """Kernel, stride, padding (and, `dilated`, dilation) per dim, each in any of PyTorch's forms
    (a quarter of the strides left out: the kernel), and an input large enough for them. Along a
    dilated dim the input spans the dilated kernel: over a smaller one, a window can read padding
    only, and a max of -inf has no derivative to check."""
    kernel, stride = (draw.integer(1, 3), draw.integer(1, 3)), (draw.integer(1, 2), draw.integer(1, 2))
    padding = (draw.integer(0, kernel[0] // 2), draw.integer(0, kernel[1] // 2))
    dilation = (draw.integer(1, 2), draw.integer(1, 2)) if dilated else (1, 1)
    size = tuple((d * (k - 1) + 1 if d > 1 else max(1, k - 2 * p)) + draw.integer(0, 3)
                 for k, d, p in zip(kernel, dilation, padding))
    shape = (draw.integer(1, 3), draw.integer(1, 3)) + size
    params = {"kernel_size": _drawn_form(draw, kernel), "padding": _drawn_form(draw, padding),
              "stride": _drawn_form(draw, stride) if draw.integer(0, 3) else draw.choice((None, ()))}
    if dilated:
        params["dilation"] = _drawn_form(draw, dilation)
    return Example((shape[1:] if draw.boolean() else shape,), params)


def _avg_pool_sample(draw):
    example = _pool_sample(draw, dilated=False)
    return Example(example.inputs, {**example.params, "count_include_pad": draw.boolean()})


max_pool2d = Op("nn.functional.max_pool2d", _max_pool2d, _max_pool2d_vjp,
                params=(Param("kernel_size"), Param("stride", None), Param("padding", 0), Param("dilation", 1)),
                sample=lambda draw: _pool_sample(draw, dilated=True), ties=True)
avg_pool2d = Op("nn.functional.avg_pool2d", _avg_pool2d, _avg_pool2d_vjp,
                params=(Param("kernel_size"), Param("stride", None), Param("padding", 0),
                        Param("count_include_pad", True, (True, False), "bool"),
                        Param("divisor_override", None, (None, 3), "int")),
                sample=_avg_pool_sample)


def _adaptive_windows(x, output_size):
    """Per spatial dim, the [lo, hi) each output position averages: window i of n inputs pooled
    to m covers [floor(i * n / m), ceil((i + 1) * n / m))."""
    name = "nn.functional.adaptive_avg_pool2d"
    _batched(x, 2, name)
    sizes = (output_size,) * 2 if isinstance(output_size, numbers.Integral) else output_size
    if not isinstance(sizes, (tuple, list)) or len(sizes) != 2 or \
            not all(s is None or isinstance(s, numbers.Integral) and s >= 1 for s in sizes):
        raise OpError(f"{name}: output_size must be an int >= 1 or a tuple of 2 of them (None keeps the input's "
                      f"size), got {output_size!r}")
    sizes = tuple(n if s is None else int(s) for s, n in zip(sizes, x.shape[-2:]))
    return tuple([((i * n) // m, -((-(i + 1) * n) // m)) for i in range(m)] for n, m in zip(x.shape[-2:], sizes))


def _averaging(windows, size, dtype):
    """The (out, in) matrix of adaptive average pooling along one dim."""
    m = np.zeros((len(windows), size), dtype=dtype)
    for i, (lo, hi) in enumerate(windows):  # one row per output position, not per pixel
        m[i, lo:hi] = 1 / (hi - lo)
    return m


def _adaptive_avg_pool2d(x, output_size):
    """Each window's sum over the window itself, in PyTorch's order (`_window_sums`), over its size:
    a product with the averaging matrices would add 0 * x for the values outside it, NaN where x
    is infinite. One pass per output position."""
    rows, cols = _adaptive_windows(x, output_size)
    out = np.empty(x.shape[:-2] + (len(rows), len(cols)), dtype=x.dtype)
    for (i, (top, bottom)), (j, (left, right)) in itertools.product(enumerate(rows), enumerate(cols)):
        out[..., i, j] = _window_sums(x[..., top:bottom, left:right]) / ((bottom - top) * (right - left))
    return out


def _adaptive_avg_pool2d_vjp(g, out, x, output_size):
    """The forward is linear: x -> R x C^T with the averaging matrices R and C, so gx = R^T g C."""
    rows, cols = (_averaging(w, n, x.dtype) for w, n in zip(_adaptive_windows(x.data, output_size), x.shape[-2:]))
    return (matmul(matmul(rows.T, g), cols),)


def _adaptive_sample(draw):
    """An output size per dim (None: the input's), smaller or larger than the input, in any of
    PyTorch's forms."""
    shape = draw.shape(min_dims=3, max_dims=4, max_side=5)
    output_size = tuple(draw.choice((None, draw.integer(1, 5))) for _ in range(2))
    return Example((shape,), {"output_size": _drawn_form(draw, output_size, one_for_all=False)
                              if None not in output_size else output_size})


adaptive_avg_pool2d = Op("nn.functional.adaptive_avg_pool2d", _adaptive_avg_pool2d, _adaptive_avg_pool2d_vjp,
                         params=(Param("output_size"),), sample=_adaptive_sample, differences=SUMMATION_ORDER)


@hookimpl
def lucid_ops():
    return [unfold, fold, conv1d, conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d]
