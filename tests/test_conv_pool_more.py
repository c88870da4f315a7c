"""Convolutions, transposed convolutions and poolings over 1 to 3 dims: values and gradients (first
and second order) against PyTorch in float64 across stride, padding, dilation, groups,
output_padding, ceil_mode and count_include_pad, each given per dim; return_indices; the layers
against PyTorch's from the same weights, and their default initialisation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from finite_differences import check_derivatives
from test_ops_nn import assert_like_pytorch

import lucid

F, nn = lucid.nn.functional, lucid.nn
rng = np.random.default_rng(7)


def per_dim(value, n):
    """A per-dim setting for n dims: a tuple stays as it is for n == len, else its first n entries."""
    return value[:n] if isinstance(value, tuple) else value


CONV_CASES = [  # stride, padding, dilation, groups: per-dim tuples differ between the dims
    (1, 0, 1, 1), ((2, 1, 3), (1, 0, 2), (1, 2, 1), 2), (2, (0, 1, 1), 2, 1), ((1, 3, 2), 1, (2, 1, 1), 4),
    (1, "same", (2, 1, 2), 2), (2, "valid", 1, 1),
]


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("stride, padding, dilation, groups", CONV_CASES)
def test_convolutions_match_pytorch(n, stride, padding, dilation, groups):
    stride, padding, dilation = (per_dim(v, n) for v in (stride, padding, dilation))
    x = rng.standard_normal((2, 4) + (7, 6, 5)[:n])
    w = rng.standard_normal((8, 4 // groups) + (3, 2, 3)[:n])
    conv = f"conv{n}d"
    b = rng.standard_normal(8)
    assert_like_pytorch([
        (lambda f, x, w, b: getattr(f, conv)(x, w, b, stride, padding, dilation, groups), (x, w, b)),
        (lambda f, x, w: getattr(f, conv)(x, w, None, stride, padding, dilation, groups), (x[0], w)),  # unbatched
    ])


TRANSPOSED_CASES = [  # stride, padding, output_padding, groups, dilation
    (1, 0, 0, 1, 1), ((2, 3, 2), (1, 0, 2), (1, 2, 0), 2, 1), (2, 0, 1, 1, (1, 2, 1)),  # output_padding > padding
    ((1, 2, 2), 1, (1, 0, 1), 4, 2),  # output_padding < dilation, >= stride
    (3, (2, 1, 0), (2, 0, 1), 1, 1), (2, 2, 1, 2, (2, 1, 3)),
]


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("stride, padding, output_padding, groups, dilation", TRANSPOSED_CASES)
def test_transposed_convolutions_match_pytorch(n, stride, padding, output_padding, groups, dilation):
    stride, padding, output_padding, dilation = (per_dim(v, n) for v in (stride, padding, output_padding, dilation))
    x = rng.standard_normal((2, 4) + (4, 3, 3)[:n])
    w = rng.standard_normal((4, 6 // (2 if groups > 1 else 1) if groups < 4 else 2) + (3, 2, 3)[:n])
    b = rng.standard_normal(w.shape[1] * groups)
    conv = f"conv_transpose{n}d"
    assert_like_pytorch([
        (lambda f, x, w, b: getattr(f, conv)(x, w, b, stride, padding, output_padding, groups, dilation), (x, w, b)),
        (lambda f, x, w: getattr(f, conv)(x, w, None, stride, padding, output_padding, groups, dilation), (x[0], w)),
    ])


def test_transposed_convolution_is_the_adjoint_of_the_convolution():
    """<conv(x, w), y> = <x, conv_transpose(y, w)> for every stride, padding and dilation."""
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2))
    args = {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2), "groups": 2}
    y = F.conv2d(lucid.tensor(x), lucid.tensor(w), **args).data
    probe = rng.standard_normal(y.shape)
    back = F.conv_transpose2d(lucid.tensor(probe), lucid.tensor(w), output_padding=(0, 0), **args).data
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(y * probe), np.sum(x * back), rtol=1e-12)


@pytest.mark.parametrize("n", [1, 3])
def test_second_derivatives_by_finite_differences(n):
    x, w = rng.standard_normal((1, 2) + (4, 3, 3)[:n]), rng.standard_normal((2, 2) + (2, 2, 2)[:n])
    check_derivatives(lambda x, w: F.__dict__[f"conv_transpose{n}d"](x, w, None, 2, 1, 1), [x, w])
    check_derivatives(lambda x, w: F.__dict__[f"conv{n}d"](x, w, None, 1, 1, 2), [x, w])
    check_derivatives(lambda x: F.__dict__[f"avg_pool{n}d"](x, 2, 2, 1, True, False), [x])
    check_derivatives(lambda x: F.__dict__[f"max_pool{n}d"](x, 2, 2, 1, 1, True), [x])


def test_second_derivatives_match_pytorch():
    torch = pytest.importorskip("torch")
    x, w = rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 3, 3, 2))
    args = (None, (2, 1), (1, 0), (1, 0), 1, (1, 2))
    ours = [lucid.tensor(a, requires_grad=True) for a in (x, w)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w)]
    out, ref = F.conv_transpose2d(*ours, *args), torch.nn.functional.conv_transpose2d(*theirs, *args)
    first = lucid.grad((out * out).sum(), ours, create_graph=True)
    expected_first = torch.autograd.grad((ref * ref).sum(), theirs, create_graph=True)
    second = lucid.grad(sum((g * lucid.tensor(p)).sum() for g, p in zip(first, (x, w))), ours)
    expected = torch.autograd.grad(sum((g * torch.tensor(p)).sum() for g, p in zip(expected_first, (x, w))), theirs)
    for got, e in zip(second, expected):
        np.testing.assert_allclose(got.data, e.numpy(), rtol=1e-9, atol=1e-10)


POOL_CASES = [  # kernel, stride, padding, ceil_mode
    (2, None, 0, False), (2, None, 0, True), ((3, 2, 3), (2, 1, 2), (1, 0, 1), True), (3, 2, 1, False),
    ((2, 3, 2), (2, 2, 1), (1, 1, 0), True), (3, 3, 1, True),
]


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", POOL_CASES)
def test_poolings_match_pytorch(n, kernel, stride, padding, ceil_mode):
    kernel, stride, padding = (per_dim(v, n) for v in (kernel, stride, padding))
    x = rng.standard_normal((2, 3) + (7, 6, 5)[:n])
    maxpool, avgpool = f"max_pool{n}d", f"avg_pool{n}d"
    dilation = per_dim((2, 1, 2), n)
    cases = [
        (lambda f, x: getattr(f, maxpool)(x, kernel, stride, padding, 1, ceil_mode), (x,)),
        (lambda f, x: getattr(f, maxpool)(x, kernel, stride, padding, dilation, ceil_mode), (x,)),
        (lambda f, x: getattr(f, maxpool)(x, kernel, stride, padding, 1, ceil_mode), (x[0],)),  # unbatched
        (lambda f, x: getattr(f, avgpool)(x, kernel, stride, padding, ceil_mode, True), (x,)),
        (lambda f, x: getattr(f, avgpool)(x, kernel, stride, padding, ceil_mode, False), (x[0],)),
    ]
    if n > 1:
        cases.append((lambda f, x: getattr(f, avgpool)(x, kernel, stride, padding, ceil_mode, False, 5), (x,)))
    assert_like_pytorch(cases)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_return_indices_match_pytorch_and_carry_the_gradient(n):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3) + (7, 6, 5)[:n])
    args = ((3, 2, 3)[:n], 2, 1, (1, 2, 1)[:n], True)
    values, indices = getattr(F, f"max_pool{n}d")(lucid.tensor(x), *args, return_indices=True)
    expected_values, expected_indices = getattr(torch.nn.functional, f"max_pool{n}d")(torch.tensor(x), *args, True)
    np.testing.assert_array_equal(indices.data, expected_indices.numpy())
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(values.data, expected_values.numpy())
    assert_like_pytorch([(lambda f, x: getattr(f, f"max_pool{n}d")(x, *args, True)[0], (x,))])
    with pytest.raises(lucid.OpError, match=f"max_pool{n}d: return_indices must be a bool, got 'yes'"):
        getattr(F, f"max_pool{n}d")(lucid.tensor(x), 2, return_indices="yes")


def test_ceil_mode_windows():
    """A last partial window is kept where it starts inside the input; one that would start in the
    padding after it is not; an average over it divides by its part inside the padded input."""
    x = lucid.arange(5.0).reshape(1, 1, 5)
    assert F.max_pool1d(x, 2, ceil_mode=True).data.tolist() == [[[1.0, 3.0, 4.0]]]
    assert F.max_pool1d(x, 2, ceil_mode=False).data.tolist() == [[[1.0, 3.0]]]
    assert F.max_pool1d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3)  # a 4th window would start in the padding
    assert F.avg_pool1d(x, 2, ceil_mode=True).data.tolist() == [[[0.5, 2.5, 4.0]]]


def test_bad_arguments_name_the_op_and_what_was_expected():
    x = lucid.zeros(1, 4, 5, 5)
    with pytest.raises(lucid.OpError, match=r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either "
                                            r"stride \(2, 2\) or dilation \(1, 1\)"):
        F.conv_transpose2d(x, lucid.zeros(4, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(lucid.OpError, match=r"conv_transpose2d: weight of shape \(3, 2, 3, 3\) expects 3 input "
                                            r"channels, but input of shape \(1, 4, 5, 5\) has 4"):
        F.conv_transpose2d(x, lucid.zeros(3, 2, 3, 3))
    with pytest.raises(lucid.OpError, match="conv_transpose2d: groups=3 must be a positive int dividing in_channels"):
        F.conv_transpose2d(x, lucid.zeros(4, 2, 3, 3), groups=3)
    with pytest.raises(lucid.OpError, match=r"conv_transpose1d: .* too small"):
        F.conv_transpose1d(lucid.zeros(1, 1, 1), lucid.zeros(1, 1, 1), padding=1)
    with pytest.raises(lucid.OpError, match="conv_transpose1d: padding must be an int"):
        F.conv_transpose1d(lucid.zeros(1, 1, 3), lucid.zeros(1, 1, 1), padding="same")
    with pytest.raises(lucid.OpError, match=r"conv3d: expected a 5-D \(batched\) or 4-D \(unbatched\) input"):
        F.conv3d(x[0, 0], lucid.zeros(1, 4, 1, 1, 1))
    with pytest.raises(lucid.OpError, match=r"max_pool3d: padding 2 should be at most half of kernel_size \(2, 2, 2\)"):
        F.max_pool3d(lucid.zeros(1, 1, 4, 4, 4), 2, padding=2)
    with pytest.raises(lucid.OpError, match="avg_pool1d: kernel_size must be an int >= 1 or a tuple of 1 of them"):
        F.avg_pool1d(lucid.zeros(1, 1, 4), (2, 2))


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("side, kernel, stride, padding, larger",
                         [(6, 2, None, 0, 0), (7, 3, 2, 1, 0), (6, 2, 2, 0, 1)])
def test_max_unpool_undoes_max_pool_as_pytorch(n, side, kernel, stride, padding, larger):
    """Values back where return_indices found them, zeros elsewhere (also in an output_size a
    stride larger); the gradient of each value is g read at its index."""
    torch = pytest.importorskip("torch")
    x = torch.tensor(rng.standard_normal((2, 3) + (side,) * n))
    values, indices = getattr(torch.nn.functional, f"max_pool{n}d")(x, kernel, stride, padding, return_indices=True)
    size = (side + larger,) * n if larger else None
    unpool = f"max_unpool{n}d"
    for v, i in ((values, indices), (values[0], indices[0])):  # batched and unbatched
        ours = lucid.tensor(v.numpy(), requires_grad=True)
        theirs = v.clone().requires_grad_(True)
        out = getattr(F, unpool)(ours, lucid.tensor(i.numpy()), kernel, stride, padding, size)
        ref = getattr(torch.nn.functional, unpool)(theirs, i, kernel, stride, padding, size)
        np.testing.assert_array_equal(out.data, ref.detach().numpy())
        probe = rng.standard_normal(out.shape)
        (out * lucid.tensor(probe)).sum().backward()
        (ref * torch.tensor(probe)).sum().backward()
        np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())
    with pytest.raises(lucid.OpError, match=rf"{unpool}: indices must lie in \[0, "):
        getattr(F, unpool)(lucid.tensor(values.numpy()), lucid.tensor(indices.numpy() + side ** n), kernel, stride,
                           padding)
    with pytest.raises(lucid.OpError, match=rf"{unpool}: output_size .* must be {n} sizes"):
        getattr(F, unpool)(lucid.tensor(values.numpy()), lucid.tensor(indices.numpy()), kernel, stride, padding,
                           (side + 5,) * n)


def test_max_unpool_layer_after_the_pooling_layer():
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    x = lucid.tensor(rng.standard_normal((1, 2, 4, 4)))
    out = unpool(*pool(x))
    kept = out.data != 0
    assert kept.reshape(1, 2, 2, 2, 2, 2).sum(axis=(3, 5)).tolist() == np.ones((1, 2, 2, 2)).tolist()
    np.testing.assert_array_equal(out.data[kept], x.data[kept])


@pytest.mark.parametrize("output_size", [1, 3, (5,), 7, 9])
def test_adaptive_avg_pool1d_matches_pytorch(output_size):
    x = rng.standard_normal((2, 3, 7))
    assert_like_pytorch([(lambda f, x: f.adaptive_avg_pool1d(x, output_size), (x,)),
                         (lambda f, x: f.adaptive_avg_pool1d(x, output_size), (x[0],))])
    check_derivatives(lambda x: F.adaptive_avg_pool1d(x, output_size), [x[:1, :1]])


ADAPTIVE_MAX_CASES = [(1, (2, 3, 7), 3), (1, (3, 9), (4,)), (1, (2, 3, 3), 5), (2, (2, 3, 5, 7), (3, 4)),
                      (2, (3, 6, 6), 2), (2, (2, 3, 4, 5), (None, 3)), (2, (1, 2, 3, 3), (5, 4))]


@pytest.mark.parametrize("n, shape, output_size", ADAPTIVE_MAX_CASES)
def test_adaptive_max_pools_match_pytorch_at_ties_too(n, shape, output_size):
    """Values, indices (the first maximum of each window) and gradients; windows that overlap (an
    output larger than the input) send the gradient of each to a shared maximum, which adds them up."""
    torch = pytest.importorskip("torch")
    x = np.round(rng.standard_normal(shape) * 2) / 2  # many ties
    pool = f"adaptive_max_pool{n}d"
    values, indices = getattr(F, pool)(lucid.tensor(x), output_size, return_indices=True)
    expected_values, expected_indices = getattr(torch.nn.functional, pool)(torch.tensor(x), output_size, True)
    np.testing.assert_array_equal(values.data, expected_values.numpy())
    np.testing.assert_array_equal(indices.data, expected_indices.numpy())
    assert indices.dtype == np.int64 and not indices.requires_grad
    assert_like_pytorch([(lambda f, x: getattr(f, pool)(x, output_size), (x,)),
                         (lambda f, x: getattr(f, pool)(x, output_size, True)[0], (x,))])


def test_adaptive_max_pool_takes_the_last_nan_of_a_window_as_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([[[1.0, np.nan, 3.0, np.nan, 0.0, 2.0], [-np.inf, -np.inf, 1.0, 0.0, np.inf, 2.0]]])
    for size in (1, 2, 4):
        values, indices = F.adaptive_max_pool1d(lucid.tensor(x), size, True)
        expected_values, expected_indices = torch.nn.functional.adaptive_max_pool1d(torch.tensor(x), size, True)
        np.testing.assert_array_equal(values.data, expected_values.numpy())
        np.testing.assert_array_equal(indices.data, expected_indices.numpy())


@pytest.mark.parametrize("n", [1, 2])
def test_adaptive_max_pools_second_derivatives_by_finite_differences(n):
    x = rng.permutation(24).reshape((1, 2) + ((12,) if n == 1 else (3, 4))) / 7.0  # distinct values
    check_derivatives(lambda x: getattr(F, f"adaptive_max_pool{n}d")(x, 3 if n == 1 else (2, 3)) ** 2, [x])


def test_adaptive_max_pools_refuse_bad_arguments_naming_themselves():
    with pytest.raises(lucid.OpError, match="adaptive_max_pool2d: return_indices must be a bool, got 'yes'"):
        F.adaptive_max_pool2d(lucid.zeros(1, 3, 3), 2, return_indices="yes")
    with pytest.raises(lucid.OpError, match=r"adaptive_max_pool2d: output_size must be an int >= 1 or a tuple of 2"):
        F.adaptive_max_pool2d(lucid.zeros(1, 3, 3), (2, 2, 2))
    with pytest.raises(lucid.OpError, match=r"adaptive_max_pool1d: output_size must be an int >= 1 or a tuple of 1"):
        F.adaptive_max_pool1d(lucid.zeros(1, 3), 0)
    with pytest.raises(lucid.OpError, match="adaptive_max_pool1d"):
        F.adaptive_max_pool1d(lucid.zeros(3), 2)


# --- layers -------------------------------------------------------------------------------------

LAYERS = [  # (Lucid's layer, PyTorch's of the same name, args, kwargs, input shape)
    ("Conv3d", (4, 6, (3, 2, 2)), {"stride": (2, 1, 1), "padding": 1, "groups": 2}, (2, 4, 5, 4, 4)),
    ("ConvTranspose1d", (4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}, (2, 4, 5)),
    ("ConvTranspose2d", (3, 2, (3, 2)), {"stride": (2, 1), "dilation": (1, 2), "bias": False}, (3, 4, 4)),
    ("ConvTranspose3d", (2, 4, 2), {"stride": 2, "output_padding": (1, 0, 1)}, (1, 2, 3, 2, 3)),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 3, 8)),
    ("MaxPool2d", ((3, 2),), {"stride": 2, "ceil_mode": True}, (2, 3, 7, 6)),
    ("MaxPool3d", (2,), {"dilation": (1, 2, 1)}, (1, 2, 5, 6, 4)),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}, (2, 3, 8)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 3, 6, 7)),
    ("AvgPool3d", ((2, 3, 2),), {"ceil_mode": True, "divisor_override": 4}, (1, 2, 5, 5, 5)),
    ("AdaptiveAvgPool1d", (3,), {}, (2, 3, 8)),
    ("AdaptiveMaxPool1d", (3,), {}, (2, 3, 8)),
    ("AdaptiveMaxPool2d", ((2, None),), {}, (2, 3, 5, 4)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layers_match_pytorch_from_the_same_weights(name, args, kwargs, shape):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, name)(*args, **kwargs).to(lucid.float64)
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    for (key, p), (their_key, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert key == their_key and p.shape == tuple(q.shape)
        q.data.copy_(torch.tensor(p.data))
    x = rng.standard_normal(shape)
    a, t = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(a), theirs(t)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    probe = rng.standard_normal(out.shape)
    (out * lucid.tensor(probe)).sum().backward()
    (ref * torch.tensor(probe)).sum().backward()
    np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_adaptive_max_pool_layers_return_indices():
    values, indices = nn.AdaptiveMaxPool2d(2, return_indices=True)(lucid.arange(9.0).reshape(1, 1, 3, 3))
    assert values.data.tolist() == [[[[4.0, 5.0], [7.0, 8.0]]]]
    assert indices.data.tolist() == [[[[4, 5], [7, 8]]]]
    values, indices = nn.AdaptiveMaxPool1d(2, return_indices=True)(lucid.tensor([[3.0, 1.0, 2.0, 0.0]]))
    assert (values.data.tolist(), indices.data.tolist()) == ([[3.0, 2.0]], [[0, 2]])
    assert repr(nn.AdaptiveMaxPool1d(2)) == "AdaptiveMaxPool1d(output_size=2)"


def test_max_pool_layer_returns_indices():
    layer = nn.MaxPool2d(2, return_indices=True, ceil_mode=True)
    values, indices = layer(lucid.arange(9.0).reshape(1, 1, 3, 3))
    assert values.data.tolist() == [[[[4.0, 5.0], [7.0, 8.0]]]]
    assert indices.data.tolist() == [[[[4, 5], [7, 8]]]]


def test_transposed_layer_reaches_the_output_size_asked_for():
    torch = pytest.importorskip("torch")
    layer = nn.ConvTranspose2d(2, 3, 3, stride=(2, 3), padding=1).to(lucid.float64)
    reference = torch.nn.ConvTranspose2d(2, 3, 3, stride=(2, 3), padding=1).double()
    for p, q in zip(layer.parameters(), reference.parameters()):
        q.data.copy_(torch.tensor(p.data))
    x = rng.standard_normal((1, 2, 4, 3))
    for size in [(7, 7), (8, 8), (1, 3, 8, 9)]:
        out = layer(lucid.tensor(x), output_size=size)
        np.testing.assert_allclose(out.data, reference(torch.tensor(x), output_size=size).detach().numpy(),
                                   rtol=1e-12)
    with pytest.raises(lucid.OpError, match=r"ConvTranspose2d: output_size \(9, 7\) is not reachable"):
        layer(lucid.tensor(x), output_size=(9, 7))


@pytest.mark.parametrize("name", ["Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"])
def test_default_initialisation_is_pytorchs(name):
    """kaiming_uniform(a=sqrt(5)) over the weight's fan-in (dim 1 times the kernel: for a transposed
    layer out_channels / groups, as in PyTorch), the bias uniform in +-1/sqrt(fan_in)."""
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(8, 16, 3, groups=2), getattr(torch.nn, name)(8, 16, 3, groups=2)
    assert ours.weight.shape == tuple(theirs.weight.shape)
    fan_in = ours.weight.shape[1] * math.prod(ours.weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    for p, nearly in ((ours.weight, 0.9), (ours.bias, 0.3)):  # 192 or more weights, 16 biases
        values = np.abs(p.data)
        assert values.max() <= bound and values.max() > nearly * bound and p.dtype == np.float32
