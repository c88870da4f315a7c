"""What the sdist and the wheel carry, built offline from a copy of the sources with this environment's
setuptools (the build backend pip would run): the sdist must hold what its own tests need (the tests,
the example packages they install, the license), the wheel the packages, their `py.typed` markers and
the license, under the distribution's own name."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = "import sys, setuptools.build_meta as b; print(getattr(b, 'build_' + sys.argv[1])(sys.argv[2]))"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache"))
    names = {}
    for kind in ("sdist", "wheel"):
        done = subprocess.run([sys.executable, "-c", BUILD, kind, str(root / "dist")], cwd=source,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        archive = root / "dist" / done.stdout.strip().splitlines()[-1]
        if kind == "sdist":
            with tarfile.open(archive) as tar:
                names[kind] = [name.split("/", 1)[1] for name in tar.getnames() if "/" in name]
        else:
            with zipfile.ZipFile(archive) as wheel:
                names[kind] = wheel.namelist()
                metadata = next(name for name in names[kind] if name.endswith(".dist-info/METADATA"))
                names["metadata"] = wheel.read(metadata).decode().splitlines()
        names[kind + " name"] = [archive.name]
    return names


def test_the_sdist_holds_what_its_tests_need(built):
    files = set(built["sdist"])
    assert built["sdist name"][0].startswith("lucid_autodiff-")
    for needed in ("LICENSE", "README.md", "pyproject.toml", "MANIFEST.in", "tests/test_third_party.py",
                   "examples/third_party_ops/pyproject.toml", "examples/third_party_ops/lucid_example_ops/__init__.py",
                   "examples/train_digits.py", "lucid/py.typed", "gradcheck/py.typed"):
        assert needed in files, needed
    assert not [name for name in files if "__pycache__" in name or ".egg-info/" in name.split("/", 1)[-1]]


def test_the_wheel_holds_the_packages_their_markers_and_the_license(built):
    files = built["wheel"]
    assert built["wheel name"][0].startswith("lucid_autodiff-")
    for needed in ("lucid/__init__.py", "lucid/nn/__init__.py", "lucid_ops/__init__.py", "gradcheck/cli.py",
                   "lucid/py.typed", "lucid_ops/py.typed", "gradcheck/py.typed"):
        assert needed in files, needed
    info = next(name.split("/")[0] for name in files if name.endswith(".dist-info/METADATA"))
    assert f"{info}/licenses/LICENSE" in files
    assert not [name for name in files if name.startswith(("tests/", "examples/", "bench/"))]


def test_the_metadata_names_the_distribution_its_license_and_pythons(built):
    metadata = built["metadata"]
    for line in ("Name: lucid-autodiff", "License-Expression: MIT", "License-File: LICENSE", "Requires-Python: >=3.10",
                 "Classifier: Programming Language :: Python :: 3.10",
                 "Classifier: Programming Language :: Python :: 3.13", "Provides-Extra: gradcheck"):
        assert line in metadata, line
