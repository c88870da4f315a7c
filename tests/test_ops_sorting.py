"""sort, topk, kthvalue, median, cummax, cummin and the NaN-aware ops against PyTorch: values,
indices and gradients where values tie, hold NaN, or a dim is empty or absent (0-d)."""
import numpy as np
import pytest

import lucid

torch = pytest.importorskip("torch")

NAN = np.nan
TIES = np.array([3.0, 1.0, 3.0, NAN, 1.0, 2.0, NAN, 3.0])


def grads(f, x, cotangent):
    """(values and indices of Lucid's f, the input's gradient) for a given cotangent of the values."""
    t = lucid.tensor(x, requires_grad=True)
    out = f(lucid, t)
    values = out[0] if isinstance(out, tuple) else out
    values.backward(lucid.tensor(cotangent))
    return out, t.grad.data


def torch_grads(f, x, cotangent):
    t = torch.tensor(x, requires_grad=True)
    out = f(torch, t)
    values = out[0] if isinstance(out, tuple) else out
    values.backward(torch.tensor(cotangent))
    return out, t.grad.numpy()


CALLS = {
    "sort": lambda m, t: m.sort(t),
    "sort descending": lambda m, t: m.sort(t, descending=True),
    "sort stable": lambda m, t: m.sort(t, dim=0, descending=True, stable=True),
    "topk": lambda m, t: m.topk(t, 4),
    "topk smallest": lambda m, t: m.topk(t, 3, largest=False),
    "topk unsorted": lambda m, t: m.topk(t, 5, sorted=False),
    "kthvalue": lambda m, t: m.kthvalue(t, 5),
    "median dim": lambda m, t: m.median(t, 0),
    "cummax": lambda m, t: m.cummax(t, 0),
    "cummin": lambda m, t: m.cummin(t, 0),
}


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("x", [TIES, np.nan_to_num(TIES, nan=3.0), np.ones(8)], ids=["nan", "ties", "equal"])
def test_values_indices_and_gradients_at_ties_are_pytorchs(name, x):
    f = CALLS[name]
    theirs = f(torch, torch.tensor(x))
    cotangent = np.arange(1.0, 1.0 + theirs.values.numel()).reshape(tuple(theirs.values.shape))
    (ours, our_grad), (theirs, their_grad) = grads(f, x, cotangent), torch_grads(f, x, cotangent)
    np.testing.assert_array_equal(ours.values.data, theirs.values.detach().numpy())
    np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())
    assert ours.indices.dtype == np.int64 and not ours.indices.requires_grad
    np.testing.assert_array_equal(our_grad, their_grad)


@pytest.mark.parametrize("x", [TIES, np.array([2.0, 1.0, 1.0, 2.0, 1.0, 2.0]), np.array([]), np.array(5.0)],
                         ids=["nan", "ties", "empty", "0-d"])
def test_median_of_all_values_is_the_lower_median_sharing_its_gradient_among_ties(x):
    (ours, our_grad), (theirs, their_grad) = grads(lambda m, t: m.median(t), x, 1.0), \
        torch_grads(lambda m, t: m.median(t), x, 1.0)
    np.testing.assert_array_equal(ours.data, theirs.detach().numpy())
    np.testing.assert_array_equal(our_grad, their_grad)


def test_results_are_named_pairs_as_pytorch_returns_them():
    x = lucid.tensor([[3.0, 1.0], [2.0, 4.0]])
    for result in (x.sort(), x.topk(1), x.kthvalue(1), x.median(1), x.cummax(1), x.cummin(1), x.max(1)):
        values, indices = result
        assert result.values is values and result.indices is indices
    std, mean = lucid.std_mean(x)
    assert type(lucid.std_mean(x)) is tuple and np.isclose(mean.data, 2.5)


@pytest.mark.parametrize("shape, dim", [((0, 3), 0), ((2, 0), 1), ((0, 3), 1), ((), 0), ((), -1)])
@pytest.mark.parametrize("name", ["sort", "cummax", "cummin", "logcumsumexp"])
def test_empty_dims_and_0d_inputs(shape, dim, name):
    x = np.arange(float(np.prod(shape))).reshape(shape)
    ours, theirs = getattr(lucid, name)(x, dim), getattr(torch, name)(torch.tensor(x), dim)
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,), theirs if isinstance(theirs, tuple) else (theirs,)):
        assert a.shape == tuple(b.shape) and a.dtype == b.numpy().dtype


@pytest.mark.parametrize("call", [lambda m, x: m.median(x, 1), lambda m, x: m.kthvalue(x, 1, 1),
                                  lambda m, x: m.topk(x, 3, 0), lambda m, x: m.kthvalue(x, 3, 0)])
def test_what_pytorch_refuses_is_refused_with_a_lucid_error(call):
    x = np.zeros((2, 0))
    with pytest.raises((IndexError, RuntimeError)):
        call(torch, torch.tensor(x))
    with pytest.raises(lucid.OpError):
        call(lucid, x)


def test_the_nan_aware_ops_match_pytorch():
    x = np.array([[1.0, NAN, -np.inf], [NAN, NAN, NAN], [2.0, np.inf, 0.5]])
    for name, params in [("nansum", {"dim": 1}), ("nanmean", {"dim": 1}), ("nanmean", {}),
                         ("nan_to_num", {}), ("nan_to_num", {"nan": 1.5, "posinf": 10.0})]:
        (ours, our_grad) = grads(lambda m, t: getattr(m, name)(t, **params), x,
                                 np.ones(getattr(torch, name)(torch.tensor(x), **params).shape))
        theirs, their_grad = torch_grads(lambda m, t: getattr(m, name)(t, **params), x,
                                         np.ones(getattr(torch, name)(torch.tensor(x), **params).shape))
        np.testing.assert_array_equal(ours.data, theirs.detach().numpy(), err_msg=name)
        np.testing.assert_array_equal(our_grad, their_grad, err_msg=name)


def test_copysign_slope_is_pytorchs_at_zero_and_infinity():
    x, sign = np.array([0.0, -0.0, 2.0, -np.inf, NAN]), np.array([-1.0, 1.0, -0.0, 1.0, -1.0])
    t = lucid.tensor(x, requires_grad=True)
    lucid.copysign(t, sign).sum().backward()
    u = torch.tensor(x, requires_grad=True)
    torch.copysign(u, torch.tensor(sign)).sum().backward()
    np.testing.assert_array_equal(t.grad.data, u.grad.numpy())


def test_isclose_is_a_bool_tensor_as_pytorchs():
    a, b = np.array([1.0, np.inf, -np.inf, NAN, 1e-9]), np.array([1.0 + 1e-6, np.inf, np.inf, NAN, 0.0])
    for equal_nan in (False, True):
        ours = lucid.isclose(a, b, equal_nan=equal_nan)
        assert ours.dtype == np.bool_
        np.testing.assert_array_equal(ours.data, torch.isclose(torch.tensor(a), torch.tensor(b),
                                                               equal_nan=equal_nan).numpy())


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32])
def test_median_of_no_values_is_torchs_fill_without_a_warning(dtype):
    """An empty integer tensor has no NaN: PyTorch fills its median with the dtype's least value."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = lucid.median(lucid.tensor(np.zeros(0, dtype)))
    theirs = torch.median(torch.tensor(np.zeros(0, dtype)))
    assert ours.dtype == dtype and np.array_equal(ours.data, theirs.numpy(), equal_nan=True)
