"""Small helpers shared by the op families. (PyTorch `dim` arguments become NumPy axes with
`lucid.op.axes` and `lucid.op.one_axis`.)"""
from __future__ import annotations

from typing import Sequence


def keepdim_shape(shape: Sequence[int], reduced: Sequence[int]) -> tuple[int, ...]:
    """The shape of a reduction's result with keepdim=True: reduced axes become 1."""
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))
