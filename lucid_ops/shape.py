"""Shape and indexing: ops that move values around without changing them.

Their gradients move `g` back: the inverse reshape, permutation, flip or roll; a crop for a
pad; a split for a cat; and for every op that picks values by index (getitem, gather,
index_select, take_along_dim, reflect padding), a scatter-add into zeros (`index_backward`),
whose own gradient is the same pick again.
"""
from __future__ import annotations

import itertools
import math
import operator
from typing import NamedTuple

import numpy as np

from lucid import Arg, Example, Op, OpError, Param, Tensor, hookimpl
from lucid.op import axes, dim, dims, one_axis

anything = (Arg("input", dtype="any"),)
index_arg = Arg("index", dtype="int")


def _back_to_input_shape(g, out, x, **params):
    """The gradient of any op that only changes the shape: g in the input's shape."""
    return (g.reshape(x.shape),)


# --- reshape and friends -------------------------------------------------------------------------

def _reshape(x, shape):
    """x with a new shape; one size may be -1, inferred (NumPy would take any negative size for -1)."""
    if any(n < -1 for n in shape):
        raise OpError(f"reshape: invalid size in shape {tuple(shape)}: sizes are >= 0, or -1 for one inferred size")
    try:
        return x.reshape(shape)
    except ValueError:
        raise ValueError(f"shape {tuple(shape)} is invalid for input of size {x.size}") from None


def _reshapes(shapes):
    """The input flattened, reversed, with a -1, and with a new unit axis."""
    shape = shapes[0]
    return ((int(np.prod(shape)),), (-1,), tuple(reversed(shape)), (*shape, 1))


def _flatten(x, start_dim=0, end_dim=-1):
    start, end = one_axis("flatten", start_dim, x.ndim), one_axis("flatten", end_dim, x.ndim)
    if x.ndim == 0:
        return x.reshape(1)
    if start > end:
        raise OpError(f"flatten: start_dim {start_dim} must not come after end_dim {end_dim} "
                      f"(for a tensor with {x.ndim} dims)")
    return x.reshape(x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:])


def _flatten_sample(draw):
    shape = draw.shape()
    start = draw.integer(0, max(len(shape) - 1, 0))
    end = draw.integer(start, max(len(shape) - 1, 0))
    return Example((shape,), {"start_dim": start, "end_dim": end - len(shape) if draw.boolean() else end})


def _unflatten(x, dim, sizes):
    d = one_axis("unflatten", dim, x.ndim)
    sizes = tuple(sizes)
    known = math.prod(n for n in sizes if n != -1)
    fits = sizes.count(-1) <= 1 and (known == x.shape[d] if -1 not in sizes else known and x.shape[d] % known == 0)
    if not fits:
        raise OpError(f"unflatten: sizes {sizes} don't multiply to the size {x.shape[d]} of dim {dim} "
                      f"(input shape {x.shape})")
    sizes = tuple(x.shape[d] // known if n == -1 else n for n in sizes)
    return x.reshape(x.shape[:d] + sizes + x.shape[d + 1:])


def _unflatten_sample(draw):
    shape = draw.shape(min_dims=1)
    d = draw.integer(-len(shape), len(shape) - 1)
    n = shape[d]
    return Example((shape,), {"dim": d, "sizes": draw.choice(((n,), (1, n), (n, 1), (-1,), (1, -1, 1)))})


def _squeeze(x, dim=None):
    chosen = axes("squeeze", dim, x.ndim)
    return x.reshape(tuple(n for a, n in enumerate(x.shape) if not (a in chosen and n == 1)))


def _squeeze_sample(draw):
    shape = tuple(1 if draw.boolean() else n for n in draw.shape())
    return Example((shape,), {"dim": draw.choice(dims((shape,)))})


def _unsqueeze(x, dim):
    return np.expand_dims(x, one_axis("unsqueeze", dim, x.ndim, new=True))


def _new_axes(shapes):
    """Each place a new axis can go: ndim + 1 of them, negative too."""
    ndim = len(shapes[0])
    return tuple(range(-ndim - 1, ndim + 1))


# --- permutations --------------------------------------------------------------------------------

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
    a, b = one_axis("transpose", dim0, x.ndim), one_axis("transpose", dim1, x.ndim)
    return x.swapaxes(a, b) if x.ndim else x


def _flip(x, dims):
    return np.flip(x, axes("flip", dims, x.ndim))


def _some_axes(shapes):
    """Each axis alone, the first and last together, and all of them."""
    ndim = len(shapes[0])
    return tuple(range(-max(ndim, 1), max(ndim, 1))) + (((0, -1),) if ndim >= 2 else ()) + (tuple(range(ndim)),)


def _roll(x, shifts, dims=None):
    if dims is None:
        return np.roll(x, shifts)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise OpError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(one_axis("roll", d, x.ndim) for d in dims)
    return np.roll(x, shifts, axes) if x.ndim else x.copy()


def _roll_sample(draw):
    shape = draw.shape()
    if not shape or draw.boolean():
        return Example((shape,), {"shifts": draw.integer(-5, 5), "dims": None})
    chosen = tuple(sorted({draw.integer(-len(shape), len(shape) - 1) for _ in range(draw.integer(1, 2))}))
    return Example((shape,), {"shifts": tuple(draw.integer(-5, 5) for _ in chosen), "dims": chosen})


def _negated(shifts):
    return -shifts if isinstance(shifts, int) else tuple(-s for s in shifts)


# --- broadcasting and repetition -----------------------------------------------------------------

def _expand(x, size):
    """PyTorch's expand: -1 keeps a size; new axes may be added in front."""
    lead = len(size) - x.ndim
    if lead < 0:
        raise ValueError(f"the number of sizes ({len(size)}) must be at least the number of dims ({x.ndim})")
    target = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(size)) \
        if -1 in size else size
    if math.prod(target) > 4096:
        return np.broadcast_to(x, target)  # a read-only view: no copy of a large array
    out = np.empty(target, dtype=x.dtype)  # small: a copy is faster than broadcast_to's setup
    out[...] = x
    return out


def _expand_sample(draw):
    shape = draw.shape(max_dims=3, max_side=3)
    target = tuple(draw.integer(2, 3) if n == 1 and draw.boolean() else n for n in shape)
    return Example((shape,), {"size": (draw.integer(1, 3),) * draw.integer(0, 1) + target})


def _repeat(x, repeats):
    if len(repeats) < x.ndim:
        raise OpError(f"repeat: the number of repeats ({len(repeats)}) must be at least the number of dims "
                      f"({x.ndim}) of the input of shape {x.shape}")
    return np.tile(x, repeats)


def _untile(g, out, x, **params):
    """Each input value appears once per copy: reshape g to (copies, size) pairs of axes and
    sum over the copies. Works for repeat and tile, whose only param is the copy counts."""
    (copies,) = params.values()
    ndim = max(len(copies), x.ndim)
    copies = (1,) * (ndim - len(copies)) + tuple(copies)
    sizes = (1,) * (ndim - x.ndim) + x.shape
    pairs = g.reshape([n for pair in zip(copies, sizes) for n in pair])
    return (pairs.sum(tuple(range(0, 2 * ndim, 2))).reshape(x.shape),)


def _repeat_sample(draw):
    shape = draw.shape()
    return Example((shape,), {"repeats": tuple(draw.integer(1, 3) for _ in range(len(shape) + draw.integer(0, 1)))})


def _tile_sample(draw):
    shape = draw.shape()
    return Example((shape,), {"dims": tuple(draw.integer(1, 3) for _ in range(draw.integer(0, len(shape) + 1)))})


# --- joining and splitting -----------------------------------------------------------------------
# cat and split undo each other, and so do stack and unbind: each is the other's gradient.
# split, chunk and unbind return as many tensors as the call asks for: they are multi-output ops
# (outputs=2 marks "a tuple of tensors"; how many depends on the params and the input's shape).

def _cat(*tensors, dim=0):
    if not tensors:
        raise OpError("cat: expected a non-empty sequence of tensors")
    first = tensors[0]
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise OpError(f"cat: tensor {i} is 0-d; 0-d tensors cannot be concatenated (use stack)")
    d = one_axis("cat", dim, first.ndim)
    for i, t in enumerate(tensors):
        if t.shape[:d] + t.shape[d + 1:] != first.shape[:d] + first.shape[d + 1:] or t.ndim != first.ndim:
            raise OpError(f"cat: tensor 0 has shape {first.shape} and tensor {i} has shape {t.shape}; "
                          f"they must match except in dim {dim}")
    return np.concatenate(tensors, axis=d)


def _cat_vjp(g, out, *tensors, dim):
    """Each input gets its own stretch of g back: a split at the inputs' sizes."""
    return split(g, [t.shape[one_axis("cat", dim, t.ndim)] for t in tensors], dim)


def _stack(*tensors, dim=0):
    if not tensors:
        raise OpError("stack: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise OpError(f"stack: tensor 0 has shape {tensors[0].shape} and tensor {i} has shape {t.shape}; "
                          f"stack needs tensors of equal shape")
    return np.stack(tensors, axis=one_axis("stack", dim, tensors[0].ndim, new=True))


def _sizes(op, n, split_size_or_sections, dim):
    """The sizes of the pieces: as many `split_size` as fit (the last one smaller), or the sections."""
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0 and n:
            raise OpError(f"{op}: split_size must be a positive int, got {size}")
        return [size] * (n // size) + [n % size] * bool(n % size) if n else [0]
    sections = [int(s) for s in split_size_or_sections]
    if any(s < 0 for s in sections) or sum(sections) != n:
        raise OpError(f"{op}: sections {tuple(sections)} must be sizes >= 0 that add up to {n}, "
                      f"the size of dim {dim}")
    return sections



def _split(x, split_size_or_sections, dim=0):
    d = one_axis("split", dim, x.ndim)
    if x.ndim == 0:
        raise OpError("split: a 0-d tensor cannot be split")
    offsets = np.cumsum(_sizes("split", x.shape[d], split_size_or_sections, dim))[:-1]
    return tuple(np.split(x, offsets, axis=d))


def _chunk(x, chunks, dim=0):
    if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise OpError(f"chunk: chunks must be a positive int, got {chunks!r}")
    d = one_axis("chunk", dim, x.ndim)
    if x.ndim == 0:
        raise OpError("chunk: a 0-d tensor cannot be chunked")
    return _split(x, max(-(-x.shape[d] // chunks), 1), dim)


def _unbind(x, dim=0):
    d = one_axis("unbind", dim, x.ndim)
    if x.ndim == 0:
        raise OpError("unbind: a 0-d tensor cannot be unbound")
    return tuple(np.moveaxis(x, d, 0))


def _joined_sample(same_size):
    def sample(draw):
        shape = draw.shape(min_dims=1)
        if same_size:
            d = draw.integer(-len(shape) - 1, len(shape))
            return Example((shape,) * draw.integer(1, 3), {"dim": d})
        d = draw.integer(-len(shape), len(shape) - 1)
        shapes = tuple(shape[:d % len(shape)] + (draw.integer(1, 3),) + shape[d % len(shape) + 1:]
                       for _ in range(draw.integer(1, 3)))
        return Example(shapes, {"dim": d})

    return sample


def _split_sample(draw):
    shape = draw.shape(min_dims=1)
    d = draw.integer(-len(shape), len(shape) - 1)
    n = shape[d]
    if draw.boolean():
        return Example((shape,), {"split_size_or_sections": draw.integer(1, n), "dim": d})
    cuts = sorted(draw.integer(0, n) for _ in range(draw.integer(0, 2)))
    return Example((shape,), {"split_size_or_sections": tuple(np.diff([0, *cuts, n]).tolist()), "dim": d})


def _chunk_sample(draw):
    shape = draw.shape(min_dims=1)
    return Example((shape,), {"chunks": draw.integer(1, 4), "dim": draw.integer(-len(shape), len(shape) - 1)})


def _one_axis_sample(draw):
    shape = draw.shape(min_dims=1)
    return Example((shape,), {"dim": draw.integer(-len(shape), len(shape) - 1)})


# --- padding -------------------------------------------------------------------------------------
# PyTorch pads k = 1, 2 or 3 trailing dims of a (k + 1)- or (k + 2)-D input in the modes other than
# constant. Negative widths crop: reflect and replicate read output position j from input position
# j - before, reflected or clamped into the input; circular crops first and wraps what is left.

INDEXED_PAD_MODES = ("reflect", "replicate", "circular")  # the modes that pick values by index


def _widths(x, pad):
    """PyTorch's pad (last dim first, (before, after) pairs) as (axis, before, after) triples."""
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise OpError(f"pad: padding {tuple(pad)} must have an even length of at most 2 * {x.ndim} "
                      f"(two values per dim, last dim first) for an input of shape {x.shape}")
    return [(x.ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]


def _check_crop(n, before, after):
    """PyTorch crops by the negative widths first: together they may take all of a dim, no more."""
    if n + min(before, 0) + min(after, 0) < 0:
        raise OpError(f"pad: padding ({before}, {after}) crops more than the size {n} of the dim it pads")


def _picks(mode, n, before, after):
    """The input positions one padded dim of size n reads, in order."""
    if mode == "circular":
        _check_crop(n, before, after)
        kept = np.arange(n)[max(-before, 0):n - max(-after, 0)]
        grow = (max(before, 0), max(after, 0))
        if max(grow) > kept.size:
            raise OpError(f"pad: circular padding ({before}, {after}) of a dim of size {n} wraps around the "
                          f"{kept.size} values left after cropping more than once")
        return np.pad(kept, grow, mode="wrap") if kept.size else kept
    if n + before + after < 0:
        raise OpError(f"pad: {mode} padding ({before}, {after}) leaves a dim of size {n} with a negative size")
    source = np.arange(n + before + after) - before
    if mode == "replicate":
        return np.clip(source, 0, n - 1)
    if max(before, after) >= n:
        raise OpError(f"pad: reflect padding ({before}, {after}) must be less than the size {n} of the dim it pads")
    source = np.abs(source)
    return np.where(source > n - 1, 2 * (n - 1) - source, source)


def _pad_key(x, pad, mode):
    """reflect, replicate and circular padding pick input values by index: an open grid of the
    positions each padded axis reads."""
    if mode not in INDEXED_PAD_MODES:
        raise OpError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if len(pad) not in (2, 4, 6) or x.ndim not in (len(pad) // 2 + 1, len(pad) // 2 + 2):
        raise OpError(f"pad: {mode} padding pads 1, 2 or 3 dims of an input with 1 or 2 more (batch, channel): "
                      f"padding {tuple(pad)} of length {len(pad)} does not fit an input of shape {x.shape}")
    widths = _widths(x, pad)
    picks = [np.arange(n) for n in x.shape]
    for axis, before, after in widths:
        if mode != "circular" and x.shape[axis] == 0:
            raise OpError(f"pad: {mode} padding needs a non-empty dim {axis}, got an input of shape {x.shape}")
        picks[axis] = _picks(mode, x.shape[axis], before, after)
    if mode != "circular" and all(picks[axis].size == 0 for axis, _, _ in widths):
        raise OpError(f"pad: {mode} padding {tuple(pad)} leaves nothing of the input of shape {x.shape}: "
                      f"some padded dim must keep a size of at least 1")
    first = min(axis for axis, _, _ in widths)
    return (slice(None),) * first + np.ix_(*picks[first:])


def _pad(x, pad, mode="constant", value=None):
    """torch.nn.functional.pad. Negative constant padding crops, as in PyTorch: grow by the
    positive widths, then crop by the negative ones."""
    if mode != "constant":
        if value not in (None, 0):
            raise OpError(f"pad: {mode} padding takes no value, got value={value!r}")
        return x[_pad_key(x, pad, mode)]
    grow, crop = [(0, 0)] * x.ndim, [slice(None)] * x.ndim
    for axis, before, after in _widths(x, pad):
        n = x.shape[axis]
        _check_crop(n, before, after)
        grow[axis] = (max(before, 0), max(after, 0))
        crop[axis] = slice(max(-before, 0), n + max(before, 0) + after)
    return np.pad(x, grow, constant_values=0 if value is None else value)[tuple(crop)]


def _pad_vjp(g, out, x, **params):
    """Constant padding: crop g back (and zero-pad where the forward cropped): the same pad,
    negated. Other modes picked values by index: scatter g back."""
    if params["mode"] == "constant":
        return (pad(g, tuple(-w for w in params["pad"])),)
    return (index_backward(g, x.shape, _pad_key(x, params["pad"], params["mode"])),)


def _pad_sample(draw):
    """Constant padding of any trailing dims of any input; the other modes on PyTorch's ranks. Each
    width may crop (negative) as far as the mode allows."""
    mode = draw.choice(("constant", *INDEXED_PAD_MODES))
    if mode == "constant":
        shape = draw.shape(min_dims=1)
        padded = draw.integer(1, len(shape))
    else:
        padded = draw.integer(1, 3)
        shape = draw.shape(min_dims=padded + 1, max_dims=padded + 2, max_side=3)
    widths = []
    for n in reversed(shape[-padded:]):
        crop = -(n // 2) if mode == "constant" else -((n - 1) // 2)
        before, after = (draw.integer(crop, {"constant": 2, "reflect": n - 1, "replicate": 2, "circular": n}[mode])
                         for _ in range(2))
        if mode == "circular":  # wrap at most once around what the crops leave
            kept = n - max(-before, 0) - max(-after, 0)
            before, after = min(before, kept), min(after, kept)
        widths += [before, after]
    params = {"pad": tuple(widths), "mode": mode}
    if mode == "constant":
        params["value"] = draw.choice((None, 0.5))
    return Example((shape,), params)


# --- indexing ------------------------------------------------------------------------------------
# PyTorch reads x[key] in two steps: the basic entries first (an int selects, and its dim goes;
# slices, None and Ellipsis view), then the index tensors together, on the dims of that view where
# they stood. NumPy counts an int among the advanced indices when there are any, so y[0, :, idx] of
# a (3, 4, 5) y is (4, 2) in PyTorch and (2, 4) in NumPy (separated advanced indices go first).
# `_torch_key` writes PyTorch's reading as two NumPy keys: x[basic][advanced] is PyTorch's result.

class _Key(NamedTuple):
    basic: tuple  # ints, slices and None: a view of x
    advanced: tuple | None  # slices and index arrays on the view's dims, None if there are none
    sources: tuple  # for each entry of `advanced`, the dim of x it indexes (None for a slice)


def _numpy_reads_as_pytorch(key):
    """Whether NumPy reads `key` as PyTorch does, so that x[key] needs no rewriting: ints, slices,
    None and Ellipsis; or slices, None, Ellipsis and index arrays, with no int (which NumPy would
    count among the index arrays) and no bool scalar."""
    ints = arrays = False
    for k in key if type(key) is tuple else (key,):
        if type(k) is int or isinstance(k, np.integer):
            ints = True
        elif type(k) is np.ndarray and k.ndim and k.dtype.kind in "ib":
            arrays = True
        elif not (type(k) is slice or k is None or k is Ellipsis):
            return False
    return not (ints and arrays)


def _as_tuple(key):
    """The entries of a key. A list holding sequences, tensors, slices, None or Ellipsis is a tuple of
    entries, as in PyTorch 2.13 (which warns that this will change); any other list is an index tensor."""
    if type(key) is tuple:
        return key
    if isinstance(key, list) and len(key) < 32 and any(
            k is None or k is Ellipsis or isinstance(k, (list, tuple, slice, Tensor, np.ndarray)) for k in key):
        return tuple(key)
    return (key,)


def _bound(op, value, position):
    """A slice bound: None or an int (a one-element integer tensor too)."""
    if isinstance(value, Tensor):
        value = value.data
    try:
        return None if value is None else operator.index(value)
    except TypeError:
        raise OpError(f"{op}: slice bounds must be ints or None, got {value!r} at position {position}") from None


def _entry(op, k, position):
    """One key entry as PyTorch takes it: None, Ellipsis, a bool, an int, a slice or an index array."""
    if k is None or k is Ellipsis:
        return k
    if isinstance(k, (bool, np.bool_)):
        return bool(k)
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, slice):
        k = slice(*(_bound(op, v, position) for v in (k.start, k.stop, k.step)))
        if k.step == 0:
            raise OpError(f"{op}: slice step cannot be zero (position {position})")
        return k
    if isinstance(k, Tensor):
        k = k.data
    if isinstance(k, (list, tuple)):
        k = np.asarray([v.data if isinstance(v, Tensor) else v for v in k])
        k = k.astype(np.int64) if k.size == 0 else k
    if isinstance(k, np.ndarray):
        if k.dtype == np.uint8:  # a mask, as in PyTorch (which deprecates it)
            k = k.astype(bool)
        if k.dtype.kind in "biu":
            return (bool(k) if k.dtype.kind == "b" else int(k)) if k.ndim == 0 else k
        raise OpError(f"{op}: index tensors must have an integer or bool dtype, got {k.dtype} at position {position}")
    raise OpError(f"{op}: only ints, slices (:), Ellipsis (...), None, bools and integer or bool tensors are valid "
                  f"indices, got {type(k).__name__} at position {position}")


def _describe_key(entries):
    def one(k):
        if isinstance(k, slice):
            return ":".join("" if v is None else str(v) for v in (k.start, k.stop, k.step)).rstrip(":") or ":"
        if isinstance(k, np.ndarray):
            return f"{k.dtype} tensor of shape {k.shape}"
        return "..." if k is Ellipsis else repr(k)
    return "[" + ", ".join(one(k) for k in entries) + "]"


def _torch_key(op, shape, key):
    """PyTorch's reading of `key` into a tensor of `shape`, as a `_Key`; a clear OpError for a key
    PyTorch refuses (too many indices, an int out of bounds, a mask of another shape)."""
    try:
        entries = [_entry(op, k, i) for i, k in enumerate(_as_tuple(key))]
    except OpError as error:
        raise OpError(f"{error} (tensor of shape {tuple(shape)})") from None
    ndim = len(shape)
    specified = sum(k.ndim if isinstance(k, np.ndarray) and k.dtype == bool else 1 for k in entries
                    if k is not None and k is not Ellipsis and type(k) is not bool)
    def where():  # for an error's message only: describing the key costs more than reading it
        return f"tensor of shape {tuple(shape)}, index {_describe_key(entries)}"

    if specified > ndim:
        raise OpError(f"{op}: too many indices for a tensor of dimension {ndim} ({where()})")
    basic, advanced, src, dim = [], {}, 0, 0  # src: the next dim of x; dim: the next dim of x[basic]
    for k in entries:
        if k is Ellipsis:  # PyTorch lets a second Ellipsis add the dims that remain: none
            fill = min(ndim - specified, ndim - src)
            basic += [slice(None)] * fill
            src, dim = src + fill, dim + fill
            continue
        size = k.ndim if isinstance(k, np.ndarray) and k.dtype == bool else 0 if k is None or type(k) is bool else 1
        if src + size > ndim:
            raise OpError(f"{op}: too many indices for a tensor of dimension {ndim} ({where()})")
        if k is None or type(k) is bool:  # a new dim; a bool indexes it with [0] or []
            basic.append(None)
            if type(k) is bool:
                advanced[dim] = (np.arange(int(k)), None)
            dim += 1
        elif type(k) is int:
            if not -shape[src] <= k < shape[src]:
                raise OpError(f"{op}: index {k} is out of bounds for dim {src} with size {shape[src]} ({where()})")
            basic.append(k)
            src += 1
        elif isinstance(k, slice):
            basic.append(k)
            src, dim = src + 1, dim + 1
        else:
            if k.dtype == bool and k.shape != tuple(shape[src:src + size]):
                raise OpError(f"{op}: the mask of shape {k.shape} does not match the shape "
                              f"{tuple(shape[src:src + size])} of dims {src} to {src + size - 1} ({where()})")
            basic += [slice(None)] * size
            advanced[dim] = (k, src)
            src, dim = src + size, dim + size
    if not advanced:
        return _Key(tuple(basic), None, ())
    picks, sources, at = [], [], 0
    for position in sorted(advanced):
        index, source = advanced[position]
        picks += [slice(None)] * (position - at) + [index]
        sources += [None] * (position - at) + [source]
        at = position + (index.ndim if index.dtype == bool else 1)
    return _Key(tuple(basic), tuple(picks), tuple(sources))


def _index_error(op, view_shape, key, shape, raw):
    """Why NumPy refused the advanced step: an index out of bounds, or arrays that don't broadcast."""
    entries = [_entry(op, k, i) for i, k in enumerate(_as_tuple(raw))]
    where = f"tensor of shape {tuple(shape)}, index {_describe_key(entries)}"
    arrays = [(d, k, s) for d, (k, s) in enumerate(zip(key.advanced, key.sources)) if isinstance(k, np.ndarray)]
    for d, k, source in arrays:
        n = view_shape[d]
        if k.dtype != bool and k.size and (k.min() < -n or k.max() >= n):
            bad = k.min() if k.min() < -n else k.max()
            dim = "a new dim" if source is None else f"dim {source}"
            return OpError(f"{op}: index {bad} is out of bounds for {dim} with size {n} ({where})")
    shapes = [(int(np.count_nonzero(k)),) if k.dtype == bool else k.shape for _, k, _ in arrays]
    return OpError(f"{op}: the index tensors could not be broadcast together with shapes "
                   f"{', '.join(map(str, shapes))} ({where})")


def _getitem(x, key):
    """x[key] as PyTorch reads it."""
    if _numpy_reads_as_pytorch(key):
        try:
            return x[key]
        except (IndexError, TypeError):
            pass  # out of bounds, too many indices, several Ellipsis: PyTorch's reading says which
    index = _torch_key("getitem", x.shape, key)
    view = x[index.basic]
    if index.advanced is None:
        return view
    try:
        return view[index.advanced]
    except IndexError:
        raise _index_error("getitem", view.shape, index, x.shape, key) from None


def _index_backward(g, shape, key):
    """Zeros of `shape` with g added where x[key] picked its values: repeated indices add up."""
    z = np.zeros(shape, dtype=g.dtype)
    if _numpy_reads_as_pytorch(key):
        try:
            if any(type(k) is np.ndarray for k in (key if type(key) is tuple else (key,))):
                picked = np.empty(shape, dtype=np.bool_)[key].shape
                if np.broadcast_shapes(g.shape, picked) != picked:  # NumPy 2.4's add.at crashes on extra dims
                    raise OpError(f"index_backward: grad of shape {g.shape} does not fit the {picked} values "
                                  f"{key!r} picks from shape {tuple(shape)}")
                np.add.at(z, key, g)
            else:
                z[key] = g  # a basic key picks each value once
            return z
        except (IndexError, TypeError):
            pass
    index = _torch_key("index_backward", shape, key)
    view = z[index.basic + (Ellipsis,)]  # a view even of a 0-d z
    if index.advanced is None:
        view[...] = g
        return z
    try:
        np.add.at(view, index.advanced, g)
    except IndexError:
        raise _index_error("index_backward", view.shape, index, shape, key) from None
    return z


def _draw_key(draw, shape):
    """A PyTorch-style index of an array of `shape`: ints, slices (negative steps too), None,
    Ellipsis, integer arrays (one, or two that broadcast), boolean masks, and ints, 0-d index
    tensors, index arrays and bools mixed (where PyTorch's reading differs from NumPy's)."""
    kind = draw.integer(0, 6) if shape else 0
    if kind == 1:  # a mask over the leading axes
        return draw.mask(shape[:draw.integer(1, len(shape))])
    if kind == 2:  # an integer array on one axis, slices elsewhere
        axis = draw.integer(0, len(shape) - 1)
        return (slice(None),) * axis + (draw.indices((draw.integer(1, 4),), shape[axis]),)
    if kind == 3 and len(shape) >= 2:  # two integer arrays, broadcast together
        rows = draw.indices((draw.integer(1, 3), 1), shape[0])
        return rows, draw.indices((draw.integer(1, 3),), shape[1])
    if kind == 4:  # ints, slices, 0-d and 1-d index tensors mixed: PyTorch selects with the ints first
        length, key = draw.integer(1, 3), []
        for n in shape[:draw.integer(1, len(shape))]:
            pick = draw.integer(0, 3)
            key.append(draw.integer(-n, n - 1) if pick == 0 else slice(None) if pick == 1
                       else draw.indices((), n) if pick == 2 else draw.indices((length,), n))
        if draw.boolean():  # a bool: a new dim, indexed by [0] (True) or [] (False)
            key.insert(draw.integer(0, len(key)), length > 1 or draw.boolean())
        return tuple(key)
    m = draw.integer(0, len(shape))
    trailing = m < len(shape) and draw.boolean()  # x[..., i]: the entries index the last m axes
    key = []
    for n in shape[len(shape) - m:] if trailing else shape[:m]:
        kind = draw.integer(0, 2)
        if kind == 0:
            key.append(draw.integer(-n, n - 1))
        else:
            step = draw.choice((1, 2, -1, -2))
            key.append(slice(draw.integer(-n, n - 1), None, step) if kind == 1 else slice(None, None, step))
    if trailing:
        key.insert(0, Ellipsis)
    elif m < len(shape) and draw.boolean():
        key.append(Ellipsis)  # after the entries for the first axes, so that they keep their axes
    if draw.boolean():
        key.insert(draw.integer(0, len(key)), None)
    return tuple(key)


def _getitem_sample(draw):
    shape = draw.shape(min_dims=1)
    return Example((shape,), {"key": _draw_key(draw, shape)})


def _index_backward_sample(draw):
    shape = draw.shape(min_dims=1)
    key = _draw_key(draw, shape)
    return Example((_getitem(np.empty(shape), key).shape,), {"shape": shape, "key": key})


def check_index(op: str, index: np.ndarray, n: int, dim: int | None) -> None:
    """Indices in [0, n) (an integer dtype is checked by apply: the index Args are declared "int")."""
    if index.size and (index.min() < 0 or index.max() >= n):
        bad = index.min() if index.min() < 0 else index.max()
        raise OpError(f"{op}: index {bad} is out of bounds for dim {dim} with size {n}")


def along(shape, index, d):
    """The NumPy key that picks, at each position of `index`, the value `index` names along
    axis d and the value at the same position along every other axis (position 0 where the
    input has size 1 and is broadcast)."""
    key = []
    for a, n in enumerate(index.shape):
        position = np.arange(n) if shape[a] != 1 else np.zeros(n, np.int64)
        key.append(position.reshape((-1,) + (1,) * (index.ndim - 1 - a)))
    key[d] = index
    return tuple(key)


def gather_key(x: np.ndarray, index: np.ndarray, dim: int, op: str = "gather") -> tuple:
    """The key of x that each entry of index names along dim (with its own position along the
    other dims), after checking index against x: gather reads there, and scatter writes."""
    d = one_axis(op, dim, x.ndim)
    if index.ndim != x.ndim or any(m > n for a, (m, n) in enumerate(zip(index.shape, x.shape)) if a != d):
        raise OpError(f"{op}: index of shape {index.shape} must have as many dims as the input (shape {x.shape}) "
                      f"and be no larger than it except in dim {dim}")
    check_index(op, index, x.shape[d] if x.ndim else 1, dim)
    return along(x.shape, index, d) if x.ndim else ()


def _gather_sample(draw):
    shape = draw.shape(min_dims=1)
    d = draw.integer(-len(shape), len(shape) - 1)
    index_shape = tuple(draw.integer(1, 4) if a == d % len(shape) else draw.integer(1, n) for a, n in enumerate(shape))
    return Example((shape, draw.indices(index_shape, shape[d])), {"dim": d})


def select_key(x: np.ndarray, index: np.ndarray, dim: int, op: str = "index_select") -> tuple:
    """The key of x that the entries of a 0-d or 1-d index name along dim, after checking them:
    index_select reads there, and index_add and index_copy write."""
    d = one_axis(op, dim, x.ndim)
    if index.ndim > 1:
        raise OpError(f"{op}: index must be 0-d or 1-d, got shape {index.shape}")
    check_index(op, index, x.shape[d] if x.ndim else 1, dim)
    return (slice(None),) * d + (index.reshape(-1),) if x.ndim else ()


def _index_select_sample(draw):
    shape = draw.shape(min_dims=1)
    d = draw.integer(-len(shape), len(shape) - 1)
    return Example((shape, draw.indices((draw.integer(0, 4),), shape[d])), {"dim": d})


def _take_key(x, indices, dim):
    """take_along_dim broadcasts input and indices against each other, except along dim."""
    if dim is None:
        check_index("take_along_dim", indices, x.size, dim)
        return (indices.reshape(-1),)
    d = one_axis("take_along_dim", dim, x.ndim)
    if indices.ndim != x.ndim:
        raise OpError(f"take_along_dim: input of shape {x.shape} and indices of shape {indices.shape} must "
                      f"have the same number of dims")
    try:
        shape = np.broadcast_shapes(x.shape[:d] + (indices.shape[d],) + x.shape[d + 1:], indices.shape)
    except ValueError:
        raise OpError(f"take_along_dim: input of shape {x.shape} and indices of shape {indices.shape} don't "
                      f"broadcast outside dim {dim}") from None
    check_index("take_along_dim", indices, x.shape[d] if x.ndim else 1, dim)
    return along(x.shape, np.broadcast_to(indices, shape), d) if x.ndim else ()


def _take_along_dim(x, indices, dim=None):
    return (x.reshape(-1) if dim is None else x)[_take_key(x, indices, dim)]


def _take_along_dim_vjp(g, out, x, indices, dim):
    if dim is None:
        return index_backward(g, (x.data.size,), _take_key(x.data, indices.data, dim)).reshape(x.shape), None
    return index_backward(g, x.shape, _take_key(x.data, indices.data, dim)), None


def _take_along_dim_sample(draw):
    shape = draw.shape(min_dims=1)
    if draw.boolean():
        return Example((shape, draw.indices(draw.shape(max_dims=2), math.prod(shape))), {"dim": None})
    d = draw.integer(-len(shape), len(shape) - 1)
    index_shape = tuple(draw.integer(1, 3) if a == d % len(shape) else draw.choice((1, n))
                        for a, n in enumerate(shape))
    x_shape = tuple(1 if a != d % len(shape) and draw.integer(0, 3) == 0 else n for a, n in enumerate(shape))
    return Example((x_shape, draw.indices(index_shape, shape[d])), {"dim": d})


def _masked_fill(x, mask, value):
    try:
        return np.where(mask, np.asarray(value, dtype=x.dtype), x)
    except ValueError:
        raise OpError(f"masked_fill: mask of shape {mask.shape} does not broadcast with the input's "
                      f"shape {x.shape}") from None


def _masked_fill_sample(draw):
    shape = draw.shape()
    mask_shape = tuple(1 if draw.integer(0, 3) == 0 else n for n in shape)[draw.integer(0, len(shape)):]
    return Example((shape, draw.mask(mask_shape)), {"value": draw.choice((0.0, -1.5))})


def _scatter_back(key_of):
    """The vjp of an op that picks x[key_of(x, index, dim)]: g scattered back into zeros."""

    def vjp(g, out, x, index, dim):
        return index_backward(g, x.shape, key_of(x.data, index.data, dim)), None

    return vjp


# --- the entries ---------------------------------------------------------------------------------

reshape = Op("reshape", _reshape, lambda g, out, x, shape: (g.reshape(x.shape),), anything,
             params=(Param("shape", choices=_reshapes),))
flatten = Op("flatten", _flatten, _back_to_input_shape, anything,
             params=(Param("start_dim", 0, dim, "dim"), Param("end_dim", -1, dim, "dim")), sample=_flatten_sample)
unflatten = Op("unflatten", _unflatten, _back_to_input_shape, anything,
               params=(Param("dim", kind="dim"), Param("sizes")), sample=_unflatten_sample)
squeeze = Op("squeeze", _squeeze, _back_to_input_shape, anything, params=(Param("dim", None, dims, "dims"),),
             sample=_squeeze_sample)
unsqueeze = Op("unsqueeze", _unsqueeze, _back_to_input_shape, anything,
               params=(Param("dim", choices=_new_axes, kind="dim"),))
permute = Op("permute", _permute, lambda g, out, x, dims: (permute(g, _unpermute(dims)),), anything,
             params=(Param("dims", choices=_permutations, kind="dims"),))
transpose = Op("transpose", _transpose, lambda g, out, x, dim0, dim1: (transpose(g, dim0, dim1),), anything,
               params=(Param("dim0", choices=dim, kind="dim"), Param("dim1", choices=dim, kind="dim")))
flip = Op("flip", _flip, lambda g, out, x, dims: (flip(g, dims),), anything,
           params=(Param("dims", choices=_some_axes, kind="dims"),))
roll = Op("roll", _roll, lambda g, out, x, shifts, dims: (roll(g, _negated(shifts), dims),), anything,
          params=(Param("shifts"), Param("dims", None, kind="dims")), sample=_roll_sample)
expand = Op("expand", _expand, lambda g, out, x, size: (g,), anything, params=(Param("size"),), sample=_expand_sample)
broadcast_to = Op("broadcast_to", _expand, lambda g, out, x, size: (g,), anything, params=(Param("size"),),
                  sample=_expand_sample)
repeat = Op("repeat", _repeat, _untile, anything, params=(Param("repeats"),), sample=_repeat_sample)
tile = Op("tile", lambda x, dims: np.tile(x, dims), _untile, anything, params=(Param("dims"),), sample=_tile_sample)
cat = Op("cat", _cat, _cat_vjp, (Arg("tensors", dtype="any"),), params=(Param("dim", 0, kind="dim"),),
         sample=_joined_sample(False), variadic=True)
stack = Op("stack", _stack, lambda g, out, *tensors, dim: unbind(g, dim), (Arg("tensors", dtype="any"),),
           params=(Param("dim", 0, kind="dim"),), sample=_joined_sample(True), variadic=True)
split = Op("split", _split, lambda g, out, x, split_size_or_sections, dim: (cat(g, dim),),
           (Arg("tensor", dtype="any"),), params=(Param("split_size_or_sections"), Param("dim", 0, kind="dim")),
           sample=_split_sample, outputs=2)
chunk = Op("chunk", _chunk, lambda g, out, x, chunks, dim: (cat(g, dim),), anything,
           params=(Param("chunks", kind="int"), Param("dim", 0, kind="dim")), sample=_chunk_sample, outputs=2)
unbind = Op("unbind", _unbind, lambda g, out, x, dim: (stack(g, dim),), anything, params=(Param("dim", 0, kind="dim"),),
            sample=_one_axis_sample, outputs=2)
pad = Op("nn.functional.pad", _pad, _pad_vjp, anything,
         params=(Param("pad"), Param("mode", "constant"), Param("value", None, kind="number")), sample=_pad_sample)
getitem = Op("getitem", _getitem, lambda g, out, x, key: (index_backward(g, x.shape, key),),
             anything, params=(Param("key"),), sample=_getitem_sample,
             differences={"inputs": "slices take negative steps (x[::-1]), as in NumPy; PyTorch refuses them"})
index_backward = Op("index_backward", _index_backward, lambda g, out, gy, shape, key: (getitem(g, key),),
                    (Arg("grad"),), params=(Param("shape"), Param("key")), sample=_index_backward_sample)
gather = Op("gather", lambda x, index, dim: x[gather_key(x, index, dim)], _scatter_back(gather_key),
            (*anything, index_arg), params=(Param("dim", kind="dim"),), sample=_gather_sample,
            signature=("input", "dim", "index"))
index_select = Op("index_select", lambda x, index, dim: x[select_key(x, index, dim)], _scatter_back(select_key),
                  (*anything, index_arg), params=(Param("dim", kind="dim"),),
                  sample=_index_select_sample,
                  signature=("input", "dim", "index"))
take_along_dim = Op("take_along_dim", _take_along_dim, _take_along_dim_vjp,
                    (Arg("input", dtype="any"), Arg("indices", dtype="int")), params=(Param("dim", None, kind="dim"),),
                    sample=_take_along_dim_sample)
masked_fill = Op("masked_fill", _masked_fill, lambda g, out, x, mask, value: (g * Tensor(~mask.data), None),
                 (Arg("input", dtype="any"), Arg("mask", dtype="bool")), params=(Param("value"),),
                 sample=_masked_fill_sample)
to = Op("to", lambda x, dtype: x.astype(dtype), lambda g, out, x, dtype: (g.to(x.dtype),), anything,
        params=(Param("dtype", choices=(np.float32, np.float64)),))


@hookimpl
def lucid_ops():
    return [reshape, flatten, unflatten, squeeze, unsqueeze, permute, transpose, flip, roll, expand, broadcast_to,
            repeat, tile, cat, stack, split, chunk, unbind, pad, getitem, index_backward, gather, index_select,
            take_along_dim, masked_fill, to]
