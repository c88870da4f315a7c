"""Convolution and pooling: values against naive loops over every output pixel, fold as the exact
adjoint of unfold, PyTorch parity when installed, dtypes, errors naming both shapes, and first and
second derivatives by finite differences."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from finite_differences import check_derivatives
from test_ops_nn import assert_like_pytorch

import lucid

F = lucid.nn.functional
rng = np.random.default_rng(2)


def _pad(x, pads, value=0.0):
    return np.pad(x, ((0, 0), (0, 0)) + tuple(pads), constant_values=value)


def _conv2d_ref(x, w, b, stride, pads, dilation, groups):
    """out[n, o, i, j] = sum over c, ki, kj of xpad[n, c, i*s + ki*d, j*s + kj*d] * w[o, c, ki, kj]."""
    xp = _pad(x, pads)
    n, c_in = x.shape[:2]
    c_out, c_group, kh, kw = w.shape
    oh = (xp.shape[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (xp.shape[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, c_out, oh, ow))
    for b_, o, i, j in itertools.product(range(n), range(c_out), range(oh), range(ow)):
        first = o // (c_out // groups) * c_group
        for c, ki, kj in itertools.product(range(c_group), range(kh), range(kw)):
            out[b_, o, i, j] += (xp[b_, first + c, i * stride[0] + ki * dilation[0], j * stride[1] + kj * dilation[1]]
                                 * w[o, c, ki, kj])
        out[b_, o, i, j] += 0 if b is None else b[o]
    return out


CONV_CASES = [  # stride, padding, dilation, groups
    (1, 0, 1, 1), (2, 1, 1, 1), (1, "same", 2, 2), (2, (1, 0), (2, 1), 2), (1, "valid", 1, 4), ((2, 1), 2, 1, 1),
]


def _pads(padding, kernel, dilation):
    dilation = (dilation,) * 2 if isinstance(dilation, int) else dilation
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [(t // 2, t - t // 2) for t in totals]
    if padding == "valid":
        return [(0, 0)] * 2
    padding = (padding,) * 2 if isinstance(padding, int) else padding
    return [(p, p) for p in padding]


@pytest.mark.parametrize("stride, padding, dilation, groups", CONV_CASES)
def test_conv2d_matches_loops(stride, padding, dilation, groups):
    x, w, b = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((4, 4 // groups, 3, 2)), rng.standard_normal(4)
    out = F.conv2d(lucid.tensor(x), lucid.tensor(w), lucid.tensor(b), stride, padding, dilation, groups)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    expected = _conv2d_ref(x, w, b, pair(stride), _pads(padding, (3, 2), dilation), pair(dilation), groups)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    unbatched = F.conv2d(lucid.tensor(x[0]), lucid.tensor(w), None, stride, padding, dilation, groups)
    np.testing.assert_allclose(unbatched.data, expected[0] - b[:, None, None], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride, padding, dilation, groups", CONV_CASES[:4])
def test_conv2d_gradients(stride, padding, dilation, groups):
    x, w, b = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2 // groups, 2, 2)), rng.standard_normal(2)
    check_derivatives(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), [x, w, b])


def test_conv1d_matches_loops_and_gradients():
    x, w, b = rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    out = F.conv1d(lucid.tensor(x), lucid.tensor(w), lucid.tensor(b), stride=2, padding=1, dilation=2, groups=2)
    expected = _conv2d_ref(x[:, :, None], w[:, :, None], b, (1, 2), [(0, 0), (1, 1)], (1, 2), 2)[:, :, 0]
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert F.conv1d(lucid.tensor(x[0]), lucid.tensor(w), groups=2, padding="same").shape == (6, 9)
    check_derivatives(lambda x, w, b: F.conv1d(x, w, b, 2, 1, 1, 2), [x[:1, :, :5], w, b])


def test_conv_keeps_float32():
    x, w = lucid.zeros(1, 2, 5, 5), lucid.zeros(3, 2, 3, 3, requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    assert out.dtype == np.float32
    out.sum().backward()
    assert w.grad.dtype == np.float32


def test_conv_errors_name_both_shapes():
    with pytest.raises(lucid.OpError, match=r"weight of shape \(4, 3, 3, 3\) with groups=1 expects 3 input channels, "
                                            r"but input of shape \(1, 2, 5, 5\) has 2"):
        F.conv2d(lucid.zeros(1, 2, 5, 5), lucid.zeros(4, 3, 3, 3))
    with pytest.raises(lucid.OpError, match=r"groups=3 must be a positive int dividing out_channels"):
        F.conv2d(lucid.zeros(1, 3, 5, 5), lucid.zeros(4, 1, 3, 3), groups=3)
    with pytest.raises(lucid.OpError, match=r"spatial size \(2, 2\) .* smaller than the kernel \(3, 3\)"):
        F.conv2d(lucid.zeros(1, 1, 2, 2), lucid.zeros(1, 1, 3, 3))
    with pytest.raises(lucid.OpError, match="padding='same' is not supported for strided"):
        F.conv2d(lucid.zeros(1, 1, 4, 4), lucid.zeros(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(lucid.OpError, match=r"a 4-D \(batched\) or 3-D \(unbatched\) input, got shape \(5, 5\)"):
        F.conv2d(lucid.zeros(5, 5), lucid.zeros(1, 1, 3, 3))
    with pytest.raises(lucid.OpError, match=r"bias of shape \(2,\) must have one value per output channel \(1,\)"):
        F.conv1d(lucid.zeros(1, 1, 5), lucid.zeros(1, 1, 3), lucid.zeros(2))


# --- unfold and fold -------------------------------------------------------------------------------

def test_unfold_columns_and_fold_is_its_adjoint():
    x = rng.standard_normal((2, 3, 5, 4))
    cols = F.unfold(lucid.tensor(x), (2, 3), dilation=1, padding=1, stride=(2, 1)).data
    xp = _pad(x, [(1, 1), (1, 1)])
    windows = [xp[:, :, i:i + 2, j:j + 3].reshape(2, -1) for i in range(0, 6, 2) for j in range(0, 4)]
    np.testing.assert_array_equal(cols, np.stack(windows, axis=-1))
    c = rng.standard_normal(cols.shape)
    back = F.fold(lucid.tensor(c), (5, 4), (2, 3), padding=1, stride=(2, 1)).data
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)  # <unfold x, c> = <x, fold c>
    check_derivatives(lambda x: F.unfold(x, 2, 2, 1, 1), [x[:1, :1]])
    check_derivatives(lambda c: F.fold(c, (3, 3), 2), [rng.standard_normal((1, 8, 4))])


# --- pooling -------------------------------------------------------------------------------------

def _pool_ref(x, k, s, p, reduce, pad_value, dilation=1):
    xp = _pad(x, [(p, p)] * 2, pad_value)
    oh = (xp.shape[2] - dilation * (k - 1) - 1) // s + 1
    ow = (xp.shape[3] - dilation * (k - 1) - 1) // s + 1
    out = np.empty(x.shape[:2] + (oh, ow))
    for n, c, i, j in np.ndindex(*out.shape):
        out[n, c, i, j] = reduce(xp[n, c, i * s:i * s + dilation * (k - 1) + 1:dilation,
                                    j * s:j * s + dilation * (k - 1) + 1:dilation])
    return out


@pytest.mark.parametrize("k, s, p, d", [(2, 2, 0, 1), (3, 1, 1, 1), (3, 2, 1, 2)])
def test_max_pool2d(k, s, p, d):
    x = rng.standard_normal((2, 3, 7, 6))
    out = F.max_pool2d(lucid.tensor(x), k, s, p, d)
    np.testing.assert_array_equal(out.data, _pool_ref(x, k, s, p, np.max, -np.inf, d))
    assert F.max_pool2d(lucid.tensor(x[0]), k, s, p, d).shape == out.shape[1:]
    check_derivatives(lambda x: F.max_pool2d(x, k, s, p, d), [x[:1, :2]])


def test_max_pool2d_ties_go_to_the_first_maximum():
    x = lucid.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[1, 0], [0, 0]]]])
    with pytest.raises(lucid.OpError, match=r"padding 2 should be at most half of kernel_size \(2, 2\)"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(lucid.OpError, match="padding 2 should be at most half of kernel_size"):  # not k * dilation
        F.max_pool2d(lucid.zeros(1, 1, 9, 9), 2, 1, 2, 3)


@pytest.mark.parametrize("shape, args", [((2, 3, 4, 1), ((1, 2), 1, (0, 1), (1, 2))), ((3, 4, 1), (2, 1, 1, (3, 2)))])
def test_max_pool2d_window_of_padding_only_is_minus_inf_and_passes_no_gradient(shape, args):
    """A dilated kernel over a small input: a window of width 2, dilation 2 and padding 1 over one
    column reads the padding on both sides. Its -inf is PyTorch's value; it does not depend on x,
    so its g goes nowhere (it went to an index wrapped around into x; PyTorch's kernel sends it to
    one computed past the end of the row)."""
    x = lucid.tensor(rng.standard_normal(shape), requires_grad=True)
    out = F.max_pool2d(x, *args)
    assert np.isneginf(out.data).all()
    (grad,) = lucid.grad(out, [x], lucid.ones(*out.shape))
    np.testing.assert_array_equal(grad.data, 0.0)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(torch.nn.functional.max_pool2d(torch.tensor(x.data), *args).numpy(), out.data)


def test_max_pool2d_window_of_padding_and_a_nan_passes_its_gradient_to_the_nan():
    x = lucid.tensor(np.full((1, 1, 1, 1), np.nan), requires_grad=True)
    F.max_pool2d(x, (2, 1), None, (1, 0)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[1.0]]]])


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d(count_include_pad):
    x = rng.standard_normal((2, 2, 5, 6))
    out = F.avg_pool2d(lucid.tensor(x), 3, 2, 1, count_include_pad=count_include_pad)
    counts = _pool_ref(np.ones_like(x), 3, 2, 1, np.sum, 0.0) if not count_include_pad else 9
    np.testing.assert_allclose(out.data, _pool_ref(x, 3, 2, 1, np.sum, 0.0) / counts)
    np.testing.assert_allclose(F.avg_pool2d(lucid.tensor(x), 2, divisor_override=3).data,
                               _pool_ref(x, 2, 2, 0, np.sum, 0.0) / 3)
    check_derivatives(lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=count_include_pad), [x[:1]])
    assert F.avg_pool2d(lucid.zeros(1, 1, 4, 4), 2).dtype == np.float32


@pytest.mark.parametrize("output_size", [1, 3, (2, None), (5, 4)])
def test_adaptive_avg_pool2d(output_size):
    x = rng.standard_normal((2, 3, 5, 4))
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    ow = 4 if ow is None else ow
    expected = np.empty((2, 3, oh, ow))
    for i, j in np.ndindex(oh, ow):
        rows = slice(i * 5 // oh, -(-(i + 1) * 5 // oh))
        cols = slice(j * 4 // ow, -(-(j + 1) * 4 // ow))
        expected[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(lucid.tensor(x), output_size).data, expected, rtol=1e-12)
    check_derivatives(lambda x: F.adaptive_avg_pool2d(x, output_size), [x[0, :1]])


# --- PyTorch parity ------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::UserWarning")
def test_conv_and_pool_match_pytorch():
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    cases = [
        (lambda f, x, w, b: f.conv2d(x, w, b, 2, (1, 2), (1, 2), 2), (x, w, b)),
        (lambda f, x, w: f.conv2d(x, w, None, 1, "same", 2, 2), (x, w)),
        (lambda f, x, w, b: f.conv1d(x, w, b, 1, "same", 1, 2), (x[:, :, 0], w[:, :, 0], b)),
        (lambda f, x: f.max_pool2d(x, 3, 2, 1), (x,)),
        (lambda f, x: f.avg_pool2d(x, 3, 2, 1, count_include_pad=False), (x,)),
        (lambda f, x: f.adaptive_avg_pool2d(x, (3, 4)), (x,)),
        (lambda f, x: f.unfold(x, (2, 3), 2, 1, 2), (x,)),
    ]
    assert_like_pytorch(cases, grad_rtol=1e-9)


PARAM_FORMS = {  # name: (call, whether PyTorch 2.13 takes it); convolutions are called with a weight too
    "pool kernel (k,)": (lambda f, x: f.max_pool2d(x, (2,)), True),
    "pool kernel (kh, kw)": (lambda f, x: f.avg_pool2d(x, [2, 3]), True),
    "pool kernel (k, k, k)": (lambda f, x: f.max_pool2d(x, (2, 2, 2)), False),
    "pool stride ()": (lambda f, x: f.avg_pool2d(x, 2, ()), True),
    "pool stride (s,)": (lambda f, x: f.max_pool2d(x, 2, (1,)), True),
    "pool stride (sh, sw)": (lambda f, x: f.max_pool2d(x, 3, (1, 2)), True),
    "pool padding (p,)": (lambda f, x: f.avg_pool2d(x, 3, 1, (1,)), True),
    "pool padding (ph, pw)": (lambda f, x: f.max_pool2d(x, (3, 2), 1, (0, 1)), True),
    "pool padding pairs": (lambda f, x: f.max_pool2d(x, 3, 1, ((1, 1), (0, 0))), False),
    "pool padding 'same'": (lambda f, x: f.max_pool2d(x, 3, 1, "same"), False),
    "pool padding over kernel // 2": (lambda f, x: f.max_pool2d(x, 2, 1, 2, 3), False),
    "pool dilation (d,)": (lambda f, x: f.max_pool2d(x, 2, 1, 0, (2,)), True),
    "pool dilation (dh, dw)": (lambda f, x: f.max_pool2d(x, 2, 1, 1, (1, 2)), True),
    "conv stride None": (lambda f, x, w: f.conv2d(x, w, stride=None), False),
    "conv stride (s,)": (lambda f, x, w: f.conv2d(x, w, stride=(2,)), True),
    "conv padding (p,)": (lambda f, x, w: f.conv2d(x, w, padding=(1,)), True),
    "conv padding (ph, pw)": (lambda f, x, w: f.conv2d(x, w, padding=(0, 2)), True),
    "conv padding pairs": (lambda f, x, w: f.conv2d(x, w, padding=((1, 1), (0, 0))), False),
    "conv dilation (d,)": (lambda f, x, w: f.conv2d(x, w, dilation=(2,)), True),
    "conv 'same' with stride (1,)": (lambda f, x, w: f.conv2d(x, w, stride=(1,), padding="same"), True),
    "conv1d stride (s,)": (lambda f, x, w: f.conv1d(x[:, :, 0], w[:, :, 0], stride=(2,)), True),
    "conv1d padding (p, p)": (lambda f, x, w: f.conv1d(x[:, :, 0], w[:, :, 0], padding=(1, 1)), False),
    "adaptive (oh, None)": (lambda f, x: f.adaptive_avg_pool2d(x, (3, None)), True),
    "adaptive (o,)": (lambda f, x: f.adaptive_avg_pool2d(x, (3,)), False),
    "adaptive None": (lambda f, x: f.adaptive_avg_pool2d(x, None), False),
    "adaptive (o, o, o)": (lambda f, x: f.adaptive_avg_pool2d(x, (2, 3, 4)), False),
    "unfold kernel (k,)": (lambda f, x: f.unfold(x, (2,)), False),
    "unfold stride (sh, sw)": (lambda f, x: f.unfold(x, 2, stride=(2, 1)), True),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("form", sorted(PARAM_FORMS))
def test_kernel_stride_padding_and_dilation_take_the_forms_pytorch_takes(form):
    """An int, a tuple of one int (for every dim: pools and convolutions) or one per dim; a pool's
    stride () is its kernel. What PyTorch refuses is an OpError here, with the same values."""
    call, accepted = PARAM_FORMS[form]
    arrays = (rng.standard_normal((2, 4, 7, 6)),) + ((rng.standard_normal((3, 4, 3, 2)),) * form.startswith("conv"))
    if accepted:
        assert_like_pytorch([(call, arrays)], grad_rtol=1e-9)
        return
    with pytest.raises(lucid.OpError, match=r"^nn\.functional\.\w+: \w+ "):
        call(F, *map(lucid.tensor, arrays))
    torch = pytest.importorskip("torch")
    with pytest.raises((RuntimeError, TypeError)):
        call(torch.nn.functional, *map(torch.tensor, arrays))


@pytest.mark.parametrize("fn", [lambda x, w: F.conv2d(x, w, groups=2), lambda x, w: F.max_pool2d(x, 2),
                                lambda x, w: F.avg_pool2d(x, 2), lambda x, w: F.adaptive_avg_pool2d(x, 1)])
def test_empty_batch(fn):
    x, w = lucid.zeros(0, 2, 4, 4, requires_grad=True), lucid.zeros(4, 1, 2, 2, requires_grad=True)
    out = fn(x, w)
    assert out.shape[0] == 0
    out.sum().backward()
    assert x.grad.shape == x.shape
