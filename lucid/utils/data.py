"""Datasets and batching: `DataLoader` turns a `Dataset` into shuffled mini-batches.

A `Dataset` answers `len(ds)` and `ds[i]`. The loader draws a permutation of the indices (from a
seeded generator, so runs repeat), cuts it into batches, and stacks each batch's samples into
Tensors. A dataset that can fetch many samples at once defines `__getitems__(indices)` returning
the finished batch, which skips the per-sample work (TensorDataset does).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

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
    leading batch axis; tuples, lists and dicts of them element by element. Samples that don't
    match (shapes, lengths, keys) are an error naming the two samples and where they differ."""
    return _collate(samples, "")


def _collate(samples: Sequence[Any], where: str) -> Any:
    first = samples[0]
    at = f" at {where}" if where else ""
    if isinstance(first, dict):
        for j, sample in enumerate(samples):
            if not isinstance(sample, dict):
                raise OpError(f"default_collate: sample {j}{at} is a {type(sample).__name__}, but sample 0 is a dict")
            missing = [key for key in first if key not in sample]
            extra = [key for key in sample if key not in first]
            if missing or extra:
                differ = f"has no key {missing[0]!r}" if missing else f"has a key {extra[0]!r}"
                raise OpError(f"default_collate: sample {j}{at} {differ}, unlike sample 0 (keys {list(first)}); "
                              f"every sample needs the same keys, or pass a collate_fn")
        return {key: _collate([s[key] for s in samples], f"{where}[{key!r}]") for key in first}
    if isinstance(first, (tuple, list)):
        for j, sample in enumerate(samples):
            if type(sample) is not type(first) or len(sample) != len(first):
                length = f" of length {len(sample)}" if isinstance(sample, (tuple, list)) else ""
                raise OpError(f"default_collate: sample {j}{at} is a {type(sample).__name__}{length}, but sample 0 "
                              f"is a {type(first).__name__} of length {len(first)}")
        columns = [_collate(column, f"{where}[{i}]") for i, column in enumerate(zip(*samples))]
        return tuple(columns) if isinstance(first, tuple) else columns
    if isinstance(first, (Tensor, np.ndarray, np.generic, int, float, bool)):
        arrays = [np.asarray(s.data if isinstance(s, Tensor) else s) for s in samples]
        for j, array in enumerate(arrays):
            if array.shape != arrays[0].shape:
                raise OpError(f"default_collate: can't stack the samples{at}: sample {j} has shape {array.shape} "
                              f"and sample 0 has shape {arrays[0].shape}; pad them to one shape or pass a collate_fn")
            if array.dtype.kind not in "biufc":
                raise OpError(f"default_collate: sample {j}{at} is a {type(samples[j]).__name__}, not a number or "
                              f"an array of numbers")
        return Tensor(np.stack(arrays))
    raise TypeError(f"default_collate: don't know how to batch samples of type {type(first).__name__}{at}; "
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
        for batch, start in enumerate(range(0, n, self.batch_size)):
            indices = order[start:start + self.batch_size]
            if self.drop_last and len(indices) < self.batch_size:
                return
            if fetch_many is not None:
                yield fetch_many(indices)
                continue
            samples = [self.dataset[int(i)] for i in indices]
            try:
                yield collate(samples)
            except OpError as error:
                if self.collate_fn is not None:
                    raise
                raise OpError(f"DataLoader: batch {batch} (dataset indices {indices.tolist()}): {error}") from None
