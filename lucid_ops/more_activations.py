"""More activations (`nn.functional`): the gated linear unit, PReLU, the shrinkage functions, softmin.

hardshrink and softshrink are piecewise, with kinks at ±lambd. Their rules zero g where PyTorch's
kernel does, `-lambd <= x <= lambd`, so at the kinks the slope is 0 and a NaN input passes g
(every comparison with NaN is false). prelu's slope at 0 is the weight's (PyTorch's `x > 0 ? g :
w g`). tanhshrink and softmin are compositions in PyTorch (x - tanh(x), softmax(-x)): their rules
are the derivatives of those compositions, with PyTorch's own backward ops.
"""
from __future__ import annotations

import numpy as np
import scipy.special as sp

from lucid import Arg, Example, Op, OpError, Param, hookimpl
from lucid.op import dim as one_dim
from lucid.op import one_axis
from lucid_ops.arithmetic import where
from lucid_ops.common import NAN_GRADIENT_BY_POSITION, has_zero
from lucid_ops.nn import softmax, softmax_backward
from lucid_ops.shape import cat, chunk
from lucid_ops.special import sigmoid, sigmoid_backward
from lucid_ops.trigonometric import tanh, tanh_backward


# --- glu: a * sigmoid(b), with a and b the halves of the input along dim -------------------------

def _halved_axis(x, dim):
    """The axis glu halves, which must have an even size."""
    if x.ndim == 0:
        raise OpError("nn.functional.glu: a 0-d input has no dim to halve (expected at least 1 dim)")
    axis = one_axis("nn.functional.glu", dim, x.ndim)
    if x.shape[axis] % 2:
        raise OpError(f"nn.functional.glu: halving dimension must be even, but dim {dim} of the input of shape "
                      f"{x.shape} has size {x.shape[axis]}")
    return axis


def _glu(x, dim=-1):
    a, b = np.split(x, 2, axis=_halved_axis(x, dim))
    return a * sp.expit(b)


def _glu_vjp(g, out, x, dim):
    """d/da = sigmoid(b), d/db = a sigmoid(b) (1 - sigmoid(b)): PyTorch's glu_backward. The slope
    of sigmoid is its fused rule, so that a second derivative multiplies g a last, as PyTorch's
    does: at an infinite a it is ±inf there, where expanding s (1 - s) would give inf - inf."""
    a, b = chunk(x, 2, dim)
    s = sigmoid(b)
    return (cat([g * s, sigmoid_backward(g * a, s)], dim),)


def _glu_sample(draw):
    shape = list(draw.shape(min_dims=1))
    dim = draw.integer(-len(shape), len(shape) - 1)
    shape[dim] = 2 * draw.integer(1, 2)
    return Example((tuple(shape),), {"dim": dim})


# --- prelu: x above 0, weight * x below, with one weight or one per channel (dim 1) --------------

def _along_channels(x, weight):
    """The shape that spreads `weight` over x: its one value everywhere, or one value per channel."""
    if weight.ndim > 1:
        raise OpError(f"nn.functional.prelu: weight must be a scalar or 1-D, got shape {weight.shape}")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.size not in (1, channels):
        raise OpError(f"nn.functional.prelu: weight of shape {weight.shape} does not fit input of shape {x.shape}: "
                      f"expected 1 parameter or one per channel ({channels}, dim 1)")
    return tuple(channels if i == 1 and weight.size != 1 else 1 for i in range(x.ndim))


def _prelu(x, weight):
    return np.where(x > 0, x, weight.reshape(_along_channels(x, weight)) * x)


def _prelu_vjp(g, out, x, weight):
    """d/dx = 1 above 0, the weight elsewhere; d/dweight = x below 0, summed over everything but the
    channels. At 0 PyTorch's slope is the weight's (`x > 0 ? g : w g`) while its second-order rules
    mask with `x >= 0`: the rule is written with that mask, and at 0 its value moved to w g by a
    constant, which keeps the derivatives of the `x >= 0` side."""
    w = weight.reshape(_along_channels(x.data, weight.data))
    at_or_above = x.data >= 0
    gx = gw = None
    if x.requires_grad:
        gx = where(at_or_above, g, g * w)
        if has_zero(x.data):
            gx = gx + where(x.data == 0, (g * w - g).data, 0.0)
    if weight.requires_grad:
        summed = tuple(i for i, n in enumerate(w.shape) if n == 1)
        gw = where(at_or_above, 0.0, g * x).sum(summed, keepdim=True).reshape(weight.shape)
    return gx, gw


def _prelu_sample(draw):
    shape = draw.shape()
    channels = shape[1] if len(shape) >= 2 else 1
    return Example((shape, draw.choice(((), (1,), (channels,)))))


# --- the shrinkage functions -------------------------------------------------------------------

def _dead_zone(x, lambd):
    """Where PyTorch's shrink kernels give 0 and their rules zero the gradient."""
    return (x >= -lambd) & (x <= lambd)


def _shrink_vjp(g, out, x, lambd):
    return (where(_dead_zone(x.data, lambd), 0.0, g),)


def _softshrink(x, lambd=0.5):
    """x moved lambd towards 0, and 0 within lambd of it (x * 0 there, as PyTorch: NaN stays NaN)."""
    if not lambd >= 0:
        raise OpError(f"nn.functional.softshrink: lambd must be >= 0, got {lambd}")
    return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, x * 0))


def _at_lambd(params):
    """The kinks of both shrinks."""
    return -params["lambd"], params["lambd"]


lambd = Param("lambd", 0.5, (0.5, 1.0), "number")
hardshrink = Op("nn.functional.hardshrink", lambda x, lambd=0.5: np.where(_dead_zone(x, lambd), 0, x), _shrink_vjp,
                params=(lambd,), kinks=_at_lambd,
                differences={"nan gradient": NAN_GRADIENT_BY_POSITION})
softshrink = Op("nn.functional.softshrink", _softshrink, _shrink_vjp, params=(lambd,), kinks=_at_lambd,
                differences={"nan gradient": NAN_GRADIENT_BY_POSITION})
# x - tanh(x): PyTorch's rule is g - tanh_backward(g, tanh(x)), which this one is.
tanhshrink = Op("nn.functional.tanhshrink", lambda x: x - np.tanh(x),
                lambda g, out, x: (g - tanh_backward(g, tanh(x)),))
# softmax(-x): its rule is softmax's, negated.
def _softmin(x, dim):
    one_axis("nn.functional.softmin", dim, x.ndim)  # so that a bad dim is reported as softmin's
    return softmax.forward(-x, dim)


softmin = Op("nn.functional.softmin", _softmin,
             lambda g, out, x, dim: (-softmax_backward(g, out, dim),),
             params=(Param("dim", choices=one_dim, kind="dim"),))
glu = Op("nn.functional.glu", _glu, _glu_vjp, params=(Param("dim", -1, one_dim, "dim"),), sample=_glu_sample)
prelu = Op("nn.functional.prelu", _prelu, _prelu_vjp, (Arg("input"), Arg("weight")), sample=_prelu_sample,
           kinks=(0.0,))


@hookimpl
def lucid_ops():
    return [glu, prelu, hardshrink, softshrink, tanhshrink, softmin]
