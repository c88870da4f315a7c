"""Losses of nn.functional: values against per-sample NumPy loops, PyTorch parity when installed,
the three reductions, dtypes, errors, and first and second derivatives by finite differences
(for every float input, class weights and probability targets included)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from finite_differences import check_derivatives
from test_ops_nn import assert_like_pytorch

import lucid

F = lucid.nn.functional
rng = np.random.default_rng(1)
REDUCTIONS = ("mean", "sum", "none")


def _reduce(values, reduction, divisor=None):
    values = np.asarray(values, dtype=np.float64)
    if reduction == "none":
        return values
    total = values.sum()
    return total / (values.size if divisor is None else divisor) if reduction == "mean" else total


# --- class-index and probability targets ---------------------------------------------------------

def _cross_entropy_ref(x, target, weight=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    """Per sample: -log softmax at the target, mixed with the mean over classes for smoothing."""
    classes = x.shape[1]
    w = np.ones(classes) if weight is None else weight
    losses, total = [], 0.0
    for xi, ti in zip(x, target):
        logp = [v - math.log(sum(math.exp(u) for u in xi)) for v in xi]
        if ti == ignore_index:
            losses.append(0.0)
            continue
        smooth = -sum(w[c] * logp[c] for c in range(classes)) / classes
        losses.append((1 - smoothing) * -w[ti] * logp[ti] + smoothing * smooth)
        total += w[ti]
    return _reduce(losses, reduction, total)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_class_indices(reduction, smoothing, weighted):
    x, target = rng.standard_normal((5, 3)), np.array([0, 2, -100, 1, 2])
    weight = rng.random(3) + 0.5 if weighted else None
    out = F.cross_entropy(lucid.tensor(x), lucid.tensor(target), None if weight is None else lucid.tensor(weight),
                          reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(out.data, _cross_entropy_ref(x, target, weight, -100, reduction, smoothing), rtol=1e-12)
    inputs = [x] if weight is None else [x, weight]
    check_derivatives(lambda x, *w: F.cross_entropy(x, lucid.tensor(target), *w, reduction=reduction,
                                                     label_smoothing=smoothing), inputs)


def test_cross_entropy_probability_targets_and_extra_dims():
    x, probs, weight = rng.standard_normal((2, 3, 2)), rng.random((2, 3, 2)), rng.random(3) + 0.5
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    expected = -(probs * logp * weight[:, None]).sum() / 4  # mean over the 2 x 2 samples
    np.testing.assert_allclose(F.cross_entropy(*map(lucid.tensor, (x, probs, weight))).data, expected)
    check_derivatives(lambda x, t, w: F.cross_entropy(x, t, w, label_smoothing=0.1), [x, probs, weight])
    check_derivatives(lambda x, t: F.cross_entropy(x, t, reduction="none"), [x[0], probs[0]])


def test_cross_entropy_ignore_index_and_one_sample():
    x, target = rng.standard_normal((3, 4, 2)), np.array([[1, 3], [0, 1], [1, 2]])
    out = F.cross_entropy(lucid.tensor(x), lucid.tensor(target), ignore_index=1)
    flat_x, flat_t = np.moveaxis(x, 1, -1).reshape(-1, 4), target.reshape(-1)
    np.testing.assert_allclose(out.data, _cross_entropy_ref(flat_x, flat_t, ignore_index=1))
    single = F.cross_entropy(lucid.tensor(x[:, :, 0].T[0]), lucid.tensor(2))
    np.testing.assert_allclose(single.data, _cross_entropy_ref(x[:, :, 0].T[:1], [2]))
    check_derivatives(lambda x: F.cross_entropy(x, lucid.tensor(target), ignore_index=1), [x])


def test_nll_loss():
    logp, target, weight = rng.standard_normal((4, 3)), np.array([2, 0, 0, -100]), rng.random(3) + 0.5
    for reduction in REDUCTIONS:
        picked = [-weight[t] * row[t] if t != -100 else 0.0 for row, t in zip(logp, target)]
        expected = _reduce(picked, reduction, weight[[2, 0, 0]].sum())
        out = F.nll_loss(lucid.tensor(logp), lucid.tensor(target), lucid.tensor(weight), reduction=reduction)
        np.testing.assert_allclose(out.data, expected)
        check_derivatives(lambda x, w: F.nll_loss(x, lucid.tensor(target), w, reduction=reduction), [logp, weight])


def test_classification_errors():
    x = lucid.zeros(2, 3)
    with pytest.raises(lucid.OpError, match=r"target of shape \(3,\) does not fit input of shape \(2, 3\)"):
        F.cross_entropy(x, lucid.tensor([0, 1, 2]))
    with pytest.raises(lucid.OpError, match=r"must lie in \[0, 3\)"):
        F.cross_entropy(x, lucid.tensor([0, 3]))
    with pytest.raises(lucid.OpError, match=r"weight of shape \(2,\) must have one value per class \(3,\)"):
        F.nll_loss(x, lucid.tensor([0, 1]), lucid.zeros(2))
    with pytest.raises(lucid.OpError, match=r"'target' \(input 1\) has dtype float32, expected an integer tensor"):
        F.nll_loss(x, lucid.zeros(2, 3))
    with pytest.raises(lucid.OpError, match="'reduction' must be one of 'mean', 'sum', 'none', got 'avg'"):
        F.cross_entropy(x, lucid.tensor([0, 1]), reduction="avg")


def test_cross_entropy_backward_called_on_its_own_checks_its_targets():
    """Its forward trusts nothing cross_entropy checked: a target of -1 once picked the last class."""
    backward, g, probs = lucid.registry["cross_entropy_backward"], lucid.tensor(1.0), F.softmax(lucid.zeros(2, 3), 1)
    with pytest.raises(lucid.OpError, match=r"cross_entropy_backward: class-index target values must lie in \[0, 3\)"):
        backward(g, probs, lucid.tensor([0, -1]))
    with pytest.raises(lucid.OpError, match=r"cross_entropy_backward: class-index target of shape \(3,\) does not fit"):
        backward(g, probs, lucid.tensor([0, 1, 2]))
    with pytest.raises(lucid.OpError, match="cross_entropy_backward: input must have a class dim, got a 0-d input"):
        backward(g, lucid.tensor(0.5), lucid.tensor(0))


def test_float32_stays_float32():
    x, t = lucid.zeros(2, 3), lucid.tensor([0, 1])
    assert F.cross_entropy(x, t).dtype == np.float32
    assert F.nll_loss(x, t, reduction="none").dtype == np.float32
    assert F.mse_loss(x, x).dtype == np.float32
    assert F.binary_cross_entropy(x + 0.5, x).dtype == np.float32
    assert F.binary_cross_entropy_with_logits(x, x).dtype == np.float32
    assert F.kl_div(x, x + 0.5).dtype == np.float32
    backward = lucid.registry["cross_entropy_backward"]  # no float64 result for the engine to cast back
    assert backward(lucid.tensor(1.0), F.softmax(x, 1), t).dtype == np.float32


@pytest.mark.parametrize("loss", [F.nll_loss, F.cross_entropy])
def test_float32_class_weight_gradient_is_the_rounding_of_the_exact_one(loss):
    """With 'mean' the weight's gradient sums -logp - out, which cancels: where every target has one
    class it is exactly 0. In float32 the cancellation once left 2e-4 (found by a float32 sweep)."""
    logp = (rng.standard_normal((64, 3)) * 5).astype(np.float32)
    weight = (rng.random(3) * 1e-3).astype(np.float32)

    def weight_gradient(target, dtype):
        w = lucid.tensor(weight.astype(dtype), requires_grad=True)
        loss(lucid.tensor(logp.astype(dtype)), lucid.tensor(target), w).backward()
        assert w.grad.dtype == dtype
        return w.grad.data

    mixed = rng.integers(0, 3, 64)
    np.testing.assert_allclose(weight_gradient(mixed, np.float32), weight_gradient(mixed, np.float64), rtol=1e-5)
    one_class = np.zeros(64, dtype=np.int64)
    assert np.abs(weight_gradient(one_class, np.float32)).max() < 1e-9


# --- regression ----------------------------------------------------------------------------------

def _huber_ref(d, delta):
    return 0.5 * d * d if abs(d) < delta else delta * (abs(d) - 0.5 * delta)


REGRESSION = {
    "mse_loss": ({}, lambda d: d * d),
    "l1_loss": ({}, abs),
    "smooth_l1_loss": ({"beta": 0.5}, lambda d: _huber_ref(d, 0.5) / 0.5),
    "huber_loss": ({"delta": 0.5}, lambda d: _huber_ref(d, 0.5)),
}


@pytest.mark.parametrize("name", REGRESSION)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(name, reduction):
    params, pointwise = REGRESSION[name]
    x, y = rng.standard_normal((3, 4)), rng.standard_normal(4)  # broadcast, as PyTorch allows
    expected = _reduce([[pointwise(a - b) for a, b in zip(row, y)] for row in x], reduction)
    fn = getattr(F, name)
    np.testing.assert_allclose(fn(lucid.tensor(x), lucid.tensor(y), reduction=reduction, **params).data, expected)
    check_derivatives(lambda x, y: fn(x, y, reduction=reduction, **params), [x, y])


def test_smooth_l1_with_beta_zero_is_l1():
    x, y = lucid.tensor(rng.standard_normal(5)), lucid.tensor(rng.standard_normal(5))
    np.testing.assert_allclose(F.smooth_l1_loss(x, y, beta=0.0).data, F.l1_loss(x, y).data)


def test_regression_shape_error():
    with pytest.raises(lucid.OpError, match=r"input of shape \(2, 3\) and target of shape \(2,\) do not broadcast"):
        F.mse_loss(lucid.zeros(2, 3), lucid.zeros(2))


# --- binary --------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    p, t, w = rng.random((3, 2)) * 0.9 + 0.05, rng.random((3, 2)), rng.random(2) + 0.5
    expected = _reduce([[-w[j] * (t[i, j] * math.log(p[i, j]) + (1 - t[i, j]) * math.log(1 - p[i, j]))
                         for j in range(2)] for i in range(3)], reduction)
    out = F.binary_cross_entropy(*map(lucid.tensor, (p, t, w)), reduction=reduction)
    np.testing.assert_allclose(out.data, expected)
    check_derivatives(lambda p, t, w: F.binary_cross_entropy(p, t, w, reduction=reduction), [p, t, w])


def test_binary_cross_entropy_clamps_log_and_checks_input():
    out = F.binary_cross_entropy(lucid.tensor([0.0, 1.0]), lucid.tensor([1.0, 0.0]), reduction="none")
    np.testing.assert_array_equal(out.data, [100, 100])
    with pytest.raises(lucid.OpError, match="between 0 and 1"):
        F.binary_cross_entropy(lucid.tensor([1.5]), lucid.tensor([1.0]))
    with pytest.raises(lucid.OpError, match=r"target of shape \(1,\) must have the input's shape \(2,\)"):
        F.binary_cross_entropy(lucid.tensor([0.5, 0.5]), lucid.tensor([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction):
    x, t = rng.standard_normal((3, 2)) * 3, rng.random((3, 2))
    w, pw = rng.random((3, 2)) + 0.5, rng.random(2) + 0.5

    def ref(x, t, w, pw):
        s = 1 / (1 + math.exp(-x))
        return -w * (pw * t * math.log(s) + (1 - t) * math.log(1 - s))

    expected = _reduce([[ref(x[i, j], t[i, j], w[i, j], pw[j]) for j in range(2)] for i in range(3)], reduction)
    out = F.binary_cross_entropy_with_logits(*map(lucid.tensor, (x, t, w)), pos_weight=lucid.tensor(pw),
                                             reduction=reduction)
    np.testing.assert_allclose(out.data, expected)
    check_derivatives(lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, w, pw, reduction=reduction),
                      [x, t, w, pw])
    big = F.binary_cross_entropy_with_logits(lucid.tensor([1000.0, -1000.0]), lucid.tensor([0.0, 1.0]),
                                             reduction="none")
    np.testing.assert_allclose(big.data, [1000, 1000])  # no overflow


# --- kl_div --------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS + ("batchmean",))
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    x, t = rng.standard_normal((3, 2)), rng.random((3, 2)) + 0.1
    prob = np.exp(t) if log_target else t
    pointwise = prob * (np.log(prob) - x)
    expected = pointwise.sum() / 3 if reduction == "batchmean" else _reduce(pointwise, reduction)
    np.testing.assert_allclose(F.kl_div(lucid.tensor(x), lucid.tensor(t), reduction=reduction,
                                        log_target=log_target).data, expected)
    check_derivatives(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target), [x, t])
    assert F.kl_div(lucid.tensor([0.3]), lucid.tensor([0.0]), reduction="sum").item() == 0.0


# --- PyTorch parity ------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch's notice about kl_div's 'mean'
def test_losses_match_pytorch():
    x, y = rng.standard_normal((4, 3)), rng.random((4, 3))
    x4, t4 = rng.standard_normal((2, 3, 2, 2)), rng.integers(0, 3, (2, 2, 2))
    t4[0, 0, 0] = 0
    target, w = np.array([0, 2, -100, 1]), rng.random(3) + 0.5
    for reduction in REDUCTIONS:
        cases = [
            (lambda f, x, w: f.cross_entropy(x, target_of(f, target), w, reduction=reduction, label_smoothing=0.2),
             (x, w)),
            (lambda f, x, t, w: f.cross_entropy(x, t, w, reduction=reduction, label_smoothing=0.3), (x, y, w)),
            (lambda f, x: f.cross_entropy(x, target_of(f, t4), ignore_index=1, reduction=reduction), (x4,)),
            (lambda f, x, w: f.nll_loss(x, target_of(f, target), w, reduction=reduction), (x, w)),
            (lambda f, x, y: f.smooth_l1_loss(x, y, reduction=reduction, beta=0.3), (x, y)),
            (lambda f, x, y: f.huber_loss(x, y, reduction=reduction, delta=0.3), (x, y)),
            (lambda f, p, y: f.binary_cross_entropy(p, y, reduction=reduction), (y * 0.9 + 0.05, y[::-1].copy())),
            (lambda f, x, y: f.binary_cross_entropy_with_logits(x, y, pos_weight=target_of(f, w),
                                                                reduction=reduction), (x, y)),
            (lambda f, x, y: f.kl_div(x, y, reduction=reduction, log_target=True), (x, y)),
        ]
        assert_like_pytorch(cases, differentiable=lambda a: a.shape != w.shape)  # PyTorch: no weight grads


def target_of(f, array):
    """A constant (an integer target, a pos_weight) for either library."""
    return lucid.tensor(array) if f is F else __import__("torch").tensor(array)
