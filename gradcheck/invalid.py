"""check_invalid_calls: every call an op's metadata makes invalid raises a LucidError naming the op.

The derivative check (`runner.check_op`) draws valid calls; this one draws invalid ones from the
same metadata, each invalid in one way: a valid call (`strategies.inputs_for`) with one thing
changed, or shapes built to break the op's declared shape relation.

- a wrong dtype: a float-only input given integers or bools, an int input (indices) given floats
  or bools, a bool input (a mask, a condition) given floats or integers;
- a param of the wrong type for its declared kind (`lucid.op.KINDS`): 2, 'yes' or 1.5 for a
  bool, 1.5, '1' or True for an int, '1' for a number, 'bogus' or 1 for a choice, 1.5, True or
  '0' for a dim; and None where the default is not None (except for numbers: `normalize`
  takes p=None in PyTorch);
- a dim out of range: one past the largest input's ndim, either sign;
- shapes that do not broadcast, for elementwise ops of two or more inputs;
- for a gufunc signature such as "(m?,n),(n,p?)->(m?,p?)": an input missing a core dim,
  two sizes of one core dim that differ, or loop dims that do not broadcast.

Each is invalid in PyTorch too, with one deliberate difference: a float-only input refuses
integers, where PyTorch would promote them. Ops with their own `sample` relate their shapes in
ways the metadata does not spell out, so only their dtypes and params are varied.
"""
from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

import lucid
from lucid import LucidError, Op, Tensor

from . import plugins
from .checks import describe_error
from .report import Failure, OpReport
from .strategies import arg_of, draw_params, draw_values, inputs_for

#: The dtypes each declared input dtype refuses.
WRONG_DTYPES = {"float": (np.int64, np.bool_), "int": (np.float64, np.bool_), "bool": (np.float64, np.int64),
                "number": (np.bool_,), "integral": (np.float64,)}
#: Values of the wrong type for each param kind (None is added where the default is not None).
WRONG_VALUES = {"bool": (2, "yes", 1.5), "int": (1.5, "1", True), "number": ("1", (1.0,)),
                "choice": ("bogus", 1), "dim": (1.5, True, "0"), "dims": (1.5, "0", (0, 1.5))}
NONE_REFUSED = ("bool", "int", "choice")
SIZES = (2, 3, 4)


@dataclass
class InvalidCall:
    """One drawn invalid call: what is wrong with it, the input arrays and the params."""

    flaw: str
    inputs: tuple[np.ndarray | None, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        inputs = ", ".join("None" if x is None else f"{x.dtype}{list(x.shape)}" for x in self.inputs)
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"{self.flaw}: ({inputs}{params})"


# --- what can be wrong with a call --------------------------------------------------------------


def _wrong_dtype(draw: Callable, op: Op, case: Any) -> InvalidCall | None:
    slots = [i for i, x in enumerate(case.inputs) if x is not None and arg_of(op, i).dtype in WRONG_DTYPES]
    if not slots:
        return None
    i = draw(st.sampled_from(slots))
    arg = arg_of(op, i)
    dtype = draw(st.sampled_from(WRONG_DTYPES[arg.dtype]))
    inputs = list(case.inputs)
    inputs[i] = inputs[i].astype(dtype)
    return InvalidCall(f"{arg.name!r} (input {i}) is {np.dtype(dtype)}, declared {arg.dtype}", tuple(inputs),
                       dict(case.params))


def _wrong_type(draw: Callable, op: Op, case: Any) -> InvalidCall | None:
    params = [p for p in op.params if p.kind in WRONG_VALUES]
    if not params:
        return None
    p = draw(st.sampled_from(params))
    values = WRONG_VALUES[p.kind] + ((None,) if p.default is not None and p.kind in NONE_REFUSED else ())
    value = draw(st.sampled_from(values))
    return InvalidCall(f"{p.name}={value!r}, declared {p.kind}", case.inputs, {**case.params, p.name: value})


def _dim_out_of_range(draw: Callable, op: Op, case: Any) -> InvalidCall | None:
    params = [p for p in op.params if p.kind in ("dim", "dims")]
    if not params:
        return None
    p = draw(st.sampled_from(params))
    bound = max(x.ndim for x in case.inputs if x is not None) + 1  # out of range, even for a new axis
    value = draw(st.sampled_from((bound, -bound - 1) + (((0, bound),) if p.kind == "dims" else ())))
    return InvalidCall(f"{p.name}={value!r} is out of range", case.inputs, {**case.params, p.name: value})


def _filled(draw: Callable, op: Op, shapes: Sequence[tuple[int, ...]], flaw: str) -> InvalidCall:
    """A call with inputs of the given shapes, valid values, and params valid for those shapes."""
    inputs = tuple(draw_values(draw, arg_of(op, i), shape) for i, shape in enumerate(shapes))
    return InvalidCall(flaw, inputs, draw_params(draw, op, shapes))


def _unbroadcastable(draw: Callable, op: Op, case: Any) -> InvalidCall:
    """Two inputs whose last dims differ and neither is 1; any other input is 0-d."""
    i, j = draw(st.lists(st.integers(0, len(op.inputs) - 1), min_size=2, max_size=2, unique=True))
    lead = draw(st.lists(st.sampled_from(SIZES), max_size=2))
    a, b = draw(st.lists(st.sampled_from(SIZES), min_size=2, max_size=2, unique=True))
    shapes = [()] * len(op.inputs)
    shapes[i], shapes[j] = (*lead, a), (*lead, b)
    return _filled(draw, op, shapes, f"inputs {i} and {j} do not broadcast")


def core_dims(signature: str) -> list[list[str]]:
    """The core dims of each input of a gufunc signature: "(m?,n),(n,p?)->..." gives
    [["m?", "n"], ["n", "p?"]]."""
    return [[d.strip() for d in group.split(",") if d.strip()]
            for group in re.findall(r"\(([^)]*)\)", signature.split("->")[0])]


def _bad_core(draw: Callable, op: Op, case: Any) -> InvalidCall:
    """Every core dim present (optional ones too), then one thing broken: an input missing a
    required core dim, one occurrence of a shared core dim of another size, or loop dims of two
    inputs that do not broadcast."""
    cores = core_dims(op.shapes)
    names = [d.rstrip("?") for core in cores for d in core]
    size = {name: draw(st.sampled_from(SIZES)) for name in names}
    shapes = [[size[d.rstrip("?")] for d in core] for core in cores]
    repeated = [name for name in size if names.count(name) > 1]
    ways = ["missing"] + (["mismatched"] if repeated else []) + (["loop"] if len(cores) > 1 else [])
    way = draw(st.sampled_from(ways))
    if way == "missing":
        k = draw(st.sampled_from([k for k, core in enumerate(cores) if any(not d.endswith("?") for d in core)]))
        shapes[k] = [size[d] for d in cores[k] if not d.endswith("?")][1:]
        flaw = f"input {k} has {len(shapes[k])} dims, fewer than its core dims {tuple(cores[k])}"
    elif way == "mismatched":
        name = draw(st.sampled_from(repeated))
        places = [(k, n) for k, core in enumerate(cores) for n, d in enumerate(core) if d.rstrip("?") == name]
        k, n = draw(st.sampled_from(places))
        shapes[k][n] = draw(st.sampled_from([s for s in SIZES + (5,) if s != size[name]]))
        flaw = f"core dim {name!r} has two sizes"
    else:
        a, b = draw(st.lists(st.sampled_from(SIZES), min_size=2, max_size=2, unique=True))
        shapes[0], shapes[1] = [a, *shapes[0]], [b, *shapes[1]]
        flaw = "loop dims of inputs 0 and 1 do not broadcast"
    return _filled(draw, op, [tuple(s) for s in shapes], flaw)


def flaws_of(op: Op) -> list[Callable]:
    """The ways the op's metadata lets a call be made invalid."""
    flaws = []
    if any(a.dtype in WRONG_DTYPES for a in op.inputs):
        flaws.append(_wrong_dtype)
    if any(p.kind in WRONG_VALUES for p in op.params):
        flaws.append(_wrong_type)
    if any(p.kind in ("dim", "dims") for p in op.params):
        flaws.append(_dim_out_of_range)
    if op.sample is None and not op.variadic and op.shapes == "elementwise" and len(op.inputs) > 1:
        flaws.append(_unbroadcastable)
    if op.sample is None and "->" in op.shapes:
        flaws.append(_bad_core)
    return flaws


def invalid_calls(op: Op, example: st.SearchStrategy | None = None) -> st.SearchStrategy[InvalidCall]:
    """Calls of `op` that its metadata makes invalid, each in one way (see the module docstring).
    `example` replaces the op's own way of drawing the valid call that most flaws start from."""
    flaws = flaws_of(op)
    valid = inputs_for(op, example)

    @st.composite
    def calls(draw: Callable) -> InvalidCall:
        start = draw(st.integers(0, len(flaws) - 1))
        case = draw(valid)
        for flaw in flaws[start:] + flaws[:start]:  # the first that applies to this valid call
            call = flaw(draw, op, case)
            if call is not None:
                return call
        reject()  # e.g. only an optional input is typed, and the valid call left it out

    return calls()


# --- the check ----------------------------------------------------------------------------------


def invoke(op: Op, inputs: Sequence[np.ndarray | None], params: dict[str, Any]) -> Any:
    """Call the op the way a user does: Tensors positionally (or by name, for an op whose
    PyTorch signature puts params among them), params by name."""
    tensors = [None if x is None else Tensor(x) for x in inputs]
    if op.signature:
        by_name = {op.inputs[0].name: tensors} if op.variadic else dict(zip((a.name for a in op.inputs), tensors))
        return op(**by_name, **params)
    return op(tensors, **params) if op.variadic else op(*tensors, **params)


def expect_refusal(op: Op, call: InvalidCall) -> None:
    """Raise Failure unless calling the op raises a LucidError that names it."""
    short = op.name.rsplit(".", 1)[-1]  # "pad" names nn.functional.pad
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = invoke(op, call.inputs, call.params)
    except LucidError as error:
        if short not in str(error):
            raise Failure(f"the error does not name the op: {describe_error(error)}") from error
        return
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: the op's failure, not the end of the run
        raise Failure(f"raised {describe_error(error)}, not a LucidError naming the op") from error
    shapes = [tuple(t.shape) for t in (result if isinstance(result, tuple) else (result,))]
    raise Failure(f"accepted the invalid call, returning shape(s) {shapes}")


def check_invalid_calls(op_or_name: Op | str, *, max_examples: int = 25, seed: int | None = None) -> OpReport:
    """Draw invalid calls of `op` (a registered name, or any `Op`) from its metadata and check
    that each raises a LucidError naming the op: never another exception, never a result.
    Without a seed the run is derandomized, the same on every run (as in CI)."""
    start = time.perf_counter()
    op = lucid.registry[op_or_name] if isinstance(op_or_name, str) else op_or_name
    registered = lucid.registry.get(op.name) is op
    report = OpReport(op.name, plugin=lucid.registry.plugin_of(op.name) if registered else None,
                      check="invalid calls", settings={"max_examples": max_examples, "seed": seed})
    if not flaws_of(op):
        report.status, report.reason = "skipped", "its metadata makes no call invalid"
        return report
    strategy = invalid_calls(op, plugins.hook().lucid_gradcheck_strategy(op=op))
    last: list[InvalidCall] = []

    @given(strategy)
    def test(call: InvalidCall) -> None:
        last[:] = [call]
        report.examples += 1
        expect_refusal(op, call)

    run = settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck),
                   report_multiple_bugs=False, database=None, derandomize=seed is None)(test)
    if seed is not None:
        run = hypothesis_seed(seed)(run)
    try:
        run()
    except Failure as failure:  # hypothesis replays the shrunk failing call last
        report.status, report.reason = "failed", failure.reason
        report.failing_input = repr(last[0]) if last else None
    except Exception as error:  # the op's metadata or sample(), or the harness itself
        report.status, report.reason = "error", f"{describe_error(error)} (while drawing an invalid call)"
    report.duration = time.perf_counter() - start
    return report
