"""Hypothesis strategies that draw valid inputs for an op from its metadata alone.

`inputs_for(op)` is the entry point; it yields a `Case`: the op's input arrays and params.
The pieces under it (`shapes_for`, `values_for`, `params_for`, `HypothesisDraw`) are public so
that users can build their own property tests from them.

What makes a drawn input *meaningful* for a gradient check, and not merely valid:
- values stay inside each Arg's open domain with a margin much wider than the finite-difference
  stencil, and unbounded domains use a finite window, so the derivative is finite and tame; the
  window is drawn at several scales (`SCALES`), so that values beyond ±3 and values close to a
  finite bound are drawn too;
- values keep away from the op's declared kinks, so the derivative exists where it is checked
  (farther where the working dtype's rounding would swamp the derivative: `kink_margin`);
- for tie-sensitive ops (`ties=True`) all values are distinct and well separated: hypothesis's
  default array fill repeats values, and max(x, x) has no derivative;
- "spd" and "invertible" inputs are built well-conditioned, so that a tiny perturbation keeps
  them valid; "square" ones too, but a third of them exactly singular (the op is differentiable
  there, and a rule that divides by the determinant is wrong there);
- every shape relation the op declares (broadcasting, a gufunc signature, or its own `sample`)
  and every choice of every param is drawn, so hypothesis explores them and shrinks failures;
- every option of every choice gets its share of the examples: a `Stratum` pins one option of one
  choice (a param's, or one `draw.choice` call of the op's `sample`), and the runner gives each
  stratum that `gradcheck.strata.strata_for` finds its own run of examples.
"""
from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lucid import REQUIRED, Arg, Example, Op
from lucid.op import parse_signature

Shape = tuple[int, ...]

#: Values of an unbounded domain are drawn from a window this wide (or this wide next to the
#: finite bound), times a drawn scale: large enough to exercise the op, small enough not to overflow.
WINDOW = 6.0
#: Each float input is drawn in the window at one of these scales (shrinking leads to the first, the
#: usual window): x10 reaches beyond ±3 (a rule whose mask reads `out > -3` where it means `x > -3`
#: is wrong only there); x0.01 and x0.001 reach small magnitudes and come within 6e-5 of a finite
#: bound (batch_norm's eps of 1e-5 is 0.02% of a variance of 0.06, where the usual window stops,
#: and 10% of one of 5e-5).
SCALES = (1.0, 10.0, 0.01, 0.001)
#: Inputs keep this far (relative to the window) from a finite domain bound...
DOMAIN_MARGIN = 0.01
#: ...and at least this far from a declared kink; both are thousands of finite-difference steps.
KINK_MARGIN = 0.01
#: The fractional part of the golden ratio: k**2 * GOLDEN mod 1 scrambles 0..n-1.
GOLDEN = 0.6180339887498949
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


def floats_in(arrays: Sequence[np.ndarray | None], dtype: Any) -> list[Any]:
    """A call's float arrays in `dtype`; the others (integers, booleans, a left-out None) as they are."""
    return [x.astype(dtype) if x is not None and x.dtype.kind == "f" else x for x in arrays]


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
    # hypothesis draws the inputs of a gufunc with one output; the inputs are all we need
    inputs, outputs = parse_signature(op.shapes)
    signature = ",".join(f"({','.join(core)})" for core in inputs) + f"->({','.join(outputs[0])})"
    return hnp.mutually_broadcastable_shapes(signature=signature, min_dims=0, max_dims=2, min_side=1,
                                             max_side=MAX_SIDE).map(lambda b: b.input_shapes)


@functools.cache
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@functools.cache
def _bytes(n: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=n, max_size=n)


@functools.cache
def _shapes(min_dims: int, max_dims: int, min_side: int, max_side: int) -> st.SearchStrategy[Shape]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@dataclass(frozen=True)
class Stratum:
    """The examples that take option number `option` of one choice: a param's (`site` is its name)
    or one `draw.choice` call of the op's `sample` (`site` is where it is in the code); and those
    that never reach that choice. `name` says which choice, for people."""

    site: Hashable
    option: int
    name: str = field(default="", compare=False)


class HypothesisDraw:
    """`lucid.Draw` on top of hypothesis's `data.draw`, so an op's `sample` replays and shrinks.
    (Strategies are built once and cached: building one costs more than drawing from it.)

    Within a `stratum` the pinned choice takes its pinned option, drawing nothing (an example that
    offers fewer options there is rejected); `seen` collects every choice made and its count of
    options, for `gradcheck.strata.strata_for`; `edges` is what `lucid.Draw.edges` says."""

    def __init__(self, draw: Callable[[st.SearchStrategy], Any], stratum: Stratum | None = None,
                 seen: dict[Hashable, tuple[str, int]] | None = None, edges: bool = False):
        self.draw = draw
        self.stratum = stratum
        self.seen = seen
        self.edges = edges

    def integer(self, low: int, high: int) -> int:
        return self.draw(_integers(low, high))

    def choice(self, options: Sequence[Any], site: Hashable = None, name: str = "") -> Any:
        """One of `options`. A choice of the op's `sample` is known by where it is called from."""
        options = list(options)
        if site is None:
            caller = sys._getframe(1)
            site, name = (caller.f_code, caller.f_lasti), f"{caller.f_code.co_name}, line {caller.f_lineno}"
        if self.seen is not None:
            self.seen[site] = (name, max(len(options), self.seen.get(site, (name, 0))[1]))
        if self.stratum is not None and self.stratum.site == site:
            if self.stratum.option >= len(options):
                reject()
            return options[self.stratum.option]
        return options[self.draw(_integers(0, len(options) - 1))]

    def boolean(self) -> bool:
        return bool(self.draw(_integers(0, 1)))

    def shape(self, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> Shape:
        return self.draw(_shapes(min_dims, max_dims, min_side, max_side))

    def indices(self, shape: Shape, high: int) -> np.ndarray:
        n = int(np.prod(shape, dtype=int))
        return (np.frombuffer(self.draw(_bytes(4 * n)), dtype="<u4") % high).astype(np.int64).reshape(shape)

    def mask(self, shape: Shape) -> np.ndarray:
        n = int(np.prod(shape, dtype=int))
        return (np.frombuffer(self.draw(_bytes(n)), dtype=np.uint8) & 1).astype(bool).reshape(shape)


# --- values ----------------------------------------------------------------------------------


def value_range(arg: Arg, scale: float = 1.0) -> tuple[float, float]:
    """The closed interval drawn for a float Arg: the part of its open domain inside a finite
    window `scale` times WINDOW wide (around 0 where possible), kept a margin away from each
    finite bound."""
    window = WINDOW * scale
    lo = max(arg.low, min(-window / 2, arg.high - window))
    hi = min(arg.high, lo + window)
    margin = DOMAIN_MARGIN * (hi - lo)
    return lo + (margin if lo == arg.low else 0.0), hi - (margin if hi == arg.high else 0.0)


def kink_margin(eps: float, atol: float, order: int) -> float:
    """How far inputs keep from a declared kink when derivatives of `order` are computed with
    rounding `eps` and compared to `atol`. Near a singular point (normalize's zero vector) terms of
    the derivative grow like 1/d**order at distance d and cancel, which leaves about eps/d**order
    of rounding: kept under atol/10. KINK_MARGIN in float64, or with no atol (a purely relative
    comparison); about 0.1 for float32 second derivatives, whose rounding is 1e-3 at 0.01."""
    return max(KINK_MARGIN, (10 * eps / atol) ** (1 / order)) if atol > 0 else KINK_MARGIN


def away_from_kinks(x: np.ndarray, kinks: Sequence[float], lo: float, hi: float,
                    margin: float = KINK_MARGIN) -> np.ndarray:
    """Move values that lie within `margin` of a kink to `margin` away (the side that stays inside
    [lo, hi]). Kinks are points where the derivative does not exist: nothing to check."""
    if not kinks or x.size == 0:
        return x
    x = np.array(x)  # a copy, and an array even for a 0-d input drawn as a NumPy scalar
    for k in kinks:
        near = np.abs(x - k) < margin
        if near.any():
            up = np.where(x >= k, k + margin, k - margin)
            up = np.where((up > hi) | (up < lo), np.where(x >= k, k - margin, k + margin), up)
            x[near] = up[near]
    return x


def unit_values(draw: Callable, n: int) -> np.ndarray:
    """n numbers in [-1, 1), drawn as one block of bytes: one hypothesis draw, not n, which
    makes drawing several times faster; zero bytes (where shrinking leads) give 0."""
    return np.frombuffer(draw(_bytes(4 * n)), dtype="<i4").astype(np.float64) / 2.0**31


def float_values(draw: Callable, shape: Shape, lo: float, hi: float) -> np.ndarray:
    """Values in [lo, hi]; shrinking moves them to 0 if it is inside, else to the middle."""
    t = unit_values(draw, int(np.prod(shape, dtype=int))).reshape(shape)
    if lo < 0 < hi:
        return np.where(t < 0, -t * lo, t * hi)
    return (lo + hi) / 2 + (hi - lo) / 2 * t


def distinct_values(draw: Callable, shapes: Sequence[Shape], lo: float, hi: float) -> list[np.ndarray]:
    """Arrays whose values, all together, are distinct and well apart: n points of a grid of n
    steps across [lo, hi], in a drawn order, each moved by at most 0.4 of a step. Hypothesis's
    usual array fill repeats values, and a tie is a non-differentiable point of max or sort."""
    sizes = [int(np.prod(s, dtype=int)) for s in shapes]
    n = sum(sizes)
    t = unit_values(draw, 2 * n)
    rank = np.empty(n)
    # Where shrinking leads (all draws 0) the grid must not be a structured matrix: in order it is a
    # ramp, of rank 2, and centred it has singular 2x2 arrangements (a kink of the nuclear norm).
    # Equal draws are ordered by a fixed scramble, and each point is moved off the grid by its own bit.
    scramble = (np.arange(n) ** 2 * GOLDEN) % 1
    rank[np.lexsort((scramble, t[:n]))] = np.arange(n)
    values = lo + (rank + 0.5 + 0.3 * t[n:] + 0.1 * scramble) * (hi - lo) / max(n, 1)
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(values[start:start + size].reshape(shape))
        start += size
    return out


def structured(x: np.ndarray, structure: str, ties: bool = False) -> np.ndarray:
    """Turn drawn values into a well-conditioned matrix of the given structure. For a
    tie-sensitive op of spd matrices (eigh), the ties that matter are between eigenvalues:
    those are then spread evenly over [1, 2], as a random rotation of a diagonal. "full rank"
    matrices (svd, qr) of any shape always get distinct singular values in [1, 2]."""
    if structure == "" or x.ndim < 2 or x.size == 0:
        return x
    scaled = x / max(1.0, float(np.abs(x).max(initial=0.0)))  # entries in [-1, 1]
    if structure == "full rank":
        # U diag(s) V^T with singular values spread evenly over [1, 2]. A fixed scramble keeps U and
        # V off the axes where the draws are 0: LAPACK's QR jumps at an exactly zero subcolumn.
        m, n = x.shape[-2:]
        scramble = ((np.arange(m * n) ** 2 * GOLDEN) % 1).reshape(m, n)
        u = np.linalg.qr(scaled + scramble + np.eye(m, n) * 2)[0]
        v = np.linalg.qr(np.swapaxes(scaled + scramble, -1, -2) + np.eye(n, m) * 2)[0]
        return (u * (1 + np.arange(1, min(m, n) + 1) / min(m, n))) @ np.swapaxes(v, -1, -2)
    if x.shape[-1] != x.shape[-2]:
        return x
    n = x.shape[-1]
    if structure == "spd" and ties:
        q = np.linalg.qr(scaled + 2 * np.eye(n))[0]
        return (q * (1 + np.arange(1, n + 1) / n)[..., None, :]) @ np.swapaxes(q, -1, -2)
    if structure == "spd":
        return scaled @ np.swapaxes(scaled, -1, -2) / n + np.eye(n)  # eigenvalues in [1, 2]
    return scaled / n + np.eye(n) * np.where(np.diagonal(x, axis1=-2, axis2=-1) >= 0, 1.0, -1.0)[..., None]


def singular(draw: Callable, x: np.ndarray) -> np.ndarray:
    """A batch of square matrices with some of them made singular: a row copied onto another or set
    to 0, so that the determinant is exactly 0."""
    n = x.shape[-1]
    out = np.array(x, dtype=np.float64).reshape(-1, n, n)
    for matrix in out:
        how, i, j = draw(_integers(0, 2)), draw(_integers(0, n - 1)), draw(_integers(0, n - 1))
        if how == 1 and i != j:
            matrix[i] = matrix[j]
        elif how == 2:
            matrix[i] = 0.0
    return out.reshape(x.shape)


def values_for(arg: Arg, shape: Shape, kinks: Sequence[float] = (),
               margin: float = KINK_MARGIN) -> st.SearchStrategy[np.ndarray]:
    """Values for one input of the given shape, from its Arg's domain, `margin` away from `kinks`."""
    return st.composite(lambda draw: draw_values(draw, arg, shape, kinks, margin))()


def scales_for(eps: float, order: int = 1) -> tuple[float, ...]:
    """The SCALES a check with rounding `eps` draws: those whose values, down to the margin next
    to a bound, stay large against the rounding (eps / value**order < 1e-3). A formula that divides
    by such a value (a mean by its total class weight) multiplies its rounding by as much, and its
    derivative by as much again: float32 stops at x0.01, and at x1 for second derivatives."""
    return tuple(s for s in SCALES if eps / (DOMAIN_MARGIN * WINDOW * s) ** order < 1e-3)


def draw_scale(draw: Callable, scales: Sequence[float] = SCALES) -> float:
    """One of `scales`; shrinking leads to the first, the usual window."""
    return scales[draw(_integers(0, len(scales) - 1))]


def draw_values(draw: Callable, arg: Arg, shape: Shape, kinks: Sequence[float] = (),
                margin: float = KINK_MARGIN, scale: float = 1.0) -> np.ndarray:
    n = int(np.prod(shape, dtype=int))
    if arg.dtype == "bool":
        return (np.frombuffer(draw(_bytes(n)), dtype=np.uint8) & 1).astype(bool).reshape(shape)
    if arg.dtype in ("int", "integral"):
        low = int(math.ceil(arg.low)) if math.isfinite(arg.low) else -3
        high = int(math.floor(arg.high)) if math.isfinite(arg.high) else low + 6
        values = np.frombuffer(draw(_bytes(4 * n)), dtype="<u4") % (high - low + 1)
        return low + values.astype(np.int64).reshape(shape)
    lo, hi = value_range(arg, scale)
    values = structured(away_from_kinks(float_values(draw, shape, lo, hi), kinks, lo, hi, margin), arg.structure)
    square = values.ndim >= 2 and values.shape[-1] == values.shape[-2] and values.size
    return singular(draw, values) if arg.structure == "square" and square else values


# --- params ----------------------------------------------------------------------------------


def params_for(op: Op, shapes: Sequence[Shape], given: dict[str, Any] | None = None) -> st.SearchStrategy[dict]:
    """Every param of the op: a value from its choices (all of them, over many examples), else
    its default. Values the op's `sample` already chose are kept."""
    return st.composite(lambda draw: draw_params(draw, op, shapes, given))()


def draw_params(draw: Callable, op: Op, shapes: Sequence[Shape], given: dict[str, Any] | None = None,
                chooser: HypothesisDraw | None = None) -> dict:
    params = dict(given or {})
    chooser = chooser or HypothesisDraw(draw)
    for p in op.params:
        if p.name in params:
            continue
        choices = p.choices_for(shapes)
        if p.kind == "choice" and p.default is None:
            choices = (None, *choices)  # None is a valid choice too: div without a rounding_mode
        if choices:
            params[p.name] = chooser.choice(choices, site=p.name, name=f"param {p.name!r}")
        elif p.default is not REQUIRED:
            params[p.name] = p.default
        else:
            raise ValueError(f"op {op.name!r}: param {p.name!r} has no default and no choices, and the op has "
                             f"no sample() to choose it; the harness cannot draw a valid call")
    return {p.name: params[p.name] for p in op.params if p.name in params}


# --- the whole input -------------------------------------------------------------------------


def kinks_of(op: Op, params: dict[str, Any]) -> tuple[float, ...]:
    kinks = op.kinks(params) if callable(op.kinks) else op.kinks
    return tuple(float(k) for k in kinks if k is not None)


def arg_of(op: Op, i: int) -> Arg:
    return op.inputs[0] if op.variadic else op.inputs[i]


def inputs_for(op: Op, example: st.SearchStrategy[Example] | None = None, margin: float = KINK_MARGIN,
               scales: Sequence[float] = SCALES, stratum: Stratum | None = None,
               edges: bool = False) -> st.SearchStrategy[Case]:
    """A valid, meaningful call of `op` (see the module docstring), as a `Case` of float64 arrays.

    `example` replaces the op's own way of choosing shapes and params (a plugin's custom
    strategy, see `gradcheck.hookspecs`); it yields `lucid.Example`s. `margin` is how far values
    keep from the op's kinks (`kink_margin` gives it for a dtype and a derivative order), `scales`
    the windows' scales (`scales_for` a dtype); only calls of the `stratum` are drawn, if one is given;
    `edges` lets the op's `sample` draw calls where it has no derivative (`lucid.Draw.edges`)."""
    shapes = shapes_for(op) if example is None and op.sample is None else None
    return st.composite(lambda draw: draw_case(draw, op, shapes, example, margin, scales, stratum, edges))()


def draw_call(draw: Callable, op: Op, shapes: st.SearchStrategy | None, example: st.SearchStrategy | None,
              chooser: HypothesisDraw) -> tuple[list, dict[str, Any]]:
    """A call of op without its values: each input a shape, an array or None, and the params.
    A call that never reaches its stratum's choice is kept: a branch of `sample` that makes no
    stratified choice (take_along_dim's dim=None, most of getitem's keys) is drawn in every stratum."""
    if example is not None or shapes is None:
        ex = draw(example) if example is not None else op.sample(chooser)  # type: ignore[misc]  # has one
        inputs, given = list(ex.inputs), dict(ex.params)
    else:
        inputs = list(draw(shapes))
        for i, a in enumerate(op.inputs):
            if a.optional and draw(_integers(0, 1)):
                inputs[i] = None
        given = {}
    shapes_ = [() if x is None else x.shape if isinstance(x, np.ndarray) else tuple(x) for x in inputs]
    params = draw_params(draw, op, shapes_, given, chooser)
    return inputs, params


def draw_case(draw: Callable, op: Op, shapes: st.SearchStrategy | None, example: st.SearchStrategy | None,
              margin: float = KINK_MARGIN, scales: Sequence[float] = SCALES, stratum: Stratum | None = None,
              edges: bool = False) -> Case:
    inputs, params = draw_call(draw, op, shapes, example, HypothesisDraw(draw, stratum, edges=edges))
    kinks = kinks_of(op, params)

    arrays: list[np.ndarray | None] = [None] * len(inputs)
    float_slots = []
    for i, x in enumerate(inputs):
        arg = arg_of(op, i)
        if x is None:
            continue
        if isinstance(x, np.ndarray):
            arrays[i] = x
        elif arg.differentiable:
            float_slots.append(i)
        else:
            arrays[i] = draw_values(draw, arg, tuple(x))
    if op.ties and float_slots:
        # One pool of distinct values for all float inputs: ties across inputs count too. They keep
        # to the usual window or a wider one, so that they stay well apart.
        scale = max(draw_scale(draw, scales), 1.0)
        lo = max(value_range(arg_of(op, i), scale)[0] for i in float_slots)
        hi = min(value_range(arg_of(op, i), scale)[1] for i in float_slots)
        for i, values in zip(float_slots, distinct_values(draw, [tuple(inputs[i]) for i in float_slots], lo, hi)):
            arrays[i] = structured(away_from_kinks(values, kinks, lo, hi, margin), arg_of(op, i).structure, ties=True)
    else:
        for i in float_slots:
            arrays[i] = draw_values(draw, arg_of(op, i), tuple(inputs[i]), kinks, margin, draw_scale(draw, scales))
    symmetric = tuple(i for i in float_slots if arg_of(op, i).structure == "spd")
    return Case(tuple(arrays), params, symmetric)
