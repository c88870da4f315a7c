"""Small helpers shared by the op families: turning PyTorch's `dim` arguments into NumPy axes."""
from __future__ import annotations

from typing import Sequence

from lucid import OpError


def axes(op: str, dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """`dim` (None, an int or a sequence, negatives allowed) as sorted non-negative axes.

    A 0-d tensor accepts dim 0 and -1, as in PyTorch."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    size = max(ndim, 1)
    result = []
    for d in dims:
        if not -size <= d < size:
            raise OpError(f"{op}: dim {d} is out of range for a tensor with {ndim} dims "
                          f"(expected a dim in [{-size}, {size - 1}])")
        result.append(d % size)
    if len(set(result)) != len(result):
        raise OpError(f"{op}: dim {dim} names the same axis twice")
    return tuple(sorted(a for a in result if a < ndim))


def keepdim_shape(shape: Sequence[int], reduced: Sequence[int]) -> tuple[int, ...]:
    """The shape of a reduction's result with keepdim=True: reduced axes become 1."""
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))
