"""The checks run on every drawn input. Each either returns quietly or raises `Failure` with
a one-line reason (and, for the Jacobian, the worst entries); `Rejected` means the input sits at
a non-differentiable point and says nothing either way.

The Jacobian check is the heart; the others catch what agreeing with finite differences on one
input cannot: a rule that is not linear in the output gradient, that writes into its inputs, that
hands out aliased arrays, that depends on memory layout, or that gives a different answer the
second time.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import lucid
from lucid import Op, Tensor

from .numerical import Derivatives, Evaluator, analytic_jacobian, central, close, directional, jacobian
from .report import Entry, Failure, Rejected, worst_entries
from .target import OpTarget, SecondOrderTarget, Target, flat_outputs

#: mode="auto" builds the full Jacobian up to this many entries, and projects it beyond.
FULL_LIMIT = 4096
#: The full Jacobian is computed and compared in blocks of input elements of about this many values.
BLOCK_ELEMENTS = 1 << 18
#: Fast mode compares this many independent random projections.
PROJECTIONS = 2


@dataclass(frozen=True)
class Tolerance:
    """|analytic - numerical| <= atol + rtol * |numerical| + the numerical error estimate
    (+ a few units of rounding of the working dtype, scaled by the gradient's size)."""

    atol: float = 1e-5
    rtol: float = 1e-3
    eps: float = 1e-6  # the finite-difference step, relative to max(1, |x|)

    def __post_init__(self) -> None:
        for name in ("atol", "rtol", "eps"):
            value = getattr(self, name)
            positive = name == "eps"  # a step of 0 differences nothing
            valid = isinstance(value, numbers.Real) and math.isfinite(value)
            if not (valid and (value > 0 if positive else value >= 0)):
                wanted = "a positive number" if positive else "a number >= 0"
                raise ValueError(f"gradcheck: {name} must be {wanted}, got {value!r}")


DEFAULT_TOLERANCE = {"float64": Tolerance(1e-5, 1e-3), "float32": Tolerance(1e-4, 5e-3)}


@dataclass
class Errors:
    """The largest absolute and relative errors seen, over all entries compared."""

    abs: float = 0.0
    rel: float = 0.0

    def add(self, diff: np.ndarray, numerical: np.ndarray, atol: float) -> None:
        if diff.size:
            self.abs = max(self.abs, float(np.nanmax(diff)))
            self.rel = max(self.rel, float(np.nanmax(diff / np.maximum(np.abs(numerical), atol))))

    def worst(self, other: Errors) -> Errors:
        """The larger errors of two checks."""
        return Errors(max(self.abs, other.abs), max(self.rel, other.rel))

    def add_one(self, diff: float, numerical: float, atol: float) -> None:
        """`add` for one entry (max() keeps the old value when the new one is NaN, as nanmax does)."""
        self.abs = max(self.abs, diff)
        self.rel = max(self.rel, diff / max(abs(numerical), atol))


def describe_error(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def guarded(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run the function under test; anything it raises is its failure, not the harness's: a
    SystemExit too (it would end the run, or the pytest session). Only Ctrl-C goes through."""
    try:
        return fn(*args, **kwargs)
    except (Failure, Rejected, KeyboardInterrupt):
        raise
    except BaseException as error:
        raise Failure(f"{what} raised {describe_error(error)}") from error


def rounding(dtype: np.dtype) -> float:
    """Relative rounding allowed for an analytic gradient computed in `dtype`: none in float64,
    where atol/rtol suffice, a few dozen units in lower precision."""
    return 0.0 if np.dtype(dtype) == np.float64 else 32 * float(np.finfo(dtype).eps)


# --- the Jacobian ------------------------------------------------------------------------------


def compare(target: Target, index: int, analytic: np.ndarray, d: Derivatives, tol: Tolerance, errors: Errors,
            what: str = "gradient") -> None:
    """Compare an (M, N) analytic Jacobian of input `target.wrt[index]` to the numerical one.
    Where they disagree, a non-differentiable point inside the stencil makes it a rejection."""
    i = target.wrt[index]
    x = target.arrays[i]
    numerical = d.value.T
    if not np.isfinite(analytic).all():
        if d.kinked(np.unique(np.nonzero(~np.isfinite(analytic))[1])).any():
            raise Rejected(f"input {i} is at a non-differentiable point (where its gradient is not finite)")
        bad = np.argwhere(~np.isfinite(analytic))[0]
        raise Failure(f"the {what} of input {i} is {analytic[tuple(bad)]} at a point where the op is smooth "
                      f"and finite", input=i,
                      worst=worst_entries(i, x.shape, target.out_shapes, analytic, numerical,
                                          np.where(np.isfinite(analytic), 0.0, np.inf), x.astype(np.float64)))
    analytic = np.ascontiguousarray(analytic.T)  # (N, M), like the numerical one: no strided passes
    numerical = d.value
    diff, allowed = disagreement(analytic, numerical, d.error, tol, x.dtype, largest(analytic.T, x.dtype))
    bad = ~(diff <= allowed)  # NaN numerical derivatives count as disagreements, to be explained
    if bad.any():
        analytic, numerical, diff, allowed, bad = analytic.T, numerical.T, diff.T, allowed.T, bad.T
        if d.kinked(np.unique(np.nonzero(bad)[1])).any():
            raise Rejected(f"input {i} is at a non-differentiable point")
        errors.add(diff, numerical, tol.atol)
        with np.errstate(invalid="ignore", divide="ignore"):
            badness = np.where(np.isnan(diff), np.inf, diff / allowed)
        worst = worst_entries(i, x.shape, target.out_shapes, analytic, numerical, badness, x.astype(np.float64))
        k = np.unravel_index(int(np.argmax(badness)), badness.shape)
        ratio = analytic[k] / numerical[k] if numerical[k] else float("inf")
        raise Failure(f"the {what} of input {i} differs from finite differences ({int((badness > 1).sum())} of "
                      f"{badness.size} entries; worst: analytic {analytic[k]:.6g}, numerical {numerical[k]:.6g}, "
                      f"ratio {ratio:.4g})", input=i, worst=worst, max_abs_error=errors.abs,
                      max_rel_error=errors.rel)
    errors.add(diff, numerical, tol.atol)


def largest(analytic: np.ndarray, dtype: np.dtype) -> np.ndarray | None:
    """For a gradient computed in lower precision (analytic is (M, N)), the rounding allowed for
    each output's derivatives beyond their own: that of the output's largest derivative."""
    return rounding(dtype) * np.abs(analytic).max(axis=1, initial=0.0) if rounding(dtype) else None


def disagreement(analytic: np.ndarray, numerical: np.ndarray, error: np.ndarray, tol: Tolerance,
                 dtype: np.dtype, largest: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """|analytic - numerical| and what is allowed there, for (K, M) blocks of the Jacobian (K
    input elements, M outputs) of an input of `dtype`; `largest` per output, from `largest()`."""
    diff = analytic - numerical
    np.abs(diff, out=diff)
    allowed = np.abs(numerical)
    allowed *= tol.rtol
    allowed += error
    allowed += tol.atol
    if largest is not None:
        allowed += rounding(dtype) * np.abs(analytic) + largest
    return diff, allowed


def compare_full(target: Target, index: int, analytic: np.ndarray, evaluate: Evaluator, tol: Tolerance,
                 errors: Errors, what: str = "gradient") -> None:
    """`compare` against the whole numerical Jacobian of input `target.wrt[index]`, computed and
    compared a block of input elements at a time (it never holds N x M values at once).

    Each block first gets D(h) alone, with only its rounding error as slack; the 2h step, whose
    truncation estimate only adds slack, is taken just for the elements where D(h) disagrees. So
    the verdict is `compare`'s at half the evaluations. A block that disagrees even then goes to
    `compare` with the whole Jacobian, which tells a kink from a wrong derivative and reports."""
    i = target.wrt[index]
    x = target.arrays[i]
    n, m = x.size, analytic.shape[0]
    if not np.isfinite(analytic).all():
        compare(target, index, analytic, jacobian(evaluate, i, tol.eps), tol, errors, what)
        return
    top = largest(analytic, x.dtype)
    block = max(1, BLOCK_ELEMENTS // (2 * (n + m)))
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        numerical, error = central(evaluate, i, tol.eps, lo, hi)
        part = analytic[:, lo:hi].copy().T.copy()  # two copies, each cache-friendly, beat one strided gather
        diff, allowed = disagreement(part, numerical, error, tol, x.dtype, top)
        rows = np.nonzero((~(diff <= allowed)).any(axis=1))[0]
        if rows.size:
            d = jacobian(evaluate, i, tol.eps, lo + rows)
            numerical[rows] = d.value
            diff[rows], allowed[rows] = disagreement(part[rows], d.value, d.error, tol, x.dtype, top)
            if (~(diff[rows] <= allowed[rows])).any():
                compare(target, index, analytic, jacobian(evaluate, i, tol.eps), tol, errors, what)
                return
        errors.add(diff, numerical, tol.atol)


def check_jacobian(target: Target, tol: Tolerance, mode: str, rng: np.random.Generator,
                   what: str = "gradient") -> Errors:
    """The analytic derivative against central differences: the full Jacobian, or (mode "fast",
    or "auto" on a large one) random signed projections u^T J v, falling back to the full
    Jacobian of the failing input to say where it is wrong."""
    errors = Errors()
    m = target.out_size
    if m == 0 or not target.wrt:
        return errors
    evaluate = Evaluator(target)
    sizes = [target.arrays[i].size for i in target.wrt]
    if not sum(sizes):
        return errors
    full = mode == "full" or (mode == "auto" and m * sum(sizes) <= FULL_LIMIT)
    if full:
        u = unit(rng.standard_normal(m))
        grads = guarded("the vjp", target.vjp, u)
        analytic = guarded("the vjp", analytic_jacobian, target, u, grads)
        for index in range(len(target.wrt)):
            guarded("the forward", compare_full, target, index, analytic[index], evaluate, tol, errors, what)
        return errors
    us = [unit(rng.standard_normal(m)) for _ in range(PROJECTIONS)]
    grads = [guarded("the vjp", target.vjp, u) for u in us]
    for index, i in enumerate(target.wrt):
        if not sizes[index]:
            continue
        vs = rng.standard_normal((len(us), sizes[index]))  # the same draws as one unit() per u
        vs /= np.sqrt(np.einsum("kn,kn->k", vs, vs))[:, None]
        d = guarded("the forward", directional, evaluate, i, vs, tol.eps)
        low = rounding(target.arrays[i].dtype)
        for k, (u, g) in enumerate(zip(us, grads)):
            analytic = float(g[index].reshape(-1) @ vs[k])
            numerical = float(u @ d.value[k])
            error = float(np.abs(u) @ d.error[k])
            slack = low * float(np.abs(g[index]).sum()) if low else 0.0
            diff = abs(analytic - numerical)
            allowed = tol.atol + tol.rtol * abs(numerical) + error + slack
            if not diff <= allowed and d.kinked([k]).any():
                raise Rejected(f"input {i} is at a non-differentiable point")
            if not math.isfinite(analytic):
                raise Failure(f"the {what} of input {i} is not finite at a point where the op is smooth", input=i)
            errors.add_one(diff, numerical, tol.atol)
            if diff > allowed:
                explain_projection(target, index, evaluate, tol, u, grads[k][index], analytic, numerical, what)
    return errors


def explain_projection(target: Target, index: int, evaluate: Evaluator, tol: Tolerance, u: np.ndarray,
                       g: np.ndarray, analytic: float, numerical: float, what: str) -> None:
    """A projection disagreed: build the full Jacobian of that input to report the entries."""
    i = target.wrt[index]
    full = analytic_jacobian(target, u, [g] if len(target.wrt) == 1 else guarded("the vjp", target.vjp, u))
    compare(target, index, full[index], jacobian(evaluate, i, tol.eps), tol, Errors(), what)
    raise Failure(f"the {what} of input {i} differs from finite differences along a random projection "
                  f"(u^T J v: analytic {analytic:.6g}, numerical {numerical:.6g})", input=i,
                  worst=[Entry(i, (), (), analytic, numerical, abs(analytic - numerical),
                               abs(analytic - numerical) / abs(numerical) if numerical else float("inf"), None)])


def unit(v: np.ndarray) -> np.ndarray:
    """A random direction with both signs (never all-positive, which can miss a wrong sign)."""
    norm = math.sqrt(v @ v)
    return v / norm if norm else v


# --- the rule's contract -----------------------------------------------------------------------


def snapshot(arrays: Sequence[Any]) -> list[np.ndarray | None]:
    return [None if a is None else np.array(a.data if isinstance(a, Tensor) else a, copy=True) for a in arrays]


def unchanged(before: Sequence[np.ndarray | None], after: Sequence[Any]) -> list[int]:
    """Indices of the arrays whose contents changed."""
    return [k for k, (b, a) in enumerate(zip(before, after))
            if b is not None and not np.array_equal(b, np.asarray(a.data if isinstance(a, Tensor) else a),
                                                    equal_nan=b.dtype.kind == "f")]


def check_forward(op: Op, target: OpTarget) -> None:
    """Through the engine, as users call it: no error, finite outputs, the dtype kept, inputs intact."""
    leaves = target.tensors()
    before = snapshot(target.arrays)
    out = guarded("the forward", call, op, leaves, target.params)
    written = [k for k in unchanged(before, target.arrays) if not target.arg(k).mutable]
    if written:
        raise Failure(f"the forward wrote into input {written[0]}")
    outs = flat_outputs(out)
    floats = {x.dtype for x in target.arrays if x is not None and x.dtype.kind == "f"}
    converts = any(isinstance(p, np.dtype) or (isinstance(p, type) and issubclass(p, np.generic))
                   for p in target.params.values())  # a dtype param: changing the dtype is the point
    for k, o in enumerate(outs):
        if not np.isfinite(o).all():
            if o.dtype != np.float64 and rounds_to(o, flat_outputs(target._call(target.points64()))[k]):
                raise Rejected(f"output {k} is beyond {o.dtype}'s range here")
            where = tuple(int(v) for v in np.argwhere(~np.isfinite(o))[0])
            raise Failure(f"the forward returned {o[where]} at output {k} index {where} on a valid input")
        if len(floats) == 1 and o.dtype not in floats and not converts:
            raise Failure(f"the forward returned {o.dtype} for {floats.pop()} inputs (output {k})")


def call(op: Op, tensors: Sequence[Any], params: dict) -> Any:
    """Call an op through its public interface (the engine), variadic ops with a list, every
    argument by name where the op declares PyTorch's own order (a `signature`)."""
    if op.signature:
        names = [op.inputs[0].name] if op.variadic else [a.name for a in op.inputs]
        values = [list(tensors)] if op.variadic else tensors
        return op(**dict(zip(names, values)), **params)
    if op.variadic:
        return op(list(tensors), **params)
    return op(*tensors, **params)


def smooth_here(target: Target, eps: float) -> bool:
    """Whether finite differences find the target differentiable in every input element."""
    evaluate = Evaluator(target)
    return all(guarded("the forward", jacobian, evaluate, i, eps).smooth.all() for i in target.wrt)


def check_vjp_contract(target: OpTarget, u: np.ndarray, eps: float) -> list[np.ndarray]:
    """The rule's raw answer: one gradient per input, each of a shape that sums to its input's
    shape and of its input's dtype, finite; inputs, output and output gradient left intact."""
    gs = [p.astype(target.arrays[target.wrt[0]].dtype) for p in target.split(u)]
    out = target._call(target.arrays)
    before = snapshot(list(target.arrays) + gs)
    out_before = snapshot(out if isinstance(out, (tuple, list)) else [out])
    raw = guarded("the vjp", target.raw_vjp, gs, target.arrays, out)
    if not isinstance(raw, (tuple, list)) or len(raw) != len(target.arrays):
        count = len(raw) if isinstance(raw, (tuple, list)) else f"a {type(raw).__name__}"
        raise Failure(f"the vjp returned {count} gradients for {len(target.arrays)} inputs")
    changed = unchanged(before, list(target.arrays) + gs)
    if changed:
        k = changed[0]
        raise Failure(f"the vjp wrote into input {k}" if k < len(target.arrays)
                      else "the vjp wrote into the output gradient")
    if unchanged(out_before, out if isinstance(out, (tuple, list)) else [out]):
        raise Failure("the vjp wrote into the forward's output")
    for i in target.wrt:
        g = raw[i]
        if g is None:
            continue
        data = np.asarray(g.data if isinstance(g, Tensor) else g)
        x = target.arrays[i]
        try:
            ok = np.broadcast_shapes(data.shape, x.shape) == data.shape
        except ValueError:
            ok = False
        if not ok:
            raise Failure(f"the vjp gave input {i} (shape {x.shape}) a gradient of shape {data.shape}", input=i)
        if data.dtype != x.dtype:
            raise Failure(f"the vjp gave input {i} ({x.dtype}) a {data.dtype} gradient", input=i)
        if not np.isfinite(data).all():
            if x.dtype != np.float64 and rounds_to(data, raw_vjp64(target, gs)[i]):
                raise Rejected(f"the gradient of input {i} is beyond {x.dtype}'s range here")
            if not smooth_here(target, eps):
                raise Rejected(f"input {i} is at a non-differentiable point (where its gradient is not finite)")
            raise Failure(f"the vjp gave input {i} a non-finite gradient at a point where the op is smooth", input=i)
    return target.conform(raw)


def rounds_to(result: np.ndarray, exact: Any) -> bool:
    """Whether every non-finite entry of a float32 result is the infinity its exact value (computed
    in float64) rounds to: a finite value beyond float32's range, which no float32 code can return
    (prod's gradient at a zero among values whose product passes 3e38). Not a NaN."""
    if exact is None:
        return False
    exact = np.broadcast_to(np.asarray(exact.data if isinstance(exact, Tensor) else exact), result.shape)
    bad = ~np.isfinite(result)
    return bool(np.isfinite(exact[bad]).all() and np.array_equal(result[bad], exact[bad].astype(result.dtype)))


def raw_vjp64(target: OpTarget, gs: list[np.ndarray]) -> tuple:
    """The rule's raw answer at the same point and output gradients, all in float64."""
    return guarded("the vjp", target.raw_vjp, [g.astype(np.float64) for g in gs], target.points64())


def check_linearity(target: OpTarget, u: np.ndarray, v: np.ndarray, grads_u: list[np.ndarray]) -> None:
    """A VJP is linear in the output gradient: zero in, zero out; twice in, twice out; sums add."""
    zero = guarded("the vjp", target.vjp, np.zeros_like(u))
    for i, g in zip(target.wrt, zero):
        if np.abs(g).max(initial=0.0) != 0:
            raise Failure(f"the vjp of input {i} is not zero for a zero output gradient "
                          f"(max {np.abs(g).max():.3g}): it is not linear in the gradient", input=i)
    twice = guarded("the vjp", target.vjp, 2 * u)
    grads_v = guarded("the vjp", target.vjp, v)
    both = guarded("the vjp", target.vjp, u + v)
    # Doubling is exact in floating point; sums are not, and rules cancel large terms (layer_norm),
    # so additivity gets the square root of the working precision: a nonlinear rule is off by O(1).
    precision = max(float(np.finfo(target.arrays[i].dtype).eps) for i in target.wrt)
    precision = max(precision, *(float(np.finfo(o.dtype).eps) for o in flat_outputs(target._call(target.arrays))))
    for i, g, g2, gv, gb in zip(target.wrt, grads_u, twice, grads_v, both):
        # u and v are unit vectors: 1 stands for the size of the terms a rule may cancel
        scale = np.abs(g).max(initial=0.0) + np.abs(gv).max(initial=0.0) + 1.0
        if np.abs(g2 - 2 * g).max(initial=0.0) > 1e3 * precision * scale:
            raise Failure(f"the vjp of input {i} does not double when the output gradient doubles", input=i)
        if np.abs(gb - g - gv).max(initial=0.0) > np.sqrt(precision) * scale:
            raise Failure(f"the vjp of input {i} is not additive in the output gradient", input=i)


def summed_magnitudes(target: OpTarget, u: np.ndarray) -> list[float]:
    """For each input differentiated, the largest sum of absolute terms behind one entry of its
    gradient. A broadcast input's gradient adds the rule's gradient up over the broadcast axes, and
    two orders of adding the same terms differ by rounding relative to the terms, not to their sum:
    terms that cancel leave 0 in one order and 1e-17 in another."""
    raw = guarded("the vjp", target.raw_vjp, target.split(u))
    terms = [None if r is None else np.abs(np.asarray(r.data if isinstance(r, Tensor) else r)) for r in raw]
    return [float(m.max(initial=0.0)) for m in target.conform(terms)]


def check_engine(op: Op, target: OpTarget, u: np.ndarray, grads_u: list[np.ndarray]) -> None:
    """backward() through the engine, twice on the same graph: each .grad has its input's shape
    and dtype, equals the rule's answer, aliases nothing, and the second pass gives the same."""
    leaves: list[Any] = target.tensors()  # None for optional inputs left out
    if target.symmetric:
        return  # the engine differentiates the op, not op(sym(X)): compared in the Jacobian check only
    out = call(op, leaves, target.params)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,)) if o.dtype.kind == "f"]
    parts = target.split(u)
    pairs = [(o, Tensor(p.astype(o.dtype))) for o, p in zip(outs, parts) if o.requires_grad]
    if not pairs:
        return
    if op.residuals:  # the engine seeds the result alone: the rule's answer with no gradient for the residuals
        u = np.concatenate([parts[0].reshape(-1)] + [np.zeros(p.size) for p in parts[1:]])
        grads_u = guarded("the vjp", target.vjp, u)
    seeds = [s for _, s in pairs]
    seed_copies = snapshot(seeds)
    passes = []
    for _ in range(2):
        for x in leaves:
            if x is not None:
                x.grad = None
        guarded("backward", lucid.backward, [o for o, _ in pairs], seeds, retain_graph=True)
        passes.append([leaves[i].grad for i in target.wrt])
    if unchanged(seed_copies, seeds):
        raise Failure("backward wrote into the output gradient")
    for k, (i, g, expected, again) in enumerate(zip(target.wrt, passes[0], grads_u, passes[1])):
        x = target.arrays[i]
        if g is None:
            if np.abs(expected).max(initial=0.0) > 0:
                raise Failure(f"backward left input {i} without a gradient", input=i)
            continue
        if g.shape != x.shape or g.dtype != x.dtype:
            raise Failure(f"backward gave input {i} ({x.dtype}{list(x.shape)}) a {g.dtype}{list(g.shape)} .grad",
                          input=i)
        rtol = 1e4 * np.finfo(x.dtype).eps
        if not close(g.data, expected, rtol) and \
                not np.all(np.abs(g.data - expected) <= rtol * summed_magnitudes(target, u)[k]):
            raise Failure(f"backward's gradient of input {i} differs from the rule's own answer", input=i)
        if again is None or not np.array_equal(g.data, again.data):
            raise Failure(f"a second backward through the same graph gives input {i} a different gradient", input=i)
    grads = [(i, leaves[i].grad.data) for i in target.wrt if leaves[i].grad is not None]
    others = [("the output gradient", s.data) for s in seeds] + \
        [(f"input {i}", x) for i, x in enumerate(target.arrays) if x is not None]
    for k, (i, g) in enumerate(grads):
        for name, a in [(f"the gradient of input {j}", h) for j, h in grads[k + 1:]] + others:
            if np.shares_memory(g, a):
                raise Failure(f"the gradient of input {i} shares memory with {name}", input=i)


def layouts(x: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, view, contiguous copy of the same values) pairs of other memory layouts."""
    out = []
    if x.ndim >= 2:
        out.append(("a transposed (Fortran-order) layout", np.asfortranarray(x), x))
    if x.ndim >= 1 and x.size > 1:
        out.append(("a reversed-stride view", x[::-1].copy()[::-1], x))
    if x.ndim >= 1 and x.shape[0] > 1:
        view = np.broadcast_to(x[:1], x.shape)
        out.append(("a broadcast (stride-0, read-only) view", view, np.ascontiguousarray(view)))
    return out


def check_layouts(target: OpTarget, u: np.ndarray) -> None:
    """The same values in another memory layout give the same output and the same gradients.
    An input the op updates in place (`Arg.mutable`) must stay the caller's own writable array."""
    for i in target.wrt:
        if target.arg(i).mutable:
            continue
        for name, view, copy in layouts(target.arrays[i]):
            try:
                arrays = list(target.arrays)
                arrays[i] = copy
                expected = (target.forward(arrays), target.conform(target.raw_vjp(target.split(u), arrays), arrays))
            except Exception:
                continue  # the contiguous copy is not a valid input (a broadcast singular matrix, say)
            if not all(np.isfinite(e).all() for e in [expected[0], *expected[1]]):
                continue
            arrays[i] = view
            got_out = guarded(f"the forward on {name} of input {i}", target.forward, arrays)
            raw = guarded(f"the vjp on {name} of input {i}", target.raw_vjp, target.split(u), arrays)
            got = target.conform(raw, arrays)
            rtol = 1e4 * np.finfo(target.arrays[i].dtype).eps
            if not close(got_out, expected[0], rtol):
                raise Failure(f"the forward gives a different output when input {i} is {name}", input=i)
            for j, g, e in zip(target.wrt, got, expected[1]):
                if not close(g, e, rtol):
                    raise Failure(f"the gradient of input {j} changes when input {i} is {name}", input=j)


def check_example(op: Op, arrays: list, params: dict, symmetric: Sequence[int], tol: Tolerance, mode: str,
                  order: int, rng: np.random.Generator) -> Errors:
    """Every check on one drawn input. Raises Failure or Rejected."""
    with np.errstate(all="ignore"):  # NaN and overflow are detected and reported, not warned about
        return _check_example(op, arrays, params, symmetric, tol, mode, order, rng)


def _check_example(op: Op, arrays: list, params: dict, symmetric: Sequence[int], tol: Tolerance, mode: str,
                   order: int, rng: np.random.Generator) -> Errors:
    wrt = requiring_grad(op, arrays, rng)
    target = guarded("the forward", OpTarget, op, arrays, params, symmetric, wrt)
    try:
        return _check_target(op, target, symmetric, tol, mode, order, rng)
    except Failure as failure:
        if wrt is not None:
            failure.reason += f" (only input{'s' * (len(wrt) > 1)} {', '.join(map(str, wrt))} required grad)"
            failure.args = (failure.reason,)
        raise


def requiring_grad(op: Op, arrays: list, rng: np.random.Generator) -> tuple[int, ...] | None:
    """Which inputs require grad: all the differentiable ones (None), or in a third of the examples
    of an op with several, a random part of them. Rules skip the inputs that do not
    (`a.requires_grad`), and a rule that skips the wrong one is right whenever all do."""
    candidates = [i for i, x in enumerate(arrays) if x is not None and x.dtype.kind == "f"
                  and (op.inputs[0] if op.variadic else op.inputs[i]).differentiable]
    if len(candidates) < 2 or rng.random() >= 1 / 3:
        return None
    chosen = rng.permutation(candidates)[:rng.integers(1, len(candidates))]
    return tuple(sorted(int(i) for i in chosen))


def _check_target(op: Op, target: OpTarget, symmetric: Sequence[int], tol: Tolerance, mode: str, order: int,
                  rng: np.random.Generator) -> Errors:
    check_forward(op, target)
    m = target.out_size
    if not target.wrt or m == 0:
        return Errors()
    u, v = unit(rng.standard_normal(m)), unit(rng.standard_normal(m))
    grads_u = check_vjp_contract(target, u, tol.eps)
    check_linearity(target, u, v, grads_u)
    check_engine(op, target, u, grads_u)
    check_layouts(target, u)
    errors = check_jacobian(target, tol, mode, rng)
    if order == 1:
        return errors
    # order 2 checks first order too, then the derivative of the gradient
    second = SecondOrderTarget(target, lambda leaves: call(op, symmetrized(leaves, symmetric), target.params), u)
    check_recorded_gradient(second, tol)
    return errors.worst(check_jacobian(second, tol, mode, rng, what="second derivative"))


def check_recorded_gradient(second: SecondOrderTarget, tol: Tolerance) -> None:
    """A rule may take another path while a graph is recorded (create_graph=True: linalg.norm
    builds a differentiable formula only then), and a second derivative starts from that path's
    gradient: it must equal the gradient the first-order checks just verified."""
    plain, recorded = second.forward(second.arrays), second.recorded()
    if not close(recorded, plain, max(tol.rtol, 1e4 * np.finfo(recorded.dtype).eps)):
        worst = int(np.nanargmax(np.abs(recorded - plain))) if recorded.size else 0
        raise Failure(f"the gradient computed with create_graph=True differs from the one without "
                      f"(entry {worst}: {recorded[worst]:.7g} against {plain[worst]:.7g})")


def symmetrized(leaves: list, symmetric: Sequence[int]) -> list:
    """sym(X) = (X + X^T) / 2 for the inputs declared "spd", as Lucid ops (differentiable)."""
    return [(x + x.mT) / 2 if i in symmetric else x for i, x in enumerate(leaves)]
