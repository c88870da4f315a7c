"""Reductions against NumPy/SciPy references, their dtypes, 0-d inputs, errors, and their first
and second derivatives by central differences (prod and cumprod at zeros, amax at ties)."""
import math

import numpy as np
import pytest
import scipy.special

import lucid
from lucid import OpError
from finite_differences import check_derivatives

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4, 2))


def ddof_of(kwargs):
    if "unbiased" in kwargs:
        return int(kwargs["unbiased"])
    return kwargs.get("correction", 1)


def vector_norm(x, p, axis, keepdims):
    a = np.abs(x)
    if p == "fro" or p == 2:
        return np.sqrt((a ** 2).sum(axis=axis, keepdims=keepdims))
    if p == math.inf:
        return a.max(axis=axis, keepdims=keepdims)
    if p == -math.inf:
        return a.min(axis=axis, keepdims=keepdims)
    if p == 0:
        return (a != 0).sum(axis=axis, keepdims=keepdims).astype(x.dtype)
    return (a ** p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


# (op call, NumPy reference) pairs over the same x and keyword arguments.
FORWARD = [
    ("sum", {}, lambda x: x.sum()),
    ("sum", {"dim": (0, 2), "keepdim": True}, lambda x: x.sum(axis=(0, 2), keepdims=True)),
    ("mean", {"dim": -1}, lambda x: x.mean(axis=-1)),
    ("prod", {}, lambda x: np.prod(x)),
    ("prod", {"dim": 1}, lambda x: np.prod(x, axis=1)),
    ("prod", {"dim": (0, 1), "keepdim": True}, lambda x: np.prod(x, axis=(0, 1), keepdims=True)),
    ("amax", {"dim": 1}, lambda x: np.max(x, axis=1)),
    ("amax", {"dim": (0, -1), "keepdim": True}, lambda x: np.max(x, axis=(0, 2), keepdims=True)),
    ("amin", {}, lambda x: np.min(x)),
    ("amin", {"dim": 2}, lambda x: np.min(x, axis=2)),
    ("var", {}, lambda x: np.var(x, ddof=1)),
    ("var", {"dim": 1, "correction": 0}, lambda x: np.var(x, axis=1)),
    ("var", {"dim": (0, 2), "unbiased": False, "keepdim": True}, lambda x: np.var(x, axis=(0, 2), keepdims=True)),
    ("std", {"dim": 0}, lambda x: np.std(x, axis=0, ddof=1)),
    ("std", {"dim": -1, "correction": 0, "keepdim": True}, lambda x: np.std(x, axis=-1, keepdims=True)),
    ("logsumexp", {"dim": 1}, lambda x: scipy.special.logsumexp(x, axis=1)),
    ("logsumexp", {"dim": (0, 1), "keepdim": True}, lambda x: scipy.special.logsumexp(x, axis=(0, 1), keepdims=True)),
    ("cumsum", {"dim": 1}, lambda x: np.cumsum(x, axis=1)),
    ("cumsum", {"dim": -1}, lambda x: np.cumsum(x, axis=-1)),
    ("cumprod", {"dim": 0}, lambda x: np.cumprod(x, axis=0)),
] + [("norm", {"p": p, "dim": d, "keepdim": k}, lambda x, p=p, d=d, k=k: vector_norm(x, p, d, k))
     for p in ("fro", 1, 2, 3, 0.5, 0, math.inf, -math.inf) for d, k in ((None, False), (1, False), ((0, 2), True))]


@pytest.mark.parametrize("name, kwargs, reference", FORWARD, ids=lambda v: str(v) if not callable(v) else "")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy_and_keeps_dtype(name, kwargs, reference, dtype):
    x = X.astype(dtype)
    out = getattr(lucid, name)(lucid.tensor(x), **kwargs)
    expected = reference(x.astype(np.float64))
    assert out.dtype == dtype
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (None, True), (1, False), ((0, -1), True)])
def test_mean_is_ndarray_mean_bit_for_bit(dtype, dim, keepdim):
    """mean skips ndarray.mean's layer of Python for speed: values, dtype and shape stay its own."""
    x = (X * 3).astype(dtype)
    axis = None if dim is None else tuple(d % x.ndim for d in ((dim,) if isinstance(dim, int) else dim))
    expected = x.mean(axis=axis, keepdims=keepdim)
    out = lucid.mean(lucid.tensor(x), dim=dim, keepdim=keepdim)
    assert out.dtype == expected.dtype and out.shape == np.shape(expected)
    np.testing.assert_array_equal(out.data, expected)


@pytest.mark.parametrize("name, arg, argfn", [("max", np.max, np.argmax), ("min", np.min, np.argmin)])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_along_dim_return_values_and_first_indices(name, arg, argfn, dim, keepdim):
    x = np.round(X * 2) / 2  # ties, so that "first occurrence" is tested
    values, indices = getattr(lucid, name)(lucid.tensor(x), dim, keepdim=keepdim)
    np.testing.assert_array_equal(values.data, arg(x, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(indices.data, argfn(x, axis=dim, keepdims=keepdim))
    assert indices.dtype == np.int64 and not indices.requires_grad


def test_max_without_dim_is_the_largest_value_and_a_method():
    x = lucid.tensor(X)
    assert lucid.max(x).item() == X.max() and x.min().item() == X.min()
    assert lucid.max(x, dim=None).item() == X.max()
    values, indices = x.max(dim=1)
    np.testing.assert_array_equal(indices.data, X.argmax(1))


def test_legacy_unbiased_positional_and_both_spellings_rejected():
    x = lucid.tensor(X)
    np.testing.assert_allclose(lucid.var(x, False).data, np.var(X))
    np.testing.assert_allclose(x.std(1, True, True).data, np.std(X, axis=1, ddof=1, keepdims=True))
    with pytest.raises(OpError, match="unbiased or correction"):
        lucid.var(x, unbiased=True, correction=0)


def test_integer_reductions_stay_integers():
    a = np.arange(1, 7, dtype=np.int32).reshape(2, 3)
    for name, reference in [("sum", np.sum), ("prod", np.prod), ("amax", np.max)]:
        out = getattr(lucid, name)(lucid.tensor(a), 1)
        assert out.dtype.kind == "i"
        np.testing.assert_array_equal(out.data, reference(a, axis=1))
    assert lucid.cumsum(lucid.tensor(a), 1).dtype == np.int64
    np.testing.assert_array_equal(lucid.cumprod(lucid.tensor(a), 1).data, np.cumprod(a, axis=1))
    with pytest.raises(OpError, match="floating-point"):
        lucid.mean(lucid.tensor(a))


@pytest.mark.parametrize("call", [
    lambda x: lucid.sum(x, 0), lambda x: lucid.prod(x, -1), lambda x: lucid.amax(x, 0), lambda x: lucid.max(x, 0)[0],
    lambda x: lucid.logsumexp(x, 0), lambda x: lucid.norm(x), lambda x: lucid.cumsum(x, 0),
    lambda x: lucid.cumprod(x, -1), lambda x: lucid.var(x, correction=0)])
def test_zero_dim_inputs(call):
    out = call(lucid.tensor(np.float64(-2.5)))
    assert out.shape == ()


def test_zero_dim_values():
    x = lucid.tensor(np.float32(-2.5))
    assert lucid.logsumexp(x, 0).item() == -2.5 and lucid.norm(x).item() == 2.5
    values, indices = lucid.max(x, 0)
    assert values.item() == -2.5 and indices.item() == 0 and values.dtype == np.float32


def test_logsumexp_is_stable_and_handles_minus_infinity():
    big = np.array([1000.0, 1000.0])
    np.testing.assert_allclose(lucid.logsumexp(lucid.tensor(big), 0).data, 1000 + np.log(2))
    assert lucid.logsumexp(lucid.tensor(np.array([-np.inf, -np.inf])), 0).item() == -np.inf
    assert lucid.logsumexp(lucid.tensor(np.zeros((0, 2))), 0).data.tolist() == [-np.inf, -np.inf]


def test_empty_sums_and_products():
    empty = lucid.tensor(np.zeros((0, 3)))
    assert lucid.sum(empty, 0).data.tolist() == [0, 0, 0]
    assert lucid.prod(empty, 0).data.tolist() == [1, 1, 1]


@pytest.mark.parametrize("call", [lambda x: lucid.sum(x, 3), lambda x: lucid.amax(x, -4), lambda x: lucid.max(x, 2),
                                  lambda x: lucid.cumsum(x, 5), lambda x: lucid.var(x, (0, 3)),
                                  lambda x: lucid.logsumexp(x, 2), lambda x: lucid.norm(x, 2, 7)])
def test_wrong_dim_names_the_dim_and_ndim(call):
    with pytest.raises(OpError, match=r"dim -?\d is out of range for a tensor with 2 dims"):
        call(lucid.tensor(np.ones((2, 3))))


def test_bad_norm_order():
    with pytest.raises(OpError, match="p must be"):
        lucid.norm(lucid.tensor(X), "nuc")


# --- derivatives ---------------------------------------------------------------------------------

POINT = rng.standard_normal((3, 4)) + 0.1
ZEROS = {
    "one zero": np.array([[2.0, 0.0, -1.5, 3.0], [0.5, 1.5, -2.0, 1.0]]),
    "two zeros": np.array([[2.0, 0.0, -1.5, 0.0], [0.0, 1.5, 0.0, 1.0]]),
    "all zeros": np.zeros((2, 4)),
}

DERIVATIVES = [
    ("sum", lambda x: lucid.sum(x, 1)),
    ("mean", lambda x: x.mean((0, 1), keepdim=True)),
    ("prod all", lambda x: lucid.prod(x)),
    ("prod dim", lambda x: lucid.prod(x, 1)),
    ("prod dims keepdim", lambda x: lucid.prod(x, (0, -1), keepdim=True)),
    ("amax", lambda x: lucid.amax(x, 0)),
    ("amin keepdim", lambda x: lucid.amin(x, -1, keepdim=True)),
    ("max", lambda x: lucid.max(x)),
    ("max dim", lambda x: lucid.max(x, 1)),
    ("min dim keepdim", lambda x: lucid.min(x, 0, keepdim=True)),
    ("var", lambda x: lucid.var(x)),
    ("var dim", lambda x: lucid.var(x, 1, correction=0)),
    ("std", lambda x: lucid.std(x, 0, keepdim=True)),
    ("std all", lambda x: lucid.std(x, unbiased=False)),
    ("logsumexp", lambda x: lucid.logsumexp(x, 1)),
    ("logsumexp all", lambda x: lucid.logsumexp(x, None)),
    ("cumsum", lambda x: lucid.cumsum(x, 1)),
    ("cumsum dim 0", lambda x: lucid.cumsum(x, -2)),
    ("cumprod", lambda x: lucid.cumprod(x, 1)),
    ("cumprod dim 0", lambda x: lucid.cumprod(x, 0)),
] + [(f"norm p={p}", lambda x, p=p: lucid.norm(x, p, 1)) for p in ("fro", 1, 2, 3, 0.5, 0, math.inf, -math.inf)]


@pytest.mark.parametrize("name, fn", DERIVATIVES, ids=[name for name, _ in DERIVATIVES])
def test_first_and_second_derivatives(name, fn):
    check_derivatives(fn, [POINT])


@pytest.mark.parametrize("fn", [lambda x: lucid.prod(x), lambda x: lucid.prod(x, 1), lambda x: lucid.prod(x, 0),
                                lambda x: lucid.cumprod(x, 1), lambda x: lucid.cumprod(x, -2)])
@pytest.mark.parametrize("point", ZEROS.values(), ids=ZEROS.keys())
def test_prod_and_cumprod_at_zeros(fn, point):
    check_derivatives(fn, [point])


def test_cumprod_long_scan_at_zeros():
    x = rng.uniform(0.5, 1.5, 13)
    x[[3, 9]] = 0
    check_derivatives(lambda t: lucid.cumprod(t, 0), [x])


def test_amax_ties_split_the_gradient_evenly():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    two_way = np.array([[1.0, 3.0, 3.0], [2.0, -1.0, 2.0]])
    check_derivatives(lambda t: lucid.amax(t, 1), [two_way], order=1)  # central differences split a 2-way tie
    t = lucid.tensor(x, requires_grad=True)
    lucid.amax(t, 1).sum().backward()
    np.testing.assert_allclose(t.grad.data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    t = lucid.tensor(x, requires_grad=True)
    lucid.amin(t).backward()
    np.testing.assert_allclose(t.grad.data, [[1, 0, 0], [0, 0, 0]])


def test_max_along_dim_sends_the_gradient_to_the_first_maximum_only():
    t = lucid.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    values, _ = lucid.max(t, 1)
    values.sum().backward()
    np.testing.assert_array_equal(t.grad.data, [[0, 1, 0], [1, 0, 0]])


def test_norm_at_zero_has_a_zero_subgradient_and_inf_norm_splits_ties():
    t = lucid.tensor(np.zeros(3), requires_grad=True)
    lucid.norm(t).backward()
    np.testing.assert_array_equal(t.grad.data, 0)
    t = lucid.tensor(np.array([-2.0, 2.0, 1.0]), requires_grad=True)
    lucid.norm(t, math.inf).backward()
    np.testing.assert_allclose(t.grad.data, [-0.5, 0.5, 0])


def test_float32_gradients_stay_float32():
    t = lucid.tensor(POINT.astype(np.float32), requires_grad=True)
    (lucid.prod(t, 1).sum() + lucid.cumprod(t, 0).sum() + lucid.std(t) + lucid.norm(t, 3)).backward()
    assert t.grad.dtype == np.float32


def test_gradients_over_empty_reductions():
    e = lucid.tensor(np.zeros((0, 3)), requires_grad=True)
    (lucid.prod(e, 0).sum() + lucid.cumprod(e, 1).sum() + lucid.cumprod(e, 0).sum() + lucid.sum(e)).backward()
    assert e.grad.shape == (0, 3)
    x = lucid.tensor(np.ones((2, 0, 3)), requires_grad=True)
    lucid.prod(x, (0, 1)).sum().backward()
    assert x.grad.shape == (2, 0, 3)


# --- PyTorch's conventions, where it is installed ---------------------------------------------------

TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.0, 0.0, 2.0, 0.0], [-1.0, -1.0, -1.0, -1.0]])

TORCH_CASES = {
    "amax ties": (lambda m, x: m.amax(x, 1), TIES),
    "amin all": (lambda m, x: m.amin(x), TIES),
    "max dim ties": (lambda m, x: m.max(x, 1)[0], TIES),
    "min dim keepdim": (lambda m, x: m.min(x, 0, keepdim=True)[0], TIES),
    "prod zeros": (lambda m, x: m.prod(x, 1), TIES),
    "prod all zeros": (lambda m, x: m.prod(x), TIES),
    "cumprod zeros": (lambda m, x: m.cumprod(x, 1), TIES),
    "var legacy": (lambda m, x: m.var(x, 1, False, True), TIES),
    "std correction": (lambda m, x: m.std(x, 0, correction=0), TIES + np.arange(4)),
    "logsumexp": (lambda m, x: m.logsumexp(x, (0, 1)), TIES),
    "norm inf ties": (lambda m, x: m.norm(x, float("inf"), 1), TIES),
    "norm 1 zeros": (lambda m, x: m.norm(x, 1, 0), TIES),
    "norm 2 zero slice": (lambda m, x: m.norm(x * m.tensor(np.array([[1.0], [0.0], [1.0]])), 2, 1), TIES),
    "norm 3": (lambda m, x: m.norm(x, 3), TIES),
    "norm 0.5 zeros": (lambda m, x: m.norm(x, 0.5, 1), TIES),
    "norm 0.5 zeros, inf norm": (lambda m, x: m.norm(x, 0.5, 1), np.array([[np.inf, 1.0, 0.0], [2.0, 0.0, 3.0]])),
}


@pytest.mark.parametrize("name", TORCH_CASES)
def test_values_and_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    call, x = TORCH_CASES[name]
    t = torch.tensor(x, requires_grad=True)
    expected = call(torch, t)
    expected.backward(torch.ones_like(expected))
    ours = lucid.tensor(x, requires_grad=True)
    out = call(lucid, ours)
    out.backward(np.ones(out.shape))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_max_indices_match_pytorch():
    torch = pytest.importorskip("torch")
    for d in (0, 1):
        np.testing.assert_array_equal(lucid.max(lucid.tensor(TIES), d)[1].data, torch.max(torch.tensor(TIES), d)[1])
        np.testing.assert_array_equal(lucid.min(lucid.tensor(TIES), d)[1].data, torch.min(torch.tensor(TIES), d)[1])
