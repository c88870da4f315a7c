"""Convolution and pooling (`lucid.nn.functional`): conv1d-3d, conv_transpose1d-3d, unfold, fold,
max/avg pooling over 1 to 3 dims, adaptive avg and max pooling over 1 and 2.

Everything rests on one picture: `unfold` (im2col) lays every kernel-sized window of the input out
as a column, so a convolution is a matrix product of the weight with those columns. Its adjoint,
`fold` (col2im), adds each column back onto the window it came from. So:

- conv2d's forward is a matmul of the weight with the columns, read from NumPy's sliding-window
  view (vectorized, no loop over pixels);
- the weight's gradient is the output gradient times the input's columns: matmul(g, unfold(x)^T);
- the input's gradient is fold of weight^T times g: a transposed convolution;
- unfold and fold are each other's gradient, so all of this can be differentiated again.

Every piece works over any number of spatial dims, so each op of PyTorch's (conv1d, conv2d,
conv3d...) is a thin entry naming its number of dims. A transposed convolution is the adjoint of a
convolution: its forward is the fold of W^T x, its gradients the unfold of g. Pooling reads the
same windows: avg_pool's gradient is a fold, max_pool's a scatter of g onto each window's maximum.
"""
from __future__ import annotations

import functools
import itertools
import math
import numbers
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lucid import Arg, Example, Op, OpError, Param, hookimpl
from lucid_ops.common import SUMMATION_ORDER
from lucid_ops.linalg import matmul
from lucid_ops.shape import along, expand, index_backward, take_along_dim


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

def _spatial_dims(kernel_size):
    """How many spatial dims unfold and fold work over: 2, as in PyTorch, or as many as a tuple
    kernel_size has (the convolutions' rules unfold over 1 or 3)."""
    return len(kernel_size) if isinstance(kernel_size, (tuple, list)) and kernel_size else 2


def _unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, *S) -> (N, C * prod(kernel), L): each column a window, channel-major as in PyTorch."""
    n = _spatial_dims(kernel_size)
    xb, added = _batched(x, n, "nn.functional.unfold")
    w = _windows("nn.functional.unfold", xb.shape[2:], kernel_size, stride, padding, dilation)
    views = _views(xb, w)  # (N, C, *out, *kernel)
    kernel_first = (0, 1, *range(2 + n, 2 + 2 * n), *range(2, 2 + n))
    cols = views.transpose(kernel_first).reshape(len(xb), xb.shape[1] * math.prod(w.kernel), math.prod(w.out))
    return cols[0] if added else cols


def _fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold: each column added back onto its window (overlaps add up)."""
    name = "nn.functional.fold"
    n = _spatial_dims(kernel_size)
    cb, added = _batched(cols, 1, name)
    size = _tuple(name, "output_size", output_size, n)
    w = _windows(name, size, kernel_size, stride, padding, dilation)
    k, length = math.prod(w.kernel), math.prod(w.out)
    if cb.shape[1] % k or cb.shape[2] != length:
        raise OpError(f"{name}: input of shape {cols.shape} does not fit kernel {w.kernel} and output_size {size}: "
                      f"expected (N, C * {k}, {length})")
    blocks = cb.reshape(len(cb), cb.shape[1] // k, *w.kernel, *w.out)
    padded = (s + lo + hi for s, (lo, hi) in zip(size, w.pads))
    out = np.zeros((len(cb), blocks.shape[1], *padded), dtype=cols.dtype)
    for offset in np.ndindex(*w.kernel):  # one pass per kernel offset, each over all windows at once
        window = (slice(i * d, i * d + st * (o - 1) + 1, st)
                  for i, d, st, o in zip(offset, w.dilation, w.stride, w.out))
        out[(..., *window)] += blocks[(slice(None), slice(None), *offset)]
    out = out[(..., *(slice(lo, lo + s) for (lo, _), s in zip(w.pads, size)))]
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


UNFOLD_DIMS = ("a kernel_size tuple of 1 or 3 entries unfolds or folds over as many spatial dims (the rules of "
               "conv1d, conv3d and the transposed convolutions use it); PyTorch takes 2 only")
unfold = Op("nn.functional.unfold", _unfold,
            lambda g, out, x, kernel_size, dilation, padding, stride:  # g is ([N,] C k, L): x's spatial dims follow
                (fold(g, x.shape[g.ndim - 1:], kernel_size, dilation, padding, stride),),
            params=(Param("kernel_size"), Param("dilation", 1), Param("padding", 0), Param("stride", 1)),
            sample=_unfold_sample, differences={"inputs": UNFOLD_DIMS})
fold = Op("nn.functional.fold", _fold,
          lambda g, out, cols, output_size, kernel_size, dilation, padding, stride:
              (unfold(g, kernel_size, dilation, padding, stride),),
          params=(Param("output_size"), Param("kernel_size"), Param("dilation", 1), Param("padding", 0),
                  Param("stride", 1)),
          sample=_fold_sample, differences={"inputs": UNFOLD_DIMS})


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


def _conv(n, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The weight times the input's columns, per group: (G, O/G, C/G k) @ (N, G, C/G k, L)."""
    name = f"nn.functional.conv{n}d"
    xb, added = _conv_check(name, x, weight, bias, groups, n)
    w = _windows(name, xb.shape[2:], weight.shape[2:], *_per_dim(name, n, stride, padding, dilation))
    batch, (c_out, c_in), k, length = len(xb), weight.shape[:2], math.prod(w.kernel), math.prod(w.out)
    cols = _unfold(xb, w.kernel, w.dilation, w.pads, w.stride).reshape(batch, groups, c_in * k, length)
    out = (weight.reshape(groups, c_out // groups, c_in * k) @ cols).reshape(batch, c_out, *w.out)
    if bias is not None:
        out += bias.reshape(-1, *(1,) * n)
    return out[0] if added else out


def _conv_rule(n):
    """conv{n}d's rule (a closure, so that mutation analysis reads its body)."""
    def conv_vjp(g, out, x, weight, bias, stride, padding, dilation, groups):
        """With the input's columns X = unfold(x), grouped: y = W X, so gW = g X^T and gX = W^T g,
        folded back onto the input."""
        name = f"nn.functional.conv{n}d"
        xb = x if x.ndim == n + 2 else x.reshape(1, *x.shape)
        w = _windows(name, xb.shape[2:], weight.shape[2:], *_per_dim(name, n, stride, padding, dilation))
        batch, (c_out, c_in), k, length = len(xb.data), weight.shape[:2], math.prod(w.kernel), math.prod(w.out)
        gy = g.reshape(batch, groups, c_out // groups, length)  # (N, G, O/G, L)
        gx = gw = None
        if weight.requires_grad:
            cols = unfold(xb, w.kernel, w.dilation, w.pads, w.stride).reshape(batch, groups, c_in * k, length)
            gw = (gy @ cols.mT).sum(0).reshape(weight.shape)
        if x.requires_grad:
            wm = weight.reshape(groups, c_out // groups, c_in * k)
            gcols = (wm.mT @ gy).reshape(batch, groups * c_in * k, length)
            gx = fold(gcols, xb.shape[2:], w.kernel, w.dilation, w.pads, w.stride).reshape(x.shape)
        return gx, gw, gy.sum((0, 3)).reshape(c_out) if bias is not None else None

    return conv_vjp


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


def _convolution(n):
    """conv{n}d's entry."""
    return Op(f"nn.functional.conv{n}d", functools.partial(_conv, n), _conv_rule(n),
              (Arg("input"), Arg("weight"), Arg("bias", optional=True)),
              params=(Param("stride", 1), Param("padding", 0), Param("dilation", 1), Param("groups", 1, kind="int")),
              sample=lambda draw: _conv_sample(draw, n), differences=SUMMATION_ORDER, same_dtype=True)


conv1d, conv2d, conv3d = (_convolution(n) for n in (1, 2, 3))


# --- transposed convolution --------------------------------------------------------------------

def _transposed_windows(name, spatial, kernel, stride, padding, output_padding, dilation):
    """A transposed convolution over an input of spatial size `spatial`: the windows of the
    convolution it is the adjoint of, the size they cover, and the zeros after them. Each input
    position is one window over the output, padded by (padding, padding - output_padding):
    (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1 positions, of
    which the last output_padding - padding (where that is > 0) no window reaches."""
    n = len(spatial)
    if isinstance(padding, str):
        raise OpError(f"{name}: padding must be an int >= 0 or a tuple of 1 or {n} of them, got {padding!r}")
    stride, padding, dilation = _per_dim(name, n, stride, padding, dilation)
    extra_pads = _tuple(name, "output_padding", output_padding, n, low=0, one_for_all=True)
    if any(o >= s and o >= d for o, s, d in zip(extra_pads, stride, dilation)):
        raise OpError(f"{name}: output_padding {extra_pads} must be smaller than either stride {stride} or "
                      f"dilation {dilation} in each dim")
    kernel = _tuple(name, "kernel_size", kernel, n)
    size = tuple((i - 1) * s - 2 * p + d * (k - 1) + o + 1
                 for i, s, p, d, k, o in zip(spatial, stride, padding, dilation, kernel, extra_pads))
    if min(size) < 1:
        raise OpError(f"{name}: input of spatial size {tuple(spatial)} gives an output of size {size}, "
                      f"too small (padding {padding} exceeds what the kernel {kernel} and stride {stride} add)")
    zeros = tuple(max(o - p, 0) for o, p in zip(extra_pads, padding))
    pads = tuple((p, max(p - o, 0)) for p, o in zip(padding, extra_pads))
    covered = tuple(s - z for s, z in zip(size, zeros))
    return Windows(kernel, stride, dilation, pads, tuple(spatial)), covered, zeros


def _conv_transpose_check(name, x, weight, bias, groups, n):
    """Validate the shapes of a transposed convolution; returns x with a batch axis and whether one
    was added."""
    xb, added = _batched(x, n, name)
    if weight.ndim != n + 2:
        raise OpError(f"{name}: weight must be {n + 2}-D (in_channels, out_channels / groups, *kernel), "
                      f"got shape {weight.shape}")
    if not isinstance(groups, numbers.Integral) or groups < 1 or weight.shape[0] % groups:
        raise OpError(f"{name}: groups={groups!r} must be a positive int dividing in_channels "
                      f"(weight of shape {weight.shape})")
    if xb.shape[1] != weight.shape[0]:
        raise OpError(f"{name}: weight of shape {weight.shape} expects {weight.shape[0]} input channels, "
                      f"but input of shape {x.shape} has {xb.shape[1]}")
    if bias is not None and bias.shape != (weight.shape[1] * groups,):
        raise OpError(f"{name}: bias of shape {bias.shape} must have one value per output channel "
                      f"({weight.shape[1] * groups},)")
    return xb, added


def _conv_transpose(n, x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Each input position's column W^T x (per group), folded onto its window of the output."""
    name = f"nn.functional.conv_transpose{n}d"
    xb, added = _conv_transpose_check(name, x, weight, bias, groups, n)
    w, covered, zeros = _transposed_windows(name, xb.shape[2:], weight.shape[2:], stride, padding, output_padding,
                                            dilation)
    batch, (c_in, c_out), k, length = len(xb), weight.shape[:2], math.prod(w.kernel), math.prod(w.out)
    wm = weight.reshape(groups, c_in // groups, c_out * k)
    cols = (wm.transpose(0, 2, 1) @ xb.reshape(batch, groups, c_in // groups, length))
    out = _fold(cols.reshape(batch, groups * c_out * k, length), covered, w.kernel, w.dilation, w.pads, w.stride)
    out = np.pad(out, ((0, 0), (0, 0)) + tuple((0, z) for z in zeros))
    if bias is not None:
        out += bias.reshape(-1, *(1,) * n)
    return out[0] if added else out


def _conv_transpose_rule(n):
    """conv_transpose{n}d's rule (a closure, so that mutation analysis reads its body)."""
    def conv_transpose_vjp(g, out, x, weight, bias, stride, padding, output_padding, groups, dilation):
        """The adjoint of the forward: the output's gradient unfolded onto each input position's
        window, G = unfold(g); then gx = W G and gW = x G^T, per group."""
        name = f"nn.functional.conv_transpose{n}d"
        xb = x if x.ndim == n + 2 else x.reshape(1, *x.shape)
        w, covered, _ = _transposed_windows(name, xb.shape[2:], weight.shape[2:], stride, padding, output_padding,
                                            dilation)
        batch, (c_in, c_out), k, length = len(xb.data), weight.shape[:2], math.prod(w.kernel), math.prod(w.out)
        gy = g.reshape(batch, groups * c_out, *g.shape[g.ndim - n:])
        reached = gy[(..., *(slice(0, c) for c in covered))]
        gcols = unfold(reached, w.kernel, w.dilation, w.pads, w.stride).reshape(batch, groups, c_out * k, length)
        gx = gw = None
        if x.requires_grad:
            gx = (weight.reshape(groups, c_in // groups, c_out * k) @ gcols).reshape(x.shape)
        if weight.requires_grad:
            gw = (xb.reshape(batch, groups, c_in // groups, length) @ gcols.mT).sum(0).reshape(weight.shape)
        return gx, gw, gy.sum((0, *range(2, n + 2))) if bias is not None else None

    return conv_transpose_vjp


def _conv_transpose_sample(draw, n):
    """Stride, padding, output_padding (below the stride or the dilation) and dilation per dim,
    each in any of PyTorch's forms, and an input large enough for an output of at least 1."""
    groups = draw.integer(1, 2)
    c_in, c_out = groups * draw.integer(1, 2), groups * draw.integer(1, 2)
    kernel, dilation, stride, pads = (tuple(draw.integer(low, high) for _ in range(n))
                                      for low, high in ((1, 3), (1, 2), (1, 2), (0, 1)))
    extra_pads = tuple(draw.integer(0, max(s, d) - 1) for s, d in zip(stride, dilation))
    size = tuple(1 + max(0, -((d * (k - 1) + o - 2 * p) // s)) + draw.integer(0, 2)
                 for k, d, s, p, o in zip(kernel, dilation, stride, pads, extra_pads))
    shape = (c_in,) + size if draw.boolean() else (draw.integer(1, 2), c_in) + size
    return Example((shape, (c_in, c_out // groups) + kernel, (c_out,) if draw.boolean() else None),
                   {"stride": _drawn_form(draw, stride), "padding": _drawn_form(draw, pads),
                    "output_padding": _drawn_form(draw, extra_pads), "groups": groups,
                    "dilation": _drawn_form(draw, dilation)})


def _transposed_convolution(n):
    """conv_transpose{n}d's entry."""
    return Op(f"nn.functional.conv_transpose{n}d", functools.partial(_conv_transpose, n),
              _conv_transpose_rule(n), (Arg("input"), Arg("weight"), Arg("bias", optional=True)),
              params=(Param("stride", 1), Param("padding", 0), Param("output_padding", 0),
                      Param("groups", 1, kind="int"), Param("dilation", 1)),
              sample=lambda draw: _conv_transpose_sample(draw, n), differences=SUMMATION_ORDER, same_dtype=True)


conv_transpose1d, conv_transpose2d, conv_transpose3d = (_transposed_convolution(n) for n in (1, 2, 3))


# --- pooling ---------------------------------------------------------------------------------

def _pool_windows(name, n, x, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    """The windows of a pooling over n spatial dims, whose params take PyTorch's forms: an int or a
    tuple of 1 or n ints each, and a stride of None or () for the kernel size. As there, the padding
    may be at most half the kernel size (without the dilation), so that every window holds an input
    value; ceil_mode adds a last window where the strides leave a partial one, as long as it starts
    inside the input or the padding before it (its part past the padding after reads nothing)."""
    xb, added = _batched(x, n, name)
    kernel = _tuple(name, "kernel_size", kernel_size, n, one_for_all=True)
    if stride is None or isinstance(stride, (tuple, list)) and not stride:
        stride = kernel
    if isinstance(padding, str):
        raise OpError(f"{name}: padding must be an int >= 0 or a tuple of 1 or {n} of them, got {padding!r}")
    stride, before, dilation = _per_dim(name, n, stride, padding, dilation)  # padding before each dim
    if any(p > k // 2 for p, k in zip(before, kernel)):
        raise OpError(f"{name}: padding {padding} should be at most half of kernel_size {kernel}")
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    out = tuple((size + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
                for size, p, span, s in zip(xb.shape[2:], before, spans, stride))
    if ceil_mode:
        out = tuple(o - 1 if (o - 1) * s >= size + p else o
                    for o, s, size, p in zip(out, stride, xb.shape[2:], before))
    if min(out) < 1:
        raise OpError(f"{name}: input of spatial size {xb.shape[2:]} padded by {before} is smaller than the "
                      f"kernel {kernel} dilated by {dilation}")
    pads = tuple((p, max(p, (o - 1) * s + span - size - p))  # after: what the last window reaches, at least p
                 for p, o, s, span, size in zip(before, out, stride, spans, xb.shape[2:]))
    return xb, added, Windows(kernel, stride, dilation, pads, out)


def _max_windows(name, n, x, kernel_size, stride, padding, dilation, ceil_mode):
    """The windows max_pool reads, padded with -inf (so that padding is never the max)."""
    xb, added, w = _pool_windows(name, n, x, kernel_size, stride, padding, dilation, ceil_mode)
    if all(p == (0, 0) for p in w.pads):
        return _views(xb, w), added, w
    padded = np.pad(xb, ((0, 0), (0, 0)) + w.pads, constant_values=-np.inf)
    return _views(padded, w._replace(pads=((0, 0),) * n)), added, w


def _max_pool(n, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    views, added, _ = _max_windows(f"nn.functional.max_pool{n}d", n, x, kernel_size, stride, padding, dilation,
                                   ceil_mode)
    out = views.max(axis=tuple(range(-n, 0)))
    return out[0] if added else out


def _maxima(n, x, out, views, w):
    """Where each window's maximum lies in x, per spatial dim: the first input position holding it
    (never the padding, also where the maximum is -inf), or its last NaN (PyTorch's kernel takes a
    NaN as the new maximum and keeps scanning); and which windows hold padding only (a dilated
    window over a small input: their place is 0)."""
    flat = views.reshape(*views.shape[:n + 2], math.prod(w.kernel))
    hit = flat == out.reshape(*flat.shape[:-1], 1)
    padding_only = np.zeros(w.out, dtype=bool)
    if any(p != (0, 0) for p in w.pads):
        inside = _views(np.ones((1, 1) + x.shape[-n:], dtype=bool), w).reshape(*w.out, -1)
        hit &= inside
        padding_only = ~inside.any(-1)
    best = hit.argmax(-1)  # (N, C, *out): offset inside the window
    nan = np.isnan(flat)
    if nan.any():
        best = np.where(nan.any(-1), flat.shape[-1] - 1 - nan[..., ::-1].argmax(-1), best)
    grid = np.ogrid[tuple(slice(size) for size in best.shape)]  # N, C, *out
    positions = [np.where(padding_only, 0, o * s + offset * d - lo) for o, s, offset, d, (lo, _)
                 in zip(grid[2:], w.stride, np.unravel_index(best, w.kernel), w.dilation, w.pads)]
    return grid[:2], positions, padding_only


def _max_pool_with_indices(n, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The maxima and where each lies in its (flattened) input plane, as PyTorch's indices."""
    views, added, w = _max_windows(f"nn.functional.max_pool{n}d_with_indices", n, x, kernel_size, stride, padding,
                                   dilation, ceil_mode)
    out = views.max(axis=tuple(range(-n, 0)))
    _, positions, _ = _maxima(n, x, out, views, w)
    indices = np.ravel_multi_index(positions, x.shape[-n:]).astype(np.int64)
    return (out[0], indices[0]) if added else (out, indices)


def _max_pool_rule(n):
    """max_pool{n}d's rule (a closure, so that mutation analysis reads its body)."""
    def max_pool_vjp(g, out, x, kernel_size, stride, padding, dilation, ceil_mode):
        """Each window's g goes to where its maximum lies (`_maxima`); positions that are the maximum
        of several windows collect all their g. A window of padding only (its maximum is -inf
        whatever x is) sends its g nowhere (PyTorch's kernel, to an index computed past the end of
        the row)."""
        views, added, w = _max_windows(f"nn.functional.max_pool{n}d", n, x.data, kernel_size, stride, padding,
                                       dilation, ceil_mode)
        (batch, channel), positions, padding_only = _maxima(n, x.data, out.data, views, w)
        if padding_only.any():
            g = g * ~padding_only
        key = (channel[0], *(p[0] for p in positions)) if added else (batch, channel, *positions)
        return (index_backward(g, x.shape, key),)

    return max_pool_vjp


def _avg_divisor(xb, w, count_include_pad, divisor_override):
    """What each window's sum is divided by: the override, or how many of its elements lie inside
    the input (with count_include_pad, inside the padding too, but never in what a ceil_mode
    window reaches past it, as in PyTorch)."""
    if divisor_override is not None:
        return divisor_override
    counted = np.ones((1, 1) + xb.shape[2:], dtype=xb.dtype)
    if count_include_pad:
        counted = np.pad(counted, ((0, 0), (0, 0)) + tuple((lo, lo) for lo, _ in w.pads), constant_values=1)
        w = w._replace(pads=tuple((0, hi - lo) for lo, hi in w.pads))
    return _views(counted, w).sum(axis=tuple(range(-len(w.kernel), 0)))


def _window_sums(views, n):
    """The sum of each window (the last n axes of `views`), added in PyTorch's order, row by row:
    where huge values cancel (1e30 - 1e30 + 0.02), the order decides whether the small ones survive."""
    offsets = list(np.ndindex(*views.shape[-n:]))
    total = views[(..., *offsets[0])].copy()
    for offset in offsets[1:]:
        total += views[(..., *offset)]
    return total


def _avg_pool(n, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
              divisor_override=None):
    xb, added, w = _pool_windows(f"nn.functional.avg_pool{n}d", n, x, kernel_size, stride, padding,
                                 ceil_mode=ceil_mode)
    out = _window_sums(_views(xb, w), n) / _avg_divisor(xb, w, count_include_pad, divisor_override)
    out = out.astype(x.dtype, copy=False)
    return out[0] if added else out


def _avg_pool_rule(n):
    """avg_pool{n}d's rule (a closure, so that mutation analysis reads its body)."""
    def avg_pool_vjp(g, out, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override=None):
        """Each window spreads g / divisor evenly over itself: a fold of that value repeated per
        kernel position."""
        xb, added, w = _pool_windows(f"nn.functional.avg_pool{n}d", n, x.data, kernel_size, stride, padding,
                                     ceil_mode=ceil_mode)
        batch, c = xb.shape[:2]
        k, length = math.prod(w.kernel), math.prod(w.out)
        g = g.reshape(batch, c, *w.out) / _avg_divisor(xb, w, count_include_pad, divisor_override)
        spread = expand(g.reshape(batch, c, 1, length), (batch, c, k, length)).reshape(batch, c * k, length)
        return (fold(spread, xb.shape[2:], w.kernel, 1, w.pads, w.stride).reshape(x.shape),)

    return avg_pool_vjp


def _pool_sample(draw, n, dilated: bool):
    """Kernel, stride, padding (and, `dilated`, dilation) per dim, each in any of PyTorch's forms
    (a quarter of the strides left out: the kernel), and an input large enough for them. Along a
    dilated dim the input spans the dilated kernel: over a smaller one, a window can read padding
    only, and a max of -inf has no derivative to check."""
    kernel, stride = tuple(draw.integer(1, 3) for _ in range(n)), tuple(draw.integer(1, 2) for _ in range(n))
    padding = tuple(draw.integer(0, k // 2) for k in kernel)
    dilation = tuple(draw.integer(1, 2) for _ in range(n)) if dilated else (1,) * n
    size = tuple((d * (k - 1) + 1 if d > 1 else max(1, k - 2 * p)) + draw.integer(0, 3)
                 for k, d, p in zip(kernel, dilation, padding))
    shape = (draw.integer(1, 3), draw.integer(1, 3)) + size
    params = {"kernel_size": _drawn_form(draw, kernel), "padding": _drawn_form(draw, padding),
              "stride": _drawn_form(draw, stride) if draw.integer(0, 3) else draw.choice((None, ()))}
    if dilated:
        params["dilation"] = _drawn_form(draw, dilation)
    return Example((shape[1:] if draw.boolean() else shape,), params)


def _avg_pool_sample(draw, n):
    example = _pool_sample(draw, n, dilated=False)
    return Example(example.inputs, {**example.params, "count_include_pad": draw.boolean()})


CEIL_MODE = Param("ceil_mode", False, (False, True), "bool")

SMALLER_THAN_KERNEL = ("an input smaller than the kernel along a dim, where the padding makes up the difference, "
                       "as PyTorch's avg_pool1d, avg_pool2d and max_pool3d take it; its avg_pool3d refuses it")


@dataclass(frozen=True)
class MaxPool(Op):
    """max_pool{n}d (and adaptive_max_pool{n}d) has PyTorch's two results under one name: the maxima,
    or with return_indices=True (after ceil_mode, after output_size for the adaptive ones, or by
    keyword) the op `with_indices`: (maxima, indices)."""

    with_indices: Op | None = None
    return_indices_at: int = 5  # its place among the arguments after the input

    def __call__(self, input: Any, *args: Any, **kwargs: Any) -> Any:
        at = self.return_indices_at
        return_indices = args[at] if len(args) > at else kwargs.pop("return_indices", False)
        if not isinstance(return_indices, (bool, np.bool_)):
            raise OpError(f"{self.name}: return_indices must be a bool, got {return_indices!r}")
        return (self.with_indices if return_indices else super()).__call__(input, *args[:at], **kwargs)


def _max_pooling(n):
    """max_pool{n}d's entry, and max_pool{n}d_with_indices's, whose rule is max_pool{n}d's for the
    maxima (the indices have no gradient)."""
    params = (Param("kernel_size"), Param("stride", None), Param("padding", 0), Param("dilation", 1), CEIL_MODE)
    rule = _max_pool_rule(n)
    with_indices = Op(f"nn.functional.max_pool{n}d_with_indices", functools.partial(_max_pool_with_indices, n),
                      lambda g, out, x, **params: rule(g[0], out[0], x, **params), params=params,
                      sample=lambda draw: _pool_sample(draw, n, dilated=True), ties=True, outputs=2)
    return MaxPool(f"nn.functional.max_pool{n}d", functools.partial(_max_pool, n), rule, params=params,
                   sample=lambda draw: _pool_sample(draw, n, dilated=True), ties=True, with_indices=with_indices)


def _avg_pooling(n):
    """avg_pool{n}d's entry: divisor_override from 2 dims on, as in PyTorch."""
    override = (Param("divisor_override", None, (None, 3), "int"),) if n > 1 else ()
    return Op(f"nn.functional.avg_pool{n}d", functools.partial(_avg_pool, n), _avg_pool_rule(n),
              params=(Param("kernel_size"), Param("stride", None), Param("padding", 0), CEIL_MODE,
                      Param("count_include_pad", True, (True, False), "bool"), *override),
              sample=lambda draw: _avg_pool_sample(draw, n),
              differences={"inputs": SMALLER_THAN_KERNEL} if n == 3 else {})



max_pool1d, max_pool2d, max_pool3d = (_max_pooling(n) for n in (1, 2, 3))
max_pools_with_indices = [pool.with_indices for pool in (max_pool1d, max_pool2d, max_pool3d)]
avg_pool1d, avg_pool2d, avg_pool3d = (_avg_pooling(n) for n in (1, 2, 3))


# --- unpooling ---------------------------------------------------------------------------------

def _unpool_size(name, n, spatial, kernel_size, stride, padding, output_size):
    """The spatial size max_unpool writes into: what max_pool's windows cover, (in - 1) * stride -
    2 * padding + kernel, or output_size (its last n entries), which PyTorch takes within a stride
    of that either way. Unlike max_pool's, these params take no tuple of one for all dims (PyTorch
    fails on one)."""
    kernel = _tuple(name, "kernel_size", kernel_size, n)
    stride = kernel if stride is None or isinstance(stride, (tuple, list)) and not stride else \
        _tuple(name, "stride", stride, n)
    padding = _tuple(name, "padding", padding, n, low=0)
    covered = tuple((m - 1) * s - 2 * p + k for m, s, p, k in zip(spatial, stride, padding, kernel))
    if output_size is None:
        size = covered
    else:
        size = tuple(output_size)[-n:] if isinstance(output_size, (tuple, list)) and \
            len(output_size) in (n, n + 2) else ()
        if len(size) != n or not all(c - s < o < c + s for o, c, s in zip(size, covered, stride)):
            raise OpError(f"{name}: output_size {output_size!r} must be {n} sizes (or {n + 2} with the batch and "
                          f"channels), each within a stride {stride} of {covered}")
    if min(size) < 1:
        raise OpError(f"{name}: input of spatial size {tuple(spatial)} unpools to a size of {size}, too small")
    return size


def _max_unpool(n, x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Each input value written at its index in a zero plane, as max_pool's return_indices give them."""
    name = f"nn.functional.max_unpool{n}d"
    xb, added = _batched(x, n, name)
    if indices.shape != x.shape:
        raise OpError(f"{name}: indices of shape {indices.shape} must have the input's shape {x.shape}")
    size = _unpool_size(name, n, xb.shape[2:], kernel_size, stride, padding, output_size)
    plane = math.prod(size)
    places = indices.reshape(*xb.shape[:2], -1)
    if places.size and (places.min() < 0 or places.max() >= plane):
        raise OpError(f"{name}: indices must lie in [0, {plane}) (output planes of size {size}), found "
                      f"{places.min()} to {places.max()}")
    out = np.zeros((*xb.shape[:2], plane), dtype=x.dtype)
    np.put_along_axis(out, places, xb.reshape(*xb.shape[:2], -1), axis=2)
    out = out.reshape(*xb.shape[:2], *size)
    return out[0] if added else out


def _max_unpool_rule(n):
    """max_unpool{n}d's rule (a closure, so that mutation analysis reads its body)."""
    def max_unpool_vjp(g, out, x, indices, kernel_size, stride, padding, output_size):
        """Each input value went to its index: its gradient is g read there (the indices have none)."""
        return take_along_dim(g.flatten(-n), indices.flatten(-n), -1).reshape(x.shape), None

    return max_unpool_vjp


def _max_unpool_sample(draw, n):
    """Kernel, stride and padding per dim, an input, and indices into its output planes, distinct
    within each plane (a random order of the plane's places): max_unpool writes each value once,
    as where max_pool with windows that do not overlap found them."""
    kernel, stride = tuple(draw.integer(1, 3) for _ in range(n)), tuple(draw.integer(1, 3) for _ in range(n))
    size = tuple(draw.integer(1, 3) for _ in range(n))
    padding = tuple(draw.integer(0, k // 2) if (m - 1) * (s - 1) + k - 1 >= 2 * (k // 2) else 0
                    for k, s, m in zip(kernel, stride, size))
    shape = (draw.integer(1, 2), draw.integer(1, 2)) + size
    covered = tuple((m - 1) * s - 2 * p + k for m, s, p, k in zip(size, stride, padding, kernel))
    output_size = draw.choice((None, "larger"))
    if output_size == "larger":
        output_size = tuple(c + draw.integer(0, s - 1) for c, s in zip(covered, stride))
    plane = math.prod(covered if output_size is None else output_size)
    order = np.argsort(draw.indices(shape[:2] + (plane,), 1 << 30), axis=-1, kind="stable")
    indices = order[..., :math.prod(size)].reshape(shape)
    batched = draw.boolean()
    return Example((shape if batched else shape[1:], indices if batched else indices[0]),
                   {"kernel_size": _drawn_form(draw, kernel, one_for_all=False),
                    "stride": _drawn_form(draw, stride, one_for_all=False),
                    "padding": _drawn_form(draw, padding, one_for_all=False), "output_size": output_size})


def _max_unpooling(n):
    """max_unpool{n}d's entry."""
    return Op(f"nn.functional.max_unpool{n}d", functools.partial(_max_unpool, n), _max_unpool_rule(n),
              (Arg("input"), Arg("indices", dtype="int")),
              params=(Param("kernel_size"), Param("stride", None), Param("padding", 0), Param("output_size", None)),
              sample=lambda draw: _max_unpool_sample(draw, n))


max_unpool1d, max_unpool2d, max_unpool3d = (_max_unpooling(n) for n in (1, 2, 3))


def _adaptive_windows(x, output_size, name="nn.functional.adaptive_avg_pool2d"):
    """Per spatial dim, the [lo, hi) each output position pools: window i of n inputs pooled to m
    covers [floor(i * n / m), ceil((i + 1) * n / m))."""
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
        out[..., i, j] = _window_sums(x[..., top:bottom, left:right], 2) / ((bottom - top) * (right - left))
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



def _height1(t):
    """A (..., L) array or tensor as (..., 1, L)."""
    return t.reshape(*t.shape[:-1], 1, t.shape[-1])


def _adaptive_avg_pool1d(x, output_size):
    """adaptive_avg_pool2d over inputs of height 1."""
    name = "nn.functional.adaptive_avg_pool1d"
    _batched(x, 1, name)
    (size,) = _tuple(name, "output_size", output_size, 1)
    return _adaptive_avg_pool2d(_height1(x), (1, size))[..., 0, :]


def _adaptive_avg_pool1d_vjp(g, out, x, output_size):
    (size,) = _tuple("nn.functional.adaptive_avg_pool1d", "output_size", output_size, 1)
    (gx,) = _adaptive_avg_pool2d_vjp(_height1(g), None, _height1(x), (1, size))
    return (gx.reshape(x.shape),)


def _adaptive_1d_sample(draw):
    """An output size smaller or larger than the input, an int or a tuple of one."""
    size = draw.integer(1, 5)
    return Example((draw.shape(min_dims=2, max_dims=3, max_side=5),), {"output_size": draw.choice((size, (size,)))})


adaptive_avg_pool1d = Op("nn.functional.adaptive_avg_pool1d", _adaptive_avg_pool1d, _adaptive_avg_pool1d_vjp,
                         params=(Param("output_size"),), sample=_adaptive_1d_sample, differences=SUMMATION_ORDER)


# --- adaptive max pooling ----------------------------------------------------------------------

def _adaptive_max_pool2d(x, output_size, name="nn.functional.adaptive_max_pool2d"):
    """Each window's maximum and where it lies in its (flattened) input plane, PyTorch's indices:
    its first position, or its last NaN (PyTorch's kernel takes a NaN as the new maximum and keeps
    scanning). One pass per output position, as adaptive_avg_pool2d."""
    rows, cols = _adaptive_windows(x, output_size, name)
    out = np.empty(x.shape[:-2] + (len(rows), len(cols)), dtype=x.dtype)
    indices = np.empty(out.shape, dtype=np.int64)
    for (i, (top, bottom)), (j, (left, right)) in itertools.product(enumerate(rows), enumerate(cols)):
        window = x[..., top:bottom, left:right].reshape(*x.shape[:-2], -1)
        nan = np.isnan(window)
        best = np.where(nan.any(-1), window.shape[-1] - 1 - nan[..., ::-1].argmax(-1), window.argmax(-1))
        out[..., i, j] = np.take_along_axis(window, best[..., None], -1)[..., 0]
        indices[..., i, j] = (top + best // (right - left)) * x.shape[-1] + left + best % (right - left)
    return out, indices


def _adaptive_max_pool1d(x, output_size):
    """adaptive_max_pool2d over inputs of height 1: its indices are the positions along L."""
    name = "nn.functional.adaptive_max_pool1d"
    _batched(x, 1, name)
    (size,) = _tuple(name, "output_size", output_size, 1)
    out, indices = _adaptive_max_pool2d(_height1(x), (1, size), name)
    return out[..., 0, :], indices[..., 0, :]


def _to_maxima(g, x, indices, n):
    """Each window's g put where its maximum lies (`indices` into the flattened last n dims of x);
    a position that is the maximum of several overlapping windows collects all their g, as in PyTorch."""
    planes = x.shape[:-n] + (math.prod(x.shape[-n:]),)
    flat = indices.reshape(*x.shape[:-n], -1)
    return index_backward(g.reshape(*x.shape[:-n], -1), planes, along(planes, flat, -1)).reshape(x.shape)


def _adaptive_max_pooling(n, forward):
    """adaptive_max_pool{n}d's entry, and adaptive_max_pool{n}d_with_indices's: the maxima, or with
    return_indices=True (after output_size, or by keyword) (maxima, indices), whose indices have no
    gradient. The maxima alone find their indices again in the backward."""
    name = f"nn.functional.adaptive_max_pool{n}d"

    def with_indices_vjp(g, out, x, output_size):
        return (_to_maxima(g[0], x, out[1].data, n),)

    def maxima_vjp(g, out, x, output_size):
        return (_to_maxima(g, x, forward(x.data, output_size)[1], n),)

    sample = _adaptive_sample if n == 2 else _adaptive_1d_sample
    with_indices = Op(f"{name}_with_indices", forward, with_indices_vjp, params=(Param("output_size"),),
                      sample=sample, ties=True, outputs=2)
    return MaxPool(name, lambda x, output_size: forward(x, output_size)[0], maxima_vjp,
                   params=(Param("output_size"),), sample=sample, ties=True, with_indices=with_indices,
                   return_indices_at=1)


adaptive_max_pool1d = _adaptive_max_pooling(1, _adaptive_max_pool1d)
adaptive_max_pool2d = _adaptive_max_pooling(2, _adaptive_max_pool2d)


@hookimpl
def lucid_ops():
    return [unfold, fold, conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d,
            conv_transpose3d, max_pool1d, max_pool2d, max_pool3d, avg_pool1d, avg_pool2d, avg_pool3d,
            adaptive_avg_pool2d, *max_pools_with_indices, max_unpool1d, max_unpool2d, max_unpool3d,
            adaptive_avg_pool1d, adaptive_max_pool1d, adaptive_max_pool1d.with_indices, adaptive_max_pool2d,
            adaptive_max_pool2d.with_indices]
