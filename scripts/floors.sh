#!/usr/bin/env bash
# Proves the version floors in pyproject.toml: installs Lucid with its test and examples extras in a
# fresh virtualenv, every dependency held to exactly the lowest release pyproject allows (each `>=X`
# becomes `==X` in a constraints file), and runs the test suite there.
#
#   scripts/floors.sh                                  # with python3, the whole suite
#   PYTHON=python3.10 scripts/floors.sh -x -q          # the oldest supported Python; pytest options
#
# PyTorch is left out (it is pinned, not floored, and the tests that need it skip). Reading
# pyproject.toml takes Python 3.11's tomllib from `python3`; the virtualenv uses $PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
venv=${FLOORS_VENV:-.venv-floors}
constraints="$venv/floors.txt"

rm -rf "$venv"
"$python" -m venv "$venv"
python3 - "$constraints" <<'PY'
import re, sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project["optional-dependencies"]
requirements = project["dependencies"] + extras["test"] + extras["examples"]
pins = {}
for requirement in requirements:
    name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
    floor = re.search(r">=\s*([^,;\s]+)", requirement)
    if floor is None:
        sys.exit(f"floors: {requirement!r} in pyproject.toml has no `>=` floor to install")
    if pins.setdefault(name, floor.group(1)) != floor.group(1):
        sys.exit(f"floors: {name} has two different floors in pyproject.toml")
open(sys.argv[1], "w").write("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
PY
echo "floors: $("$venv/bin/python" --version), $(tr '\n' ' ' < "$constraints")"
"$venv/bin/python" -m pip install -q -c "$constraints" -e '.[test,examples]'
installed=$("$venv/bin/python" -m pip freeze --all --exclude-editable \
           | grep -iE "^($(cut -d= -f1 "$constraints" | paste -sd'|'))==")
if ! diff -i <(echo "$installed") "$constraints"; then echo "floors: installed versions differ from the floors" >&2; exit 1; fi
echo "floors: installed exactly the floors"
"$venv/bin/python" -m pytest -p no:cacheprovider "$@"
