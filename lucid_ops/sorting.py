"""Sorting and order statistics: sort, topk, kthvalue, median, and the running extrema cummax and cummin.

Each picks values of its input by index and returns them with those indices (int64, as a named
pair `.values`, `.indices`), so each gradient is the values' gradient put back at the indices
(`picked_vjp`; where an index repeats, as in cummax, the parts add up). Where values tie the
op is not differentiable (`ties=True`), and the index picked there is PyTorch's, so that the
gradient goes where PyTorch sends it: sort is stable (PyTorch's is too, but for stable=False on
slices longer than 16, which leave ties in an order it does not promise), median takes the lower
median and its first NaN, cummax and cummin the latest extremum. kthvalue and topk pick among ties in the order their
selection algorithms happen to leave them, which this module replays where ties occur. NaN counts
as larger than every number, as in PyTorch.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from lucid import Example, Op, OpError, Param, Tensor, argsort, hookimpl
from lucid.op import dim, one_axis
from lucid_ops.reductions import (VALUES_INDICES, Extremum, any_input, keepdim, one_dim, one_dim_sample, picked_vjp,
                                  values_at)

last_dim = Param("dim", -1, dim, "dim")


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where a and b tie in PyTorch's order: equal, or both NaN."""
    return (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b


def _greater_or_nan(a, b) -> bool:
    """PyTorch's `gt_or_nan`: NaN above every number, NaNs equal among themselves."""
    return (math.isnan(a) and not math.isnan(b)) or a > b


# --- sort ----------------------------------------------------------------------------------------

def _sort(x, dim=-1, descending=False, stable=False):
    """(sorted values, their indices) along dim: always stable, NaN last (first when descending)."""
    d = one_axis("sort", dim, x.ndim)
    indices = argsort(x, d, descending).data
    return (x.copy(), indices) if x.ndim == 0 else values_at(x, indices, d)


# --- kthvalue ------------------------------------------------------------------------------------

def _quick_select(values: list, k: int) -> int:
    """Which position's value PyTorch's kthvalue returns as the k-th smallest (0-based): its own
    quickselect (median-of-three pivot, Hoare partition), whose swaps decide which of several
    equal values ends up at place k. Run only on slices where that value is tied."""
    order = list(range(len(values)))

    def swap(i: int, j: int) -> None:
        values[i], values[j] = values[j], values[i]
        order[i], order[j] = order[j], order[i]

    low, high = 0, len(values) - 1
    while high > low:
        if high == low + 1:
            if _greater_or_nan(values[low], values[high]):
                swap(low, high)
            break
        swap(low + (high - low) // 2, low + 1)
        if _greater_or_nan(values[low + 1], values[high]):
            swap(low + 1, high)
        if _greater_or_nan(values[low], values[high]):
            swap(low, high)
        if _greater_or_nan(values[low + 1], values[low]):
            swap(low + 1, low)
        i, j, pivot = low + 1, high, values[low]
        while True:
            i += 1
            while _greater_or_nan(pivot, values[i]):
                i += 1
            j -= 1
            while _greater_or_nan(values[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(low, j)
        if j <= k:
            low = i
        if j >= k:
            high = j - 1
    return order[k]


def _kthvalue(x, k, dim=-1, keepdim=False):
    """(the k-th smallest value along dim, its index). Where that value is tied, the index is the
    one PyTorch's quickselect leaves at place k."""
    d = one_axis("kthvalue", dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if n == 0:
        raise OpError(f"kthvalue: dim {dim} of the input (shape {x.shape}) is empty: it has no k-th value")
    if not 1 <= k <= n:
        raise OpError(f"kthvalue: k={k} is out of range for dim {dim} of size {n} (expected 1 <= k <= {n})")
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    order = np.argsort(x, axis=d, kind="stable")
    indices = np.take(order, [k - 1], axis=d)
    ties = _same(x, np.take_along_axis(x, indices, axis=d)).sum(axis=d, keepdims=True) > 1
    if ties.any():
        slices = np.moveaxis(x, d, -1)
        chosen = np.moveaxis(indices, d, -1)
        for position in map(tuple, np.argwhere(np.moveaxis(ties, d, -1)[..., 0])):
            chosen[position + (0,)] = _quick_select(slices[position].tolist(), k - 1)
    return values_at(x, indices, d, keepdim)


def _kthvalue_sample(draw) -> Example:
    shape = draw.shape()
    d = draw.choice(dim((shape,)))
    return Example((shape,), {"k": draw.integer(1, shape[d] if shape else 1), "dim": d, "keepdim": draw.boolean()})


# --- topk ----------------------------------------------------------------------------------------
# PyTorch's topk (CPU) runs the C++ standard library's partial_sort, or nth_element and then sort,
# whose swaps decide the order of tied values, and of all values when sorted=False. The functions
# below replay libstdc++'s algorithms, step for step, on one slice of (value, index) pairs.

Less = Callable[[tuple, tuple], bool]


def _insertion_sort(q: list, first: int, last: int, less: Less) -> None:
    for i in range(first + 1, last):
        item, j = q[i], i
        while j > first and less(item, q[j - 1]):
            q[j] = q[j - 1]
            j -= 1
        q[j] = item


def _partition_around_median(q: list, first: int, last: int, less: Less) -> int:
    """std::__unguarded_partition_pivot: the median of three moved to `first`, then a Hoare partition."""
    a, b, c = first + 1, first + (last - first) // 2, last - 1
    if less(q[a], q[b]):
        median = b if less(q[b], q[c]) else c if less(q[a], q[c]) else a
    else:
        median = a if less(q[a], q[c]) else c if less(q[b], q[c]) else b
    q[first], q[median] = q[median], q[first]
    low, high = first + 1, last
    while True:
        while less(q[low], q[first]):
            low += 1
        high -= 1
        while less(q[first], q[high]):
            high -= 1
        if not low < high:
            return low
        q[low], q[high] = q[high], q[low]
        low += 1


def _sift(q: list, first: int, hole: int, length: int, item: tuple, less: Less) -> None:
    """std::__adjust_heap: move the hole at `hole` down to a leaf, then push `item` up from there."""
    top, child = hole, hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if less(q[first + child], q[first + child - 1]):
            child -= 1
        q[first + hole] = q[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        q[first + hole] = q[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and less(q[first + parent], item):
        q[first + hole] = q[first + parent]
        hole, parent = parent, (parent - 1) // 2
    q[first + hole] = item


def _pop_heap(q: list, first: int, last: int, result: int, less: Less) -> None:
    item, q[result] = q[result], q[first]
    _sift(q, first, 0, last - first, item, less)


def _heap_select(q: list, first: int, middle: int, last: int, less: Less) -> None:
    length = middle - first
    for parent in range((length - 2) // 2, -1, -1) if length >= 2 else ():
        _sift(q, first, parent, length, q[first + parent], less)
    for i in range(middle, last):
        if less(q[i], q[first]):
            _pop_heap(q, first, middle, i, less)


def _partial_sort(q: list, first: int, middle: int, last: int, less: Less) -> None:
    _heap_select(q, first, middle, last, less)
    while middle - first > 1:
        middle -= 1
        _pop_heap(q, first, middle, middle, less)


def _nth_element(q: list, nth: int, less: Less) -> None:
    first, last = 0, len(q)
    depth = 2 * (last.bit_length() - 1)
    while last - first > 3:
        if depth == 0:
            _heap_select(q, first, nth + 1, last, less)
            q[first], q[nth] = q[nth], q[first]
            return
        depth -= 1
        cut = _partition_around_median(q, first, last, less)
        first, last = (cut, last) if cut <= nth else (first, cut)
    _insertion_sort(q, first, last, less)


def _introsort(q: list, first: int, last: int, depth: int, less: Less) -> None:
    while last - first > 16:
        if depth == 0:
            _partial_sort(q, first, last, last, less)
            return
        depth -= 1
        cut = _partition_around_median(q, first, last, less)
        _introsort(q, cut, last, depth, less)
        last = cut


def _sort_range(q: list, first: int, last: int, less: Less) -> None:
    """std::sort: introsort, then one insertion sort over the whole range."""
    if last > first:
        _introsort(q, first, last, 2 * ((last - first).bit_length() - 1), less)
        _insertion_sort(q, first, last, less)


def _first_k(values: list, k: int, largest: bool, sorted: bool) -> list[int]:
    """The indices PyTorch's topk returns for one slice, in its order."""
    if largest:
        def less(a: tuple, b: tuple) -> bool:
            return _greater_or_nan(a[0], b[0])
    else:
        def less(a: tuple, b: tuple) -> bool:
            return _greater_or_nan(b[0], a[0])
    q = [(v, i) for i, v in enumerate(values)]
    if k * 64 <= len(q):
        _partial_sort(q, 0, k, len(q), less)
    else:
        _nth_element(q, k - 1, less)
        if sorted:
            _sort_range(q, 0, k - 1, less)
    return [i for _, i in q[:k]]


def _topk(x, k, dim=-1, largest=True, sorted=True):
    """(the k largest values along dim, or smallest, their indices), in PyTorch's order."""
    d = one_axis("topk", dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise OpError(f"topk: k={k} is out of range for dim {dim} of size {n} (expected 0 <= k <= {n})")
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    order = argsort(x, d, largest).data
    indices = np.take(order, range(k), axis=d)
    if k == 0 or x.size == 0:
        return values_at(x, indices, d)
    ranked = np.take_along_axis(x, np.take(order, range(min(k + 1, n)), axis=d), axis=d)
    m = ranked.shape[d]
    tied = _same(np.take(ranked, range(m - 1), axis=d), np.take(ranked, range(1, m), axis=d))
    replay = np.moveaxis(tied, d, -1).any(axis=-1)  # a tie in the top k or next to it
    if not sorted and k * 64 > n:
        replay = np.ones_like(replay)  # nth_element leaves even distinct values in an order of its own
    if replay.any():
        slices, chosen = np.moveaxis(x, d, -1), np.moveaxis(indices, d, -1)
        for position in map(tuple, np.argwhere(replay)):
            chosen[position] = _first_k(slices[position].tolist(), k, largest, sorted)
    return values_at(x, indices, d)


def _topk_sample(draw) -> Example:
    shape = draw.shape()
    d = draw.choice(dim((shape,)))
    return Example((shape,), {"k": draw.integer(0, shape[d]) if shape else 1, "dim": d,
                              "largest": draw.boolean(), "sorted": draw.boolean()})


# --- median --------------------------------------------------------------------------------------

def _lower_median(x: np.ndarray, d: int) -> np.ndarray:
    """The index of the lower median along axis d (kept, as size 1): place (n - 1) // 2 in a stable
    sort, as PyTorch's nth_element orders equal values by index, or the first NaN if there is one."""
    order = np.take(np.argsort(x, axis=d, kind="stable"), [(x.shape[d] - 1) // 2], axis=d)
    if x.dtype.kind != "f":
        return order
    nan = np.isnan(x)
    return np.where(nan.any(axis=d, keepdims=True), np.argmax(nan, axis=d, keepdims=True), order)


def _median_all(x):
    """The lower median of all the values (NaN if one is NaN). Of no values it is NaN, or for
    integers, which have no NaN, the dtype's least value (as in PyTorch)."""
    if x.size == 0:
        return np.full((), np.iinfo(x.dtype).min if x.dtype.kind in "iu" else np.nan, x.dtype)
    flat = x.reshape(-1)
    return flat[_lower_median(flat, 0)[0]]


def _median_all_vjp(g, out, x):
    """PyTorch's rule (evenly_distribute_backward): g shared equally by the values equal to the
    median, or by the NaNs where it is NaN."""
    hit = np.isnan(x.data) if np.isnan(out.data) else x.data == out.data
    return (g * Tensor((hit / max(np.count_nonzero(hit), 1)).astype(x.dtype)),)


def _median(x, dim, keepdim=False):
    """(the lower median along dim, its index)."""
    d = one_axis("median", dim, x.ndim)
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    if x.shape[d] == 0:
        raise OpError(f"median: dim {dim} of the input (shape {x.shape}) is empty: it has no median")
    return values_at(x, _lower_median(x, d), d, keepdim)


# --- cummax, cummin ------------------------------------------------------------------------------

def _running(ufunc: np.ufunc, name: str):
    """cummax or cummin along dim: (running extremum, the index it came from). At a tie PyTorch
    takes the later value (`>=`), and a NaN stays until the next NaN: the index is the latest place
    whose value equals the running extremum."""

    def forward(x, dim):
        d = one_axis(name, dim, x.ndim)
        if x.ndim == 0:
            return x.copy(), np.zeros((), np.int64)
        extremum = ufunc.accumulate(x, axis=d) if x.size else x
        position = np.arange(x.shape[d]).reshape((-1,) + (1,) * (x.ndim - 1 - d))
        latest = np.where(_same(x, extremum), position, 0)
        return values_at(x, np.maximum.accumulate(latest, axis=d) if x.size else latest, d)

    forward.__doc__ = f"(the running {name[3:]}imum along dim, the index of each)."
    return forward


sort = Op("sort", _sort, picked_vjp, any_input,
          params=(last_dim, Param("descending", False, (False, True), "bool"),
                  Param("stable", False, (False, True), "bool")),
          ties=True, outputs=2, output_names=VALUES_INDICES)
topk = Op("topk", _topk, picked_vjp, any_input,
          params=(Param("k", kind="int"), last_dim, Param("largest", True, (True, False), "bool"),
                  Param("sorted", True, (True, False), "bool")),
          sample=_topk_sample, ties=True, outputs=2, output_names=VALUES_INDICES)
kthvalue = Op("kthvalue", _kthvalue, picked_vjp, any_input, params=(Param("k", kind="int"), last_dim, keepdim),
              sample=_kthvalue_sample, ties=True, outputs=2, output_names=VALUES_INDICES)
median_all = Op("median_all", _median_all, _median_all_vjp, any_input, ties=True)
median = Extremum("median", _median, picked_vjp, any_input, params=(one_dim, keepdim),
                  sample=one_dim_sample, ties=True, outputs=2, output_names=VALUES_INDICES, whole=median_all)
cummax = Op("cummax", _running(np.maximum, "cummax"), picked_vjp, any_input, params=(one_dim,),
            ties=True, outputs=2, output_names=VALUES_INDICES)
cummin = Op("cummin", _running(np.minimum, "cummin"), picked_vjp, any_input, params=(one_dim,),
            ties=True, outputs=2, output_names=VALUES_INDICES)


@hookimpl
def lucid_ops():
    return [sort, topk, kthvalue, median_all, median, cummax, cummin]
