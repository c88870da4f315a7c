"""Inputs at the edges of an op's domain, where finite differences cannot look.

The derivative check keeps its inputs in the tame interior of each domain: away from kinks and
bounds, no ties, no infinities, no empty shapes. That is right for comparing with finite
differences, and it is exactly where an op is least likely to be wrong. The oracle check compares
with a trusted implementation instead, which can be asked anywhere, so its inputs mix in the
points where implementations differ: 0 and -0.0, ±1, the op's kinks, ties, the domain's bounds,
tiny and huge magnitudes, ±inf and NaN, dimensions of size 0, and 0-d tensors (which the shape
strategies already draw).

`edge_cases_for(op)` is the entry point: the op's usual valid case (`strategies.inputs_for`) with
some of its float values replaced by special ones, and sometimes a dimension emptied. Drawn input
by input, two special values rarely meet at one entry, where a rule is as likely to be wrong
(pow at x = NaN, y = 0; xlog1py at x = 0, y = -1): `edge_pairs_for(op)` makes every such meeting,
as PyTorch's tests of binary ufuncs do with the product of their extremal values.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from lucid import Arg, Op

from .strategies import (Case, HypothesisDraw, Stratum, _bytes, _integers, arg_of, draw_params, draw_values,
                         inputs_for, kinks_of)

#: Special values tried in every domain that holds them (the bounds and kinks are added per op).
SPECIAL = (0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 1e-30, -1e-30, 1e30, -1e30, math.inf, -math.inf, math.nan)


#: The special values an op is not given, for each aspect of `Op.differences` that lies in its
#: values. The order of its products, sums and quotients (0 * inf, 1e30 - 1e30 + x,
#: p / 1e-30 * 1e-30), or that of its sums alone (1e30 - 1e30 + x is x or 0, 0.5 + 1e-30 - 0.5 is
#: 1e-30 or 0, which a hinge after the sum turns into a gradient or none; infinities and NaN come
#: out the same in any order). And -0.0, where PyTorch's own loops disagree on the sign of an
#: infinite slope (logit's vectorized loop -inf, its scalar loop +inf).
LEFT_OUT = {"evaluation order": (1e30, -1e30, 1e-30, -1e-30, math.inf, -math.inf, math.nan),
            "summation order": (1e30, -1e30, 1e-30, -1e-30),
            "negative zero": (-0.0,)}


def left_out_for(op: Op) -> set[float | str]:
    """The special values left out for `op`, as `_key`s."""
    return {_key(v) for aspect, values in LEFT_OUT.items() if aspect in op.differences for v in values}


def _key(value: float) -> float | str:
    """A special value as a set can hold it apart from the others: NaN, which equals nothing, as
    "nan", and -0.0, which equals 0, as "-0.0"."""
    if math.isnan(value):
        return "nan"
    return "-0.0" if value == 0 and math.copysign(1.0, value) < 0 else value


def special_values(arg: Arg, kinks: Sequence[float], left_out: Collection[float | str] = ()) -> np.ndarray:
    """The special values inside `arg`'s domain, its finite bounds (where the op is asked to
    give PyTorch's limit) and kinks included, less those `left_out` (`_key`s, see LEFT_OUT).
    NaN belongs to every domain: it must propagate. 0 and -0.0 are both kept: they are equal, but
    atan2, copysign and 1 / x tell them apart."""
    pool = [v for v in (*SPECIAL, *kinks, *(b for b in (arg.low, arg.high) if math.isfinite(b)))
            if _key(v) not in left_out]
    inside = {_key(v): v for v in pool if math.isnan(v) or arg.low <= v <= arg.high}
    return np.array(sorted(inside.values(), key=lambda v: (math.isnan(v), v, math.copysign(1.0, v))))


def with_specials(draw: Callable, x: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """x with a drawn subset of its entries replaced by values of `pool`, or by a copy of another
    entry (a tie). Drawn as bytes, so that shrinking leads back to x unchanged."""
    if x.size == 0 or pool.size == 0:
        return x
    flat = np.array(x, dtype=np.float64).reshape(-1)
    picks = np.frombuffer(draw(_bytes(2 * flat.size)), dtype=np.uint8).reshape(-1, 2)
    for k, (how, which) in enumerate(picks.tolist()):  # Python ints: a uint8 % 300 overflows
        if how % 4 == 1:  # a quarter of the entries, on average, become special
            flat[k] = pool[which % pool.size]
        elif how % 4 == 2 and flat.size > 1:  # and a quarter tie with another entry
            flat[k] = flat[which % flat.size]
    return flat.reshape(x.shape)


def emptied(shapes: Sequence[tuple[int, ...]], position: int) -> list[tuple[int, ...]]:
    """Broadcasting shapes with the dimension `position` places from the end set to 0 wherever it
    is not 1 (a size-1 dimension broadcasts against 0, so the shapes stay compatible)."""
    return [s[:len(s) - position] + (0,) + s[len(s) - position + 1:] if len(s) >= position and s[-position] != 1
            else s for s in shapes]


def edge_cases_for(op: Op, stratum: Stratum | None = None) -> st.SearchStrategy[Case]:
    """A call of `op` (of `stratum`, if given) at the edges of its domain (see the module docstring)."""
    interior = inputs_for(op, margin=0.0, stratum=stratum, edges=True)
    return st.composite(lambda draw: draw_edge_case(draw, op, draw(interior)))()


def draw_edge_case(draw: Callable, op: Op, case: Case) -> Case:
    arrays: list[Any] = list(case.inputs)  # None for optional inputs left out
    floats = [i for i, x in enumerate(arrays) if x is not None and x.dtype.kind == "f"
              and arg_of(op, i).differentiable and not arg_of(op, i).structure]
    ndim = max((arrays[i].ndim for i in floats), default=0)
    # Empty a dimension only where the inputs merely broadcast together: elsewhere the shapes are
    # tied by a signature or the op's own sample, and a 0 would make the call invalid, not an edge.
    if op.shapes == "elementwise" and op.sample is None and ndim and draw(_integers(0, 5)) == 0:
        shapes = emptied([arrays[i].shape for i in floats], draw(_integers(1, ndim)))
        for i, shape in zip(floats, shapes):
            arrays[i] = np.zeros(shape)
    kinks, left_out = kinks_of(op, case.params), left_out_for(op)
    for i in floats:
        arrays[i] = with_specials(draw, arrays[i], special_values(arg_of(op, i), kinks, left_out))
    return Case(tuple(arrays), case.params, case.symmetric)


#: The most float inputs whose special values `edge_pairs_for` puts side by side (the built-ins have 3).
MAX_PAIRED = 3


def edge_pairs_for(op: Op) -> st.SearchStrategy[Case] | None:
    """For an op whose inputs broadcast together, a call that puts every special value of each
    float input beside every special value of the others (or, shrinking aside, of a drawn part of
    each: `some_of`). Input k runs through its values along axis k, repeated along the others, so
    that each entry holds one combination and has a gradient of its own (a broadcast input's would
    sum them, and one NaN would hide the rest). Params and any other input are drawn as usual.
    None for any other op: its inputs' shapes are tied, and their entries do not meet one to one;
    and for one of more than MAX_PAIRED inputs, whose grid would have 17^4 = 83,521 entries and more."""
    floats = [i for i, arg in enumerate(op.inputs) if arg.differentiable and not arg.structure]
    if op.shapes != "elementwise" or op.sample is not None or op.variadic or not 2 <= len(floats) <= MAX_PAIRED:
        return None
    return st.composite(lambda draw: draw_edge_pairs(draw, op, floats))()


def draw_edge_pairs(draw: Callable, op: Op, floats: Sequence[int]) -> Case:
    along = {i: (1,) * k + (-1,) + (1,) * (len(floats) - k - 1) for k, i in enumerate(floats)}
    chooser = HypothesisDraw(draw, edges=True)
    params = draw_params(draw, op, [(1,) * len(floats)] * len(op.inputs), {}, chooser)
    kinks, left_out = kinks_of(op, params), left_out_for(op)
    pools = {i: some_of(draw, special_values(op.inputs[i], kinks, left_out)) for i in floats}
    grid = tuple(pools[i].size for i in floats)
    return Case(tuple(np.broadcast_to(pools[i].reshape(along[i]), grid).copy() if i in pools
                      else draw_values(draw, arg, grid) for i, arg in enumerate(op.inputs)), params, ())


def some_of(draw: Callable, pool: np.ndarray) -> np.ndarray:
    """A drawn part of `pool` (each value kept or not; shrinking keeps all, and at least one is
    kept). A rule that tests a whole array before it masks an entry (`if has_zero(y)`) is wrong
    only where the array lacks what the test looks for and the entry is special all the same."""
    dropped = np.frombuffer(draw(_bytes(pool.size)), dtype=np.uint8) % 2 == 1
    return pool[~dropped] if not dropped.all() else pool[:1]
