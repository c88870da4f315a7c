"""pytest plugin: `pytest --lucid-gradcheck` checks every registered op's derivative, one test each.

The ops join the collection as one more root beside the test paths: one collector per Lucid
plugin, one item per op, named after the op (`lucid_ops.exponential::exp`), and one per oracle
check (`lucid_ops.exponential::exp[oracle]`: with `--lucid-oracle torch` for every op, otherwise
for the ops that declare a `reference`). So pytest's own
tools work on them: `-k exp`, `-x`, `--junitxml`, pytest-xdist's `-n auto`, and hypothesis's
`--hypothesis-profile` and `--hypothesis-seed`. A Lucid plugin that fails to load is a
collection error naming it. Each item runs the same check as `lucid-gradcheck`, and a failure
shows the same report and reproduction command.

Registered through the `pytest11` entry point, so it is imported by every pytest run of an
environment where Lucid is installed: it imports neither Lucid nor hypothesis until asked to.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gradcheck import OpReport
    from gradcheck.cli import Options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lucid-gradcheck", "Lucid: check every op's derivative (see lucid-gradcheck)")
    group.addoption("--lucid-gradcheck", action="store_true",
                    help="add one test per registered Lucid op, checking its derivative (when set in addopts: "
                         "only to runs that name no test paths)")
    group.addoption("--lucid-ops", metavar="EXPR", default="",
                    help="only the ops whose name or plugin matches EXPR (substrings with and/or/not, as -k)")
    group.addoption("--lucid-plugin", action="append", default=[], metavar="MODULE",
                    help="also load this Lucid plugin module (an import path); repeatable")
    group.addoption("--lucid-max-examples", type=int, metavar="N",
                    help="examples per op (default: the hypothesis profile's max_examples)")
    group.addoption("--lucid-order", type=int, choices=(1, 2), default=1, help="derivative order to check")
    group.addoption("--lucid-mode", choices=("auto", "full", "fast"), default="auto", help="Jacobian mode")
    group.addoption("--lucid-dtype", choices=("float64", "float32"), default="float64", help="dtype the ops run in")
    group.addoption("--lucid-check", choices=("all", "derivative", "oracle"), default="all",
                    help="kinds of check: derivative, oracle, or both (default)")
    group.addoption("--lucid-oracle", choices=("reference", "torch"), default="reference",
                    help="what the oracle check compares with: each op's own reference (default), or PyTorch")
    group.addoption("--lucid-timeout", type=float, default=0, metavar="SECONDS",
                    help="check each op in a process of its own and fail it after SECONDS (default: 0, no limit, "
                         "in this process)")


def enabled(config: pytest.Config) -> bool:
    """Whether to check the ops in this run. `--lucid-gradcheck` typed on the command line always
    does; set in the project's addopts, it does for runs of the whole suite (no test paths
    named), so that `pytest tests/test_one.py` stays quick. pytest-xdist's workers receive the
    same command line, so they all decide alike."""
    if not config.getoption("lucid_gradcheck"):
        return False
    typed = "--lucid-gradcheck" in config.invocation_params.args
    return typed or config.args_source is not pytest.Config.ArgsSource.ARGS


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the dev and thorough profiles before hypothesis's plugin loads --hypothesis-profile;
    without hypothesis, say what to install (a usage error, exit 4) rather than crash."""
    if enabled(config):
        from gradcheck.cli import UsageError, register_profiles, require_hypothesis

        try:
            require_hypothesis()
        except UsageError as missing:
            raise pytest.UsageError(f"--lucid-gradcheck: {missing}") from None
        register_profiles()


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    """Add the Lucid plugins to what the session collects."""
    report = yield
    if isinstance(collector, pytest.Session) and report.passed and enabled(collector.config):
        report.result.extend(plugins(collector))
    return report


def plugins(session: pytest.Session) -> Iterator[LucidPlugin]:
    """One collector per Lucid plugin with selected ops, and one per plugin that failed to load."""
    from gradcheck.cli import UsageError, keyword_matcher, load_plugins

    config = session.config
    try:
        matches = keyword_matcher(config.getoption("lucid_ops"))
    except UsageError as error:
        raise pytest.UsageError(f"--lucid-ops: {error}") from None
    try:
        errors = load_plugins(config.getoption("lucid_plugin"))
    except Exception as error:  # Lucid itself does not import: that is the one thing to report
        yield LucidPlugin.from_parent(session, name="lucid", nodeid="lucid", ops=[],
                                      error=f"{type(error).__name__}: {error}")
        return
    import lucid

    by_plugin: dict[str, list[str]] = {}
    for name in lucid.registry:
        plugin = lucid.registry.plugin_of(name)
        if matches((name, plugin)):
            by_plugin.setdefault(plugin, []).append(name)
    for failed in errors:
        yield LucidPlugin.from_parent(session, name=failed.plugin, nodeid=failed.plugin, ops=[], error=failed.reason)
    for plugin in sorted(by_plugin):
        yield LucidPlugin.from_parent(session, name=plugin, nodeid=plugin, ops=by_plugin[plugin], error=None)


class LucidPlugin(pytest.Collector):
    """The ops of one Lucid plugin (or the reason the plugin could not be loaded)."""

    def __init__(self, *, ops: list[str], error: str | None, **kwargs: Any):
        super().__init__(**kwargs)
        self.ops, self.error = ops, error

    def collect(self) -> list[OpCheck]:
        from gradcheck.cli import tasks, title
        import lucid

        if self.error is not None:
            raise self.CollectError(f"Lucid plugin {self.name!r} could not be loaded: {self.error}")
        return [OpCheck.from_parent(self, name=title(*task).replace(" [", "["), task=task)
                for task in tasks(lucid.registry, self.ops, options(self.config))]


class OpFailure(Exception):
    """An op's check failed; carries the harness's report."""

    def __init__(self, report: OpReport):
        super().__init__(report.reason)
        self.report = report


class OpCheck(pytest.Item):
    """One check of one op: its derivative, or its agreement with an oracle."""

    def __init__(self, *, task: tuple[str, str], **kwargs: Any):
        super().__init__(**kwargs)
        self.task = task

    def runtest(self) -> None:
        from gradcheck.cli import UsageError, require_torch, run

        if self.task[1] == "oracle" and options(self.config).oracle == "torch":
            try:
                require_torch()
            except UsageError as missing:  # PyTorch is an optional extra: as pytest.importorskip would
                pytest.skip(str(missing))
        report = next(run([self.task], options(self.config), jobs=1, timeout=self.config.getoption("lucid_timeout")))
        if report.status == "skipped":
            pytest.skip(report.reason)
        if report.status != "passed":
            raise OpFailure(report)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, OpFailure):
            return excinfo.value.report.format()
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        plugin = self.parent.name if self.parent is not None else ""  # an op's item has its plugin as parent
        return self.path, None, f"{self.name} ({plugin})"  # the heading of a failure, as the CLI's


def options(config: pytest.Config) -> Options:
    """The CLI's options, read from pytest's: hypothesis's current profile and seed included."""
    from hypothesis import settings

    from gradcheck.cli import Options, run_seed

    seed = config.getoption("hypothesis_seed", None)  # --hypothesis-seed, when given
    profile = settings.get_current_profile_name()
    return Options(profile="dev" if profile == "default" else profile,
                   max_examples=config.getoption("lucid_max_examples") or settings().max_examples,
                   seed=run_seed(None if seed is None else int(seed)), order=config.getoption("lucid_order"),
                   mode=config.getoption("lucid_mode"), dtype=config.getoption("lucid_dtype"),
                   plugins=tuple(config.getoption("lucid_plugin")), oracle=config.getoption("lucid_oracle"),
                   checks=config.getoption("lucid_check"))
