"""Hypothesis strategies that draw valid inputs for an op from its metadata alone.

`inputs_for(op)` is the entry point; it yields a `Case`: the op's input arrays and params.
The pieces under it (`shapes_for`, `values_for`, `params_for`, `HypothesisDraw`) are public so
that users can build their own property tests from them.

What makes a drawn input *meaningful* for a gradient check, and not merely valid:
- values stay inside each Arg's open domain with a margin much wider than the finite-difference
  stencil, and unbounded domains use a finite window, so the derivative is finite and tame;
- values keep away from the op's declared kinks, so the derivative exists where it is checked;
- for tie-sensitive ops (`ties=True`) all values are distinct and well separated: hypothesis's
  default array fill repeats values, and max(x, x) has no derivative;
- "spd" and "invertible" inputs are built well-conditioned, so that a tiny perturbation keeps
  them valid;
- every shape relation the op declares (broadcasting, a gufunc signature, or its own `sample`)
  and every choice of every param is drawn, so hypothesis explores them and shrinks failures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lucid import REQUIRED, Arg, Example, Op

Shape = tuple[int, ...]

#: Values of an unbounded domain are drawn from this window (or a window this wide next to
#: the finite bound): large enough to exercise the op, small enough to never overflow.
WINDOW = 6.0
#: Inputs keep this far (relative to the window) from a finite domain bound...
DOMAIN_MARGIN = 0.01
#: ...and this far from a declared kink; both are thousands of finite-difference steps.
KINK_MARGIN = 0.01
MAX_SIDE = 4
MAX_DIMS = 3


@dataclass
class Case:
    """One drawn call of an op: the input arrays (None for a missing optional input), the params,
    and which inputs are symmetric matrices (checked through their symmetric part)."""

    inputs: tuple[np.ndarray | None, ...]
    params: dict[str, Any] = field(default_factory=dict)
    symmetric: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return describe(self.inputs, self.params)


def describe(inputs: Sequence[np.ndarray | None], params: dict[str, Any]) -> str:
    """A compact, copyable description of an input: dtype, shape and (small) values."""
    parts = []
    for i, x in enumerate(inputs):
        if x is None:
            parts.append(f"input {i}: None")
            continue
        with np.printoptions(precision=17, threshold=64, linewidth=10**6, floatmode="unique"):
            values = np.array2string(x, separator=", ")
        parts.append(f"input {i}: {x.dtype}{list(x.shape)} {values}")
    if params:
        parts.append("params: " + ", ".join(f"{k}={v!r}" for k, v in params.items()))
    return "; ".join(parts)


# --- shapes ----------------------------------------------------------------------------------


def shapes_for(op: Op, count: int | None = None) -> st.SearchStrategy[tuple[Shape, ...]]:
    """The shapes of the op's inputs, related as its `shapes` declares (no `sample` ops)."""
    n = count or len(op.inputs)
    if op.shapes == "elementwise":
        if n == 1:
            return hnp.array_shapes(min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE).map(lambda s: (s,))
        return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=MAX_DIMS, min_side=1,
                                                 max_side=MAX_SIDE).map(lambda b: b.input_shapes)
    return hnp.mutually_broadcastable_shapes(signature=op.shapes, min_dims=0, max_dims=2, min_side=1,
                                             max_side=MAX_SIDE).map(lambda b: b.input_shapes)


class HypothesisDraw:
    """`lucid.Draw` on top of hypothesis's `data.draw`, so an op's `sample` replays and shrinks."""

    def __init__(self, data: st.DataObject):
        self.data = data

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))

    def choice(self, options: Sequence[Any]) -> Any:
        return self.data.draw(st.sampled_from(list(options)))

    def boolean(self) -> bool:
        return self.data.draw(st.booleans())

    def shape(self, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> Shape:
        return self.data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                               max_side=max_side))

    def indices(self, shape: Shape, high: int) -> np.ndarray:
        return self.data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, high - 1)))

    def mask(self, shape: Shape) -> np.ndarray:
        return self.data.draw(hnp.arrays(np.bool_, shape, elements=st.booleans()))


# --- values ----------------------------------------------------------------------------------


def value_range(arg: Arg) -> tuple[float, float]:
    """The closed interval drawn for a float Arg: the part of its open domain inside a finite
    window (around 0 where possible), kept a margin away from each finite bound."""
    lo = max(arg.low, min(-WINDOW / 2, arg.high - WINDOW))
    hi = min(arg.high, lo + WINDOW)
    margin = DOMAIN_MARGIN * (hi - lo)
    return lo + (margin if lo == arg.low else 0.0), hi - (margin if hi == arg.high else 0.0)


def away_from_kinks(x: np.ndarray, kinks: Sequence[float], lo: float, hi: float) -> np.ndarray:
    """Move values that lie within KINK_MARGIN of a kink to KINK_MARGIN away (the side that stays
    inside [lo, hi]). Kinks are points where the derivative does not exist: nothing to check."""
    if not kinks or x.size == 0:
        return x
    width = KINK_MARGIN
    x = x.copy()
    for k in kinks:
        near = np.abs(x - k) < width
        if near.any():
            up = np.where(x >= k, k + width, k - width)
            up = np.where((up > hi) | (up < lo), np.where(x >= k, k - width, k + width), up)
            x[near] = up[near]
    return x


def float_values(shape: Shape, lo: float, hi: float) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False, allow_subnormal=False))


def distinct_values(shapes: Sequence[Shape], lo: float, hi: float) -> st.SearchStrategy[list[np.ndarray]]:
    """Arrays whose values, all together, are distinct and at least (hi-lo)/(4n) apart: a grid of
    4n points, n of them chosen in a shrinkable order, each jittered by less than a quarter step."""
    sizes = [int(np.prod(s)) for s in shapes]
    n = sum(sizes)
    if n == 0:
        return st.just([np.zeros(s) for s in shapes])
    slots = 4 * n
    step = (hi - lo) / slots

    def build(picked: tuple[list[int], list[float]]) -> list[np.ndarray]:
        points, jitter = picked
        values = lo + (np.asarray(points) + 0.5 + np.asarray(jitter)) * step
        out, start = [], 0
        for shape, size in zip(shapes, sizes):
            out.append(values[start:start + size].reshape(shape))
            start += size
        return out

    return st.tuples(st.lists(st.integers(0, slots - 1), min_size=n, max_size=n, unique=True),
                     st.lists(st.floats(-0.25, 0.25), min_size=n, max_size=n)).map(build)


def structured(x: np.ndarray, structure: str) -> np.ndarray:
    """Turn drawn values into a well-conditioned matrix of the given structure."""
    if structure == "" or x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        return x
    n = x.shape[-1]
    scaled = x / max(1.0, float(np.abs(x).max(initial=0.0)))  # entries in [-1, 1]
    if structure == "spd":
        return scaled @ np.swapaxes(scaled, -1, -2) / n + np.eye(n)  # eigenvalues in [1, 2]
    return scaled / n + np.eye(n) * np.where(np.diagonal(x, axis1=-2, axis2=-1) >= 0, 1.0, -1.0)[..., None]


def values_for(arg: Arg, shape: Shape, kinks: Sequence[float] = ()) -> st.SearchStrategy[np.ndarray]:
    """Values for one input of the given shape, from its Arg's domain."""
    if arg.dtype == "bool":
        return hnp.arrays(np.bool_, shape, elements=st.booleans())
    if arg.dtype == "int":
        lo = int(math.ceil(arg.low)) if math.isfinite(arg.low) else -3
        hi = int(math.floor(arg.high)) if math.isfinite(arg.high) else lo + 6
        return hnp.arrays(np.int64, shape, elements=st.integers(lo, hi))
    lo, hi = value_range(arg)
    return float_values(shape, lo, hi).map(lambda x: structured(away_from_kinks(x, kinks, lo, hi), arg.structure))


# --- params ----------------------------------------------------------------------------------


def params_for(op: Op, shapes: Sequence[Shape], given: dict[str, Any] | None = None) -> st.SearchStrategy[dict]:
    """Every param of the op: a value from its choices (all of them, over many examples), else
    its default. Values the op's `sample` already chose are kept."""
    given = dict(given or {})
    parts: dict[str, st.SearchStrategy] = {}
    for p in op.params:
        if p.name in given:
            continue
        choices = p.choices_for(shapes)
        if choices:
            parts[p.name] = st.sampled_from(choices)
        elif p.default is not REQUIRED:
            parts[p.name] = st.just(p.default)
        else:
            raise ValueError(f"op {op.name!r}: param {p.name!r} has no default and no choices, and the op has "
                             f"no sample() to choose it; the harness cannot draw a valid call")
    return st.fixed_dictionaries(parts).map(lambda drawn: {**given, **drawn})


# --- the whole input -------------------------------------------------------------------------


def kinks_of(op: Op, params: dict[str, Any]) -> tuple[float, ...]:
    kinks = op.kinks(params) if callable(op.kinks) else op.kinks
    return tuple(float(k) for k in kinks if k is not None)


def arg_of(op: Op, i: int) -> Arg:
    return op.inputs[0] if op.variadic else op.inputs[i]


@st.composite
def inputs_for(draw: Any, op: Op, example: st.SearchStrategy[Example] | None = None) -> Case:
    """A valid, meaningful call of `op` (see the module docstring), as a `Case` of float64 arrays.

    `example` replaces the op's own way of choosing shapes and params (a plugin's custom
    strategy, see `gradcheck.hookspecs`); it yields `lucid.Example`s."""
    if example is not None:
        ex = draw(example)
        inputs, given = ex.inputs, dict(ex.params)
    elif op.sample is not None:
        ex = op.sample(HypothesisDraw(draw(st.data())))
        inputs, given = ex.inputs, dict(ex.params)
    else:
        inputs = list(draw(shapes_for(op)))
        for i, a in enumerate(op.inputs):
            if a.optional and draw(st.booleans()):
                inputs[i] = None
        given = {}
    shapes = [np.shape(x) if x is not None else () for x in inputs]
    params = draw(params_for(op, shapes, given))
    kinks = kinks_of(op, params)

    arrays: list[np.ndarray | None] = [None] * len(inputs)
    float_slots = []
    for i, x in enumerate(inputs):
        arg = arg_of(op, i)
        if x is None:
            continue
        if isinstance(x, np.ndarray):
            arrays[i] = x
        elif arg.dtype in ("float", "any"):
            float_slots.append(i)
        else:
            arrays[i] = draw(values_for(arg, tuple(x)))
    if op.ties and float_slots:
        # One pool of distinct values for all float inputs: ties across inputs count too.
        lo = max(value_range(arg_of(op, i))[0] for i in float_slots)
        hi = min(value_range(arg_of(op, i))[1] for i in float_slots)
        for i, values in zip(float_slots, draw(distinct_values([tuple(inputs[i]) for i in float_slots], lo, hi))):
            arrays[i] = structured(away_from_kinks(values, kinks, lo, hi), arg_of(op, i).structure)
    else:
        for i in float_slots:
            arrays[i] = draw(values_for(arg_of(op, i), tuple(inputs[i]), kinks))
    symmetric = tuple(i for i in float_slots if arg_of(op, i).structure == "spd")
    return Case(tuple(arrays), params, symmetric)
