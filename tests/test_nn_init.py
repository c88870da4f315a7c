"""`lucid.nn.init`: each initialiser's distribution (moments, bounds, orthogonality) on large
tensors, the deterministic ones against PyTorch, and the gains against PyTorch's table."""
import math

import numpy as np
import pytest

import lucid
from lucid import nn
from lucid.errors import LucidError
from lucid.nn import init


def weight(*shape, dtype=np.float64):
    lucid.manual_seed(0)
    return nn.Parameter(np.empty(shape, dtype=dtype))


def assert_moments(values, mean, std):
    """Sample mean within 5 standard errors of `mean`, sample std within 2% of `std`."""
    values = np.asarray(values, dtype=np.float64).ravel()
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(values.size)
    assert values.std() == pytest.approx(std, rel=0.02)


GAINS = [("linear", None), ("conv2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
         ("relu", None), ("leaky_relu", None), ("leaky_relu", 0), ("leaky_relu", 0.2), ("leaky_relu", 3),
         ("selu", None)]


@pytest.mark.parametrize("nonlinearity, param", GAINS)
def test_calculate_gain_equals_pytorchs(nonlinearity, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


def test_calculate_gain_values():
    assert init.calculate_gain("tanh") == 5 / 3 and init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier_normal_has_glorots_std(gain):
    w = init.xavier_normal_(weight(300, 500), gain=gain)
    assert_moments(w.data, 0.0, gain * math.sqrt(2 / 800))


def test_xavier_uniform_keeps_its_bound():
    w = init.xavier_uniform_(weight(300, 500))
    bound = math.sqrt(6 / 800)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    assert_moments(w.data, 0.0, bound / math.sqrt(3))


@pytest.mark.parametrize("mode, fan", [("fan_in", 32 * 9), ("fan_out", 64 * 9)])
@pytest.mark.parametrize("nonlinearity, a, gain", [("relu", 0.0, math.sqrt(2)),
                                                   ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
                                                   ("tanh", 0.0, 5 / 3)])
def test_kaiming_normal_has_hes_std(mode, fan, nonlinearity, a, gain):
    w = init.kaiming_normal_(weight(64, 32, 3, 3), a=a, mode=mode, nonlinearity=nonlinearity)
    assert_moments(w.data, 0.0, gain / math.sqrt(fan))


def test_kaiming_uniform_fan_out_bound():
    w = init.kaiming_uniform_(weight(200, 100), mode="fan_out", nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 200)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound


def test_linear_default_init_is_unchanged():
    """a = sqrt(5) gives bound 1 / sqrt(fan_in), as PyTorch's Linear."""
    layer = nn.Linear(400, 300, dtype=np.float64)
    assert np.abs(layer.weight.data).max() <= 1 / 20 and np.abs(layer.weight.data).max() > 0.99 / 20


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 3.0), (0.0, 1.0, 3.0, 4.0),
                                             (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal_stays_in_bounds_with_the_truncated_moments(mean, std, a, b):
    scipy_stats = pytest.importorskip("scipy.stats")
    w = init.trunc_normal_(weight(400, 400), mean, std, a, b)
    assert w.data.min() >= a and w.data.max() <= b
    alpha, beta = (a - mean) / std, (b - mean) / std
    expected_mean, expected_var = scipy_stats.truncnorm.stats(alpha, beta, loc=mean, scale=std, moments="mv")
    assert_moments(w.data, float(expected_mean), math.sqrt(float(expected_var)))
    # not clipped: only a measure-zero share of the values sits on a bound
    assert np.mean((w.data == a) | (w.data == b)) < 1e-4


def test_trunc_normal_bounds_hold_in_float32():
    w = init.trunc_normal_(weight(300, 300, dtype=np.float32), 0.1, 0.05, a=0.0, b=0.1)
    assert w.dtype == np.float32
    assert w.data.min() >= np.float32(0.0) and w.data.max() <= np.float32(0.1)


@pytest.mark.parametrize("shape, gain", [((50, 80), 1.0), ((80, 50), 2.0), ((6, 3, 2, 2), 1.0), ((4, 4, 3), 0.5)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain):
    w = init.orthogonal_(weight(*shape), gain=gain)
    flat = w.data.reshape(shape[0], -1)
    small = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(small, gain ** 2 * np.eye(len(small)), atol=1e-12)


def test_orthogonal_is_uniform_not_biased_to_a_sign():
    """QR's signs are a convention (LAPACK's make Q[0, 0] negative for a positive first entry);
    with them fixed, an entry of Q is positive as often as negative."""
    lucid.manual_seed(1)
    signs = [init.orthogonal_(nn.Parameter(np.empty((3, 3)))).data[0, 0] > 0 for _ in range(400)]
    assert 150 < sum(signs) < 250


def test_initialisers_repeat_with_the_seed():
    for fill in (init.xavier_normal_, init.kaiming_normal_, init.orthogonal_, init.trunc_normal_):
        np.testing.assert_array_equal(fill(weight(5, 7)).data, fill(weight(5, 7)).data)


@pytest.mark.parametrize("shape, groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((4, 2, 3, 4), 1),
                                           ((4, 6, 3, 3, 3), 1), ((6, 2, 5), 3)])
def test_dirac_equals_pytorchs(shape, groups):
    torch = pytest.importorskip("torch")
    expected = torch.nn.init.dirac_(torch.empty(shape, dtype=torch.float64), groups).numpy()
    np.testing.assert_array_equal(init.dirac_(weight(*shape), groups).data, expected)


def test_dirac_passes_the_input_through_a_convolution():
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False, dtype=np.float64)
    init.dirac_(conv.weight)
    x = lucid.randn(2, 3, 5, 5, dtype=lucid.float64)
    np.testing.assert_allclose(conv(x).data, x.data, atol=1e-15)


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_eye_and_constant(shape):
    np.testing.assert_array_equal(init.eye_(weight(*shape)).data, np.eye(*shape))
    np.testing.assert_array_equal(init.constant_(weight(*shape), 0.25).data, np.full(shape, 0.25))


def test_empty_weights_are_left_alone():
    for fill in (init.xavier_normal_, init.kaiming_normal_, init.orthogonal_):
        assert fill(weight(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("call, message", [
    (lambda: init.calculate_gain("swish"), "unsupported nonlinearity 'swish'"),
    (lambda: init.calculate_gain("leaky_relu", True), "negative slope of leaky_relu must be a number"),
    (lambda: init.kaiming_normal_(weight(3, 3), mode="fan_avg"), "mode must be 'fan_in' or 'fan_out'"),
    (lambda: init.kaiming_uniform_(weight(3, 3), nonlinearity="gelu"), "unsupported nonlinearity 'gelu'"),
    (lambda: init.xavier_normal_(weight(3)), "at least 2 dims"),
    (lambda: init.trunc_normal_(weight(3), std=0.0), "std must be a finite number > 0"),
    (lambda: init.trunc_normal_(weight(3), a=1.0, b=1.0), "a < b"),
    (lambda: init.orthogonal_(weight(3)), "at least 2 dims"),
    (lambda: init.eye_(weight(2, 2, 2)), "expected a 2-D tensor"),
    (lambda: init.dirac_(weight(3, 3)), "3-D, 4-D or 5-D"),
    (lambda: init.dirac_(weight(3, 3, 3), groups=2), "groups must be a positive integer dividing dim 0"),
    (lambda: init.dirac_(weight(3, 3, 3), groups=True), "dirac_: groups must be a non-negative int, got True"),
    (lambda: init.dirac_(weight(3, 3, 3), groups=0), "groups must be a positive integer dividing dim 0"),
    (lambda: init.trunc_normal_(weight(3), mean="a"), "trunc_normal_: mean must be a finite number, got 'a'"),
    (lambda: init.trunc_normal_(weight(3), mean=math.nan), "trunc_normal_: mean must be a finite number, got nan"),
    (lambda: init.constant_(weight(3), "a"), "constant_: val must be a number or a one-element tensor, got 'a'"),
])
def test_bad_arguments_are_errors(call, message):
    with pytest.raises(LucidError, match=message):
        call()
