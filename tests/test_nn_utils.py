"""`lucid.nn.utils`' gradient clipping against PyTorch's: the same clipped gradients and returned
norms, for every norm type, and clear errors for bad thresholds and non-finite norms."""
import math

import numpy as np
import pytest

import lucid
from lucid import nn
from lucid.errors import LucidError
from lucid.nn.utils import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm

SHAPES = [(3, 4), (5,), (2, 2, 2)]


def parameters_with_grads(scale=1.0, dtypes=(np.float64,) * 3, missing=()):
    """Lucid parameters with random gradients (none for the indices in `missing`), and PyTorch twins."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ours, theirs = [], []
    for i, (shape, dtype) in enumerate(zip(SHAPES, dtypes)):
        value, grad = rng.standard_normal(shape).astype(dtype), (scale * rng.standard_normal(shape)).astype(dtype)
        p, q = nn.Parameter(value), torch.nn.Parameter(torch.from_numpy(value.copy()))
        if i not in missing:
            p.grad, q.grad = lucid.tensor(grad.copy()), torch.from_numpy(grad.copy())
        ours.append(p), theirs.append(q)
    return torch, ours, theirs


def assert_same_grads(ours, theirs, rtol=1e-13):
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            assert p.grad.dtype == q.grad.numpy().dtype
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf, 3.5, 0.5, 0, -math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_pytorch(norm_type, max_norm):
    torch, ours, theirs = parameters_with_grads()
    total_ours = clip_grad_norm_(ours, max_norm, norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total_ours, lucid.Tensor) and total_ours.shape == ()
    np.testing.assert_allclose(total_ours.item(), total_theirs.item(), rtol=1e-13)
    assert_same_grads(ours, theirs)


def test_clipping_brings_the_norm_to_max_norm_and_leaves_small_gradients():
    _, ours, _ = parameters_with_grads(scale=10.0)
    before = clip_grad_norm_(ours, 1.0)
    assert before.item() > 10
    assert clip_grad_norm_(ours, 1.0).item() == pytest.approx(1.0, rel=1e-5)
    unchanged = [p.grad.data.copy() for p in ours]
    clip_grad_norm_(ours, 5.0)
    for p, grad in zip(ours, unchanged):
        np.testing.assert_allclose(p.grad.data, grad, rtol=1e-15)


def test_float32_gradients_and_a_missing_gradient_match_pytorch():
    torch, ours, theirs = parameters_with_grads(dtypes=(np.float32, np.float32, np.float32), missing=(1,))
    total_ours = clip_grad_norm_(iter(ours), 0.1)  # a generator is fine
    total_theirs = torch.nn.utils.clip_grad_norm_(iter(theirs), 0.1)
    assert total_ours.dtype == np.float32
    np.testing.assert_allclose(total_ours.item(), total_theirs.item(), rtol=1e-6)
    assert_same_grads(ours, theirs, rtol=1e-6)


def test_a_single_tensor_and_no_gradients():
    torch, ours, theirs = parameters_with_grads()
    np.testing.assert_allclose(clip_grad_norm_(ours[0], 0.3).item(),
                               torch.nn.utils.clip_grad_norm_(theirs[0], 0.3).item(), rtol=1e-13)
    assert_same_grads(ours[:1], theirs[:1])
    nothing = clip_grad_norm_([nn.Parameter(np.ones(2))], 1.0)
    assert nothing.item() == 0.0 and nothing.dtype == np.float32  # PyTorch's tensor(0.)


def test_the_two_halves_give_the_whole():
    _, ours, _ = parameters_with_grads()
    _, whole, _ = parameters_with_grads()
    total = get_total_norm([p.grad for p in ours], 3.0)
    clip_grads_with_norm_(ours, 0.5, total)
    assert clip_grad_norm_(whole, 0.5, 3.0).item() == total.item()
    for p, q in zip(ours, whole):
        np.testing.assert_array_equal(p.grad.data, q.grad.data)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_norm_is_an_error_only_when_asked(bad):
    torch, ours, theirs = parameters_with_grads()
    ours[1].grad.data[2] = theirs[1].grad[2] = bad
    before = [p.grad.data.copy() for p in ours]
    with pytest.raises(LucidError, match=f"total norm of order 2.0 of the gradients is {bad}"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    for p, grad in zip(ours, before):
        np.testing.assert_array_equal(p.grad.data, grad)  # untouched
    total = clip_grad_norm_(ours, 1.0)
    torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert not math.isfinite(total.item())
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())  # scaled by max_norm / inf = 0, or NaN


def test_clipping_counts_as_an_in_place_change():
    """A gradient computed with create_graph, then clipped: the graph that saved it sees the change."""
    x = nn.Parameter(np.array([1.0, 2.0]))
    (x ** 3).sum().backward(create_graph=True)
    saved = x.grad * 1.0  # a graph that read the gradient
    version_check = (x.grad * x.grad).sum()
    clip_grad_value_([x], 1.0)
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
    with pytest.raises(LucidError, match="modified|changed|version"):
        version_check.backward()
    assert saved.data.tolist() == [3.0, 12.0]


@pytest.mark.parametrize("clip_value", [0.5, 2.0, math.inf])
def test_clip_grad_value_matches_pytorch(clip_value):
    torch, ours, theirs = parameters_with_grads(missing=(2,))
    ours[0].grad.data[0, 0] = theirs[0].grad[0, 0] = math.nan
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_same_grads(ours, theirs)
    assert math.isnan(ours[0].grad.data[0, 0])


@pytest.mark.parametrize("call, message", [
    (lambda ps: clip_grad_norm_(ps, -1.0), "clip_grad_norm_: max_norm must be a number >= 0, got -1.0"),
    (lambda ps: clip_grad_norm_(ps, math.nan), "max_norm must be a number >= 0, got nan"),
    (lambda ps: clip_grad_norm_(ps, "1"), "max_norm must be a number"),
    (lambda ps: clip_grad_norm_(ps, 1.0, norm_type="fro"), "norm_type must be a number"),
    (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=math.nan), "norm_type must be a number"),
    (lambda ps: clip_grads_with_norm_(ps, -2, 1.0), "clip_grads_with_norm_: max_norm must be"),
    (lambda ps: clip_grad_value_(ps, -0.1), "clip_grad_value_: clip_value must be a number >= 0, got -0.1"),
    (lambda ps: clip_grad_value_(ps, True), "clip_value must be a number"),
    (lambda ps: clip_grad_norm_(None, 1.0), "clip_grad_norm_: parameters must be a Tensor or an iterable.*NoneType"),
    (lambda ps: clip_grad_norm_([*ps, 2], 1.0), "parameters must be Tensors, but parameter 3 is 'int'"),
    (lambda ps: clip_grad_value_([1, 2], 1.0), "clip_grad_value_: parameters must be Tensors, but parameter 0"),
    (lambda ps: clip_grads_with_norm_(ps, 1.0, total_norm="x"), "clip_grads_with_norm_: total_norm must be"),
])
def test_bad_arguments_are_errors(call, message):
    _, ours, _ = parameters_with_grads()
    before = [p.grad.data.copy() for p in ours]
    with pytest.raises(LucidError, match=message):
        call(ours)
    for p, grad in zip(ours, before):
        np.testing.assert_array_equal(p.grad.data, grad)
