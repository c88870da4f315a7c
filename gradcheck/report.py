"""What a check says: an `OpReport` per op, and the exception that carries a failure.

A report is for a person first: `format()` names the op, the input, the few worst Jacobian
entries with everything needed to judge them, the shrunk input and one command that replays
the failure. It never prints a whole matrix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np


@dataclass
class Entry:
    """One Jacobian entry d output[output] / d input[input][index] (or, in fast mode, one random
    projection of the Jacobian, with empty indices)."""

    input: int
    index: tuple[int, ...]
    output: tuple[int, ...]
    analytic: float
    numerical: float
    abs_error: float
    rel_error: float
    value: float | None  # the input's value at `index`

    def row(self) -> str:
        value = "" if self.value is None else f"{self.value:.6g}"
        return (f"  {self.input:>5}  {str(self.index):<12} {str(self.output):<12} {value:>12} {self.analytic:>14.7g} "
                f"{self.numerical:>14.7g} {self.abs_error:>10.3g} {self.rel_error:>10.3g}")


def header(ours: str, theirs: str) -> str:
    return (f"  {'input':>5}  {'index':<12} {'output':<12} {'value':>12} {ours:>14} {theirs:>14} "
            f"{'abs err':>10} {'rel err':>10}")


#: The columns of the worst entries, by the kind of check that found them.
HEADERS = {"derivative": ("  worst entries (d output[output] / d input[index]):", header("analytic", "numerical")),
           "oracle": ("  worst entries (the output, or the gradient of the input, at index):",
                      header("lucid", "reference"))}


class Failure(Exception):
    """A check found something wrong with the function under test (not with the harness)."""

    def __init__(self, reason: str, input: int | None = None, worst: list[Entry] | None = None,
                 max_abs_error: float = 0.0, max_rel_error: float = 0.0):
        super().__init__(reason)
        self.reason, self.input, self.worst = reason, input, worst or []
        self.max_abs_error, self.max_rel_error = max_abs_error, max_rel_error


class Rejected(Exception):
    """The drawn input sits at a non-differentiable point: there is nothing to check there."""


@dataclass
class MutantOutcome:
    """One mutant of an op's rule (`gradcheck.mutate`) and what the derivative check made of it."""

    kind: str  # "source" (an AST change of the rule) or "semantic" (the rule's result changed)
    description: str  # "exponential.py:15:36: g * out  ->  g / out", or "every gradient negated"
    killed: bool
    reason: str = ""  # why the check failed it
    differed: bool | None = None  # for a survivor: did it ever give another gradient on a drawn input?
    id: str = ""  # the same in every run (`gradcheck.mutate.mutants_of`): what the equivalents list names
    equivalent: str = ""  # for a survivor reviewed as an equivalent program: why (`equivalent_mutants.json`)

    def row(self) -> str:
        verdict = ("differed on drawn inputs, yet passed" if self.differed
                   else "never differed on a drawn input: equivalent, or wrong only where nothing is drawn")
        return f"  survived [{self.kind} {self.id}] {self.description}\n      {verdict}"


class MutationScore(NamedTuple):
    """How many mutants were killed of those scored: every mutant but the survivors reviewed as
    equivalent programs, which no check could kill."""

    killed: int
    equivalent: int
    scored: int

    @property
    def fraction(self) -> float:
        return self.killed / max(self.scored, 1)


def mutation_score(mutants: Sequence[MutantOutcome]) -> MutationScore:
    """The score of a set of mutants (one op's, or a whole run's)."""
    equivalent = sum(bool(m.equivalent) for m in mutants)
    return MutationScore(sum(m.killed for m in mutants), equivalent, len(mutants) - equivalent)


@dataclass
class OpReport:
    """The outcome of checking one op (or one function)."""

    op: str
    plugin: str | None = None
    check: str = "derivative"  # the kind: "derivative" (finite differences), "oracle", "invalid calls", "mutation"
    status: str = "passed"  # "passed" | "failed" | "error" | "skipped"
    examples: int = 0
    rejected: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    duration: float = 0.0
    reason: str = ""
    failing_input: str | None = None
    worst: list[Entry] = field(default_factory=list)
    reproduce: str = ""
    blob: str | None = None  # hypothesis's @reproduce_failure decorator, when it gave one
    settings: dict[str, Any] = field(default_factory=dict)
    mutants: list[MutantOutcome] = field(default_factory=list)  # check="mutation": every mutant tried

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def counts(self) -> str:
        """What was tried: examples (and how many were rejected), or mutants and how many were killed."""
        if self.check == "mutation":
            score = mutation_score(self.mutants)
            listed = f", {score.equivalent} equivalent" if score.equivalent else ""
            return f"{len(self.mutants)} mutants, {score.killed} killed{listed}, score {score.fraction:.1%}"
        return f"{self.examples} examples, {self.rejected} rejected"

    def summary(self) -> str:
        """One line: status, op, counts, errors, time."""
        where = f" [{self.plugin}]" if self.plugin else ""
        kind = "" if self.check == "derivative" else f" ({self.check})"
        counts = self.counts()
        errors = (f", max abs err {self.max_abs_error:.2g}, max rel err {self.max_rel_error:.2g}"
                  if self.check in HEADERS else "")  # the kinds that compare numbers
        line = f"{self.status.upper():7} {self.op}{kind}{where}: {counts}{errors}, {self.duration:.2f}s"
        return line + (f" -- {self.reason}" if self.reason and not self.passed else "")

    def format(self) -> str:
        """The human report: the summary, and for a failure everything needed to act on it."""
        lines = [self.summary()]
        if self.passed:
            return lines[0]
        if self.failing_input:
            lines.append(f"  minimal failing input: {self.failing_input}")
        lines.extend(m.row() for m in self.mutants if not m.killed and not m.equivalent)
        if self.worst:
            lines.extend(HEADERS[self.check])
            lines.extend(e.row() for e in self.worst)
        if self.reproduce:
            lines.append(f"  reproduce: {self.reproduce}")
        if self.blob:
            lines.append(f"  or replay the exact example with {self.blob} on a hypothesis test")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


class GradcheckError(AssertionError):
    """Raised by `gradcheck`/`gradgradcheck` (and `check_op(..., raise_exception=True)`) on a failure;
    `.report` is the structured `OpReport`."""

    def __init__(self, report: OpReport):
        super().__init__(report.format())
        self.report = report


def worst_entries(input: int, shape: tuple[int, ...], out_shapes: list[tuple[int, ...]], analytic: np.ndarray,
                  numerical: np.ndarray, badness: np.ndarray, x: np.ndarray, count: int = 5) -> list[Entry]:
    """The `count` entries of an (M, N) Jacobian comparison with the largest badness."""
    flat = badness.reshape(-1)
    order = np.argsort(-np.nan_to_num(flat, nan=np.inf))[:count]
    entries = []
    sizes = [int(np.prod(s, dtype=int)) for s in out_shapes]
    for k in order:
        if not flat[k] > 1:
            break
        m, j = divmod(int(k), analytic.shape[1])
        out = m
        for o, (s, n) in enumerate(zip(out_shapes, sizes)):
            if out < n:
                output = tuple(int(v) for v in np.unravel_index(out, s)) if s else ()
                output = (o, *output) if len(out_shapes) > 1 else output
                break
            out -= n
        index = tuple(int(v) for v in np.unravel_index(j, shape)) if shape else ()
        a, n_ = float(analytic[m, j]), float(numerical[m, j])
        err = abs(a - n_)
        entries.append(Entry(input, index, output, a, n_, err, err / abs(n_) if n_ else float("inf") if err else 0.0,
                             float(x.reshape(-1)[j])))
    return entries
