"""Datasets and the DataLoader: batching, seeded shuffling, drop_last, collation, errors."""
import numpy as np
import pytest

import lucid
from lucid.utils.data import DataLoader, Dataset, TensorDataset, default_collate

X = np.arange(20, dtype=np.float64).reshape(10, 2)
Y = np.arange(10) * 10


def test_tensor_dataset_indexes_every_tensor():
    ds = TensorDataset(lucid.tensor(X), Y)
    assert len(ds) == 10
    x, y = ds[3]
    np.testing.assert_array_equal(x.data, X[3])
    assert y.item() == 30


def test_batches_in_order_without_shuffle():
    batches = list(DataLoader(TensorDataset(X, Y), batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), Y)


def test_drop_last_and_len():
    loader = DataLoader(TensorDataset(X, Y), batch_size=4, drop_last=True)
    assert len(loader) == 2 and len(list(loader)) == 2
    assert len(DataLoader(TensorDataset(X, Y), batch_size=4)) == 3


def test_shuffle_is_a_permutation_repeatable_from_a_seed():
    def epoch(loader):
        return np.concatenate([y.data for _, y in loader])

    first = epoch(DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True, generator=7))
    again = epoch(DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True, generator=7))
    np.testing.assert_array_equal(first, again)
    assert sorted(first) == sorted(Y) and not np.array_equal(first, Y)
    loader = DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True, generator=np.random.default_rng(7))
    assert not np.array_equal(epoch(loader), epoch(loader))  # a new order every epoch


def test_default_shuffle_follows_manual_seed():
    def epoch():
        return np.concatenate([y.data for _, y in DataLoader(TensorDataset(X, Y), batch_size=5, shuffle=True)])

    lucid.manual_seed(3)
    first = epoch()
    lucid.manual_seed(3)
    np.testing.assert_array_equal(epoch(), first)


def test_samples_keep_features_and_labels_together():
    for x, y in DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True, generator=1):
        np.testing.assert_array_equal(x.data[:, 0], y.data / 5)


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.array([i, i * i], dtype=np.float32), "i": i}


def test_custom_dataset_is_collated_sample_by_sample():
    batch = next(iter(DataLoader(Squares(), batch_size=3)))
    np.testing.assert_array_equal(batch["x"].data, [[0, 0], [1, 1], [2, 4]])
    assert batch["x"].dtype == np.float32
    np.testing.assert_array_equal(batch["i"].data, [0, 1, 2])


def test_collate_fn_receives_the_list_of_samples():
    loader = DataLoader(TensorDataset(X, Y), batch_size=4, collate_fn=lambda samples: len(samples))
    assert list(loader) == [4, 4, 2]


def test_bad_input():
    with pytest.raises(ValueError, match=r"same first dimension.*\(10, 2\), \(9,\)"):
        TensorDataset(X, Y[:9])
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(TensorDataset(X), batch_size=0)
    with pytest.raises(TypeError, match="don't know how to batch samples of type object"):
        default_collate([object(), object()])
    with pytest.raises(NotImplementedError, match="must define __len__"):
        len(Dataset())
