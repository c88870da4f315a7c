"""Datasets and batching: `DataLoader` turns a `Dataset` into shuffled mini-batches.

A `Dataset` answers `len(ds)` and `ds[i]`. The loader draws a permutation of the indices (from a
seeded generator, so runs repeat), cuts it into batches, and stacks each batch's samples into
Tensors. A dataset that can fetch many samples at once defines `__getitems__(indices)` returning
the finished batch, which skips the per-sample work (TensorDataset does).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..creation import generator as default_generator
from ..errors import OpError
from ..tensor import Tensor


class Dataset:
    """A sized collection of samples: subclasses define `__len__` and `__getitem__`."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Sample i is `(t[i] for t in tensors)`: inputs and targets side by side."""

    def __init__(self, *tensors: Tensor | np.ndarray):
        if not tensors:
            raise OpError("TensorDataset needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in sizes or len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
            raise OpError(f"TensorDataset: every tensor needs the same first dimension (the number of samples); "
                          f"got shapes {shapes}")

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor(t.data[index]) for t in self.tensors)

    def __getitems__(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """The whole batch with one fancy index per tensor."""
        return tuple(Tensor(t.data[indices]) for t in self.tensors)


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch: Tensors, arrays and numbers into one Tensor with a
    leading batch axis; tuples and dicts of them element by element."""
    first = samples[0]
    if isinstance(first, tuple):
        return tuple(default_collate(column) for column in zip(*samples))
    if isinstance(first, list):
        return [default_collate(column) for column in zip(*samples)]
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (Tensor, np.ndarray, np.generic, int, float, bool)):
        return Tensor(np.stack([np.asarray(s.data if isinstance(s, Tensor) else s) for s in samples]))
    raise TypeError(f"default_collate: don't know how to batch samples of type {type(first).__name__}; "
                    f"pass a collate_fn")


class DataLoader:
    """Iterate over a dataset in mini-batches.

    `shuffle=True` draws a new order each epoch from `generator` (a NumPy Generator or a seed; by
    default `lucid.generator()`, which `lucid.manual_seed` controls). `drop_last` skips a final
    short batch. `collate_fn` receives the list of samples of one batch."""

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 generator: np.random.Generator | int | None = None,
                 collate_fn: Callable[[list], Any] | None = None):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise OpError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.generator = np.random.default_rng(generator) if isinstance(generator, int) else generator
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        if self.shuffle:
            order = (self.generator or default_generator()).permutation(n)
        else:
            order = np.arange(n)
        fetch_many = getattr(self.dataset, "__getitems__", None) if self.collate_fn is None else None
        collate = self.collate_fn or default_collate
        for start in range(0, n, self.batch_size):
            indices = order[start:start + self.batch_size]
            if self.drop_last and len(indices) < self.batch_size:
                return
            if fetch_many is not None:
                yield fetch_many(indices)
            else:
                yield collate([self.dataset[int(i)] for i in indices])
