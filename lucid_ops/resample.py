"""Resampling: `nn.functional.interpolate`, PyTorch's upsampling and downsampling in every mode.

Along each spatial dim, every output position reads a few input positions ("taps") with weights:
one tap for nearest and nearest-exact, two for linear, four for cubic, a whole window for area.
PyTorch reads a 2-d or 3-d input as these 1-d rules nested, the last dim innermost, so the forward
applies them one dim at a time, last dim first: the same products and sums, in the same order,
including the 0 * inf = NaN of a tap whose weight is 0. The op is linear, so its VJP sends g back
through the same taps with the same weights, a scatter-add (`index_backward`) per tap, whose own
gradient is the gather again.

Where each output position reads follows PyTorch's `UpSample.h` exactly: the scale is
1 / scale_factor when a scale_factor was given (unless recompute_scale_factor), input / output
size otherwise, (input - 1) / (output - 1) with align_corners; nearest's coordinates are float32
whatever the input's dtype, as there.
"""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

from lucid import Example, Op, OpError, Param, hookimpl
from lucid_ops.shape import index_backward

NAME = "nn.functional.interpolate"
CUBIC_A = -0.75  # PyTorch's (and TensorFlow's) bicubic convolution constant

#: The modes, and the rank of the input each interpolating mode requires.
MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area")
RANK_OF = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


class Taps(NamedTuple):
    """Along one dim: out[..., o] = sum over t of weights[t, o] * x[..., indices[t, o]]
    (weights None: a pure pick, nearest's single tap; mask: which taps a window really has)."""

    indices: np.ndarray  # (taps, output size) int64
    weights: np.ndarray | None  # (taps, output size) in the input's dtype
    mask: np.ndarray | None = None  # area's windows differ in length: the real taps


# --- sizes and scales ----------------------------------------------------------------------------

def _per_dim(name, value, dims, check):
    """A value or a tuple (or list) of one per spatial dim, as a tuple, each passing `check`."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims
    if len(values) != dims:
        raise OpError(f"{NAME}: {name} {value!r} must have one entry per spatial dim, {dims} for an input with "
                      f"{dims} spatial dims (input as (N, C, d1, ..., dk))")
    if not all(check(v) for v in values):
        raise OpError(f"{NAME}: {name} must be {'an int' if name == 'size' else 'a number'} or a tuple of "
                      f"{dims} of them, got {value!r}")
    return values


def _geometry(x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    """The checks of PyTorch's interpolate, in its order; then the output sizes and the scale
    factors that set the coordinates (None per dim where the sizes set them)."""
    if x.ndim not in (3, 4, 5):
        raise OpError(f"{NAME}: input must be 3-d, 4-d or 5-d, (N, C, d1, ..., dk), got shape {x.shape}")
    dims = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise OpError(f"{NAME}: give exactly one of size and scale_factor, got size={size!r}, "
                      f"scale_factor={scale_factor!r}")
    if recompute_scale_factor and size is not None:
        raise OpError(f"{NAME}: recompute_scale_factor is not meaningful with an explicit size {size!r}")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise OpError(f"{NAME}: align_corners can only be set with the interpolating modes linear, bilinear, "
                      f"bicubic and trilinear, not {mode!r}")
    if mode in RANK_OF and x.ndim != RANK_OF[mode]:
        raise OpError(f"{NAME}: mode {mode!r} needs a {RANK_OF[mode]}-d input, got shape {x.shape}")
    if antialias:
        raise OpError(f"{NAME}: antialias=True is not supported")
    inputs = x.shape[2:]
    if size is not None:
        sizes = _per_dim("size", size, dims, lambda n: isinstance(n, numbers.Integral) and not isinstance(n, bool))
        scales = (None,) * dims
    else:
        scales = _per_dim("scale_factor", scale_factor, dims,
                          lambda s: isinstance(s, numbers.Real) and not isinstance(s, bool) and math.isfinite(s))
        sizes = tuple(math.floor(float(n) * s) for n, s in zip(inputs, scales))
        if recompute_scale_factor or mode == "area":  # area always reads its windows from the sizes
            scales = (None,) * dims
    if min(inputs) < 1 or min(sizes) < (0 if mode == "area" else 1):  # adaptive pooling may output nothing
        raise OpError(f"{NAME}: input and output sizes must be greater than 0, got input {inputs} and output "
                      f"{tuple(sizes)} (shape {x.shape})")
    return tuple(int(n) for n in sizes), scales


def _scale(n_in, n_out, scale_factor, dtype):
    """PyTorch's compute_scales_value: 1 / scale_factor if one was given, else input / output."""
    if scale_factor is not None and scale_factor > 0:
        return dtype.type(1.0 / scale_factor)
    return dtype.type(n_in) / dtype.type(n_out)


# --- taps per mode -------------------------------------------------------------------------------

def _nearest(n_in, n_out, scale_factor, exact):
    """Nearest's float32 source index floor(o * scale) (floor((o + 1/2) * scale) for nearest-exact,
    whose product PyTorch rounds from a double), kept below n_in. Plain nearest copies when the
    sizes agree and halves when the output is twice the input, whatever the scale_factor: PyTorch's
    `nearest_idx`, which its 2-d forward and every backward use (its 1-d and 3-d forwards do not)."""
    o = np.arange(n_out)
    scale = _scale(n_in, n_out, scale_factor, np.dtype(np.float32))
    if exact:
        source = ((o + 0.5) * np.float64(scale)).astype(np.float32)
    elif n_out in (n_in, 2 * n_in):
        source = o * n_in // n_out
    else:
        source = o.astype(np.float32) * scale
    return Taps(np.minimum(np.floor(source).astype(np.int64), n_in - 1)[None], None)


def _source(n_in, n_out, scale_factor, align_corners, cubic, dtype):
    """PyTorch's area_pixel_compute_source_index in the input's dtype: o * scale with align_corners,
    else the pixel centre (o + 1/2) * scale - 1/2, clamped at 0 except for cubic."""
    o = np.arange(n_out).astype(dtype)
    if align_corners:
        return o * (dtype.type(n_in - 1) / dtype.type(n_out - 1) if n_out > 1 else dtype.type(0))
    source = _scale(n_in, n_out, scale_factor, dtype) * (o + dtype.type(0.5)) - dtype.type(0.5)
    return source if cubic else np.maximum(source, dtype.type(0))


def _floor_and_fraction(source, n_in):
    """PyTorch's guard_index_and_lambda: the tap left of the source, at most n_in - 1, and the
    fraction of the way to the next, in [0, 1]."""
    left = np.minimum(np.floor(source).astype(np.int64), n_in - 1)
    return left, np.clip(source - left, 0, 1).astype(source.dtype)


def _linear(n_in, n_out, scale_factor, align_corners, dtype):
    """Two taps, left and right of the source, weighted 1 - t and t; the right one stays at the
    last input. Equal sizes copy: PyTorch then reads each input with weights 1 and 0."""
    if n_in == n_out:
        same = np.arange(n_out)
        return Taps(np.stack([same, same]), np.stack([np.ones(n_out, dtype), np.zeros(n_out, dtype)]))
    left, t = _floor_and_fraction(_source(n_in, n_out, scale_factor, align_corners, False, dtype), n_in)
    right = left + (left < n_in - 1)
    return Taps(np.stack([left, right]), np.stack([1 - t, t]))


def _cubic(n_in, n_out, scale_factor, align_corners, dtype):
    """Four taps around the source, clamped to the border, weighted by Keys' cubic convolution
    with A = -0.75: taps at distances 1 + t, t, 1 - t and 2 - t."""
    left, t = _floor_and_fraction(_source(n_in, n_out, scale_factor, align_corners, True, dtype), n_in)
    a = dtype.type(CUBIC_A)

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    weights = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)])
    indices = np.clip(left + np.arange(-1, 3)[:, None], 0, n_in - 1)
    return Taps(indices, weights.astype(dtype))


def _area(n_in, n_out, dtype):
    """Adaptive average pooling: output o averages [floor(o n_in / n_out), ceil((o + 1) n_in / n_out))."""
    o = np.arange(n_out)
    lo, hi = (o * n_in) // n_out, -((-(o + 1) * n_in) // n_out)
    steps = np.arange((hi - lo).max(initial=1))[:, None]
    return Taps(np.minimum(lo + steps, hi - 1), np.broadcast_to(1 / (hi - lo), steps.shape[:1] + o.shape)
                .astype(dtype), mask=lo + steps < hi)


def _taps(x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    """The Taps of each spatial dim, first dim first."""
    sizes, scales = _geometry(x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    taps = []
    for n_in, n_out, s in zip(x.shape[2:], sizes, scales):
        if mode in ("nearest", "nearest-exact"):
            taps.append(_nearest(n_in, n_out, s, mode == "nearest-exact"))
        elif mode == "area":
            taps.append(_area(n_in, n_out, dtype))
        elif mode == "bicubic":
            taps.append(_cubic(n_in, n_out, s, bool(align_corners), dtype))
        else:
            taps.append(_linear(n_in, n_out, s, bool(align_corners), dtype))
    return taps


# --- the op --------------------------------------------------------------------------------------

def _along(axis, ndim, values):
    """`values` of one spatial dim shaped to broadcast along `axis` of an ndim-d array."""
    return values.reshape(values.shape + (1,) * (ndim - 1 - axis))


def _interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                 antialias=False):
    """The taps of each dim applied in turn, last dim first (PyTorch's innermost sum)."""
    taps = _taps(x, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    for axis in reversed(range(2, x.ndim)):
        indices, weights, mask = taps[axis - 2]
        if weights is None:
            x = x.take(indices[0], axis=axis)
            continue
        terms = (_along(axis, x.ndim, w) * x.take(i, axis=axis) for i, w in zip(indices, weights))
        if mask is None:
            x = sum(terms)
        else:  # a window's sum, then its mean: adaptive pooling adds no 0 * x from outside the window
            sums = sum(np.where(_along(axis, x.ndim, m), x.take(i, axis=axis), 0) for i, m in zip(indices, mask))
            x = sums / _along(axis, x.ndim, mask.sum(axis=0)).astype(x.dtype)
    return x


def _interpolate_vjp(g, out, x, **params):
    """g sent back through each dim's taps, first dim first (the reverse of the forward): a
    scatter-add of g times each tap's weight onto the input positions the tap read."""
    taps = _taps(x.data, **params)
    for axis in range(2, x.ndim):
        indices, weights, mask = taps[axis - 2]
        shape = x.shape[:axis + 1] + g.shape[axis + 1:]  # the dims before axis are back to x's sizes
        if weights is not None:
            weights = weights if mask is None else weights * mask
        scattered = [index_backward(g if weights is None else g * _along(axis, g.ndim, w), shape,
                                    (slice(None),) * axis + (i,))
                     for i, w in zip(indices, weights if weights is not None else [None])]
        g = sum(scattered[1:], scattered[0])
    return (g,)


def _pytorch_disagrees_with_itself(mode, n_in, scale):
    """Where PyTorch's backward is not its forward's derivative: with a scale_factor that leaves a
    size unchanged, its bicubic backward copies g while the forward resamples; its nearest forwards
    of 1-d and 3-d inputs read floor(o * scale) while the backward copies (or halves, for twice
    the size). Lucid's gradient is its forward's, so the two cannot both be compared there."""
    n_out = math.floor(n_in * scale)
    return scale != n_out / n_in and (mode == "bicubic" and n_out == n_in or mode == "nearest" and
                                      n_out in (n_in, 2 * n_in))


def _interpolate_sample(draw):
    """A mode, an input of the rank it takes, and an output given by size or by scale_factor (one
    number or one per dim, up or down, with or without recompute_scale_factor)."""
    mode = draw.choice(MODES)
    rank = RANK_OF.get(mode) or draw.integer(3, 5)
    shape = (draw.integer(1, 2), draw.integer(1, 2)) + tuple(draw.integer(1, 4) for _ in range(rank - 2))
    params = {"mode": mode}
    if mode in RANK_OF:
        params["align_corners"] = draw.boolean()
    if draw.boolean():
        sizes = tuple(draw.integer(1, 6) for _ in shape[2:])
        params["size"] = sizes if draw.boolean() else sizes[0]
        return Example((shape,), params)
    factors = (0.5, 0.75, 1.0, 1.5, 1.7, 2.0, 3.0)
    scales = tuple(max(draw.choice(factors), 1 / n) for n in shape[2:])
    if draw.boolean():  # one number for every dim: one large enough for the smallest
        scales = (max(scales),) * len(scales)
    params["scale_factor"] = scales[0] if len(set(scales)) == 1 and draw.boolean() else scales
    params["recompute_scale_factor"] = draw.choice((None, False, True))
    if any(_pytorch_disagrees_with_itself(mode, n, s) for n, s in zip(shape[2:], scales)):
        params["recompute_scale_factor"] = True
    return Example((shape,), params)


interpolate = Op(NAME, _interpolate, _interpolate_vjp, sample=_interpolate_sample,
                 params=(Param("size", None), Param("scale_factor", None), Param("mode", "nearest", MODES, "choice"),
                         Param("align_corners", None, kind="bool"), Param("recompute_scale_factor", None, kind="bool"),
                         Param("antialias", False, kind="bool")),
                 differences={"evaluation order": "PyTorch's kernels weigh taps in forms that differ by mode and rank "
                                                  "(x0 + t (x1 - x0) in some, t0 x0 + t1 x1 in others), so where "
                                                  "an input is infinite they answer inf or NaN differently"})


@hookimpl
def lucid_ops():
    return [interpolate]
