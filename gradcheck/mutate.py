"""Mutation analysis: how much of a wrong derivative would the derivative check catch?

A passing check says the rule agrees with finite differences on the inputs the harness drew, no
more. To measure what that is worth, make *mutants* of an op's rule, small wrong versions of it,
and run the op's derivative check on each: a mutant the check fails is killed, one it passes
survived. A survivor is either an equivalent program (the same function, written differently) or
a blind spot: inputs the op accepts that its metadata never has the harness draw.

Two sources of mutants, as in mutation-testing tools (mutmut, cosmic-ray):

- the rule's source, one small AST change at a time (`SOURCE_MUTATIONS`): an operator swapped, a
  comparison loosened, a term dropped, a constant changed, two arguments of a call swapped, one
  argument name read in place of another;
- the rule's meaning (`SEMANTIC_MUTATIONS`), for rules whose source cannot be read: its gradients
  scaled or negated, the cotangent ignored, one input's gradient dropped.

Checks of mutants run in this process and stop at the first failing example without shrinking.
For each survivor the report says whether it gave a different gradient from the rule's on any
drawn input: if never, it is likely equivalent (or differs only where nothing is drawn).
With an oracle (`mutate(op, oracle="torch")`) a survivor of the derivative check is also compared
with PyTorch's gradients, edge points included: a rule wrong only at 0, a kink or a singular
matrix, where finite differences cannot look, dies there. `mutate(op)` is the entry point.

Each mutant has an id that stays the same from run to run and while the rest of the rule changes:
a hash of the statement it changes, before and after. The built-ins' survivors that were reviewed
and found equivalent are listed by op and id, each with its reason, in `equivalent_mutants.json`
(`equivalent_mutants()` reads it); the score is over the mutants not listed there.
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import hashlib
import inspect
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lucid import Op

from .checks import requiring_grad
from .oracle import differentiable, lucid_library, run
from .report import MutantOutcome, OpReport
from .runner import _resolve, check_op, check_oracle, derivative_draws, run_seeded, runs_of
from .strategies import floats_in

# --- mutants of the source -------------------------------------------------------------------------

#: One AST node type -> what it may become. Each entry is one classic mutation operator.
OPERATOR_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Div,), ast.Div: (ast.Mult,),
    ast.Pow: (ast.Mult,), ast.MatMult: (ast.Mult,),
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt, ast.LtE),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
    ast.BitAnd: (ast.BitOr,), ast.BitOr: (ast.BitAnd,), ast.And: (ast.Or,), ast.Or: (ast.And,),
}


def _variants(node: ast.AST, names: tuple[str, ...]) -> Iterator[ast.AST]:
    """Every single-point change of `node` itself (not of its children)."""
    if isinstance(node, ast.BinOp):
        for new in OPERATOR_SWAPS.get(type(node.op), ()):
            yield ast.BinOp(node.left, new(), node.right)
        if isinstance(node.op, (ast.Add, ast.Sub)):  # a dropped term
            yield node.left
            yield node.right
    elif isinstance(node, ast.BoolOp):
        for new in OPERATOR_SWAPS.get(type(node.op), ()):
            yield ast.BoolOp(new(), node.values)
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for new in OPERATOR_SWAPS.get(type(node.ops[0]), ()):
            yield ast.Compare(node.left, [new()], node.comparators)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield node.operand
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        yield ast.Constant(node.value + 1)  # type: ignore[operator]  # an int or a float, by the test above
    elif isinstance(node, ast.Call) and len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args):
        yield ast.Call(node.func, [node.args[1], node.args[0], *node.args[2:]], node.keywords)
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names:
        for other in names:
            if other != node.id:
                yield ast.Name(other, ast.Load())


def rule_definition(fn: Callable[..., Any]) -> ast.FunctionDef | ast.Lambda | None:
    """The `def` or `lambda` node that defined fn, found in its module's source, or None where the
    source cannot be read (a builtin, a function made at run time)."""
    try:
        code = fn.__code__
        lines, _ = inspect.findsource(code)
    except (AttributeError, OSError, TypeError):
        return None
    candidates = [node for node in ast.walk(ast.parse("".join(lines)))
                  if isinstance(node, (ast.FunctionDef, ast.Lambda)) and code.co_firstlineno ==
                  min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])]
    if len(candidates) == 1:
        return candidates[0]
    for node in candidates:  # several lambdas on one line: the one that compiles to fn's code
        lambda_ = isinstance(node, ast.Lambda)
        tree = ast.Expression(node) if lambda_ else ast.Module([node], [])  # type: ignore[arg-type, list-item]
        same = compile(tree, code.co_filename, "eval" if lambda_ else "exec")
        if any(getattr(c, "co_code", None) == code.co_code for c in same.co_consts):
            return node
    return None


def _names_read(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The rule's own arguments (g, out, the inputs, the params): the names a mutant may swap."""
    return tuple(inspect.signature(fn).parameters)


def source_mutants(fn: Callable[..., Any]) -> Iterator[tuple[str, str, Callable[..., Any]]]:
    """(id, description, mutant function) for each single-point AST change of fn's definition."""
    definition = rule_definition(fn)
    if definition is None:
        return
    names = _names_read(fn)
    namespace = dict(fn.__globals__)
    namespace.update(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__ or ())))
    body = definition.body if isinstance(definition, ast.Lambda) else definition
    sites = [n for n in ast.walk(body) if not isinstance(n, (ast.arguments, ast.arg))]
    seen: dict[str, int] = {}
    for index, site in enumerate(sites):
        for variant in _variants(site, names):
            mutant_tree = copy.deepcopy(definition)
            target = [n for n in ast.walk(mutant_tree.body if isinstance(mutant_tree, ast.Lambda) else mutant_tree)
                      if not isinstance(n, (ast.arguments, ast.arg))][index]
            statement = _statement_of(mutant_tree, target)
            before = ast.unparse(statement)
            _replace(mutant_tree, target, copy.deepcopy(variant))
            change = f"{before}\n{ast.unparse(statement)}"
            seen[change] = seen.get(change, -1) + 1  # the same change twice in one rule: told apart by order
            where = f"{os.path.basename(fn.__code__.co_filename)}:{getattr(site, 'lineno', definition.lineno)}:" \
                    f"{getattr(site, 'col_offset', -1) + 1}"
            description = f"{where}: {ast.unparse(site)}  ->  {ast.unparse(variant)}"
            mutant = _compile(mutant_tree, fn, namespace)
            if mutant is not None:
                yield _digest(change, str(seen[change])), description, mutant


def _statement_of(tree: ast.AST, node: ast.AST) -> ast.AST:
    """The innermost statement (or lambda) of `tree` that holds `node`: what a mutant's id hashes."""
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    while not isinstance(node, (ast.stmt, ast.Lambda)) and node in parents:
        node = parents[node]
    return node


def _digest(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:10]


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    """Put `new` where `old` is in `tree` (one node, found by identity)."""
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                value[[v is old for v in value].index(True)] = new
                return


def _compile(tree: ast.FunctionDef | ast.Lambda, fn: Callable[..., Any], namespace: dict) -> Callable[..., Any] | None:
    tree = ast.fix_missing_locations(tree)
    try:
        if isinstance(tree, ast.Lambda):
            return eval(compile(ast.Expression(tree), fn.__code__.co_filename, "eval"), namespace)
        tree.decorator_list = []
        scope = dict(namespace)
        exec(compile(ast.Module([tree], []), fn.__code__.co_filename, "exec"), scope)
        return scope[tree.name]
    except (SyntaxError, ValueError, TypeError):  # a change that is not a program (rare)
        return None


# --- mutants of the meaning ---------------------------------------------------------------------


def _map_grads(fn: Callable[..., Any], change: Callable[[Any], Any]) -> Callable[..., Any]:
    def mutant(*args: Any, **kwargs: Any) -> tuple:
        return tuple(None if grad is None else change(grad) for grad in fn(*args, **kwargs))
    return mutant


def _ignoring_cotangent(fn: Callable[..., Any]) -> Callable[..., Any]:
    def mutant(g: Any, *args: Any, **kwargs: Any) -> tuple:
        ones = tuple(x * 0 + 1 for x in g) if isinstance(g, tuple) else g * 0 + 1
        return fn(ones, *args, **kwargs)
    return mutant


def _dropping(fn: Callable[..., Any], i: int) -> Callable[..., Any]:
    def mutant(*args: Any, **kwargs: Any) -> tuple:
        grads = list(fn(*args, **kwargs))
        grads[i] = None
        return tuple(grads)
    return mutant


def semantic_mutants(op: Op) -> Iterator[tuple[str, Callable[..., Any]]]:
    """Wrong rules that any op can have, whatever its source says."""
    fn = op.vjp
    yield "every gradient scaled by 1.01", _map_grads(fn, lambda grad: grad * 1.01)
    yield "every gradient negated", _map_grads(fn, lambda grad: -grad)
    yield "the cotangent ignored (taken as ones)", _ignoring_cotangent(fn)
    for i, arg in enumerate(op.inputs):
        if arg.differentiable and not op.variadic:
            yield f"the gradient of {arg.name!r} dropped", _dropping(fn, i)


# --- running ------------------------------------------------------------------------------------


class Mutant(NamedTuple):
    """One wrong version of an op: the op with its rule replaced."""

    kind: str  # "source" or "semantic"
    id: str  # stable across runs: a hash of the changed statement, before and after (or of the description)
    description: str  # where and what: "linalg.py:68:20: 1  ->  2"
    op: Op


def mutants_of(op: Op) -> list[Mutant]:
    """Every mutant of op's rule: the source's first."""
    found = [("source", i, d, m) for i, d, m in source_mutants(op.vjp)] + \
            [("semantic", _digest(d), d, m) for d, m in semantic_mutants(op)]
    return [Mutant(kind, id, description, dataclasses.replace(op, vjp=rule)) for kind, id, description, rule in found]


#: The reviewed list of the built-ins' surviving mutants that are equivalent programs.
EQUIVALENT_MUTANTS = Path(__file__).with_name("equivalent_mutants.json")


@functools.cache
def equivalent_mutants(path: Path = EQUIVALENT_MUTANTS) -> dict[tuple[str, str], str]:
    """(op, mutant id) -> why the mutant is equivalent, from a reviewed list: a JSON array of
    {"op", "id", "change", "reason"} (the change is for the reader; op and id identify the mutant).
    A mutant listed there computes the rule's gradient on every input the op accepts, or differs
    only at a declared kink or by a deliberate convention, so no check can or should kill it."""
    entries = json.loads(Path(path).read_text())
    return {(entry["op"], entry["id"]): entry["reason"] for entry in entries}


def _same(a: np.ndarray | None, b: np.ndarray | None, shape: tuple[int, ...]) -> bool:
    """Two gradients of one input agree (None is a zero gradient; NaN matches NaN)."""
    zeros = np.zeros(shape)
    return np.allclose(zeros if a is None else a, zeros if b is None else b, rtol=1e-9, atol=1e-12, equal_nan=True)


def differed(op: Op, mutant: Op, max_examples: int, seed: int, order: int, dtype: str) -> bool:
    """Whether the mutant's gradient differs from the rule's on any input drawn as the check
    draws them (the same strata and seeds, and the same inputs requiring grad: all, and in a
    third of the examples also a part), for a random cotangent."""
    found = []

    def compare(data: st.DataObject, strategy: st.SearchStrategy) -> None:
        case = data.draw(strategy)
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
        arrays = floats_in(case.inputs, dtype)  # as the check casts them: a rule may read the dtype
        outputs = run(lucid_library(op, case.params), arrays).outputs or []
        cotangents = [rng.standard_normal(o.shape).astype(o.dtype if o.dtype.kind == "f" else np.float64)
                      for o in outputs]
        partial = requiring_grad(op, arrays, rng)  # as the check draws it: a rule may skip the wrong input
        for wrt in [differentiable(op, arrays)] + ([list(partial)] if partial else []):
            ours = run(lucid_library(op, case.params), arrays, wrt, cotangents)
            theirs = run(lucid_library(mutant, case.params), arrays, wrt, cotangents)
            if (ours.error is None) != (theirs.error is None) or not all(
                    _same(a, b, arrays[i].shape) for i, a, b in zip(wrt, ours.grads or (), theirs.grads or ())):
                found.append(True)
                return

    inputs, strata = derivative_draws(op, dtype, order)
    for stratum, examples, run_seed in runs_of(strata, max_examples, seed):
        run_seeded(given(data=st.data(), strategy=st.just(inputs(stratum)))(compare), examples, run_seed)
    return bool(found)


class Judge:
    """Whether the checks kill a mutant of `op`'s rule: its derivative check first and, for a survivor,
    the oracle check where one is given. The oracle sees what finite differences cannot: a gradient at
    an edge point (0, a kink, a tie, a singular matrix), where the rule follows PyTorch's convention.
    It judges only if the rule itself passes it, asked once, when a mutant first survives."""

    def __init__(self, op: Op, oracle: str | None = None, **settings: Any) -> None:
        self.op, self.requested, self.settings = op, oracle, settings

    @functools.cached_property
    def oracle(self) -> str | None:
        if self.requested is None or not check_oracle(self.op, oracle=self.requested, **self.settings).passed:
            return None  # no counterpart, or the rule disagrees with it: it cannot tell mutants apart
        return self.requested

    def __call__(self, mutant: Op) -> tuple[bool, str]:
        """(killed, why)."""
        checked = check_op(mutant, shrink=False, **self.settings)
        if checked.status in ("failed", "error"):
            return True, checked.reason
        if self.oracle is not None:
            compared = check_oracle(mutant, oracle=self.oracle, **self.settings)
            if compared.status == "failed":
                return True, f"the {self.oracle} oracle: {compared.reason}"
        return False, ""


def mutate(op_or_name: Op | str, *, max_examples: int = 100, seed: int = 0, order: int = 1,
           dtype: str = "float64", equivalents: Path = EQUIVALENT_MUTANTS, oracle: str | None = None) -> OpReport:
    """Mutation analysis of one op's rule (a registered name or any `Op`): every mutant checked as
    `check_op` would check the op (no shrinking) and, with `oracle="torch"`, as `check_oracle` would
    (see `Judge`), and a report of what was killed and what survived. A survivor listed in
    `equivalents` (see `equivalent_mutants`) carries its reason; the report's status is "failed"
    when a mutant survived that is not listed."""
    start = time.perf_counter()
    op, name, report = _resolve(op_or_name, "mutation", {"max_examples": max_examples, "seed": seed, "order": order,
                                                         "dtype": dtype, "oracle": oracle})
    if op is None:
        return report
    if not any(arg.differentiable for arg in op.inputs):
        report.status, report.reason = "skipped", "no differentiable input"
        return report
    judge = Judge(op, oracle, max_examples=max_examples, seed=seed, order=order, dtype=dtype)
    equivalent = equivalent_mutants(equivalents)
    for kind, id, description, mutant in mutants_of(op):
        killed, why = judge(mutant)
        report.mutants.append(MutantOutcome(
            kind, description, killed, why,
            None if killed else differed(op, mutant, max_examples, seed, order, dtype),
            id, "" if killed else equivalent.get((op.name, id), "")))
    unexplained = [m for m in report.mutants if not m.killed and not m.equivalent]
    if unexplained:
        report.status = "failed"
        report.reason = f"{len(unexplained)} of {len(report.mutants)} mutants survived"
    report.duration = time.perf_counter() - start
    return report
