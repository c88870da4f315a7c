"""Indexed writes and index-built tensors: scatter and its reductions, index_add and index_copy,
masked_select, one_hot, repeat_interleave, meshgrid, diag and diag_embed.

The gradients read the writes backwards. A value written to a place gets the gradient of that
place (`gather` or `index_select` picks it up); a place that was overwritten passes no gradient
back to the input (zeros scattered into g); a sum passes g through unchanged; a value repeated
(repeat_interleave, meshgrid, diag_embed) gets the sum of its copies' gradients. Every rule is
written with Lucid ops, so it can be differentiated again.

Where several indices name one place, the copying ops (scatter with a tensor src, index_copy) keep
the last write, as PyTorch's CPU kernels do, and pass the place's gradient to every source written
there, overwritten ones too: PyTorch's rule, not the derivative of the forward. Their samples
draw distinct indices for that reason; scatter_add and index_add add up, and draw repeated ones.
scatter_reduce's rules are PyTorch's: the mean divides by the count, amax and amin share the
gradient among ties, and prod divides the result by each factor, except for a factor that is the
only zero of its place (whose product of the others is computed afresh).
"""
from __future__ import annotations

import numpy as np

from lucid import Arg, Example, Op, OpError, Param, Tensor, hookimpl, zeros_like
from lucid.op import one_axis
from lucid_ops.arithmetic import where
from lucid_ops.linalg import diagonal as diagonal_of, diagonal_key
from lucid_ops.shape import (_draw_key, _getitem, _index_backward, _numpy_reads_as_pytorch, _torch_key, anything,
                              gather, gather_key, getitem, index_arg, index_backward, index_select, select_key)

#: The ufunc that folds each reduction's values into a place (a mean is a sum, then divided).
REDUCTIONS = {"sum": np.add, "prod": np.multiply, "mean": np.add, "amax": np.maximum, "amin": np.minimum}


# --- scatter and its reductions ------------------------------------------------------------------

def _scatter_key(op: str, x, index, src, dim):
    """The key of x that the index entries write to (gather's), and the part of src they write
    (src may be larger than index; its leading part is used). An empty index writes nothing: key None."""
    if index.size == 0:
        one_axis(op, dim, x.ndim)
        return None, None
    key = gather_key(x, index, dim, op)
    if src is None or src.ndim == 0:
        return key, src
    if src.ndim != index.ndim or any(m > n for m, n in zip(index.shape, src.shape)):
        raise OpError(f"{op}: index of shape {index.shape} must be no larger than src's shape {src.shape}, with "
                      f"as many dims")
    return key, src[tuple(slice(0, n) for n in index.shape)]


def _scatter(x, index, src=None, dim=0, value=None):
    """torch.scatter: x with src, or the number `value`, written at the places that index names
    along dim. A 0-d src is a value too: torch.scatter(x, dim, index, 2.5) reads the number so."""
    if (src is None) == (value is None):
        raise OpError("scatter: give either src (a tensor) or value (a number), not both or neither")
    key, part = _scatter_key("scatter", x, index, src, dim)
    out = x.copy()
    if key is not None:
        out[key] = value if src is None else part
    return out


def _scatter_add(x, index, src, dim):
    key, part = _scatter_key("scatter_add", x, index, src, dim)
    out = x.copy()
    if key is not None:
        np.add.at(out, key, part)
    return out


def _counts(shape, key, include_self: bool) -> np.ndarray:
    """How many values each place of a scatter_reduce takes (at least 1: the mean's divisor)."""
    counts = np.full(shape, int(include_self), dtype=np.int64)
    np.add.at(counts, key, 1)
    return np.maximum(counts, 1)


def _identity(reduce: str, dtype):
    """The value a place starts from when the input's own value is left out (include_self=False)."""
    if reduce in ("amax", "amin"):
        low, high = (np.iinfo(dtype).min, np.iinfo(dtype).max) if dtype.kind in "iu" else (-np.inf, np.inf)
        return low if reduce == "amax" else high
    return 1 if reduce == "prod" else 0


def _scatter_reduce(x, index, src, dim, reduce, include_self=True):
    """torch.scatter_reduce: each place that index names along dim becomes the reduction of the
    src values sent to it, and of its own value with include_self. An integer mean rounds down."""
    key, part = _scatter_key("scatter_reduce", x, index, src, dim)
    out = x.copy()
    if key is None:
        return out
    if not include_self:
        out[key] = _identity(reduce, x.dtype)
    REDUCTIONS[reduce].at(out, key, part)
    if reduce == "mean":
        counts = _counts(x.shape, key, include_self)
        out = out // counts if x.dtype.kind in "iu" else out / counts.astype(x.dtype)
    return out


def _src_gradient(g_part, src, index):
    """src's gradient from that of its part that was written: zeros elsewhere, and for a 0-d src
    (a value written at every place) the sum."""
    if src.ndim == 0:
        return g_part.sum()
    if g_part.shape == src.shape:
        return g_part
    return index_backward(g_part, src.shape, tuple(slice(0, n) for n in index.shape))


def _unwritten(g, index, dim):
    """g with zeros at the places a scatter along dim wrote to: they pass nothing back to the input."""
    return scatter(g, dim, index, value=0.0) if index.data.size else g


def _scatter_vjp(g, out, x, index, src, dim, value):
    if src is None or not src.requires_grad:
        return _unwritten(g, index, dim), None, None
    if not index.data.size:
        return g, None, zeros_like(src)
    return _unwritten(g, index, dim), None, _src_gradient(gather(g, dim, index), src, index)


def _scatter_add_vjp(g, out, x, index, src, dim):
    if not index.data.size:
        return g, None, zeros_like(src)
    return g, None, _src_gradient(gather(g, dim, index), src, index)


def _scatter_reduce_vjp(g, out, x, index, src, dim, reduce, include_self):
    """PyTorch's rules (torch/csrc/autograd/FunctionsManual.cpp, scatter_reduce_backward)."""
    if not index.data.size:
        return g, None, zeros_like(src)
    key, _ = _scatter_key("scatter_reduce", x.data, index.data, src.data, dim)
    part = src if src.shape == index.shape else getitem(src, tuple(slice(0, n) for n in index.shape))
    if reduce == "sum":
        g_x, g_part = g, gather(g, dim, index)
    elif reduce == "mean":
        g_x = g / Tensor(_counts(x.shape, key, include_self).astype(g.dtype))
        g_part = gather(g_x, dim, index)
    elif reduce == "prod":
        masked_x = where(Tensor(x.data == 0), 1.0, x)
        g_x = g * scatter_reduce(masked_x, dim, index, part, "prod", include_self=include_self) / masked_x
        zero = part.data == 0
        zeros_at = np.zeros(x.shape, dtype=np.int64)
        np.add.at(zeros_at, key, zero)
        lone_zero = Tensor(zero & (zeros_at[key] == 1))
        others = scatter_reduce(x, dim, index, where(lone_zero, 1.0, part), "prod", include_self=include_self)
        g_part = where(lone_zero, gather(g * others, dim, index),
                       gather(g * out, dim, index) / where(Tensor(zero), 1.0, part))
    else:  # amax, amin: the gradient shared among the values equal to the result
        x_is = x.data == out.data
        part_is = part.data == out.data[key]
        ties = x_is.astype(g.dtype)
        np.add.at(ties, key, part_is)
        shared = g / Tensor(ties)
        g_x = shared * Tensor(x_is)
        g_part = gather(shared, dim, index) * Tensor(part_is)
    return (g_x if include_self else _unwritten(g_x, index, dim)), None, _src_gradient(g_part, src, index)


def _draw_scatter(draw, distinct: bool, empty: bool = False):
    """An input shape, a dim and an index of the input's ndim that fits in it apart from dim; with
    `distinct`, no two entries of the index name the same place (sorted random keys give a
    random permutation along dim, of which the first entries are taken); with `empty`, 1 in 8
    indices empty."""
    shape = draw.shape(min_dims=1)
    d = draw.integer(-len(shape), len(shape) - 1) % len(shape)
    if distinct:
        index_shape = tuple(draw.integer(1, n) for n in shape)
        keys = draw.indices(shape[:d] + (shape[d],) + index_shape[d + 1:], 2**31)[
            tuple(slice(0, n) if a != d else slice(None) for a, n in enumerate(index_shape))]
        index = np.argsort(keys, axis=d, kind="stable")[tuple(slice(0, n) for n in index_shape)]
    else:
        index_shape = tuple(draw.integer(1, 4) if a == d else draw.integer(1, n) for a, n in enumerate(shape))
        index = draw.indices(index_shape, shape[d])
    if empty and draw.integer(0, 7) == 0:  # an index that writes nothing
        index = index[:0]
    return shape, d - len(shape) * draw.boolean(), np.ascontiguousarray(index, dtype=np.int64)


def _src_shape(draw, index):
    """src's shape: the index's, or in 1 of 4 examples larger by one in one dim (the index writes its
    leading part). PyTorch's backward refuses a larger src, so the oracle cannot judge those: drawn
    more often, they left most of the oracle's samples rejected."""
    if not index.ndim or draw.integer(0, 3):
        return index.shape
    grown = draw.integer(0, index.ndim - 1)
    return tuple(n + (i == grown) for i, n in enumerate(index.shape))


def _scatter_sample(draw):
    form = draw.choice(("src", "value", "0-d src"))  # a 0-d src is a value that requires grad
    shape, d, index = _draw_scatter(draw, distinct=form != "value", empty=True)  # PyTorch's rule counts a repeat twice
    if form == "value":  # repeated places all get the same value
        return Example((shape, index, None), {"dim": d, "value": draw.choice((0.0, -1.5))})
    return Example((shape, index, _src_shape(draw, index) if form == "src" else ()), {"dim": d})


def _scatter_add_sample(draw):
    shape, d, index = _draw_scatter(draw, distinct=False, empty=True)
    return Example((shape, index, _src_shape(draw, index)), {"dim": d})


def _scatter_reduce_sample(draw):
    shape, d, index = _draw_scatter(draw, distinct=False)
    return Example((shape, index, index.shape), {"dim": d, "reduce": draw.choice(tuple(REDUCTIONS)),
                                                 "include_self": draw.boolean()})


# --- index_add, index_copy -----------------------------------------------------------------------

def _index_key(op: str, x, index, source, dim):
    """index_select's key of x, after checking that source has x's shape with len(index) along dim."""
    key = select_key(x, index, dim, op)
    d = one_axis(op, dim, x.ndim)
    expected = x.shape[:d] + (index.size,) + x.shape[d + 1:] if x.ndim else ()
    if source.shape != expected or (not x.ndim and index.size != 1):
        raise OpError(f"{op}: source of shape {source.shape} must have the input's shape {x.shape} with "
                      f"{index.size} (the length of index) in dim {dim}")
    return key


def _index_add(x, index, source, dim, alpha=1):
    """torch.index_add: x with alpha * source[..., i, ...] added at x[..., index[i], ...]; repeated
    indices add up."""
    key = _index_key("index_add", x, index, source, dim)
    out = x.copy()
    np.add.at(out.reshape(out.shape or (1,)), key, (source * alpha).reshape(source.shape or (1,)))
    return out


def _index_copy(x, index, source, dim):
    """torch.index_copy: x with source[..., i, ...] written at x[..., index[i], ...]."""
    key = _index_key("index_copy", x, index, source, dim)
    out = x.copy()
    out.reshape(out.shape or (1,))[key] = source.reshape(source.shape or (1,))
    return out


def _picked(g, dim, index, source):
    """The gradient of source: the places of g it went to, in its shape."""
    return index_select(g, dim, index).reshape(source.shape)


def _index_add_vjp(g, out, x, index, source, dim, alpha):
    return g, None, (_picked(g, dim, index, source) * alpha if source.requires_grad else None)


def _index_copy_vjp(g, out, x, index, source, dim):
    g_x = index_copy(g, dim, index, zeros_like(source)) if x.requires_grad else None
    return g_x, None, (_picked(g, dim, index, source) if source.requires_grad else None)


def _index_sample(distinct: bool):
    def sample(draw):
        shape = draw.shape(min_dims=1)
        d = draw.integer(-len(shape), len(shape) - 1)
        n = shape[d]
        if distinct:
            index = np.argsort(draw.indices((n,), 2**31), kind="stable")[:draw.integer(0, n)]
        else:
            index = draw.indices((draw.integer(0, 4),), n)
        source = shape[:d % len(shape)] + (index.size,) + shape[d % len(shape) + 1:]
        params = {"dim": d, "alpha": draw.choice((1, 2.5, -0.5))} if not distinct else {"dim": d}
        return Example((shape, index.astype(np.int64), source), params)

    return sample


# --- selections and index-built tensors ----------------------------------------------------------

def _broadcast_mask(x, mask):
    try:
        return np.broadcast_arrays(x, mask)
    except ValueError:
        raise OpError(f"masked_select: mask of shape {mask.shape} does not broadcast with the input's "
                      f"shape {x.shape}") from None


def _masked_select(x, mask):
    """The values of x where mask (broadcast with it) is True, as a 1-D tensor in row-major order."""
    values, where_true = _broadcast_mask(x, mask)
    return values[where_true]


def _masked_select_vjp(g, out, x, mask):
    """g put back at the selected places (the engine sums away the axes mask broadcast x along)."""
    values, where_true = _broadcast_mask(x.data, mask.data)
    return index_backward(g, values.shape, (where_true,)), None


def _masked_select_sample(draw):
    shape = draw.shape()
    mask_shape = tuple(1 if draw.integer(0, 3) == 0 else n for n in shape)[draw.integer(0, len(shape)):]
    if draw.boolean():  # the mask the larger one
        shape, mask_shape = mask_shape, shape
    return Example((shape, draw.mask(mask_shape)))


ONE_HOT = "nn.functional.one_hot"


def _one_hot(tensor, num_classes=-1):
    """torch.nn.functional.one_hot: an int64 tensor with a new last axis of num_classes entries,
    1 at each value's class (num_classes=-1: one more than the largest value). An empty tensor
    needs a positive num_classes, as in PyTorch: there is no value to infer it from."""
    if not tensor.size:
        if num_classes <= 0:
            raise OpError(f"{ONE_HOT}: cannot infer the number of classes from an empty tensor (shape "
                          f"{tensor.shape}) with num_classes={num_classes}")
        return np.zeros(tensor.shape + (num_classes,), np.int64)
    if tensor.min() < 0:
        raise OpError(f"{ONE_HOT}: class values must be non-negative, got {tensor.min()}")
    if num_classes == -1:
        num_classes = int(tensor.max()) + 1
    if tensor.max() >= num_classes:
        raise OpError(f"{ONE_HOT}: class values must be smaller than num_classes ({num_classes}), got {tensor.max()}")
    return (tensor[..., None] == np.arange(num_classes)).astype(np.int64)


def _one_hot_sample(draw):
    shape = draw.shape()
    classes = draw.integer(1, 4)
    return Example((draw.indices(shape, classes),), {"num_classes": draw.choice((-1, classes, classes + 2))})


def _interleave_key(x, repeats, dim, output_size):
    """The key that picks each value of x (flattened for dim=None) as often as repeats says."""
    if dim is not None and x.ndim == 0:
        raise OpError(f"repeat_interleave: a 0-d input has no dim {dim} (dim=None repeats it)")
    d = None if dim is None else one_axis("repeat_interleave", dim, x.ndim)
    n = x.size if d is None else x.shape[d]
    if repeats.ndim > 1 or repeats.size not in (1, n) and repeats.ndim:
        raise OpError(f"repeat_interleave: repeats of shape {repeats.shape} must be an int, or 1-d of size 1 or "
                      f"of the input's size {n} along dim {dim}")
    if repeats.size and repeats.min() < 0:
        raise OpError(f"repeat_interleave: repeats can not be negative, got {repeats.min()}")
    picks = np.repeat(np.arange(n), repeats.reshape(-1))
    if output_size is not None and output_size != picks.size:
        raise OpError(f"repeat_interleave: output_size {output_size} does not match the {picks.size} values that "
                      f"repeats make")
    return (picks,) if d is None else (slice(None),) * d + (picks,)


def _repeat_interleave(x, repeats, dim=None, output_size=None):
    """torch.repeat_interleave: each value of x, along dim (of x flattened for dim=None), repeated
    in place as often as repeats says (one count, or one per value)."""
    return (x.reshape(-1) if dim is None else x)[_interleave_key(x, repeats, dim, output_size)]


def _repeat_interleave_vjp(g, out, x, repeats, dim, output_size):
    key = _interleave_key(x.data, repeats.data, dim, output_size)
    if dim is None:
        return index_backward(g, (x.data.size,), key).reshape(x.shape), None
    return index_backward(g, x.shape, key), None


def _repeat_interleave_sample(draw):
    shape = draw.shape()
    dim = draw.integer(-len(shape), len(shape) - 1) if shape and draw.boolean() else None
    n = int(np.prod(shape)) if dim is None else shape[dim]
    repeats = draw.choice((np.array(draw.integer(0, 3)), draw.indices((1,), 4), draw.indices((n,), 4)))
    return Example((shape, repeats), {"dim": dim})


def _meshgrid(*tensors, indexing="ij"):
    """torch.meshgrid: one tensor per 0-d or 1-d input, each the input spread over the grid whose
    axes are the inputs' sizes (with 'xy', the first two axes swapped, as in NumPy)."""
    if not tensors:
        raise OpError("meshgrid: expects a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if t.ndim > 1:
            raise OpError(f"meshgrid: tensor {i} has shape {t.shape}; each tensor must be 0-d or 1-d")
    return tuple(np.meshgrid(*(t.reshape(-1) for t in tensors), indexing=indexing))


def _meshgrid_vjp(g, out, *tensors, indexing):
    """Each input's gradient: its output's gradient summed over the grid's other axes."""
    swapped = indexing == "xy" and len(tensors) > 1
    grads = []
    for i, (g_i, t) in enumerate(zip(g, tensors)):
        axis = 1 - i if swapped and i < 2 else i
        others = tuple(a for a in range(len(tensors)) if a != axis)
        grads.append(None if g_i is None else (g_i.sum(dim=others) if others else g_i).reshape(t.shape))
    return tuple(grads)


def _meshgrid_sample(draw):
    shapes = tuple(draw.choice(((), (draw.integer(1, 3),))) for _ in range(draw.integer(1, 3)))
    return Example(shapes, {"indexing": draw.choice(("ij", "xy"))})


def _diag(x, diagonal=0):
    """torch.diag: a vector made the diagonal `diagonal` of a square matrix (diag_embed), or a
    matrix's diagonal (linalg's diagonal)."""
    if x.ndim == 1:
        return _diag_embed(x, diagonal, 0, 1)
    if x.ndim == 2:
        return diagonal_of.forward(x, diagonal).copy()
    raise OpError(f"diag: supports 1-d or 2-d tensors, got shape {x.shape}")


def _diag_vjp(g, out, x, diagonal):
    """The gradient of diag_embed (a diagonal) for a vector, of diagonal for a matrix."""
    if x.ndim == 1:
        return (diagonal_of(g, diagonal),)
    return diagonal_of.vjp(g, out, x, diagonal, 0, 1)


def _diag_sample(draw):
    return Example((draw.shape(min_dims=1, max_dims=2),), {"diagonal": draw.integer(-2, 2)})


def _diag_embed_axes(x, dim1, dim2):
    if x.ndim == 0:
        raise OpError("diag_embed: the input needs at least 1 dim (its last one fills the diagonals)")
    d1, d2 = (one_axis("diag_embed", d, x.ndim + 1) for d in (dim1, dim2))
    if d1 == d2:
        raise OpError(f"diag_embed: dim1 ({dim1}) and dim2 ({dim2}) name the same axis of the result")
    return d1, d2


def _diag_embed(x, offset=0, dim1=-2, dim2=-1):
    """torch.diag_embed: the last axis of x as the diagonal `offset` of the planes (dim1, dim2) of
    a new tensor, zeros elsewhere."""
    d1, d2 = _diag_embed_axes(x, dim1, dim2)
    n = x.shape[-1] + abs(offset)
    planes = np.zeros(x.shape[:-1] + (n, n), dtype=x.dtype)
    planes[(Ellipsis, *diagonal_key(x.shape[-1], offset))] = x
    return np.moveaxis(planes, (-2, -1), (d1, d2))


def _diag_embed_sample(draw):
    shape = draw.shape(min_dims=1)
    d1, d2 = draw.choice([(a, b) for a in range(len(shape) + 1) for b in range(len(shape) + 1) if a != b])
    dim2 = d2 - (len(shape) + 1) * draw.boolean()
    return Example((shape,), {"offset": draw.integer(-2, 2), "dim1": d1, "dim2": dim2})


# --- setitem: x[key] = value ----------------------------------------------------------------------

def _setitem(x, value, key):
    """x with value (broadcast to x[key]'s shape, cast to x's dtype) written at x[key], as PyTorch's
    `x[key] = value` (Tensor.__setitem__ makes it in place). Where an index names a place twice, the
    last write stays, as on PyTorch's CPU."""
    out = x.copy()
    target = _getitem(out, key)  # reads the key as PyTorch does, and refuses what it refuses
    if not np.can_cast(value.dtype, x.dtype, "unsafe") or value.size and not _fits(value.shape, target.shape):
        raise OpError(f"setitem: a value of shape {value.shape} cannot be broadcast to the indexed shape "
                      f"{target.shape} (tensor of shape {x.shape})")
    if value.ndim > target.ndim:  # leading 1s, which PyTorch drops (NumPy would not for a mask)
        value = value.reshape(value.shape[value.ndim - target.ndim:])
    if _numpy_reads_as_pytorch(key):
        out[key] = value
        return out
    index = _torch_key("setitem", x.shape, key)
    view = out[index.basic + (Ellipsis,)]  # a view even of a 0-d out
    if index.advanced is None:
        view[...] = value
    else:
        view[index.advanced] = value
    return out


def _fits(shape, target) -> bool:
    """Whether a value of `shape` broadcasts to `target`, after leading 1s are dropped (PyTorch's rule)."""
    while len(shape) > len(target) and shape[0] == 1:
        shape = shape[1:]
    return len(shape) <= len(target) and all(m in (1, n) for m, n in zip(reversed(shape), reversed(target)))


def _setitem_vjp(g, out, x, value, key):
    """The places written pass nothing back to x; the value gets their gradient (summed over the
    places it was broadcast to, by the engine)."""
    g_value = None
    if value.requires_grad:
        g_value = getitem(g, key)
        if value.ndim > g_value.ndim:  # leading 1s that the write dropped
            g_value = g_value.reshape((1,) * (value.ndim - g_value.ndim) + g_value.shape)
    return (setitem(g, 0.0, key) if x.requires_grad else None), g_value


def _setitem_sample(draw):
    """A key (getitem's), and a value of the indexed shape or one that broadcasts to it (with leading
    1s too, which the write drops, as PyTorch's does). A key that
    names a place twice is replaced by Ellipsis: which write stays there is not a derivative."""
    shape = draw.shape(min_dims=1)
    key = _draw_key(draw, shape)
    target = _getitem(np.empty(shape), key).shape
    if target and _index_backward(np.ones(target), shape, key).max() > 1:
        key, target = Ellipsis, shape
    value = tuple(1 if draw.integer(0, 3) == 0 else n for n in target)[draw.integer(0, len(target)):]
    return Example((shape, (1,) * draw.choice((0, 0, 1, 2)) + value), {"key": key})  # leading 1s are dropped


# --- the entries ---------------------------------------------------------------------------------

def _scatter_inputs(src: str = "src", optional: bool = False) -> tuple[Arg, ...]:
    return (*anything, index_arg, Arg(src, dtype="any", optional=optional))


dim_param = Param("dim", kind="dim")
LARGER_SRC = ("A src larger than the index has a gradient, zero where nothing of it is written; PyTorch's "
              "backward refuses it (it returns one of the index's shape)")
scatter = Op("scatter", _scatter, _scatter_vjp, _scatter_inputs(optional=True),
             params=(dim_param, Param("value", None, kind="number")), sample=_scatter_sample,
             signature=("input", "dim", "index", "src", "value"),
             differences={"inputs": "a 0-d src is the value form, as a number is in PyTorch; PyTorch refuses a "
                                    "0-d tensor there. " + LARGER_SRC}, same_dtype=True)
scatter_add = Op("scatter_add", _scatter_add, _scatter_add_vjp, _scatter_inputs(), params=(dim_param,),
                 sample=_scatter_add_sample, signature=("input", "dim", "index", "src"), same_dtype=True,
                 differences={"inputs": LARGER_SRC})
scatter_reduce = Op("scatter_reduce", _scatter_reduce, _scatter_reduce_vjp, _scatter_inputs(),
                    params=(dim_param, Param("reduce", choices=tuple(REDUCTIONS), kind="choice"),
                            Param("include_self", True, kind="bool")),
                    sample=_scatter_reduce_sample, ties=True,
                    differences={"evaluation order": "prod's rule divides by each factor, as PyTorch's does: at a "
                                                     "factor of 1e-30 its second-order terms of 1e30 cancel to a "
                                                     "rounding error whose size depends on the order of the steps",
                                 "inputs": "PyTorch's double backward of prod refuses more than one zero scattered "
                                           "to one position; Lucid's second derivative there is the product's, "
                                           "checked against finite differences"},
                    signature=("input", "dim", "index", "src", "reduce", "*", "include_self"), same_dtype=True)
index_add = Op("index_add", _index_add, _index_add_vjp, _scatter_inputs("source"),
               params=(dim_param, Param("alpha", 1, kind="number")), sample=_index_sample(distinct=False),
               differences={"evaluation order": "PyTorch adds alpha * source with a fused multiply-add: beside "
                                                "1e30 its sums differ from Lucid's by a rounding error (1e14)"},
               signature=("input", "dim", "index", "source", "*", "alpha"), same_dtype=True)
index_copy = Op("index_copy", _index_copy, _index_copy_vjp, _scatter_inputs("source"), params=(dim_param,),
                sample=_index_sample(distinct=True), signature=("input", "dim", "index", "source"), same_dtype=True)
masked_select = Op("masked_select", _masked_select, _masked_select_vjp, (*anything, Arg("mask", dtype="bool")),
                   sample=_masked_select_sample)
one_hot = Op(ONE_HOT, _one_hot, lambda g, out, tensor, num_classes: (None,),
             (Arg("tensor", dtype="int"),), params=(Param("num_classes", -1, kind="int"),), sample=_one_hot_sample)
repeat_interleave = Op("repeat_interleave", _repeat_interleave, _repeat_interleave_vjp,
                       (*anything, Arg("repeats", dtype="int")),
                       params=(Param("dim", None, kind="dim"), Param("output_size", None, kind="int")),
                       sample=_repeat_interleave_sample)
meshgrid = Op("meshgrid", _meshgrid, _meshgrid_vjp, (Arg("tensors", dtype="any"),),
              params=(Param("indexing", "ij", ("ij", "xy"), "choice"),), sample=_meshgrid_sample, variadic=True,
              outputs=2, signature=("*tensors", "indexing"), same_dtype=True)
diag = Op("diag", _diag, _diag_vjp, anything, params=(Param("diagonal", 0, kind="int"),), sample=_diag_sample)
diag_embed = Op("diag_embed", _diag_embed, lambda g, out, x, offset, dim1, dim2: (diagonal_of(g, offset, dim1, dim2),),
                anything, params=(Param("offset", 0, kind="int"), Param("dim1", -2, kind="dim"),
                                     Param("dim2", -1, kind="dim")), sample=_diag_embed_sample)
setitem = Op("setitem", _setitem, _setitem_vjp, (*anything, Arg("value", dtype="any", promoted=False)),
             params=(Param("key"),),
             sample=_setitem_sample,
             differences={"inputs": "slices take negative steps (x[::-1] = v), as in getitem; PyTorch refuses them"})


@hookimpl
def lucid_ops():
    return [setitem, scatter, scatter_add, scatter_reduce, index_add, index_copy, masked_select, one_hot,
            repeat_interleave, meshgrid, diag, diag_embed]
