"""lucid.functions: the non-differentiable companions (comparisons, rounding, argmax...).

Each is compared with NumPy and, where PyTorch is installed, with PyTorch's own answer, including
its conventions (ties, NaN, 0-d, keepdim); every result is a Tensor outside the graph.
"""
import numpy as np
import pytest

import lucid

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4)).astype(np.float32)
Y = rng.standard_normal((4,)).astype(np.float32)
TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 2.0]])


def test_every_function_is_exported_and_a_method():
    for name in lucid.functions.__all__:
        assert getattr(lucid, name) is getattr(lucid.functions, name)
        assert hasattr(lucid.Tensor, name)


@pytest.mark.parametrize("name,ufunc", [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                                        ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal),
                                        ("logical_and", np.logical_and), ("logical_or", np.logical_or)])
def test_binary_functions_broadcast_and_carry_no_grad(name, ufunc):
    x = lucid.tensor(X, requires_grad=True)
    out = getattr(lucid, name)(x, lucid.tensor(Y))
    assert out.dtype == np.bool_ and not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.data, ufunc(X, Y))
    np.testing.assert_array_equal(getattr(x, name)(0.5).data, ufunc(X, 0.5))


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "trunc", "isnan", "isinf", "isfinite", "logical_not"])
def test_unary_functions(name):
    """The tests carry no grad; sign and rounding do, as in PyTorch (a zero gradient:
    tests/test_edge_points.py)."""
    values = np.array([-2.5, -0.5, 0.0, 0.5, 1.5, np.nan, np.inf, -np.inf], dtype=np.float32)
    x = lucid.tensor(values, requires_grad=True)
    out = getattr(lucid, name)(x)
    expected = getattr(np, name)(values)
    if name == "sign":  # PyTorch's sign(NaN) is 0, NumPy's NaN
        expected = np.where(np.isnan(values), np.float32(0), expected)
    assert out.dtype == expected.dtype and out.requires_grad == (expected.dtype == np.float32)
    np.testing.assert_array_equal(out.data, expected)


def test_rounding_keeps_integers_and_rounds_half_to_even():
    ints = lucid.tensor([1, -2, 3])
    for name in ("floor", "ceil", "trunc", "round"):
        out = getattr(lucid, name)(ints)
        assert out.dtype == np.int64 and out.tolist() == [1, -2, 3]
    assert lucid.round(lucid.tensor([0.5, 1.5, 2.5, -0.5])).tolist() == [0.0, 2.0, 2.0, -0.0]
    assert lucid.round(lucid.tensor(np.array([1.234, 5.678])), decimals=1).tolist() == [1.2, 5.7]


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_arg_reductions(name, dim, keepdim):
    out = getattr(lucid, name)(lucid.tensor(TIES), dim=dim, keepdim=keepdim)
    expected = getattr(np, name)(TIES, axis=dim, keepdims=keepdim)  # NumPy: the first of equal values
    assert out.dtype == np.int64 and out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)


def test_argmax_conventions():
    assert lucid.argmax(lucid.tensor([1.0, np.nan, 2.0])).item() == 1  # NaN counts as the largest
    assert lucid.argmax(lucid.tensor(5.0)).item() == 0 and lucid.argmax(lucid.tensor(5.0), dim=0).shape == ()
    with pytest.raises(lucid.OpError, match="argmax: dim 2 is out of range for a tensor with 2 dims"):
        lucid.argmax(lucid.tensor(TIES), dim=2)
    with pytest.raises(lucid.OpError, match="argmin.*empty"):
        lucid.argmin(lucid.tensor(np.zeros((0,))))


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_argsort_is_stable_both_ways(descending, dim):
    out = lucid.argsort(lucid.tensor(TIES), dim=dim, descending=descending)
    key = -TIES if descending else TIES  # negation is safe here: no NaN, and ties stay ties
    np.testing.assert_array_equal(out.data, np.argsort(key, axis=dim, kind="stable"))


def test_argsort_puts_nan_last_ascending_and_first_descending():
    x = lucid.tensor([1.0, np.nan, 0.0])
    assert lucid.argsort(x).tolist() == [2, 0, 1]
    assert lucid.argsort(x, descending=True).tolist() == [1, 0, 2]
    assert lucid.argsort(lucid.tensor([True, False, True]), descending=True).tolist() == [0, 2, 1]
    assert lucid.argsort(lucid.tensor(3.0)).tolist() == 0


@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), ((0, 1), False)])
def test_logical_reductions(name, dim, keepdim):
    values = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 5.0]])
    out = getattr(lucid, name)(lucid.tensor(values), dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(out.data, getattr(np, name)(values, axis=dim, keepdims=keepdim))
    assert out.dtype == np.bool_


def test_allclose_and_equal_are_python_bools():
    x = lucid.tensor([1.0, 2.0])
    assert lucid.allclose(x, x + 1e-7) is True and lucid.allclose(x, x + 1e-3) is False
    assert lucid.allclose(lucid.tensor([np.nan]), lucid.tensor([np.nan]), equal_nan=True) is True
    assert lucid.equal(x, lucid.tensor([1.0, 2.0])) is True
    assert lucid.equal(x, lucid.tensor([[1.0, 2.0]])) is False  # same values, another shape


def test_count_nonzero_and_nonzero():
    values = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
    x = lucid.tensor(values)
    assert lucid.count_nonzero(x).item() == 3 and lucid.count_nonzero(x, dim=0).tolist() == [1, 1, 1]
    out = lucid.nonzero(x)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, np.argwhere(values))
    rows, cols = lucid.nonzero(x, as_tuple=True)
    assert rows.tolist() == [0, 1, 1] and cols.tolist() == [1, 0, 2]
    assert lucid.nonzero(lucid.tensor(1.0)).shape == (1, 0)  # a 0-d input has no index to list
    assert lucid.nonzero(lucid.tensor(np.zeros((0, 2)))).shape == (0, 2)


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    x, t = lucid.tensor(TIES), torch.tensor(TIES)
    for name in ("argmax", "argmin"):
        for dim in (None, 0, 1):
            np.testing.assert_array_equal(getattr(lucid, name)(x, dim=dim).data,
                                          getattr(torch, name)(t, dim=dim).numpy())
    for descending in (False, True):
        np.testing.assert_array_equal(lucid.argsort(x, descending=descending, stable=True).data,
                                      torch.argsort(t, descending=descending, stable=True).numpy())
    np.testing.assert_array_equal(lucid.nonzero(x).data, torch.nonzero(t).numpy())
    np.testing.assert_array_equal(lucid.sign(x).data, torch.sign(t).numpy())
