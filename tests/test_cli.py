"""The `lucid-gradcheck` command: selection, output, reports, reproduction and exit codes.

Runs that load extra plugins happen in a subprocess, so the registry of this test session stays
as Lucid built it.
"""
from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import stat
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path
from collections.abc import Sequence

import pytest

import lucid
from gradcheck import OpReport, cli

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''
import numpy as np
from lucid import Op, hookimpl

# x², with its derivative right and 1% off.
square = Op("testing.square", lambda x: x * x, lambda g, out, x: (g * 2 * x,))
square_off = Op("testing.square_off", lambda x: x * x, lambda g, out, x: (g * 2.02 * x,))


@hookimpl
def lucid_ops():
    return [square, square_off]
'''

INTERRUPTING = '''
from lucid import Op, hookimpl


def forward(x):
    raise KeyboardInterrupt


@hookimpl
def lucid_ops():
    return [Op("testing.interrupt", forward, lambda g, out, x: (g,))]
'''


MISBEHAVING = '''
import os
import re
import signal
import sys
import time

from lucid import Op, hookimpl


def exits(x):
    sys.exit(0)


def exits_the_process(x):
    os._exit(3)


def crashes(x):
    os.kill(os.getpid(), signal.SIGSEGV)


def sleeps(x):
    time.sleep(3600)


def loops(x):
    while True:
        pass


@hookimpl
def lucid_ops():
    return [Op(f"testing.{forward.__name__}", forward, lambda g, out, x: (g,))
            for forward in (exits, exits_the_process, crashes, sleeps, loops)]
'''


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    (tmp_path / "cli_test_ops.py").write_text(PLUGIN)
    (tmp_path / "cli_interrupting_ops.py").write_text(INTERRUPTING)
    (tmp_path / "cli_misbehaving_ops.py").write_text(MISBEHAVING)
    (tmp_path / "cli_exiting_plugin.py").write_text("import sys\nsys.exit(0)\n")
    return tmp_path


def lucid_gradcheck(*args: str, cwd: Path, env: dict | None = None, limit: float = 300,
                    command: Sequence[str] = (sys.executable, "-m", "gradcheck.cli")) -> subprocess.CompletedProcess:
    """Run the command as a user would, in a fresh process (`python -m gradcheck.cli`)."""
    environment = {key: value for key, value in os.environ.items() if key != "CI"}  # dev unless asked
    environment.update({"PYTHONPATH": os.pathsep.join([str(cwd), str(ROOT)]), **(env or {})})
    return subprocess.run([*command, *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=limit)


def console_script(directory: Path) -> list[str]:
    """The `lucid-gradcheck` that pip installs: a script whose own folder, not the current one,
    is first on sys.path."""
    script = directory / "bin" / "lucid-gradcheck"
    script.parent.mkdir(parents=True)
    script.write_text("import sys\nfrom gradcheck.cli import main\nsys.exit(main())\n")
    return [sys.executable, str(script)]


def install_entry_points(directory: Path, entry_points: dict[str, str], dist: str = "cli-test-ops") -> None:
    """Declare `lucid` entry points as an installed distribution does: a dist-info on the path."""
    info = directory / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[lucid]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))


def python_without_hypothesis(directory: Path) -> str:
    """A virtualenv with this environment's packages but hypothesis, as Lucid installed without its
    gradcheck extra. Its site-packages links to each of ours but hypothesis's, rather than hiding
    an import, so that pytest finds no hypothesis plugin either."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True)
    python = str(directory / "bin" / "python")
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    for ours in dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib")):
        for entry in Path(ours).iterdir():
            if not entry.name.lower().startswith(("hypothesis", "_hypothesis")) and not (site / entry.name).exists():
                (site / entry.name).symlink_to(entry)
    return python


@pytest.fixture(scope="module")
def without_hypothesis(tmp_path_factory: pytest.TempPathFactory) -> str:
    python = python_without_hypothesis(tmp_path_factory.mktemp("without_hypothesis") / "venv")
    done = subprocess.run([python, "-c", "import hypothesis"], capture_output=True, text=True)
    assert "No module named 'hypothesis'" in done.stderr  # the premise
    return python


# -- Selecting ops ------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, names, expected", [
    ("exp", ("exp", "lucid_ops.exponential"), True),
    ("EXP", ("exp", "x"), True),
    ("exp", ("log", "lucid_ops.trig"), False),
    ("exp and not expand", ("expand", "lucid_ops.shape"), False),
    ("exp and not expand", ("expm1", "lucid_ops.exponential"), True),
    ("linalg or sum", ("sum", "lucid_ops.reductions"), True),
    ("not (linalg or sum)", ("linalg.inv", "lucid_ops.linalg"), False),
    ("not not sum", ("sum", "r"), True),
    ("nn.functional.relu", ("nn.functional.relu", "lucid_ops.activations"), True),
    ("a and b or c", ("c", "z"), True),   # and binds tighter than or, as in Python and pytest
    ("a and (b or c)", ("c", "z"), False),
    ("", ("anything", "at all"), True),
])
def test_keyword_expressions_match_like_pytest(expression, names, expected):
    assert cli.keyword_matcher(expression)(names) is expected


@pytest.mark.parametrize("expression", ["not", "exp and", "(exp", "exp)", "and exp", "exp or or log"])
def test_malformed_keyword_expression_is_a_usage_error(expression):
    with pytest.raises(cli.UsageError, match="-k"):
        cli.keyword_matcher(expression)


def test_shards_are_disjoint_deterministic_and_cover_every_op():
    everything = cli.select(lucid.registry)
    shards = [cli.select(lucid.registry, shard=(k, 3)) for k in (1, 2, 3)]
    assert sorted(sum(shards, [])) == everything == sorted(lucid.registry)
    assert all(set(a).isdisjoint(b) for i, a in enumerate(shards) for b in shards[i + 1:])
    assert shards == [cli.select(lucid.registry, shard=(k, 3)) for k in (1, 2, 3)]


def test_selection_by_names_and_keyword():
    assert cli.select(lucid.registry, ["log", "exp", "exp"]) == ["exp", "log"]
    assert cli.select(lucid.registry, ["log", "exp"], keyword="not log") == ["exp"]
    assert all("exponential" in lucid.registry.plugin_of(n) or "exp" in n
               for n in cli.select(lucid.registry, keyword="exp"))
    with pytest.raises(cli.UsageError, match="no op named 'no_such_op'"):
        cli.select(lucid.registry, ["exp", "no_such_op"])


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shard_is_a_usage_error(text):
    with pytest.raises(cli.UsageError, match="--shard"):
        cli.parse_shard(text)


@pytest.mark.parametrize("args", [["--no-such-flag"], ["--shard", "4/3"], ["no_such_op"], ["-k", "exp and"],
                                  ["-j", "0"], ["--order", "3"], ["--max-examples", "0"], ["--timeout", "-1"],
                                  ["--timeout", "nan"]])
def test_usage_errors_exit_4(args, capsys):
    assert cli.main(args) == cli.USAGE_ERROR
    assert "error" in capsys.readouterr().err


def test_list_shows_plugin_arity_params_and_domains(capsys):
    assert cli.main(["--list", "-k", "log or sum"]) == cli.OK
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "lucid_ops.exponential" in lines["log"] and "1 input" in lines["log"]
    assert "input: float (0, inf)" in lines["log"]  # log's domain
    assert "dim=None" in lines["sum"] and "keepdim=False" in lines["sum"]


def test_nothing_selected_exits_5(capsys):
    assert cli.main(["-q", "-k", "no_op_has_this_name"]) == cli.NO_OPS
    assert "deselected" in capsys.readouterr().out


def test_internal_error_exits_3(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the CLI")

    monkeypatch.setattr(cli, "select", broken)
    assert cli.main(["exp"]) == cli.INTERNAL_ERROR
    assert "a bug in the CLI" in capsys.readouterr().err


# -- Output ---------------------------------------------------------------------------------------

class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_terminal():
    failed = OpReport(op="exp", plugin="p", status="failed", reason="wrong")
    for stream, live in ((TTY(), True), (io.StringIO(), False)):
        terminal = cli.Terminal(stream, verbosity=0, total=2)
        terminal.started(("exp", "derivative"))
        terminal.finished(failed)
        terminal.started(("log", "oracle"))
        text = stream.getvalue()
        assert ("[1/2] checking exp" in text and "[2/2] checking log [oracle], 1 failed" in text) is live
        assert ("\r" in text) is live


def test_verbose_prints_one_line_per_op_and_quiet_none():
    reports = [OpReport(op="exp", plugin="p", examples=100), OpReport(op="log", plugin="p", status="failed",
                                                                       reason="d/dx is 2% off")]
    for verbosity, lines in ((1, ["exp PASSED (100 examples, 0 rejected, 0.00s)", "log FAILED: d/dx is 2% off"]),
                             (0, [".F" + " " * (cli.DOTS_PER_LINE - 2) + " [2/2]"]), (-1, [])):
        stream = io.StringIO()
        terminal = cli.Terminal(stream, verbosity, total=2)
        for report in reports:
            terminal.finished(report)
        assert stream.getvalue().splitlines() == lines


def test_a_log_shows_a_dot_per_check_as_it_finishes_and_the_count_per_line():
    """Not a terminal (a CI log): one character per check, written when it finishes, as pytest's."""
    stream = io.StringIO()
    total = cli.DOTS_PER_LINE + 3
    terminal = cli.Terminal(stream, verbosity=0, total=total)
    for i, status in enumerate(["passed"] * (total - 3) + ["failed", "error", "skipped"]):
        terminal.started((f"op{i}", "derivative"))
        terminal.finished(OpReport(op=f"op{i}", status=status))
        if i == 1:
            assert stream.getvalue() == ".."  # there as soon as it is done
    terminal.write("summary")
    assert stream.getvalue().splitlines() == ["." * cli.DOTS_PER_LINE + f" [{cli.DOTS_PER_LINE}/{total}]",
                                              "FEs" + " " * (cli.DOTS_PER_LINE - 3) + f" [{total}/{total}]",
                                              "summary"]


def test_summary_line_is_pytests():
    reports = [OpReport(op=n, status=s) for n, s in (("a", "passed"), ("b", "failed"), ("c", "passed"),
                                                      ("d", "skipped"), ("e", "error"))]
    plugin_error = lucid.PluginError("broken", "no module named broken")
    assert cli.summary(reports, [plugin_error], 1.234, deselected=3) == \
        "1 failed, 2 passed, 1 skipped, 3 deselected, 2 errors in 1.23s"
    assert cli.summary(reports[:1], [], 0.5) == "1 passed in 0.50s"


# -- Whole runs -----------------------------------------------------------------------------------

def test_correct_op_passes_and_wrong_op_fails_with_an_exact_reproduction(plugin_dir):
    done = lucid_gradcheck("-p", "cli_test_ops", "-k", "testing", "--max-examples", "20", cwd=plugin_dir)
    assert done.returncode == cli.FAILED, done.stdout + done.stderr
    out = done.stdout
    assert out.strip().splitlines()[-1].startswith("1 failed, 1 passed,")
    assert "testing.square_off (cli_test_ops)" in out and "testing.square (" not in out  # only the failure shown
    reproduce = next(line.split("reproduce: ", 1)[1] for line in out.splitlines() if "reproduce: " in line)
    words = shlex.split(reproduce)
    assert words[:2] == ["lucid-gradcheck", "testing.square_off"] and "--seed" in words and "cli_test_ops" in words
    again = lucid_gradcheck(*words[1:], cwd=plugin_dir)
    assert again.returncode == cli.FAILED
    shrunk = [line for line in out.splitlines() if "minimal failing input" in line]
    assert shrunk and shrunk == [line for line in again.stdout.splitlines() if "minimal failing input" in line]


def test_json_and_junitxml_reports(plugin_dir):
    done = lucid_gradcheck("-p", "cli_test_ops", "testing.square", "testing.square_off", "--max-examples", "10",
                           "--json", "-", "--junitxml", "report.xml", cwd=plugin_dir)
    assert done.returncode == cli.FAILED
    report = json.loads(done.stdout)  # the human output went to stderr
    assert report["exit_code"] == 1 and report["summary"]["failed"] == 1 and report["summary"]["passed"] == 1
    ops = {op["op"]: op for op in report["ops"]}
    assert ops["testing.square"]["status"] == "passed" and ops["testing.square"]["examples"] >= 1
    assert ops["testing.square_off"]["status"] == "failed" and ops["testing.square_off"]["plugin"] == "cli_test_ops"
    assert "testing.square_off" in ops["testing.square_off"]["reproduce"]
    assert "1 failed, 1 passed" in done.stderr
    suite = ET.parse(plugin_dir / "report.xml").getroot().find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"testing.square", "testing.square_off"} and suite.get("failures") == "1"
    assert cases["testing.square_off"].find("failure") is not None and cases["testing.square"].find("failure") is None
    assert cases["testing.square"].get("classname") == "cli_test_ops"


def test_a_broken_installed_plugin_is_reported_and_the_other_ops_still_checked(plugin_dir):
    install_entry_points(plugin_dir, {"broken": "no_such_plugin_module"})
    done = lucid_gradcheck("-p", "cli_test_ops", "testing.square", "--max-examples", "10", cwd=plugin_dir)
    assert done.returncode == cli.FAILED
    assert "ERROR plugin 'broken': failed to import 'no_such_plugin_module': ModuleNotFoundError" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("1 passed, ")
    assert "1 error in" in done.stdout


def test_a_p_that_fails_to_import_stops_the_run_before_any_check(plugin_dir):
    done = lucid_gradcheck("-p", "cli_test_ops", "-p", "no_such_plugin_module", "-p", "cli_exiting_plugin",
                           "--max-examples", "10", cwd=plugin_dir)
    assert done.returncode == cli.USAGE_ERROR, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "lucid-gradcheck: error: -p no_such_plugin_module: failed to import: ModuleNotFoundError: "
        "No module named 'no_such_plugin_module'",
        "-p cli_exiting_plugin: failed to import: SystemExit: 0"]
    assert done.stdout == ""  # not one op checked


def test_p_finds_a_module_in_the_current_directory_as_python_m_does(plugin_dir):
    (plugin_dir / "my_ops").mkdir()
    (plugin_dir / "my_ops" / "__init__.py").write_text("")
    (plugin_dir / "my_ops" / "draft.py").write_text(PLUGIN)
    done = lucid_gradcheck("-p", "my_ops.draft", "testing.square", "--max-examples", "5", cwd=plugin_dir,
                           command=console_script(plugin_dir / "venv"), env={"PYTHONPATH": str(ROOT)})
    assert done.returncode == cli.OK, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("1 passed, ")


def test_p_of_an_installed_plugin_is_not_an_error(plugin_dir):
    install_entry_points(plugin_dir, {"cli_ops": "cli_test_ops"})
    done = lucid_gradcheck("-p", "cli_test_ops", "-k", "testing", "--max-examples", "5", "--json", "-", cwd=plugin_dir)
    assert done.returncode == cli.FAILED, done.stderr  # square_off's derivative is wrong, and nothing else
    report = json.loads(done.stdout)
    assert report["plugin_errors"] == [] and {op["plugin"] for op in report["ops"]} == {"cli_ops"}
    assert [op["status"] for op in report["ops"]] == ["passed", "failed"]


def test_jobs_give_the_same_reports_in_the_same_order(plugin_dir):
    runs = [lucid_gradcheck("-p", "cli_test_ops", "-k", "testing or exp2 or log1p", "--max-examples", "10",
                            "--seed", "7", "-j", jobs, "--json", "-", cwd=plugin_dir) for jobs in ("1", "2")]
    reports = [[(op["op"], op["status"], op["examples"]) for op in json.loads(run.stdout)["ops"]] for run in runs]
    assert reports[0] == reports[1] and [name for name, *_ in reports[0]] == sorted(name for name, *_ in reports[0])
    assert ("testing.square_off", "failed") in [(name, status) for name, status, _ in reports[0]]


def test_ci_profile_is_derandomized_and_chosen_from_the_environment(plugin_dir):
    runs = [lucid_gradcheck("-p", "cli_test_ops", "testing.square_off", "--max-examples", "10", "--json", "-",
                            cwd=plugin_dir, env={"CI": "true"}) for _ in range(2)]
    settings = [json.loads(run.stdout)["settings"] for run in runs]
    assert settings[0]["profile"] == "ci" and settings[0]["seed"] == 0  # the same examples on every run
    assert "profile ci" in runs[0].stderr and "seed 0" in runs[0].stderr
    inputs = [json.loads(run.stdout)["ops"][0]["failing_input"] for run in runs]
    assert inputs[0] and inputs[0] == inputs[1]


def test_interrupt_exits_2(plugin_dir):
    done = lucid_gradcheck("-p", "cli_interrupting_ops", "testing.interrupt", cwd=plugin_dir)
    assert done.returncode == cli.INTERRUPTED
    assert "interrupted" in done.stdout


def test_tty_shows_no_animation_when_piped(plugin_dir):
    done = lucid_gradcheck("-p", "cli_test_ops", "testing.square", "--max-examples", "5", cwd=plugin_dir)
    assert done.returncode == cli.OK and "\r" not in done.stdout and "checking" not in done.stdout
    assert done.stdout.splitlines()[1] == "." + " " * (cli.DOTS_PER_LINE - 1) + " [1/1]"  # a dot per check


def test_command_rebuilds_every_setting():
    options = cli.Options("ci", 50, 0, order=2, mode="fast", dtype="float32", plugins=("a.b",))
    assert options.command("linalg.inv") == ("lucid-gradcheck linalg.inv --profile ci --max-examples 50 --seed 0 "
                                              "--order 2 --mode fast --dtype float32 -p a.b")
    assert cli.Options("dev", 100, 3).command("exp") == "lucid-gradcheck exp --profile dev --max-examples 100 --seed 3"


# -- A run cannot hang, and cannot pass falsely ----------------------------------------------------

@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_op_that_hangs_or_kills_its_process_fails_alone(plugin_dir, jobs):
    done = lucid_gradcheck("-p", "cli_misbehaving_ops", "-p", "cli_test_ops", "testing.loops", "testing.crashes",
                           "testing.exits_the_process", "testing.square", "--timeout", "5", "--max-examples", "5",
                           "-j", jobs, "--json", "-", cwd=plugin_dir, limit=60)
    assert done.returncode == cli.FAILED, done.stderr
    ops = [(op["op"], op["status"], op["reason"]) for op in json.loads(done.stdout)["ops"]]
    assert ops == [("testing.crashes", "failed", "its process died (signal SIGSEGV)"),
                   ("testing.exits_the_process", "failed", "its process died (exit code 3)"),
                   ("testing.loops", "failed", "timed out after 5 s"),
                   ("testing.square", "passed", "")]  # checked after the others, by a fresh worker
    assert done.stderr.strip().splitlines()[-1].startswith("3 failed, 1 passed, ")
    assert "reproduce: lucid-gradcheck testing.loops " in done.stderr


def test_a_sleeping_op_times_out_and_without_a_limit_an_op_runs_in_process(plugin_dir):
    done = lucid_gradcheck("-p", "cli_misbehaving_ops", "testing.sleeps", "--timeout", "1", cwd=plugin_dir, limit=60)
    assert done.returncode == cli.FAILED and "testing.sleeps (cli_misbehaving_ops)" in done.stdout
    assert "timed out after 1 s" in done.stdout and done.stdout.strip().splitlines()[-1].startswith("1 failed")


@pytest.mark.parametrize("timeout", ["0", "60"])
def test_an_op_raising_system_exit_fails_and_the_run_goes_on(plugin_dir, timeout):
    done = lucid_gradcheck("-p", "cli_misbehaving_ops", "-p", "cli_test_ops", "testing.exits", "testing.square",
                           "--max-examples", "5", "--timeout", timeout, cwd=plugin_dir)
    assert done.returncode == cli.FAILED, done.stdout + done.stderr
    assert "the forward raised SystemExit: 0" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("1 failed, 1 passed, ")


def test_a_plugin_exiting_at_import_is_a_plugin_error(plugin_dir):
    install_entry_points(plugin_dir, {"exiting": "cli_exiting_plugin"})
    done = lucid_gradcheck("-p", "cli_test_ops", "testing.square", "--max-examples", "5", cwd=plugin_dir)
    assert done.returncode == cli.FAILED
    assert "ERROR plugin 'exiting': failed to import 'cli_exiting_plugin': SystemExit: 0" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("1 passed, ") and "1 error in" in done.stdout


@pytest.mark.parametrize("flag, path, complaint", [
    ("--json", "no_such_dir/report.json", "does not exist"),
    ("--junitxml", "no_such_dir/report.xml", "does not exist"),
    ("--junitxml", ".", "is a directory"),
    ("--json", "/proc/report.json", "not writable"),  # os.access would say yes to root: it is tried
])
def test_unwritable_report_path_exits_4_before_any_check(flag, path, complaint, tmp_path, monkeypatch, capsys):
    def checked(*args, **kwargs):
        raise AssertionError("an op was checked")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "run", checked)
    assert cli.main(["exp", flag, path]) == cli.USAGE_ERROR
    err = capsys.readouterr().err
    assert f"error: {flag} {path}: " in err and complaint in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, a device whose writes fail")
def test_a_report_that_cannot_be_written_at_the_end_is_a_message_and_the_device_stays(capsys):
    assert cli.main(["exp", "--max-examples", "2", "--json", "/dev/full"]) == cli.USAGE_ERROR
    assert "--json /dev/full: the report could not be written (No space left on device)" in capsys.readouterr().err
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # written to, never replaced by a file


def test_a_report_replaces_the_earlier_one_whole(tmp_path):
    report = tmp_path / "report.json"
    report.write_text("earlier")
    assert cli.main(["exp", "--max-examples", "2", "--json", str(report)]) == cli.OK
    assert json.loads(report.read_text())["exit_code"] == cli.OK and os.listdir(tmp_path) == ["report.json"]


# -- The conventions of a Python command ----------------------------------------------------------

def test_one_version_for_lucid_gradcheck_and_the_distribution(tmp_path):
    import gradcheck

    assert lucid.__version__ == gradcheck.__version__ and re.fullmatch(r"\d+\.\d+\.\d+\S*", lucid.__version__)
    done = lucid_gradcheck("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (cli.OK, f"lucid-gradcheck {lucid.__version__}\n", "")
    pyprojecttoml = pytest.importorskip("setuptools.config.pyprojecttoml")  # what a build writes in the metadata
    assert pyprojecttoml.read_configuration(ROOT / "pyproject.toml")["project"]["version"] == lucid.__version__


def test_python_m_gradcheck_is_the_command(plugin_dir):
    done = lucid_gradcheck("-p", "cli_test_ops", "testing.square_off", "--max-examples", "5", cwd=plugin_dir,
                           command=(sys.executable, "-m", "gradcheck"))
    assert done.returncode == cli.FAILED and "reproduce: lucid-gradcheck testing.square_off " in done.stdout


def test_without_hypothesis_the_command_says_what_to_install(without_hypothesis, tmp_path):
    done = lucid_gradcheck("exp", cwd=tmp_path, command=(without_hypothesis, "-m", "gradcheck"))
    assert done.returncode == cli.USAGE_ERROR and done.stdout == ""
    assert done.stderr == ("lucid-gradcheck: error: the checks draw their inputs with hypothesis, which is not "
                           "installed: pip install hypothesis (or install Lucid with its gradcheck extra)\n")
    done = lucid_gradcheck("--version", cwd=tmp_path, command=(without_hypothesis, "-m", "gradcheck"))
    assert done.returncode == cli.OK and lucid.__version__ in done.stdout


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_hypothesis_keeps_its_files_in_the_user_cache_not_where_the_command_runs(plugin_dir, tmp_path_factory, jobs):
    cache = tmp_path_factory.mktemp("cache")
    done = lucid_gradcheck("-p", "cli_test_ops", "-k", "testing or exp2", "--max-examples", "5", "-j", jobs,
                           cwd=plugin_dir, env={"XDG_CACHE_HOME": str(cache), "HOME": str(cache)})
    assert done.returncode == cli.FAILED, done.stderr
    assert not (plugin_dir / ".hypothesis").exists()
    assert (cache / "lucid" / "hypothesis").is_dir()  # hypothesis's cache of constants found in the sources


def test_hypothesis_storage_directory_overrides_the_cache(plugin_dir, tmp_path_factory):
    cache, chosen = tmp_path_factory.mktemp("cache"), tmp_path_factory.mktemp("chosen")
    done = lucid_gradcheck("-p", "cli_test_ops", "testing.square", "--max-examples", "5", cwd=plugin_dir,
                           env={"XDG_CACHE_HOME": str(cache), "HYPOTHESIS_STORAGE_DIRECTORY": str(chosen)})
    assert done.returncode == cli.OK, done.stderr
    assert not any(cache.iterdir()) and not (plugin_dir / ".hypothesis").exists()
