"""`lucid-gradcheck`: check the derivative of every registered op, on a laptop or in CI.

    lucid-gradcheck                      # every op: the built-ins and every installed plugin
    lucid-gradcheck exp log -v           # two ops, one line each
    lucid-gradcheck -k "linalg and not inv" -j 2
    lucid-gradcheck -p my_ops.draft      # ops of a module that is not packaged yet
    python -m gradcheck --version        # the same command, as a module

Each op is fuzzed by `gradcheck.check_op` (its derivative) and, where there is an oracle to
compare with, `gradcheck.check_oracle` (its values and gradients against PyTorch with `--oracle
torch`, or against the op's own `reference`); this module only selects ops, runs the checks (in
several processes with `-j`), and reports like pytest: a summary line, every failure with the
command that reproduces it, JSON and JUnit XML for machines, and pytest's exit codes.
Nothing heavy is imported until a check is asked for, so `--help` is instant and the pytest
plugin can share the helpers below.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import shlex
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from lucid.errors import PluginError
    from lucid.plugins import Registry

    from gradcheck import OpReport

# Exit codes, as pytest's.
OK, FAILED, INTERRUPTED, INTERNAL_ERROR, USAGE_ERROR, NO_OPS = range(6)

#: hypothesis settings profiles. "ci" is hypothesis's own (derandomized, no example database),
#: loaded automatically when the CI environment variable is set. Checks can be slow, so no deadline.
PROFILES: dict[str, dict[str, Any]] = {"dev": dict(deadline=None), "thorough": dict(deadline=None, max_examples=1000)}


#: Seconds an op's check may take. The slowest built-in op, nn.functional.conv2d, took 126 s at the
#: thorough profile and about 330 s (10x its 33 s at dev) at thorough --order 2, on a loaded 2-core machine.
DEFAULT_TIMEOUT = 900.0


class UsageError(Exception):
    """The command line asks for something impossible; exit code 4."""


def require_hypothesis() -> None:
    """The checks draw their inputs with hypothesis, which `import lucid` never needs: Lucid
    installed without its gradcheck extra has no hypothesis. Say what to install, before anything."""
    import importlib.util

    if importlib.util.find_spec("hypothesis") is None:
        raise UsageError("the checks draw their inputs with hypothesis, which is not installed: pip install "
                         "hypothesis (or install Lucid with its gradcheck extra)")


def require_torch() -> None:
    """The torch oracle needs PyTorch, which Lucid never depends on: say so before any check."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise UsageError("--oracle torch compares with PyTorch, which is not installed: pip install torch "
                         "(or Lucid's torch extra)")


def check_writable(flag: str, path: str) -> None:
    """Refuse a report path that cannot be written now, rather than after an hour of checks."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path}: is a directory, expected a file name")
    if not os.path.isdir(directory):
        raise UsageError(f"{flag} {path}: directory {directory} does not exist")
    try:  # os.access answers for permissions only (and root has them all): try, changing nothing
        if os.path.exists(path):
            open(path, "a").close()
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as error:
        raise UsageError(f"{flag} {path}: not writable ({error.strerror or error})") from None


def write_report(flag: str, path: str, data: bytes) -> None:
    """Write a report whole or not at all (`lucid.serialization.write_atomically`): a full disk
    leaves any earlier report as it was, and the user a message, not a traceback."""
    from lucid.serialization import write_atomically

    try:
        write_atomically(path, lambda file: file.write(data))
    except OSError as error:
        raise UsageError(f"{flag} {path}: the report could not be written ({error.strerror or error})") from None


def cache_directory() -> str:
    """Where the command keeps hypothesis's files: the user's cache directory (XDG_CACHE_HOME, or
    ~/.cache; LOCALAPPDATA on Windows), not `.hypothesis/` in whatever folder it runs in."""
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        base = os.environ["LOCALAPPDATA"]
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lucid", "hypothesis")


def use_cache_directory() -> None:
    """Send hypothesis's storage to `cache_directory()`, unless HYPOTHESIS_STORAGE_DIRECTORY (its
    own setting) says where. The checks keep no example database (each failure prints its seed
    and a command that replays it); what hypothesis still writes is its cache of the constants
    it finds in local source files."""
    from hypothesis.configuration import set_hypothesis_home_dir

    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        set_hypothesis_home_dir(cache_directory())


def register_profiles() -> None:
    """Make the dev and thorough profiles known to hypothesis (ci is built in)."""
    from hypothesis import settings

    for name, values in PROFILES.items():
        settings.register_profile(name, **values)


def run_seed(seed: int | None) -> int:
    """The seed of a run: the one asked for, 0 under a derandomized profile (ci), else a random
    one. It is always explicit, so that every reproduction command can name it."""
    from hypothesis import settings

    if seed is not None:
        return seed
    return 0 if settings().derandomize else random.randrange(2**32)


def default_profile() -> str:
    return "ci" if "CI" in os.environ else "dev"


# -- Selecting ops -------------------------------------------------------------------------------

def keyword_matcher(expression: str) -> Callable[[Sequence[str]], bool]:
    """Compile a `-k` expression as pytest does: each word matches when it is a case-insensitive
    substring of one of the given names (an op's name or its plugin's), combined with
    `and`, `or`, `not` and parentheses. An empty expression matches everything."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal position
        token = peek()
        if token is None or (expected and token != expected):
            where = f"got {token!r}" if token else "the expression ended"
            raise UsageError(f"-k {expression!r}: expected {expected or 'a word'}, {where}")
        position += 1
        return token

    def chain(operator: str, operand: Callable, combine: Callable) -> Callable[[Sequence[str]], bool]:
        """operand (operator operand)*, e.g. `a or b or c` -> any of them."""
        terms = [operand()]
        while peek() == operator:
            take()
            terms.append(operand())
        return lambda names: combine(term(names) for term in terms)

    def disjunction() -> Callable[[Sequence[str]], bool]:
        return chain("or", conjunction, any)

    def conjunction() -> Callable[[Sequence[str]], bool]:  # `and` binds tighter than `or`
        return chain("and", negation, all)

    def negation() -> Callable[[Sequence[str]], bool]:
        if peek() == "not":
            take()
            inner = negation()
            return lambda names: not inner(names)
        if peek() == "(":
            take()
            inner = disjunction()
            take(")")
            return inner
        word = take()
        if word in ("and", "or", ")"):
            raise UsageError(f"-k {expression!r}: expected a word, got {word!r}")
        word = word.lower()
        return lambda names: any(word in name.lower() for name in names)

    if not tokens:
        return lambda names: True
    matcher = disjunction()
    if peek() is not None:
        raise UsageError(f"-k {expression!r}: unexpected {peek()!r}")
    return matcher


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N), with 1 <= K <= N."""
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise UsageError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 1/4")
    return int(match[1]), int(match[2])


def select(registry: Registry, names: Sequence[str] = (), keyword: str = "",
           shard: tuple[int, int] = (1, 1)) -> list[str]:
    """The sorted names of the ops to check. Shard K of N takes every N-th op from the K-th, so
    each shard gets a similar mix of cheap and expensive ops, and the shards cover every op once."""
    unknown = [name for name in names if name not in registry]
    if unknown:
        hint = "".join(f"\n  {error}" for error in registry.errors)
        raise UsageError(f"no op named {', '.join(map(repr, unknown))} is registered "
                         f"(see `lucid-gradcheck --list`){hint}")
    matches = keyword_matcher(keyword)
    chosen = [name for name in (sorted(set(names)) or registry)
              if matches((name, registry.plugin_of(name)))]
    k, n = shard
    return chosen[k - 1::n]


def load_plugins(modules: Sequence[str]) -> list[PluginError]:
    """Import Lucid (which loads the built-ins and the entry-point plugins), then register each
    `-p` module, found as `python -m` finds modules: the current directory first on the path. A
    module an entry point has already registered is left as it is. Returns every plugin that
    failed, from either source."""
    import importlib
    import warnings

    with warnings.catch_warnings():  # a failing plugin is reported once, by us, not as a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        import lucid
        errors = [error for error in lucid.registry.errors if error.plugin not in modules]
        if modules and not {"", ".", os.getcwd()} & set(sys.path):  # (a console script has its bin/ there)
            sys.path.insert(0, os.getcwd())
        for module in modules:  # (a worker forked from a process that loaded them finds them loaded)
            error = lucid.registry.load_plugin(module, functools.partial(importlib.import_module, module),
                                               "failed to import: ")
            errors += [error] if error else []
    return errors


def describe(name: str, registry: Registry) -> str:
    """One `--list` line: the op, its plugin, its arity, its parameters and its inputs' domains."""
    op = registry[name]

    def domain(arg: Any) -> str:
        text = f"{arg.name}: {arg.dtype} ({arg.low:g}, {arg.high:g})"
        return text + (f" {arg.structure}" if arg.structure else "") + (" optional" if arg.optional else "")

    def param(p: Any) -> str:
        choices = getattr(p.choices, "__name__", None) or ("|".join(map(repr, p.choices)) if p.choices else "")
        return f"{p.name}={p.default!r}" + (f" in {choices}" if choices else "")

    arity = "variadic" if op.variadic else f"{op.arity} input{'s' * (op.arity != 1)}"
    parts = [f"{name:<28} {registry.plugin_of(name):<28} {arity:<9}", "; ".join(map(domain, op.inputs))]
    if op.params:
        parts.append("params: " + ", ".join(map(param, op.params)))
    return "  ".join(parts)


# -- Running checks ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Options:
    """Everything a check depends on; sent to worker processes, and turned back into the command
    line that reproduces a check exactly."""

    profile: str
    max_examples: int
    seed: int
    order: int = 1
    mode: str = "auto"
    dtype: str = "float64"
    plugins: tuple[str, ...] = ()
    oracle: str = "reference"  # what the oracle check compares with: the op's own reference, or "torch"
    checks: str = "all"  # the kinds of check to run: "all", "derivative", "oracle", or "mutation" (--mutate)

    def command(self, name: str, kind: str = "derivative") -> str:
        """The `lucid-gradcheck` command that repeats this check (of this kind) of op `name`."""
        words = ["lucid-gradcheck", name, "--profile", self.profile, "--max-examples", str(self.max_examples),
                 "--seed", str(self.seed)] + ["--mutate"] * (kind == "mutation")
        for flag, value, default in (("--check", kind, "mutation" if kind == "mutation" else "derivative"),
                                     ("--oracle", self.oracle, "reference"),
                                     ("--order", self.order, 1), ("--mode", self.mode, "auto"),
                                     ("--dtype", self.dtype, "float64")):
            if value != default:
                words += [flag, str(value)]
        for module in self.plugins:
            words += ["-p", module]
        return shlex.join(words)


def prepare(profile: str, plugins: Sequence[str]) -> list[PluginError]:
    """Set hypothesis up (its profile, its storage) and load the plugins, once per process (the
    main one and each worker); returns the plugins that failed to load."""
    from hypothesis import settings

    use_cache_directory()
    register_profiles()
    settings.load_profile(profile)
    return load_plugins(plugins)


def worker(options: Options) -> None:
    """Set up a worker process; Ctrl-C is the main process's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    prepare(options.profile, options.plugins)


#: One check to run: an op's name and the kind of check ("derivative", "oracle" or "mutation").
Task = tuple[str, str]


def tasks(registry: Registry, names: Sequence[str], options: Options) -> list[Task]:
    """The checks a run makes: each op's derivative check, and its oracle check where there is an
    oracle to ask: PyTorch for every op with `--oracle torch` (an op without a counterpart is
    reported skipped), otherwise only the ops that declare a `reference`. `--mutate` runs the
    mutation analysis of each op instead."""
    kinds = ("derivative", "oracle") if options.checks == "all" else (options.checks,)
    return [(name, kind) for name in names for kind in kinds
            if kind != "oracle" or options.oracle == "torch" or registry[name].reference is not None]


def check(task: Task, options: Options) -> OpReport:
    """Run one check. A harness crash is that op's error, so the run goes on to the next op; so is
    a SystemExit the harness failed to contain. Only Ctrl-C stops the run."""
    import gradcheck
    import lucid

    name, kind = task
    settings: dict[str, Any] = dict(max_examples=options.max_examples, seed=options.seed, order=options.order,
                                    dtype=options.dtype)
    try:
        if kind == "oracle":
            report = gradcheck.check_oracle(name, oracle=options.oracle, **settings)
        elif kind == "mutation":
            report = gradcheck.mutate(name, oracle="torch" if options.oracle == "torch" else None, **settings)
        else:
            report = gradcheck.check_op(name, mode=options.mode, **settings)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        traceback.print_exc()  # a bug in the harness (or an op it failed to contain): show where
        report = gradcheck.OpReport(op=name, plugin=lucid.registry.plugin_of(name), check=kind, status="error",
                                    reason=f"gradcheck crashed: {type(error).__name__}: {error}")
    report.reproduce = options.command(name, kind)
    return report


def lost(task: Task, why: str, options: Options) -> OpReport:
    """The report of a check that never finished: it ran out of time, or its process died."""
    from gradcheck import OpReport
    import lucid

    name, kind = task
    return OpReport(op=name, plugin=lucid.registry.plugin_of(name), check=kind, status="failed", reason=why,
                    reproduce=options.command(name, kind))


def run(names: Sequence[Task], options: Options, jobs: int, timeout: float = 0) -> Generator[OpReport, None, None]:
    """Run the checks and yield their reports in the order of `names`. With a time limit or several
    jobs, each check runs in a worker process: an op over `timeout` seconds is killed and fails,
    one that kills its process fails with the exit code or signal, and the other ops still run.
    Closing the generator (on Ctrl-C) stops the workers at once."""
    if jobs <= 1 and not timeout:
        for name in names:
            yield check(name, options)
        return
    from gradcheck.workers import run_isolated

    yield from run_isolated(functools.partial(check, options=options), names, jobs, timeout,
                            setup=functools.partial(worker, options),
                            lost=functools.partial(lost, options=options))


# -- Reporting -----------------------------------------------------------------------------------

def summary(reports: Sequence[OpReport], plugin_errors: Sequence[PluginError], seconds: float,
            deselected: int = 0) -> str:
    """pytest's last line: '1 failed, 17 passed, 2 deselected, 1 error in 3.20s'."""
    counts = {status: sum(r.status == status for r in reports) for status in ("failed", "passed", "skipped")}
    counts["deselected"] = deselected
    counts["error"] = sum(r.status == "error" for r in reports) + len(plugin_errors)
    parts = [f"{n} {status}" + "s" * (status == "error" and n > 1) for status, n in counts.items() if n]
    return f"{', '.join(parts) or 'no ops checked'} in {seconds:.2f}s"


def mutation_summary(reports: Sequence[OpReport]) -> str:
    """The run's mutation score over the mutants not reviewed as equivalent, and how many of the
    other survivors never differed on a drawn input."""
    from gradcheck.report import mutation_score

    mutants = [m for r in reports for m in r.mutants]
    score = mutation_score(mutants)
    unexplained = [m for m in mutants if not m.killed and not m.equivalent]
    never = sum(not m.differed for m in unexplained)
    return (f"mutation score: {score.killed} of {score.scored} mutants killed ({score.fraction:.1%}), "
            f"{score.equivalent} more listed as equivalent; {len(unexplained)} survived unexplained, "
            f"{never} of them never differed on a drawn input")


#: The character of a finished check in the progress dots, as pytest's.
DOTS = {"passed": ".", "failed": "F", "error": "E", "skipped": "s"}
DOTS_PER_LINE = 50


class Terminal:
    """What a person sees: a progress line redrawn in place on a terminal; elsewhere (a CI log, a
    file) a dot per check and the count at the end of each line, as pytest prints them; one line
    per check with -v; then each failure and the summary. -q keeps only failures and the summary."""

    def __init__(self, stream: IO[str], verbosity: int, total: int):
        self.stream, self.verbosity, self.total = stream, verbosity, total
        self.live = verbosity >= 0 and stream.isatty()
        self.dots = verbosity == 0 and not self.live
        self.done = self.failures = self.column = 0

    def write(self, text: str = "") -> None:
        self.clear()
        if self.column:  # a line of dots cut short (Ctrl-C)
            self.stream.write("\n")
            self.column = 0
        print(text, file=self.stream, flush=True)

    def clear(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")

    def started(self, task: Task) -> None:
        if self.live:
            failures = f", {self.failures} failed" if self.failures else ""
            self.stream.write(f"\r\x1b[K[{self.done + 1}/{self.total}] checking {title(*task)}{failures}")
            self.stream.flush()

    def finished(self, report: OpReport) -> None:
        self.done += 1
        self.failures += report.status in ("failed", "error")
        if self.verbosity > 0:
            line = f"{title(report.op, report.check)} {report.status.upper()}"
            if report.status == "passed":
                line += f" ({report.counts()}, {report.duration:.2f}s)"
            elif report.reason:
                line += f": {report.reason}"
            self.write(line)
        elif self.dots:
            self.stream.write(DOTS.get(report.status, "?"))
            self.column += 1
            if self.column == DOTS_PER_LINE or self.done == self.total:
                count = f"{self.done:>{len(str(self.total))}}/{self.total}"
                self.stream.write(f"{' ' * (DOTS_PER_LINE - self.column)} [{count}]\n")
                self.column = 0
            self.stream.flush()


def title(name: str, kind: str) -> str:
    """How a check is named in progress lines and headings: the op, and the kind unless derivative."""
    return name if kind == "derivative" else f"{name} [{kind}]"


def failure_text(report: OpReport) -> str:
    """One failure as the CLI prints it: a pytest-like heading, then the harness's report (which
    ends with the command that reproduces it)."""
    return f"{f' {title(report.op, report.check)} ({report.plugin}) '.center(80, '_')}\n{report.format()}"


def as_json(reports: Sequence[OpReport], plugin_errors: Sequence[PluginError], options: Options,
            seconds: float, exit_code: int) -> dict:
    """The machine-readable report: every op with its status, counts, errors and timing."""
    fields = ("op", "check", "plugin", "status", "examples", "rejected", "max_abs_error", "max_rel_error",
              "duration", "reason", "failing_input", "reproduce", "mutants")

    def number(value: Any) -> Any:  # JSON has no NaN or infinity
        return value if not isinstance(value, float) or value == value and abs(value) != float("inf") else None

    return {
        "exit_code": exit_code,
        "duration": seconds,
        "settings": {"profile": options.profile, "max_examples": options.max_examples, "seed": options.seed,
                     "order": options.order, "mode": options.mode, "dtype": options.dtype,
                     "plugins": list(options.plugins), "checks": options.checks, "oracle": options.oracle},
        "summary": {status: sum(r.status == status for r in reports) for status in
                    ("passed", "failed", "skipped", "error")} | {"plugin_errors": len(plugin_errors)},
        "plugin_errors": [{"plugin": e.plugin, "reason": e.reason} for e in plugin_errors],
        "ops": [{key: [vars(m) for m in r.mutants] if key == "mutants" else number(getattr(r, key))
                 for key in fields if key != "mutants" or r.check == "mutation"} for r in reports],
    }


def junit_xml(reports: Sequence[OpReport], plugin_errors: Sequence[PluginError], seconds: float) -> bytes:
    """One <testcase> per op (classname = its plugin), one <error> case per broken plugin."""
    import socket
    import xml.etree.ElementTree as ET
    from datetime import datetime, timezone

    suite = ET.Element("testsuite", name="lucid-gradcheck", time=f"{seconds:.3f}",
                       timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       hostname=socket.gethostname(), tests=str(len(reports) + len(plugin_errors)),
                       failures=str(sum(r.status == "failed" for r in reports)),
                       errors=str(sum(r.status == "error" for r in reports) + len(plugin_errors)),
                       skipped=str(sum(r.status == "skipped" for r in reports)))
    for error in plugin_errors:
        case = ET.SubElement(suite, "testcase", classname=error.plugin, name="import", time="0")
        ET.SubElement(case, "error", message=error.reason).text = str(error)
    for report in reports:
        case = ET.SubElement(suite, "testcase", classname=report.plugin or "", name=title(report.op, report.check),
                             time=f"{report.duration:.3f}")
        if report.status == "skipped":
            ET.SubElement(case, "skipped", message=report.reason)
        elif report.status != "passed":
            tag = "failure" if report.status == "failed" else "error"
            ET.SubElement(case, tag, message=report.reason).text = failure_text(report)
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# -- The command ---------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2; pytest's usage errors exit 4
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


class Version(argparse.Action):
    """`--version`: Lucid's (gradcheck is part of it), read only when asked, since importing Lucid
    loads its plugins and `--help` stays instant."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        import warnings

        with warnings.catch_warnings():  # a broken plugin is not news here
            warnings.simplefilter("ignore", RuntimeWarning)
            import gradcheck

            print(f"{parser.prog} {gradcheck.__version__}")
        parser.exit()


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="lucid-gradcheck", description="Check every registered Lucid op's derivative against "
               "finite differences, on inputs drawn by hypothesis from the op's metadata.")
    p.add_argument("ops", nargs="*", metavar="OP", help="op names to check (default: every registered op)")
    p.add_argument("--version", action=Version)
    p.add_argument("-k", dest="keyword", default="", metavar="EXPR",
                   help="only ops whose name or plugin matches EXPR (substrings with and/or/not, as pytest -k)")
    p.add_argument("--list", action="store_true", help="list the selected ops with their plugin, arity, "
                   "parameters and domains, without checking them")
    p.add_argument("-p", dest="plugins", action="append", default=[], metavar="MODULE",
                   help="also load this plugin module (an import path, found from the current directory as "
                        "`python -m` finds it); repeatable")
    p.add_argument("--max-examples", type=int, metavar="N", help="examples per op (default: the profile's)")
    p.add_argument("--seed", type=int, metavar="N", help="seed of the random inputs (default: a random seed, "
                   "printed; 0 under the derandomized ci profile)")
    p.add_argument("--profile", choices=("dev", "ci", "thorough"), default=None,
                   help="hypothesis settings profile (default: ci if the CI variable is set, else dev)")
    p.add_argument("--order", type=int, choices=(1, 2), default=1, help="derivative order to check")
    p.add_argument("--mode", choices=("auto", "full", "fast"), default="auto", help="full Jacobians, fast "
                   "random projections, or auto (full for small inputs)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="dtype the ops run in")
    p.add_argument("--check", dest="checks", choices=("all", "derivative", "oracle"), default="all",
                   help="kinds of check: the derivative against finite differences, the values and gradients "
                        "against an oracle, or both (default)")
    p.add_argument("--mutate", dest="checks", action="store_const", const="mutation",
                   help="instead of checking the ops, measure the derivative check (and with --oracle torch, "
                        "the torch oracle too): run it on mutants of each op's rule and report those it does not kill")
    p.add_argument("--oracle", choices=("reference", "torch"), default="reference",
                   help="what the oracle check compares with: each op's own reference, where it declares one "
                        "(default), or PyTorch, for every op with a counterpart")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="check ops in N processes")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"fail an op whose check takes longer, and go on (default: {DEFAULT_TIMEOUT:g}; 0: no limit)")
    p.add_argument("--shard", default="1/1", metavar="K/N", help="check only the K-th of N slices of the "
                   "sorted ops (for a CI matrix)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="one line per op")
    p.add_argument("-q", "--quiet", action="store_true", help="only failures and the summary line")
    p.add_argument("--json", metavar="PATH", help="write a JSON report to PATH ('-': standard output)")
    p.add_argument("--junitxml", metavar="PATH", help="write a JUnit XML report to PATH")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `lucid-gradcheck`; returns pytest's exit codes."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit:  # --help (0) or a usage error (4)
        return int(exit.code or 0)
    stream = sys.stderr if args.json == "-" else sys.stdout  # keep standard output for the JSON
    try:
        return _main(args, stream)
    except UsageError as error:
        print(f"lucid-gradcheck: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted", file=stream)
        return INTERRUPTED
    except BrokenPipeError:  # `lucid-gradcheck --list | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except BaseException:  # a SystemExit from code the run imported too: never exit 0 without a summary
        print("lucid-gradcheck: internal error:\n" + traceback.format_exc(), file=sys.stderr)
        return INTERNAL_ERROR


def _main(args: argparse.Namespace, stream: IO[str]) -> int:
    start = time.perf_counter()
    if args.jobs < 1:
        raise UsageError(f"-j {args.jobs}: expected at least 1 process")
    if args.max_examples is not None and args.max_examples < 1:
        raise UsageError(f"--max-examples {args.max_examples}: expected at least 1")
    if not args.timeout >= 0:
        raise UsageError(f"--timeout {args.timeout:g}: expected a number of seconds, or 0 for no limit")
    for flag, path in (("--json", args.json), ("--junitxml", args.junitxml)):
        if path and path != "-":
            check_writable(flag, path)
    shard = parse_shard(args.shard)
    require_hypothesis()
    profile = args.profile or default_profile()
    plugin_errors = prepare(profile, args.plugins)
    asked_for = [error for error in plugin_errors if error.plugin in args.plugins]
    if asked_for:  # a plugin the command names is the point of the run, not one of many
        raise UsageError("\n".join(f"-p {error.plugin}: {error.reason}" for error in asked_for))
    import lucid
    from hypothesis import settings

    names = select(lucid.registry, args.ops, args.keyword, shard)
    verbosity = -1 if args.quiet else args.verbose
    if args.list:
        for name in names:
            print(describe(name, lucid.registry), file=stream)
        for error in plugin_errors:
            print(f"ERROR {error}", file=stream)
        return FAILED if plugin_errors else OK if names else NO_OPS

    seed = run_seed(args.seed)
    options = Options(profile, args.max_examples or settings().max_examples, seed,
                      args.order, args.mode, args.dtype, tuple(args.plugins), args.oracle, args.checks)
    if options.oracle == "torch" and options.checks != "derivative":
        require_torch()
    todo = tasks(lucid.registry, names, options)
    terminal = Terminal(stream, verbosity, len(todo))
    if verbosity >= 0:
        plugins = len(lucid.registry.manager.get_plugins())
        oracles = sum(kind == "oracle" for _, kind in todo)
        terminal.write(f"lucid-gradcheck: {len(names)} of {len(lucid.registry)} ops from {plugins} plugins, profile "
                       f"{profile}, {options.max_examples} examples, seed {seed}, order {args.order}, mode "
                       f"{args.mode}, {args.dtype}, {args.jobs} job{'s' * (args.jobs > 1)}"
                       + (f"; {oracles} oracle checks ({options.oracle})" if oracles else ""))
    for error in plugin_errors:
        terminal.write(f"ERROR {error}")

    reports: list[OpReport] = []
    interrupted = False
    checks = run(todo, options, args.jobs, args.timeout)
    try:
        for task in todo:
            terminal.started(task)
            report = next(checks)
            reports.append(report)
            terminal.finished(report)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        checks.close()
    terminal.clear()
    seconds = time.perf_counter() - start

    failures = [r for r in reports if r.status in ("failed", "error")]
    for report in failures:
        terminal.write(failure_text(report))
    exit_code = (INTERRUPTED if interrupted else FAILED if failures or plugin_errors
                 else OK if names else NO_OPS)
    line = summary(reports, plugin_errors, seconds, len(lucid.registry) - len(names))
    if options.checks == "mutation":
        terminal.write(mutation_summary(reports))
    terminal.write(("interrupted: " if interrupted else "") + line)
    if args.json:
        text = json.dumps(as_json(reports, plugin_errors, options, seconds, exit_code), indent=2)
        if args.json == "-":
            print(text)
        else:
            write_report("--json", args.json, (text + "\n").encode())
    if args.junitxml:
        write_report("--junitxml", args.junitxml, junit_xml(reports, plugin_errors, seconds))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
