"""nn.functional: softmax, log_softmax, linear, layer_norm, batch_norm, embedding, dropout, normalize,
cosine_similarity.

Forward values against NumPy references written independently of lucid_ops (loops or a different
formula), PyTorch when it is installed, dtypes, errors, and first and second derivatives against
central finite differences (`finite_differences.check_derivatives`).
"""
from __future__ import annotations

import numpy as np
import pytest
from finite_differences import check_derivatives

import lucid

F = lucid.nn.functional
rng = np.random.default_rng(0)


# --- softmax, log_softmax ----------------------------------------------------------------------

def _softmax_ref(x, dim):
    x = np.moveaxis(x, dim, -1)
    out = np.empty_like(x)
    for k in np.ndindex(x.shape[:-1]):
        e = np.exp(x[k] - x[k].max())
        out[k] = e / e.sum()
    return np.moveaxis(out, -1, dim)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax_values(dim):
    x = rng.standard_normal((3, 4, 2)) * 5
    np.testing.assert_allclose(F.softmax(lucid.tensor(x), dim).data, _softmax_ref(x, dim), rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(lucid.tensor(x), dim=dim).data, np.log(_softmax_ref(x, dim)),
                               rtol=1e-12, atol=1e-12)


def test_softmax_is_stable_and_keeps_dtype():
    x = np.array([[1000.0, 1000.0, -1000.0]], dtype=np.float32)
    assert F.softmax(lucid.tensor(x), 1).dtype == np.float32
    np.testing.assert_allclose(F.softmax(lucid.tensor(x), 1).data, [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(F.log_softmax(lucid.tensor(x), 1).data, [[-np.log(2), -np.log(2), -2000 - np.log(2)]],
                               rtol=1e-6)
    assert F.softmax(lucid.tensor(2.0), 0).item() == 1.0
    assert F.softmax(lucid.zeros(0, 3), 1).shape == (0, 3)


def test_softmax_bad_dim():
    with pytest.raises(lucid.OpError, match="dim 2 is out of range for a tensor with 2 dims"):
        F.softmax(lucid.zeros(2, 3), 2)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_gradients(name):
    check_derivatives(lambda x: getattr(F, name)(x, 1), [rng.standard_normal((2, 3))])


@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_backward_ops_are_g_times_the_written_out_jacobian(dim):
    """The fused rules against each row's Jacobian: diag(p) - p pᵀ for softmax, I - 1 pᵀ for log_softmax."""
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    p = _softmax_ref(x, dim)
    rows = list(zip(np.moveaxis(p, dim, -1), np.moveaxis(g, dim, -1)))
    soft = np.stack([gk @ (np.diag(pk) - np.outer(pk, pk)) for pk, gk in rows])
    log_soft = np.stack([gk @ (np.eye(len(pk)) - np.outer(np.ones(len(pk)), pk)) for pk, gk in rows])
    got = lucid.registry["softmax_backward"](lucid.tensor(g), lucid.tensor(p), dim)
    np.testing.assert_allclose(got.data, np.moveaxis(soft, -1, dim), rtol=1e-12, atol=1e-15)
    got = lucid.registry["log_softmax_backward"](lucid.tensor(g), lucid.tensor(np.log(p)), dim)
    np.testing.assert_allclose(got.data, np.moveaxis(log_soft, -1, dim), rtol=1e-12, atol=1e-15)


def test_log_softmax_backward_where_its_buffer_does_not_fit():
    """The rule writes into one buffer where the result fits it; a float64 g against a float32 output
    (promoted to float64 first, as every op's inputs) gets its values in float64, and a 0-d output an
    array, as before that."""
    op = lucid.registry["log_softmax_backward"]
    g, out = rng.standard_normal((3, 4)), np.log(_softmax_ref(rng.standard_normal((3, 4)), 1)).astype(np.float32)
    got = op(lucid.tensor(g), lucid.tensor(out), 1)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.data, g - np.exp(out.astype(np.float64)) * g.sum(1, keepdims=True), rtol=1e-12)
    assert op(lucid.tensor(np.float64(2.0)), lucid.tensor(np.float64(0.0)), 0).item() == 0.0  # g - e^0 g


# --- linear --------------------------------------------------------------------------------------

def test_linear_values_and_gradients():
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    expected = np.einsum("nti,oi->nto", x, w) + b
    np.testing.assert_allclose(F.linear(lucid.tensor(x), lucid.tensor(w), lucid.tensor(b)).data, expected)
    np.testing.assert_allclose(F.linear(lucid.tensor(x[0, 0]), lucid.tensor(w)).data, w @ x[0, 0])
    check_derivatives(F.linear, [x[0], w, b])
    check_derivatives(lambda x, w: F.linear(x, w), [x[0, 0], w])


def test_linear_shape_errors_name_both_shapes():
    with pytest.raises(lucid.OpError, match=r"input of shape \(2, 3\) does not fit weight of shape \(5, 4\)"):
        F.linear(lucid.zeros(2, 3), lucid.zeros(5, 4))
    with pytest.raises(lucid.OpError, match=r"bias of shape \(4,\)"):
        F.linear(lucid.zeros(2, 4), lucid.zeros(5, 4), lucid.zeros(4))


# --- layer_norm, batch_norm ----------------------------------------------------------------------

def _layer_norm_ref(x, k, w=None, b=None, eps=1e-5):
    flat = x.reshape(x.shape[:x.ndim - k] + (-1,))
    mu = flat.sum(-1, keepdims=True) / flat.shape[-1]
    var = ((flat - mu) ** 2).sum(-1, keepdims=True) / flat.shape[-1]
    y = ((flat - mu) / np.sqrt(var + eps)).reshape(x.shape)
    return y * (1 if w is None else w) + (0 if b is None else b)


def test_layer_norm_values_in_both_argument_orders():
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    expected = _layer_norm_ref(x, 2, w, b)
    tx, tw, tb = map(lucid.tensor, (x, w, b))
    np.testing.assert_allclose(F.layer_norm(tx, (3, 4), tw, tb).data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.layer_norm(tx, weight=tw, bias=tb, normalized_shape=(3, 4)).data, expected, rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(F.layer_norm(tx, 4).data, _layer_norm_ref(x, 1), rtol=1e-10, atol=1e-12)
    assert F.layer_norm(lucid.tensor(x.astype(np.float32)), [4]).dtype == np.float32


def test_layer_norm_errors():
    with pytest.raises(lucid.OpError, match=r"normalized_shape \(3,\) must be the last dims .* shape \(2, 4\)"):
        F.layer_norm(lucid.zeros(2, 4), (3,))


def test_layer_norm_gradients():
    x = rng.standard_normal((2, 3))
    check_derivatives(lambda x, w, b: F.layer_norm(x, (3,), w, b), [x, rng.standard_normal(3),
                                                                    rng.standard_normal(3)])
    check_derivatives(lambda x: F.layer_norm(x, (2, 3)), [x])


def _batch_norm_ref(x, mean, var, w, b, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * w.reshape(shape) + b.reshape(shape)


def test_batch_norm_training_updates_running_stats_in_place():
    x = rng.standard_normal((4, 3, 2, 2))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    running_mean, running_var = lucid.zeros(3, dtype=np.float64), lucid.ones(3, dtype=np.float64)
    out = F.batch_norm(lucid.tensor(x), running_mean, running_var, lucid.tensor(w), lucid.tensor(b), training=True,
                       momentum=0.2)
    per_channel = np.moveaxis(x, 1, 0).reshape(3, -1)
    mean, var = per_channel.mean(1), per_channel.var(1)
    np.testing.assert_allclose(out.data, _batch_norm_ref(x, mean, var, w, b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(running_mean.data, 0.2 * mean)
    np.testing.assert_allclose(running_var.data, 0.8 + 0.2 * per_channel.var(1, ddof=1))


def test_batch_norm_eval_uses_running_stats():
    x = rng.standard_normal((2, 3))
    mean, var, w, b = rng.standard_normal(3), rng.random(3) + 0.5, rng.standard_normal(3), rng.standard_normal(3)
    out = F.batch_norm(*map(lucid.tensor, (x, mean, var, w, b)))
    np.testing.assert_allclose(out.data, _batch_norm_ref(x, mean, var, w, b))
    with pytest.raises(lucid.OpError, match="running_mean and running_var are required"):
        F.batch_norm(lucid.tensor(x), None, None)
    with pytest.raises(lucid.OpError, match=r"more than 1 value per channel .* \(1, 3\)"):
        F.batch_norm(lucid.zeros(1, 3), None, None, training=True)
    with pytest.raises(lucid.OpError, match=r"weight of shape \(2,\) does not match the input's 3 channels"):
        F.batch_norm(lucid.tensor(x), lucid.tensor(mean), lucid.tensor(var), lucid.zeros(2, dtype=np.float64))


@pytest.mark.parametrize("normalize", [
    lambda x: F.layer_norm(x, (3,)),
    lambda x: F.batch_norm(x.reshape(3, 1), None, None, training=True),
    lambda x: F.group_norm(x.reshape(1, 3), 1),
    lambda x: F.instance_norm(x.reshape(1, 1, 3)),
], ids=["layer_norm", "batch_norm", "group_norm", "instance_norm"])
def test_equal_float32_values_normalize_to_exactly_zero(normalize):
    """A float32 mean of equal values summed in float32 is an ulp off them, and 1/sqrt(eps) made
    that -2.8e-5 (PyTorch's is exactly 0): the normalizations' means are summed in float64."""
    x = lucid.tensor(np.full(3, 21.562504, dtype=np.float32))
    y = normalize(x)
    assert y.dtype == np.float32
    assert np.all(y.data == 0)


@pytest.mark.parametrize("normalize", [
    lambda x: F.layer_norm(x, (2,)),
    lambda x: F.batch_norm(x.reshape(2, 1), None, None, training=True),
    lambda x: F.group_norm(x.reshape(1, 2), 1),
    lambda x: F.instance_norm(x.reshape(1, 1, 2)),
], ids=["layer_norm", "batch_norm", "group_norm", "instance_norm"])
def test_close_float32_values_normalize_as_in_float64(normalize):
    """Two float32 values 8e-5 apart near 1.8: x - mean is 4e-5, of which the float32 mean's
    rounding is 0.15%, and 1/sqrt(var + eps) amplifies it (the thorough float32 oracle sweep found
    group_norm 0.15% off, PyTorch 2e-5): the normalizations standardize float32 in float64."""
    values = np.array([1.8046879, 1.8047712], dtype=np.float32)
    y = normalize(lucid.tensor(values))
    exact = normalize(lucid.tensor(values.astype(np.float64)))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data.reshape(-1), exact.data.reshape(-1), rtol=2e-7)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients(training):
    x = rng.standard_normal((3, 2, 2))
    mean, var = rng.standard_normal(2), rng.random(2) + 0.5
    w, b = rng.standard_normal(2), rng.standard_normal(2)
    if training:  # the running statistics do not reach the output
        check_derivatives(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b])
    else:
        check_derivatives(F.batch_norm, [x, mean, var, w, b])


# --- embedding, dropout --------------------------------------------------------------------------

def test_embedding_values_and_gradient_accumulates_repeats():
    weight = rng.standard_normal((5, 3))
    idx = np.array([[0, 2], [2, 4]])
    w = lucid.tensor(weight, requires_grad=True)
    out = F.embedding(lucid.tensor(idx), w)
    np.testing.assert_array_equal(out.data, np.stack([[weight[i] for i in row] for row in idx]))
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.data[:, 0], [1, 0, 2, 0, 1])
    check_derivatives(lambda w: F.embedding(lucid.tensor(idx), w), [weight])
    with pytest.raises(lucid.OpError, match=r"indices must lie in \[0, 5\)"):
        F.embedding(lucid.tensor([5]), w)
    with pytest.raises(lucid.OpError, match="integer"):
        F.embedding(lucid.tensor([0.0]), w)


def test_embedding_padding_idx_gets_no_gradient():
    w = lucid.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    F.embedding(lucid.tensor([1, 3, 3]), w, padding_idx=3).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [[0, 0], [1, 1], [0, 0], [0, 0]])


def test_dropout_is_seeded_scaled_and_identity_in_eval():
    x = lucid.ones(1000, dtype=np.float32, requires_grad=True)
    lucid.manual_seed(3)
    a = F.dropout(x, 0.25)
    lucid.manual_seed(3)
    b = F.dropout(x, p=0.25, training=True)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32
    assert set(np.unique(a.data)) <= {0.0, np.float32(1 / 0.75)}
    assert 150 < np.sum(a.data == 0) < 350
    a.sum().backward()  # the gradient uses the forward's own mask
    np.testing.assert_array_equal(x.grad.data, a.data)
    assert F.dropout(x, 0.5, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0)
    with pytest.raises(lucid.OpError, match="between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_dropout_with_a_given_mask_is_differentiable():
    mask = rng.random((3, 4)) > 0.5
    check_derivatives(lambda x: F.dropout(x, lucid.tensor(mask), p=0.5), [rng.standard_normal((3, 4))])


# --- normalize, cosine_similarity ----------------------------------------------------------------

@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_normalize(p):
    x = rng.standard_normal((3, 4))
    norms = np.array([sum(abs(v) ** p for v in col) ** (1 / p) for col in x.T])
    np.testing.assert_allclose(F.normalize(lucid.tensor(x), p, 0).data, x / norms)
    check_derivatives(lambda x: F.normalize(x, p=p, dim=-1), [x])
    np.testing.assert_array_equal(F.normalize(lucid.zeros(2, 3)).data, 0)
    zero = lucid.zeros(1, 2, dtype=np.float64, requires_grad=True)
    F.normalize(zero, p, eps=1e-3).sum().backward()  # the norm is clamped: y = x / eps
    np.testing.assert_allclose(zero.grad.data, 1e3)


def test_cosine_similarity_broadcasts():
    x1, x2 = rng.standard_normal((3, 4)), rng.standard_normal((1, 4))
    expected = [a @ x2[0] / np.linalg.norm(a) / np.linalg.norm(x2[0]) for a in x1]
    np.testing.assert_allclose(F.cosine_similarity(lucid.tensor(x1), lucid.tensor(x2)).data, expected)
    check_derivatives(F.cosine_similarity, [x1, x2])
    check_derivatives(lambda a, b: F.cosine_similarity(a, b, dim=0),
                      [rng.standard_normal((2, 3)), rng.standard_normal((2, 1))])
    with pytest.raises(lucid.OpError, match=r"x1 of shape \(3, 4\) and x2 of shape \(2, 4\) do not broadcast"):
        F.cosine_similarity(lucid.tensor(x1), lucid.zeros(2, 4))


# --- PyTorch parity ------------------------------------------------------------------------------

def assert_like_pytorch(cases, differentiable=lambda array: True, grad_rtol=1e-8):
    """Each case is (fn(f, *tensors), arrays): with f = lucid.nn.functional and with PyTorch's, the
    values and the gradients (of a random projection of the output) agree."""
    torch = pytest.importorskip("torch")
    for fn, arrays in cases:
        ours = [lucid.tensor(a, requires_grad=True) for a in arrays]
        theirs = [torch.tensor(a, requires_grad=bool(differentiable(a))) for a in arrays]
        out, ref = fn(F, *ours), fn(torch.nn.functional, *theirs)
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        probe = rng.standard_normal(tuple(ref.shape))
        pairs = [(a, t) for a, t in zip(ours, theirs) if t.requires_grad]
        expected = torch.autograd.grad(ref, [t for _, t in pairs], torch.tensor(probe))
        got = lucid.grad(out, [a for a, _ in pairs], lucid.tensor(probe))
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g.data, e.numpy(), rtol=grad_rtol, atol=1e-11)


def test_matches_pytorch():
    x, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal(3)
    assert_like_pytorch([
        (lambda f, x: f.softmax(x, 1), (x,)),
        (lambda f, x: f.log_softmax(x, -1), (x,)),
        (lambda f, x, w: f.linear(x, w), (x, rng.standard_normal((2, 5)))),
        (lambda f, x, w, b: f.layer_norm(x, (5,), w, b), (x, w[:1].repeat(5), b[:1].repeat(5))),
        (lambda f, x, w, b: f.batch_norm(x, None, None, w, b, training=True), (x, w, b)),
        (lambda f, x: f.normalize(x, p=3.0, dim=2), (x,)),
        (lambda f, x, y: f.cosine_similarity(x, y, dim=1), (x, rng.standard_normal((4, 1, 5)))),
    ])


def test_batch_norm_running_stats_match_pytorch():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((5, 3, 2))
    mean, var = lucid.zeros(3, dtype=np.float64), lucid.ones(3, dtype=np.float64)
    tmean, tvar = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for _ in range(3):
        F.batch_norm(lucid.tensor(x), mean, var, training=True)
        torch.nn.functional.batch_norm(torch.tensor(x), tmean, tvar, training=True)
    np.testing.assert_allclose(mean.data, tmean.numpy())
    np.testing.assert_allclose(var.data, tvar.numpy())
