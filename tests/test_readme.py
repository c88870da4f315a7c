"""The README runs as written: every ```python block of README.md, pasted into a file and run.

Each block runs in a fresh process, in a folder of its own (the training loop saves a model
there), so what it registers stays out of this session. A block that is deliberately a fragment
is marked by the line `<!-- fragment: why -->` right before its fence, and is skipped with that
reason.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^(?P<indent> *)```(?P<language>[\w+-]*)\s*$")
FRAGMENT = re.compile(r"^\s*<!--\s*fragment(?::\s*(?P<why>.*?))?\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    heading: str
    line: int  # of the opening fence, counted from 1
    code: str
    fragment: str | None  # why it cannot run alone, if it is marked as a fragment


def python_blocks(markdown: str) -> list[Block]:
    """The ```python blocks of a Markdown text, in order, with the heading each one is under. A
    block inside a list item is indented; its code is dedented."""
    blocks, heading, lines = [], "", markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = FENCE.match(line)
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif fence and fence["language"]:
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
            if fence["language"] == "python":
                before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
                marker = FRAGMENT.match(before)
                fragment = (marker["why"] or "marked as a fragment") if marker else None
                blocks.append(Block(heading, index + 1, textwrap.dedent("\n".join(lines[index + 1:end])), fragment))
            index = end
        index += 1
    return blocks


README_BLOCKS = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))


def test_blocks_are_found_with_their_headings_and_fragment_markers():
    markdown = textwrap.dedent('''\
        # Title
        ```python
        a = 1
        ```
        ## Section
        - a list item:

          ```python
          if True:
              b = 2
          ```
        ```bash
        # not a heading, not Python
        ```
        <!-- fragment: continues the block above -->
        ```python
        print(b)
        ```
        ''')
    assert python_blocks(markdown) == [
        Block("Title", 2, "a = 1", None),
        Block("Section", 8, "if True:\n    b = 2", None),
        Block("Section", 16, "print(b)", "continues the block above"),
    ]


def test_the_readme_has_python_blocks():
    assert len(README_BLOCKS) >= 4  # a first look, writing an op, checking from Python, training


@pytest.mark.parametrize("block", README_BLOCKS, ids=[f"line {b.line} ({b.heading})" for b in README_BLOCKS])
def test_readme_block_runs_as_written(block, tmp_path):
    if block.fragment:
        pytest.skip(f"README.md line {block.line} is a fragment: {block.fragment}")
    (tmp_path / "block.py").write_text(block.code + "\n", encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "block.py"], cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"README.md line {block.line} ({block.heading}) fails:\n{done.stderr}"
