"""The example third-party package, installed the way its users install it, checked both ways.

A fresh virtualenv gets a wheel of Lucid built from a copy of its sources, then runs the example's
documented `pip install` lines as they are written, offline: `--no-index --find-links` the local
build, built with the setuptools of the environment running these tests. It sees that environment's
packages (numpy, hypothesis, pytest, setuptools: what `.ci/run` installed), never the base
interpreter's: `venv --system-site-packages` would point at the base Python, whose packages differ
from machine to machine (a clean one has pip and an old setuptools, no `wheel`). Then the
package's README commands must pass on its correct ops, and fail naming the op once its
derivative is broken, as an op author's CI would see it.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("lucid", "lucid_ops", "gradcheck", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in")
RIGHT = "lambda g, out, x, eps: (g * x / out,)"
WRONG = "lambda g, out, x, eps: (g / out,)"  # forgot the chain rule's factor x


class Environment:
    def __init__(self, root: Path):
        self.root, self.example = root, root / "example"
        self.bin = root / "venv" / "bin"
        self.module = self.example / "lucid_example_ops" / "__init__.py"

    def run(self, *command: str) -> subprocess.CompletedProcess:
        env = {key: value for key, value in os.environ.items() if key not in ("CI", "PYTHONPATH")}
        return subprocess.run([str(self.bin / command[0]), *command[1:]], cwd=self.example, env=env,
                              capture_output=True, text=True, timeout=600)

    def pip(self, *args: str) -> None:
        """pip, offline: what it installs comes from the local build, or is already in this environment."""
        done = self.run("python", "-m", "pip", *args, "-q", "--no-build-isolation", "--no-index",
                        "--find-links", str(self.root / "wheels"))
        assert done.returncode == 0, done.stdout + done.stderr


def documented_installs() -> list[list[str]]:
    """The `pip install` lines of the example's README, as its users paste them into their CI."""
    readme = (ROOT / "examples" / "third_party_ops" / "README.md").read_text()
    return [shlex.split(line)[1:] for line in readme.splitlines() if line.startswith("pip install -e . '")]


def see_this_environment(venv: Path) -> None:
    """Put this interpreter's site-packages on the new venv's path, after its own, with a .pth file.
    Only the directories are added, not the .pth files inside them, so this environment's editable
    install of Lucid stays out and the venv imports the copy installed into it."""
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    done = subprocess.run([str(venv / "bin" / "python"), "-c", where], capture_output=True, text=True, check=True)
    ours = dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib"))
    (Path(done.stdout.strip()) / "outer_environment.pth").write_text("\n".join(ours) + "\n")


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Environment:
    env = Environment(tmp_path_factory.mktemp("third_party"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env.root / "venv")], check=True)
    see_this_environment(env.root / "venv")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in SOURCES:
        source, target = ROOT / name, env.root / "lucid" / name
        shutil.copytree(source, target, ignore=ignore) if source.is_dir() else shutil.copy(source, target)
    shutil.copytree(ROOT / "examples" / "third_party_ops", env.example, ignore=ignore)
    env.pip("wheel", "--no-deps", "-w", str(env.root / "wheels"), str(env.root / "lucid"))
    # The wheel first, explicitly: where this environment has Lucid installed (CI's editable
    # install), pip would count that as satisfying `lucid-autodiff` and install nothing here.
    env.pip("install", "--no-deps", *map(str, (env.root / "wheels").glob("lucid_autodiff-*.whl")))
    for install in documented_installs():
        env.pip(*install)
    return env


def test_the_readme_documents_both_ci_installs_by_the_distribution_name():
    assert documented_installs() == [["install", "-e", ".", "lucid-autodiff[gradcheck]"],
                                     ["install", "-e", ".", "lucid-autodiff[test]"]]


def test_the_package_registers_its_ops(environment):
    done = environment.run("lucid-gradcheck", "--list", "-k", "example_ops")
    assert done.returncode == 0, done.stderr
    assert [line.split()[:2] for line in done.stdout.splitlines()] == [
        ["example.logaddexp", "example_ops"], ["example.smooth_abs", "example_ops"]]


def test_correct_ops_pass_both_ways(environment):
    done = environment.run("lucid-gradcheck", "-k", "example_ops", "--max-examples", "30")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("2 passed")
    done = environment.run("python", "-m", "pytest", "--lucid-gradcheck", "--lucid-ops", "example_ops",
                           "--lucid-max-examples", "30", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_a_wrong_derivative_fails_both_ways_naming_the_op(environment):
    source = environment.module.read_text()
    assert RIGHT in source
    environment.module.write_text(source.replace(RIGHT, WRONG))  # an editable install sees the edit
    try:
        done = environment.run("lucid-gradcheck", "-k", "example_ops", "--max-examples", "30")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "example.smooth_abs (example_ops)" in done.stdout and "1 failed, 1 passed" in done.stdout
        assert "reproduce: lucid-gradcheck example.smooth_abs" in done.stdout
        done = environment.run("python", "-m", "pytest", "--lucid-gradcheck", "--lucid-ops", "example_ops",
                               "--lucid-max-examples", "30", "-q")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "FAILED example_ops::example.smooth_abs" in done.stdout and "1 failed, 1 passed" in done.stdout
    finally:
        environment.module.write_text(source)


def test_a_plugin_that_fails_to_import_is_named_and_the_rest_still_checked(environment):
    source = environment.module.read_text()
    environment.module.write_text('raise ImportError("needs a newer scipy")\n' + source)
    try:
        done = environment.run("lucid-gradcheck", "exp", "--max-examples", "10")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "plugin 'example_ops'" in done.stdout and "needs a newer scipy" in done.stdout
        assert done.stdout.strip().splitlines()[-1].startswith("1 passed")
    finally:
        environment.module.write_text(source)
