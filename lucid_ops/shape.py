"""Shape and indexing: ops that move values around without changing them.

Their gradients move `g` back: the inverse reshape or permutation, or a scatter into zeros.
"""
import itertools
import math

import numpy as np

from lucid import Arg, Example, Op, Param, hookimpl
from lucid.op import dim
from lucid_ops.common import axes

anything = (Arg("input", dtype="any"),)


def _reshape(x, shape):
    try:
        return x.reshape(shape)
    except ValueError:
        raise ValueError(f"shape {tuple(shape)} is invalid for input of size {x.size}") from None


def _reshapes(shapes):
    """The input flattened, reversed, with a -1, and with a new unit axis."""
    shape = shapes[0]
    return ((int(np.prod(shape)),), (-1,), tuple(reversed(shape)), (*shape, 1))


def _permute(x, dims):
    order = [d % x.ndim if -x.ndim <= d < x.ndim else d for d in dims]
    if sorted(order) != list(range(x.ndim)):
        raise ValueError(f"dims {tuple(dims)} must name each of the input's {x.ndim} axes once")
    return np.transpose(x, order)


def _unpermute(dims):
    """The permutation that undoes `dims`."""
    return tuple(np.argsort([d % len(dims) for d in dims]).tolist())


def _permutations(shapes):
    """Every ordering of the input's axes."""
    return tuple(itertools.permutations(range(len(shapes[0]))))


def _transpose(x, dim0, dim1):
    return np.swapaxes(x, *axes("transpose", (dim0,), x.ndim), *axes("transpose", (dim1,), x.ndim)) \
        if dim0 % max(x.ndim, 1) != dim1 % max(x.ndim, 1) else x


def _expand(x, size):
    """PyTorch's expand: -1 keeps a size; new axes may be added in front."""
    lead = len(size) - x.ndim
    if lead < 0:
        raise ValueError(f"the number of sizes ({len(size)}) must be at least the number of dims ({x.ndim})")
    target = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(size))
    if math.prod(target) > 4096:
        return np.broadcast_to(x, target)  # a read-only view: no copy of a large array
    out = np.empty(target, dtype=x.dtype)  # small: a copy is faster than broadcast_to's setup
    out[...] = x
    return out


def _expand_sample(draw):
    shape = draw.shape(max_dims=3, max_side=3)
    target = tuple(draw.integer(2, 3) if n == 1 and draw.boolean() else n for n in shape)
    return Example((shape,), {"size": (draw.integer(1, 3),) * draw.integer(0, 1) + target})


def _is_basic(key):
    key = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice, np.integer)) for k in key)


def _index_backward(g, shape, key):
    """Zeros of `shape` with g added at x[key]: repeated indices add up."""
    z = np.zeros(shape, dtype=g.dtype)
    if _is_basic(key):
        z[key] = g
    else:
        np.add.at(z, key, g)
    return z


def _draw_key(draw, shape):
    """A PyTorch-style index of an array of `shape`: ints, slices (negative steps too),
    None, an integer array or a boolean mask."""
    if shape and draw.integer(0, 4) == 0:
        return draw.mask(shape) if draw.boolean() else draw.indices((draw.integer(1, 4),), shape[0])
    key = []
    for n in shape[:draw.integer(0, len(shape))]:
        kind = draw.integer(0, 2)
        if kind == 0:
            key.append(draw.integer(-n, n - 1))
        else:
            step = draw.choice((1, 2, -1, -2))
            key.append(slice(draw.integer(-n, n - 1), None, step) if kind == 1 else slice(None, None, step))
    if draw.boolean():
        key.insert(draw.integer(0, len(key)), None)
    return tuple(key)


def _getitem_sample(draw):
    shape = draw.shape(min_dims=1)
    return Example((shape,), {"key": _draw_key(draw, shape)})


def _index_backward_sample(draw):
    shape = draw.shape(min_dims=1)
    key = _draw_key(draw, shape)
    return Example((np.empty(shape)[key].shape,), {"shape": shape, "key": key})


reshape = Op("reshape", _reshape, lambda g, out, x, shape: (g.reshape(x.shape),), anything,
             params=(Param("shape", choices=_reshapes),))
permute = Op("permute", _permute, lambda g, out, x, dims: (permute(g, _unpermute(dims)),), anything,
             params=(Param("dims", choices=_permutations),))
transpose = Op("transpose", _transpose, lambda g, out, x, dim0, dim1: (transpose(g, dim0, dim1),), anything,
               params=(Param("dim0", choices=dim), Param("dim1", choices=dim)))
expand = Op("expand", _expand, lambda g, out, x, size: (g,), anything, params=(Param("size"),), sample=_expand_sample)
getitem = Op("getitem", lambda x, key: x[key], lambda g, out, x, key: (index_backward(g, x.shape, key),),
             anything, params=(Param("key"),), sample=_getitem_sample)
index_backward = Op("index_backward", _index_backward, lambda g, out, gy, shape, key: (getitem(g, key),),
                    (Arg("grad"),), params=(Param("shape"), Param("key")), sample=_index_backward_sample)
to = Op("to", lambda x, dtype: x.astype(dtype), lambda g, out, x, dtype: (g.to(x.dtype),), anything,
        params=(Param("dtype", choices=(np.float32, np.float64)),))



@hookimpl
def lucid_ops():
    return [reshape, permute, transpose, expand, getitem, index_backward, to]
