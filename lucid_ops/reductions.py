"""Reductions: sum, mean, ... The gradient of a reduction spreads `g` back over the reduced axes."""
import numpy as np

from lucid import Op, Param, hookimpl
from lucid.op import dims
from lucid_ops.common import axes, keepdim_shape
from lucid_ops.shape import expand

reduction_params = (Param("dim", None, dims), Param("keepdim", False, (False, True)))


def _spread(g, x, dim, keepdim):
    """g, shaped like the reduction's result, broadcast back to x's shape."""
    if not (dim is None or keepdim):
        g = g.reshape(keepdim_shape(x.shape, axes("sum", dim, x.ndim)))
    return expand(g, x.shape)


def _sum(x, dim=None, keepdim=False):
    return np.sum(x, axis=axes("sum", dim, x.ndim), keepdims=keepdim)


def _mean(x, dim=None, keepdim=False):
    return np.mean(x, axis=axes("mean", dim, x.ndim), keepdims=keepdim)


def _count(x, dim):
    return int(np.prod([x.shape[a] for a in axes("mean", dim, x.ndim)]))


sum = Op("sum", _sum, lambda g, out, x, dim, keepdim: (_spread(g, x, dim, keepdim),), params=reduction_params)
mean = Op("mean", _mean, lambda g, out, x, dim, keepdim: (_spread(g, x, dim, keepdim) / _count(x, dim),),
          params=reduction_params)


@hookimpl
def lucid_ops():
    return [sum, mean]
