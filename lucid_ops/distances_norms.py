"""`lucid.nn.functional.pairwise_distance` and `rms_norm`, built from verified pieces.

pairwise_distance is PyTorch's: the p-norm of x1 - x2 + eps over the last dim, whose rule is the
`norm` op's own, applied to that difference. rms_norm (Zhang and Sennrich, 2019) scales x by
1 / sqrt(mean(x^2) + eps) over its last dims, then by the weight; eps=None is the dtype's machine
epsilon, as in PyTorch. Its rule is layer_norm's without the mean: with r = 1 / rms and
x^ = x r, dL/dx = r (g' - x^ mean(g' x^)) for g' = g weight.
"""
import math

import numpy as np

from lucid import Arg, Example, Op, OpError, Param, hookimpl
from lucid_ops.arithmetic import rsqrt
from lucid_ops.common import NORM_AT_ZERO
from lucid_ops.losses import _broadcast
from lucid_ops.nn import _norm_axes
from lucid_ops.reductions import mean, norm


def _pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    name = "nn.functional.pairwise_distance"
    shape = _broadcast(name, x1=x1.shape, x2=x2.shape)
    if not shape:
        raise OpError(f"{name}: expected inputs with a last dim to measure along, got 0-d x1 and x2")
    return norm.forward(x1 - x2 + eps, p, -1, keepdim)


def _pairwise_distance_vjp(g, out, x1, x2, p, eps, keepdim):
    (gd,) = norm.vjp(g, out, x1 - x2 + eps, p, -1, keepdim)
    return gd, -gd if x2.requires_grad else None


def _pairwise_sample(draw):
    """Two batches of vectors, one of which may broadcast along the batch."""
    shape = draw.shape(min_dims=1, max_dims=3)
    other = tuple(1 if draw.integer(0, 2) == 0 else n for n in shape[:-1]) + shape[-1:]
    return Example((shape, other) if draw.boolean() else (other, shape))


def _epsilon(x, eps):
    """PyTorch's eps=None: the machine epsilon of the input's dtype."""
    return np.finfo(x.dtype).eps if eps is None else eps


def _rms_norm(x, weight=None, normalized_shape=(), eps=None):
    shape, a = _norm_axes(x, normalized_shape)
    if weight is not None and weight.shape != shape:
        raise OpError(f"nn.functional.rms_norm: weight of shape {weight.shape} must have normalized_shape {shape}")
    y = x / np.sqrt(np.mean(x * x, axis=a, keepdims=True) + _epsilon(x, eps))
    return y if weight is None else y * weight


def _rms_norm_vjp(g, out, x, weight, normalized_shape, eps):
    _, a = _norm_axes(x, normalized_shape)
    r = rsqrt(mean(x * x, a, True) + _epsilon(x, eps))
    x_hat = x * r
    g_hat = g if weight is None else g * weight
    return (r * (g_hat - x_hat * mean(g_hat * x_hat, a, True)) if x.requires_grad else None,
            g * x_hat if weight is not None and weight.requires_grad else None)


def _rms_norm_sample(draw):
    """eps=None, the dtype's epsilon, only for the oracle: a float32 derivative check's float64
    finite differences would be of another function."""
    shape = draw.shape(min_dims=1, max_dims=3)
    normalized = shape[len(shape) - draw.integer(1, len(shape)):]
    params = {"normalized_shape": normalized}
    if draw.edges and draw.boolean():
        params["eps"] = None
    return Example((shape, normalized if draw.boolean() else None), params)


pairwise_distance = Op("nn.functional.pairwise_distance", _pairwise_distance, _pairwise_distance_vjp,
                       (Arg("x1"), Arg("x2")),
                       params=(Param("p", 2.0, (2.0, 1.0, 3.0, math.inf), "number"),
                               Param("eps", 1e-6, (1e-6, 0.0), "number"),
                               Param("keepdim", False, (False, True), "bool")),
                       sample=_pairwise_sample, ties=True, differences=NORM_AT_ZERO)
rms_norm = Op("nn.functional.rms_norm", _rms_norm, _rms_norm_vjp, (Arg("input"), Arg("weight", optional=True)),
              params=(Param("normalized_shape"), Param("eps", None, (1e-5, 1e-9), "number")), sample=_rms_norm_sample,
              signature=("input", "normalized_shape", "weight", "eps"),
              differences={"evaluation order": "PyTorch's kernel groups the gradient's products in its own "
                                               "order: by a weight of 1e30 that order's rounding is 2e-7 of it"})


@hookimpl
def lucid_ops():
    return [pairwise_distance, rms_norm]
