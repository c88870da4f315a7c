"""`pytest --lucid-gradcheck`: one test item per op, so pytest's own options work on them.

Each case runs pytest in a fresh process (`-p gradcheck.pytest_plugin`, as Lucid's pyproject does)
in a directory holding a small op plugin, so this session's registry is left alone.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from test_cli import MISBEHAVING, PLUGIN, ROOT, without_hypothesis  # noqa: F401  (a fixture)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "cli_test_ops.py").write_text(PLUGIN)
    (tmp_path / "cli_misbehaving_ops.py").write_text(MISBEHAVING)
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    return tmp_path


def pytest_run(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "CI"}
    environment.update(PYTHONPATH=os.pathsep.join([str(project), str(ROOT)]), **(env or {}))
    command = [sys.executable, "-m", "pytest", "-p", "gradcheck.pytest_plugin", "-p", "no:cacheprovider",
               "--rootdir", str(project), *args]
    return subprocess.run(command, cwd=project, env=environment, capture_output=True, text=True, timeout=300)


def gradcheck(*args: str) -> list[str]:
    """Options that check this test's two ops quickly."""
    return ["--lucid-gradcheck", "--lucid-plugin", "cli_test_ops", "--lucid-ops", "testing",
            "--lucid-max-examples", "10", *args]


def test_importing_the_plugin_loads_neither_lucid_nor_hypothesis():
    code = ("import sys, gradcheck.pytest_plugin; "
            "print(sorted(m for m in ('lucid', 'hypothesis', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.stdout.strip() == "[]", done.stderr


def test_without_the_option_only_the_tests_run(project):
    (project / "test_light.py").write_text("import sys\n\ndef test_light():\n    assert 'lucid' not in sys.modules\n")
    done = pytest_run(project, "-q")
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout


def test_one_item_per_op_named_after_it(project):
    done = pytest_run(project, *gradcheck("--collect-only", "-q"))
    items = [line for line in done.stdout.splitlines() if "::" in line]
    assert items == ["test_plain.py::test_plain", "cli_test_ops::testing.square", "cli_test_ops::testing.square_off"]


def test_from_addopts_only_whole_suite_runs_check_the_ops(project):
    (project / "pytest.ini").write_text("[pytest]\naddopts = --lucid-gradcheck --lucid-plugin cli_test_ops "
                                        "--lucid-ops testing\n")

    def collected(*args: str) -> list[str]:
        done = pytest_run(project, "--collect-only", "-q", *args)
        return [line for line in done.stdout.splitlines() if "::" in line]

    ops = ["cli_test_ops::testing.square", "cli_test_ops::testing.square_off"]
    assert collected() == ["test_plain.py::test_plain", *ops]
    assert collected("test_plain.py") == ["test_plain.py::test_plain"]
    assert collected("test_plain.py", "--lucid-gradcheck") == ["test_plain.py::test_plain", *ops]


def test_a_wrong_derivative_fails_with_the_report_and_reproduction(project):
    done = pytest_run(project, *gradcheck("-v"))
    assert done.returncode == 1
    out = done.stdout
    assert "cli_test_ops::testing.square PASSED" in out and "cli_test_ops::testing.square_off FAILED" in out
    assert "_ testing.square_off (cli_test_ops) _" in out and "minimal failing input" in out
    assert "reproduce: lucid-gradcheck testing.square_off" in out
    assert "-p cli_test_ops" in out
    assert "1 failed, 2 passed" in out


def test_keyword_selection_and_junitxml(project):
    done = pytest_run(project, *gradcheck("-k", "square_off", "--junitxml", "report.xml"))
    assert done.returncode == 1 and "1 failed, 2 deselected" in done.stdout
    cases = list(ET.parse(project / "report.xml").getroot().iter("testcase"))
    assert [(c.get("classname"), c.get("name")) for c in cases] == [("cli_test_ops", "testing.square_off")]
    assert cases[0].find("failure") is not None


def test_exitfirst_stops_at_the_first_failing_op(project):
    done = pytest_run(project, *gradcheck("-x", "-k", "not plain", "--lucid-ops", "testing.square_off or exp"))
    assert done.returncode == 1 and "1 failed" in done.stdout and "passed" not in done.stdout.splitlines()[-1]


def test_hypothesis_profiles_apply(project):
    done = pytest_run(project, *gradcheck("-k", "square_off", "--hypothesis-profile", "ci"))
    assert "reproduce: lucid-gradcheck testing.square_off --profile ci --max-examples 10 --seed 0 -p cli_test_ops" \
        in done.stdout
    assert pytest_run(project, *gradcheck("--collect-only", "--hypothesis-profile", "thorough")).returncode == 0


def test_a_plugin_that_fails_to_load_is_a_collection_error_naming_it(project):
    done = pytest_run(project, *gradcheck("--lucid-plugin", "no_such_plugin_module"))
    assert done.returncode == 2  # pytest's "interrupted: errors during collection"
    assert "Lucid plugin 'no_such_plugin_module' could not be loaded" in done.stdout
    assert "ModuleNotFoundError" in done.stdout
    done = pytest_run(project, *gradcheck("--lucid-plugin", "no_such_plugin_module",
                                          "--continue-on-collection-errors", "-k", "not square_off"))
    assert done.returncode == 1 and "2 passed" in done.stdout and "1 error" in done.stdout


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="pytest-xdist is not installed")
def test_xdist_distributes_the_ops(project):
    done = pytest_run(project, *gradcheck("-n", "2"))
    assert done.returncode == 1 and "1 failed, 2 passed" in done.stdout


def test_an_op_raising_system_exit_fails_its_test_and_the_session_goes_on(project):
    done = pytest_run(project, *gradcheck("-v", "--lucid-plugin", "cli_misbehaving_ops",
                                          "--lucid-ops", "exits and not process or testing.square and not off"))
    assert done.returncode == 1
    assert "cli_misbehaving_ops::testing.exits FAILED" in done.stdout
    assert "the forward raised SystemExit: 0" in done.stdout
    assert "reproduce: lucid-gradcheck testing.exits" in done.stdout
    assert "1 failed, 2 passed" in done.stdout  # testing.square and test_plain


def test_lucid_timeout_fails_a_hanging_op_and_the_session_goes_on(project):
    done = pytest_run(project, *gradcheck("-v", "--lucid-plugin", "cli_misbehaving_ops", "--lucid-timeout", "2",
                                          "--lucid-ops", "loops or crashes"))
    assert done.returncode == 1
    assert "cli_misbehaving_ops::testing.crashes FAILED" in done.stdout
    assert "cli_misbehaving_ops::testing.loops FAILED" in done.stdout  # checked after its neighbour's process died
    assert "its process died (signal SIGSEGV)" in done.stdout and "timed out after 2 s" in done.stdout
    assert "2 failed, 1 passed" in done.stdout


def test_without_hypothesis_the_option_says_what_to_install_and_plain_runs_still_work(
        project, without_hypothesis):  # noqa: F811  (the fixture imported from test_cli)
    environment = {**{k: v for k, v in os.environ.items() if k != "CI"}, "PYTHONPATH": f"{project}{os.pathsep}{ROOT}"}
    base = [without_hypothesis, "-m", "pytest", "-p", "gradcheck.pytest_plugin", "-p", "no:cacheprovider",
            "--rootdir", str(project)]
    done = subprocess.run([*base, "--lucid-gradcheck"], cwd=project, env=environment, capture_output=True, text=True)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "ERROR: --lucid-gradcheck: the checks draw their inputs with hypothesis, which is not installed: " \
           "pip install hypothesis" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "INTERNALERROR" not in done.stdout + done.stderr
    plain = subprocess.run(base, cwd=project, env=environment, capture_output=True, text=True)
    assert plain.returncode == 0 and "1 passed" in plain.stdout, plain.stdout + plain.stderr
