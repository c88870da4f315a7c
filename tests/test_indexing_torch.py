"""x[key] as PyTorch reads it: every indexing form PyTorch accepts, its shape, values and gradient
(repeated indices adding up) against torch's; and the keys PyTorch refuses, refused with a LucidError."""
from __future__ import annotations

import numpy as np
import pytest

import lucid

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).standard_normal((3, 4, 5))
IDX = np.array([1, 2, 1])  # a repeated index: its gradient adds up
J = np.array([[0], [3]])
M = X[:, 0, 0] > 0
M2 = X[:, :, 0] > 0

# name -> a function of (library, index maker) giving the key; index maker turns arrays into tensors
KEYS = {
    "int": lambda t: 1,
    "negative int": lambda t: -1,
    "ints": lambda t: (0, -2, 4),
    "slice": lambda t: slice(1, None),
    "slice with step": lambda t: (slice(None), slice(None, None, 2)),
    "slice with tensor bound": lambda t: slice(t(np.array(1)), None),
    "None": lambda t: (None, slice(None), None),
    "Ellipsis": lambda t: (Ellipsis, 1),
    "Ellipsis in the middle": lambda t: (1, Ellipsis, None),
    "two Ellipsis": lambda t: (Ellipsis, 0, Ellipsis),
    "int tensor": lambda t: t(IDX),
    "int list": lambda t: [2, 0, 2],
    "empty list": lambda t: [],
    "negative indices": lambda t: t(np.array([-1, -3])),
    "0-d index tensor": lambda t: t(np.array(2)),
    "0-d index tensor with index tensor": lambda t: (t(np.array(0)), slice(None), t(IDX)),
    "int then slice then index (issue 18)": lambda t: (0, slice(None), t(IDX)),
    "index then int": lambda t: (t(IDX), 0),
    "index, slice, int": lambda t: (t(IDX), slice(None), 0),
    "int between index tensors": lambda t: (t(IDX), 0, t(IDX)),
    "adjacent index tensors": lambda t: (slice(None), t(IDX), t(IDX)),
    "separated index tensors": lambda t: (t(IDX), slice(None), t(IDX)),
    "broadcast index tensors": lambda t: (t(J[:, :1] % 3), t(J.T % 4)),
    "None between index tensors": lambda t: (t(IDX), None, t(IDX)),
    "Ellipsis between index tensors": lambda t: (t(IDX), Ellipsis, t(IDX)),
    "int32 index": lambda t: t(IDX.astype(np.int32)),
    "mask": lambda t: t(M),
    "2-d mask": lambda t: t(M2),
    "mask then index": lambda t: (t(M2), t(np.array([4]))),
    "mask after slice": lambda t: (slice(None), t(X[0, :, 0] > 0)),
    "bool list": lambda t: [True, False, True],
    "True": lambda t: True,
    "False": lambda t: False,
    "True with slices and index": lambda t: (slice(None), True, slice(None), t(IDX)),
    "0-d bool tensor": lambda t: (slice(None), t(np.array(True)), slice(None), t(IDX)),
    "list of lists is a tuple": lambda t: [[0, 1], [1, 2]],
    "tuple entry is an index": lambda t: ((0, 2), 0),
}


def _lucid_index(a):
    return lucid.tensor(a)


def _torch_index(a):
    return torch.from_numpy(np.array(a))


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch's deprecation of list-of-lists keys
@pytest.mark.parametrize("name", KEYS)
def test_indexing_matches_pytorch(name):
    key = KEYS[name]
    theirs_in = torch.tensor(X, requires_grad=True)
    ours_in = lucid.tensor(X, requires_grad=True)
    theirs, ours = theirs_in[key(_torch_index)], ours_in[key(_lucid_index)]
    assert ours.shape == tuple(theirs.shape) and ours.dtype == np.float64
    np.testing.assert_array_equal(ours.data, theirs.detach().numpy())
    g = np.random.default_rng(1).standard_normal(ours.shape)
    theirs.backward(torch.tensor(g))
    ours.backward(g)
    np.testing.assert_array_equal(ours_in.grad.data, theirs_in.grad.numpy())


def test_second_order_gradient_goes_through_the_same_key():
    x = lucid.tensor(X, requires_grad=True)
    (g,) = lucid.grad((x[0, :, IDX] ** 3).sum(), x, create_graph=True)
    (h,) = lucid.grad(g.sum(), x)
    t = torch.tensor(X, requires_grad=True)
    (tg,) = torch.autograd.grad((t[0, :, torch.tensor(IDX)] ** 3).sum(), t, create_graph=True)
    (th,) = torch.autograd.grad(tg.sum(), t)
    np.testing.assert_allclose(h.data, th.numpy())


def test_index_of_a_0d_tensor():
    x = lucid.tensor(np.float64(2.0), requires_grad=True)
    for key, shape in ((True, (1,)), (False, (0,)), (None, (1,)), (Ellipsis, ())):
        assert x[key].shape == tuple(torch.tensor(2.0)[key].shape) == shape


REFUSED = {
    "int out of bounds": ((5,), "index 5 is out of bounds for dim 0 with size 3"),
    "negative int out of bounds": ((slice(None), -5), "index -5 is out of bounds for dim 1 with size 4"),
    "index tensor out of bounds": ((0, slice(None), np.array([1, 7])),
                                   "index 7 is out of bounds for dim 2 with size 5"),
    "too many indices": ((0, 0, 0, 0), "too many indices for a tensor of dimension 3"),
    "mask of another shape": ((np.array([True, False]),), "mask of shape (2,) does not match the shape (3,)"),
    "no broadcast": ((np.array([0, 1]), np.array([0, 1, 2])), "could not be broadcast together with shapes (2,), (3,)"),
    "float index": ((1.5,), "got float at position 0"),
    "float index tensor": ((np.array([1.0]),), "integer or bool dtype, got float64"),
    "zero step": ((slice(None, None, 0),), "slice step cannot be zero"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_bad_indices_raise_a_lucid_error_naming_op_index_and_shape(name):
    key, words = REFUSED[name]
    with pytest.raises(lucid.LucidError) as error:
        lucid.tensor(X)[key]
    assert words in str(error.value) and str(error.value).startswith("getitem:")
    assert "(3, 5, 4)" not in str(error.value) and "(3, 4, 5)" in str(error.value)
    with pytest.raises(IndexError if "step" not in name else ValueError):
        torch.tensor(X)[tuple(torch.from_numpy(k) if isinstance(k, np.ndarray) else k for k in key)]


def test_negative_steps_are_lucids_declared_extra():
    x = lucid.tensor(X, requires_grad=True)
    y = x[::-1, 3::-2]
    np.testing.assert_array_equal(y.data, X[::-1, 3::-2])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, :, 0], [0, 1, 0, 1])
