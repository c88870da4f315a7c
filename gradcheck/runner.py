"""check_op: fuzz one op's derivative with hypothesis; gradcheck: check one function at one input.

check_op draws inputs from the op's metadata (`strategies.inputs_for`), runs every check of
`checks` on each, and lets hypothesis shrink a failure to a minimal input. Whatever the op
does (raise, return NaN, return a gradient of the wrong shape) ends up in its `OpReport`;
nothing it does stops a `check_ops` run over the whole registry.
"""
from __future__ import annotations

import contextlib
import functools
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

import lucid
from lucid import Op, Tensor

from . import oracle as oracles
from . import plugins
from .checks import DEFAULT_TOLERANCE, Errors, Tolerance, check_example, check_jacobian, describe_error, unit
from .edges import edge_cases_for, edge_pairs_for
from .report import Failure, GradcheckError, OpReport, Rejected
from .strata import share_budget, strata_for
from .strategies import Case, Stratum, describe, floats_in, inputs_for, kink_margin, scales_for
from .target import FunctionTarget, OpTarget, SecondOrderTarget, Target

MODES = ("auto", "full", "fast")
DTYPES = {"float64": np.float64, "float32": np.float32}
#: How many calls of special values side by side the oracle check makes (`oracle_runs`): every pair,
#: then drawn parts of the grid (`edges.some_of`: 14 of 20 seeds catch a rule that tests has_zero on
#: the wrong input).
EDGE_PAIR_EXAMPLES = 20
#: A check whose samples are mostly rejected (at non-differentiable points) checked nothing.
VACUOUS = 0.5


def tolerance_for(op: Op, dtype: str, atol: float | None, rtol: float | None) -> Tolerance:
    tol = DEFAULT_TOLERANCE[dtype]
    custom = plugins.hook().lucid_gradcheck_tolerance(op=op, dtype=dtype)
    if custom:
        tol = replace(tol, **dict(custom))
    if atol is not None:
        tol = replace(tol, atol=atol)
    if rtol is not None:
        tol = replace(tol, rtol=rtol)
    return tol


def reproduce_line(name: str, registered: bool, seed: int, max_examples: int, order: int, mode: str,
                   dtype: str, oracle: str | None = None) -> str:
    """The command (or, for an unregistered op, the call) that repeats one check exactly; with
    `oracle`, the oracle check against it, otherwise the derivative check."""
    if not registered:
        function, extra = ("check_op", "") if oracle is None else ("check_oracle", f"oracle={oracle!r}, ")
        return f"gradcheck.{function}(<your Op {name!r}>, {extra}seed={seed}, max_examples={max_examples}, " \
               f"order={order}, mode={mode!r}, dtype={dtype!r})"
    parts = ["lucid-gradcheck", name, "--seed", str(seed)]
    if oracle is not None:
        parts += ["--oracle", oracle, "--check", "oracle"]
    if max_examples != 100:
        parts += ["--max-examples", str(max_examples)]
    if order != 1:
        parts += ["--order", str(order)]
    if mode != "auto":
        parts += ["--mode", mode]
    if dtype != "float64":
        parts += ["--dtype", dtype]
    return " ".join(parts)


def check_op(op_or_name: Op | str, *, max_examples: int = 100, seed: int | None = None, order: int = 1,
             mode: str = "auto", dtype: str = "float64", atol: float | None = None,
             rtol: float | None = None, shrink: bool = True) -> OpReport:
    """Fuzz `op`'s derivative (a registered name, or any `Op`, registered or not) and report.

    `order=2` checks the derivative of the gradient (through create_graph); `mode` chooses the
    full Jacobian, random projections ("fast"), or either by size ("auto"); `dtype="float32"`
    runs the op in float32 and compares with looser tolerances. `atol`/`rtol` override the
    defaults and any plugin's `lucid_gradcheck_tolerance`. `shrink=False` stops at the first
    failing input as drawn (mutation analysis wants a verdict, not a minimal example)."""
    start = time.perf_counter()
    op, name, report = _resolve(op_or_name, "derivative",
                                {"max_examples": max_examples, "order": order, "mode": mode, "dtype": dtype})
    if op is None:
        return report
    if mode not in MODES or order not in (1, 2) or dtype not in DTYPES:
        report.status, report.reason = "error", f"invalid settings: order={order!r}, mode={mode!r}, dtype={dtype!r}"
        return report
    if not any(arg.differentiable for arg in op.inputs):
        report.status, report.reason = "skipped", "no differentiable input"
        return report
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    report.reproduce = reproduce_line(name, report.plugin is not None, seed, max_examples, order, mode, dtype)
    try:
        tol = tolerance_for(op, dtype, atol, rtol)
        inputs, strata = derivative_draws(op, dtype, order, tol)  # what is wrong in the metadata shows here
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        report.status, report.reason = "error", f"could not set up the check: {describe_error(error)}"
        report.duration = time.perf_counter() - start
        return report
    state = _fuzz(report, [(inputs(stratum), n, s) for stratum, n, s in runs_of(strata, max_examples, seed)],
                  DTYPES[dtype], lambda arrays, case, rng:
                  check_example(op, arrays, case.params, case.symmetric, tol, mode, order, rng), shrink)
    _fail_if_vacuous(report, state, "non-differentiable points")
    report.duration = time.perf_counter() - start
    return report


def custom_strategy(op: Op) -> st.SearchStrategy | None:
    """A plugin's strategy for op's calls (`lucid_gradcheck_strategy`), if one gives it."""
    return plugins.hook().lucid_gradcheck_strategy(op=op)


def derivative_draws(op: Op, dtype: str, order: int, tol: Tolerance | None = None
                     ) -> tuple[Callable[[Stratum | None], st.SearchStrategy[Case]], tuple[Stratum, ...]]:
    """How the derivative check draws op's inputs in a stratum, and its strata: from its metadata
    (or a plugin's strategy, asked once), kept far enough from its kinks for finite differences in
    `dtype`. Metadata that cannot be drawn from raises here."""
    tol = tol or tolerance_for(op, dtype, None, None)
    eps = float(np.finfo(dtype).eps)
    example = custom_strategy(op)
    inputs = functools.partial(inputs_for, op, example, kink_margin(eps, tol.atol, order), scales_for(eps, order))
    return inputs, strata_for(op, example)


def check_oracle(op_or_name: Op | str, *, oracle: str = "torch", max_examples: int = 100, seed: int | None = None,
                 order: int = 1, dtype: str = "float64") -> OpReport:
    """Compare `op` with a trusted implementation on drawn inputs, edge values included
    (`gradcheck.oracle`): PyTorch's counterpart (`oracle="torch"`: values, dtypes, and the VJPs of
    order 1, or 1 and 2) or the op's own `reference` (`oracle="reference"`: values). An op with
    no such implementation is skipped, with the reason."""
    start = time.perf_counter()
    op, name, report = _resolve(op_or_name, "oracle",
                                {"oracle": oracle, "max_examples": max_examples, "order": order, "dtype": dtype})
    if op is None:
        return report
    if oracle not in oracles.ORACLES or order not in (1, 2) or dtype not in DTYPES:
        report.status, report.reason = "error", f"invalid settings: oracle={oracle!r}, order={order!r}, dtype={dtype!r}"
        return report
    if oracle == "reference" and op.reference is None:
        report.status, report.reason = "skipped", "no reference declared (Op(reference=...))"
        return report
    if oracle == "torch":
        try:
            counterpart = oracles.torch_counterpart(op)
        except ImportError:
            report.status, report.reason = "error", "the torch oracle needs PyTorch: pip install torch"
            return report
        if counterpart is None:
            report.status, report.reason = "skipped", "no PyTorch counterpart"
            return report
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    report.reproduce = reproduce_line(name, report.plugin is not None, seed, max_examples, order, "auto", dtype,
                                      oracle)
    state = _fuzz(report, oracle_runs(op, max_examples, seed), DTYPES[dtype],
                  lambda arrays, case, rng: oracles.check_example(op, case, oracle, order, DTYPES[dtype], rng))
    _fail_if_vacuous(report, state, "inputs that the oracle refuses too")
    report.duration = time.perf_counter() - start
    return report


def oracle_runs(op: Op, max_examples: int, seed: int) -> list[tuple[st.SearchStrategy[Case], int, int]]:
    """The oracle check's hypothesis runs: first EDGE_PAIR_EXAMPLES calls that put every special
    value beside every other (`edges.edge_pairs_for`, for an op whose inputs broadcast), then
    `max_examples` calls with special values here and there, shared among the op's strata. An op
    that declares its "edges" different is compared on its usual inputs only."""
    runs = runs_of(strata_for(op), max_examples, seed)
    if "edges" in op.differences:
        return [(inputs_for(op, stratum=stratum), n, s) for stratum, n, s in runs]
    pairs = edge_pairs_for(op)
    first = [] if pairs is None else [(pairs, EDGE_PAIR_EXAMPLES, seed)]
    return first + [(edge_cases_for(op, stratum), n, s) for stratum, n, s in runs]


def _fail_if_vacuous(report: OpReport, state: _Run, where: str) -> None:
    """A check that rejected most of its samples checked nothing: that is a failure, not a pass.
    (The samples of a stratum that were all rejected do not count: that option cannot be checked.)"""
    judged = state.rejected - state.unjudged
    if report.status == "passed" and (state.vacuous or judged > VACUOUS * (state.examples + judged)):
        report.status = "failed"
        report.reason = f"vacuous: {state.rejected} of {state.examples + state.rejected} samples were at {where} " \
                        f"and rejected"


def _resolve(op_or_name: Op | str, check: str, settings_: dict) -> tuple[Op | None, str, OpReport]:
    """The op to check, its name, and a fresh report of that kind of check (an error report for an
    unknown name)."""
    if isinstance(op_or_name, str):
        try:
            op = lucid.registry[op_or_name]
        except KeyError as error:
            return None, op_or_name, OpReport(op_or_name, check=check, status="error", reason=str(error.args[0]))
    else:
        op = op_or_name
    registered = lucid.registry.get(op.name) is op
    return op, op.name, OpReport(op.name, plugin=lucid.registry.plugin_of(op.name) if registered else None,
                                 check=check, settings=settings_)


class _Run:
    """What the hypothesis test function learns, across its calls."""

    def __init__(self) -> None:
        self.examples = self.rejected = 0
        self.unjudged = 0  # the rejected samples of strata whose samples were all rejected
        self.errors = Errors()
        self.last: tuple | None = None  # the latest input, described only if it fails
        self.failed = self.vacuous = False


def runs_of(strata: Sequence[Stratum], max_examples: int, seed: int) -> list[tuple[Stratum | None, int, int]]:
    """(stratum, examples, seed) of each hypothesis run of a check: one run of every example where
    drawing a call makes no choice, else one run per stratum, sharing the examples (`share_budget`),
    each seeded apart. Where they cannot all have one, the seed says which strata go first."""
    if not strata:
        return [(None, max_examples, seed)]
    start = seed % len(strata)
    order = list(range(start, len(strata))) + list(range(start))
    seeds = np.random.SeedSequence(seed).generate_state(len(strata))
    return [(strata[i], n, int(seeds[i])) for i, n in zip(order, share_budget(max_examples, len(strata))) if n]


def run_seeded(test: Callable[[], None], examples: int, seed: int, **options: Any) -> bool:
    """Run a hypothesis test of `examples` inputs from `seed`, as every check runs one (no deadline,
    no database, no health checks); False when every sample was rejected (one stratum's run can be)."""
    run = settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck),
                   report_multiple_bugs=False, print_blob=True, database=None, **options)(test)
    try:
        hypothesis_seed(seed)(run)()
    except Unsatisfiable:
        return False
    return True


def _fuzz(report: OpReport, runs: Sequence[tuple[st.SearchStrategy[Case], int, int]], dtype: Any,
          check: Callable[[list, Case, np.random.Generator], Errors], shrink: bool = True) -> _Run:
    """Run `check` on the inputs of each hypothesis run (strategy, examples, seed; one per stratum,
    see `runs_of`) until it fails (hypothesis then shrinks the input) or every example passes, and
    put the outcome in `report`: any kind of check runs through here."""
    state = _Run()
    no_shrinking: dict[str, Any] = {} if shrink else {"phases": (Phase.explicit, Phase.generate)}
    for strategy, examples, run_seed in runs:
        rejected_before = state.rejected
        try:
            if not run_seeded(_hypothesis_test(strategy, dtype, state, check), examples, run_seed,
                              **no_shrinking):
                state.unjudged += state.rejected - rejected_before
        except Failure as failure:
            _failed(report, failure, state)
            report.reason = failure.reason
            break
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # the op's metadata or sample() (a SystemExit too), or the harness itself
            _failed(report, None, state, error)
            report.status = "error"
            report.reason = f"{describe_error(error)} (while drawing or checking an input)"
            break
    state.vacuous = state.examples == 0
    report.examples, report.rejected = state.examples, state.rejected
    report.max_abs_error, report.max_rel_error = state.errors.abs, state.errors.rel
    return state


def _hypothesis_test(strategy: st.SearchStrategy, dtype: Any, state: _Run,
                     check: Callable[[list, Case, np.random.Generator], Errors]) -> Callable[..., None]:
    @given(st.data())
    def test(data: st.DataObject) -> None:
        case = data.draw(strategy, label="input")
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="projection seed"))
        arrays = floats_in(case.inputs, dtype)
        state.last = (arrays, case.params)
        try:
            errors = check(arrays, case, rng)
        except Rejected:
            if not state.failed:
                state.rejected += 1
            reject()
        except BaseException:
            state.failed = True
            raise
        if not state.failed:
            state.examples += 1
            state.errors.abs = max(state.errors.abs, errors.abs)
            state.errors.rel = max(state.errors.rel, errors.rel)

    return test


def _failed(report: OpReport, failure: Failure | None, state: _Run, error: BaseException | None = None) -> None:
    report.status = "failed"
    report.failing_input = describe(*state.last) if state.last else None
    if failure is not None:
        report.worst = failure.worst
        state.errors.abs = max(state.errors.abs, failure.max_abs_error)
        state.errors.rel = max(state.errors.rel, failure.max_rel_error)
    notes = getattr(failure or error, "__notes__", [])
    for note in notes:
        match = re.search(r"@reproduce_failure\(.*?\)", note)
        if match:
            report.blob = match.group(0)


def check_ops(names: Iterable[str] | None = None, **kwargs: Any) -> list[OpReport]:
    """check_op on each named op (default: every registered op, in name order)."""
    return [check_op(name, **kwargs) for name in (lucid.registry if names is None else names)]


# --- one function at one input, PyTorch-style ---------------------------------------------------


def gradcheck(fn: Callable[..., Any], inputs: Sequence[Any] | Tensor, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, mode: str = "auto", raise_exception: bool = True, seed: int = 0) -> bool:
    """Check fn's gradients with respect to its inputs that require grad, at these inputs, against
    central differences (in float64). Returns True, or raises GradcheckError (False with
    raise_exception=False). Points of non-differentiability fail here: there is no other input."""
    return _check_function(fn, inputs, 1, eps, atol, rtol, mode, raise_exception, seed)


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Any] | Tensor, grad_outputs: Sequence[Any] | None = None,
                  *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, mode: str = "auto",
                  raise_exception: bool = True, seed: int = 0) -> bool:
    """Check the second derivatives of fn: the derivative of <fn(x), u> 's gradient, for a random
    (or the given) output gradient u, against finite differences of the first-order gradient."""
    return _check_function(fn, inputs, 2, eps, atol, rtol, mode, raise_exception, seed, grad_outputs)


_idle_generators: list[np.random.Generator] = []  # seeded() hands them out, reseeded


@functools.lru_cache(maxsize=256)
def _seeded_state(seed: int) -> Mapping[str, Any]:
    return np.random.PCG64(seed).state


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[np.random.Generator]:
    """`np.random.default_rng(seed)`, the same draws, without seeding a new generator each time:
    seeding took 6-10% of a small fast-mode check. A generator is lent to one check at a time (a
    check may run inside another, or in another thread)."""
    if seed is None:  # fresh entropy on each call, as in NumPy
        yield np.random.default_rng()
        return
    try:
        rng = _idle_generators.pop()  # atomic: two threads never get the same one
    except IndexError:
        rng = np.random.default_rng()
    rng.bit_generator.state = _seeded_state(int(seed))
    try:
        yield rng
    finally:
        _idle_generators.append(rng)


def as_op(fn: Callable[..., Any]) -> tuple[Op | None, dict]:
    """The op behind fn and its params, when fn is an op or `functools.partial(op, name=value)`
    with params only by name: then fn(*inputs) is exactly op(*inputs, **params)."""
    if isinstance(fn, Op):
        return fn, {}
    if isinstance(fn, functools.partial) and isinstance(fn.func, Op) and not fn.args and \
            set(fn.keywords) <= set(fn.func.param_names):
        return fn.func, dict(fn.keywords)
    return None, {}


def _check_function(fn: Callable[..., Any], inputs: Sequence[Any] | Tensor, order: int, eps: float, atol: float,
                    rtol: float, mode: str, raise_exception: bool, seed: int,
                    grad_outputs: Sequence[Any] | None = None) -> bool:
    start = time.perf_counter()
    caller = "gradcheck" if order == 1 else "gradgradcheck"
    if mode not in MODES:
        raise ValueError(f"{caller}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"{caller}: seed must be a non-negative int or None, got {seed!r}")
    tol = Tolerance(atol, rtol, eps)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    op, params = as_op(fn)
    if op is not None and not op.variadic and not op.signature and len(inputs) == len(op.inputs) and \
            all(p.name in op.defaults or p.name in params for p in op.params):
        # an op itself: call its forward and rule directly, which lets the Jacobian be batched
        arrays = [None if x is None else x.data if isinstance(x, Tensor) else np.asarray(x) for x in inputs]
        wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
        target: Target = OpTarget(op, arrays, params, wrt=wrt)
    else:
        target = FunctionTarget(fn, inputs)
    report = OpReport(target.name, examples=1, reproduce="")
    with seeded(seed) as rng:
        try:
            if order == 2:
                if grad_outputs is None:
                    u = unit(rng.standard_normal(target.out_size))
                else:
                    supplied = [grad_outputs] if isinstance(grad_outputs, Tensor) else grad_outputs
                    u = np.concatenate([np.asarray(getattr(g, "data", g), dtype=np.float64).reshape(-1)
                                        for g in supplied])
                target = SecondOrderTarget(target, lambda leaves: fn(*leaves), u)
            errors = check_jacobian(target, tol, mode, rng, what="gradient" if order == 1 else "second derivative")
            report.max_abs_error, report.max_rel_error = errors.abs, errors.rel
        except Rejected as rejected:
            report.status, report.reason = "failed", f"not differentiable here: {rejected}"
        except Failure as failure:
            report.status, report.reason, report.worst = "failed", failure.reason, failure.worst
            report.max_abs_error, report.max_rel_error = failure.max_abs_error, failure.max_rel_error
    report.duration = time.perf_counter() - start
    if report.passed:
        return True
    report.failing_input = describe(target.arrays, {})  # only now: printing the arrays costs more than the check
    if raise_exception:
        raise GradcheckError(report)
    return False
