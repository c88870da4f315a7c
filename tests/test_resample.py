"""interpolate and pad against PyTorch: values and gradients in float64 over modes, align_corners,
size or scale_factor, and ranks; the errors where PyTorch raises; the upsampling layers."""
import itertools

import numpy as np
import pytest

import lucid
from lucid import LucidError
from lucid.nn import functional as F
from finite_differences import check_derivatives

torch = pytest.importorskip("torch")

RANKS = {"linear": (3,), "bilinear": (4,), "bicubic": (4,), "trilinear": (5,)}
INTERPOLATING = tuple(RANKS)
# sizes and scale factors, up and down, one for all dims and one per dim
OUTPUTS = ({"size": 5}, {"size": 2}, {"size": "per dim"}, {"scale_factor": 1.5}, {"scale_factor": 0.6},
           {"scale_factor": 2.0}, {"scale_factor": "per dim"}, {"scale_factor": 1.7, "recompute_scale_factor": True})


def _shape(rank):
    return (2, 2, 4, 3, 5)[:rank]


def _output(rank, output):
    """An OUTPUTS entry made concrete for a rank: "per dim" as one size or factor per dim."""
    per_dim = {"size": (6, 1, 3), "scale_factor": (0.5, 2.5, 1.25)}
    return {k: tuple(per_dim[k][:rank - 2]) if v == "per dim" else v for k, v in output.items()}


def _same_as_torch(call, x, **params):
    """Values, and the gradient for a random cotangent, of `call` in Lucid and in PyTorch."""
    ours = lucid.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, expected = getattr(F, call)(ours, **params), getattr(torch.nn.functional, call)(theirs, **params)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    cotangent = np.random.default_rng(1).standard_normal(out.shape)
    (out * lucid.tensor(cotangent)).sum().backward()
    (expected_grad,) = torch.autograd.grad(expected, theirs, torch.tensor(cotangent))
    np.testing.assert_allclose(ours.grad.data, expected_grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode, align_corners, rank, output", [
    *((mode, align_corners, RANKS[mode][0], output)
      for mode, align_corners, output in itertools.product(INTERPOLATING, (False, True), OUTPUTS)),
    *((mode, None, rank, output) for mode, rank, output in itertools.product(("nearest", "nearest-exact", "area"),
                                                                              (3, 4, 5), OUTPUTS)),
])
def test_interpolate_matches_torch(mode, align_corners, rank, output):
    x = np.random.default_rng(rank).standard_normal(_shape(rank))
    _same_as_torch("interpolate", x, mode=mode, align_corners=align_corners, **_output(rank, output))


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic", "area"])
def test_interpolate_differentiates_twice(mode):
    """The VJP is a scatter-add in Lucid ops: its own derivative is the forward again."""
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 2))
    check_derivatives(lambda t: F.interpolate(t * t, scale_factor=(1.5, 2.5), mode=mode), [x])


def test_bicubic_at_an_unchanged_size_is_differentiated_as_computed():
    """A scale_factor of 1.3 keeps a size of 3, but moves the taps: PyTorch's forward resamples and
    its backward copies g. Lucid's gradient is its forward's, which is PyTorch's forward."""
    x = np.random.default_rng(0).standard_normal((1, 1, 3, 3))
    out = F.interpolate(lucid.tensor(x), scale_factor=1.3, mode="bicubic")
    expected = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=1.3, mode="bicubic")
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-12, atol=1e-12)
    assert not np.allclose(out.data, x)
    check_derivatives(lambda t: F.interpolate(t, scale_factor=1.3, mode="bicubic"), [x], order=1)


def test_nearest_reads_pytorch_nearest_idx():
    """With the output the input's size or twice it, nearest copies or halves whatever the
    scale_factor: PyTorch's 4-d forward and every backward of it."""
    x = np.arange(3.0).reshape(1, 1, 3, 1)
    for scale in (1.3, 2.2):
        _same_as_torch("interpolate", x, scale_factor=scale, mode="nearest")


@pytest.mark.parametrize("call, message", [
    (dict(size=4, mode="nearest", align_corners=True), "align_corners can only be set"),
    (dict(size=4, scale_factor=2.0), "exactly one of size and scale_factor"),
    (dict(), "exactly one of size and scale_factor"),
    (dict(size=4, recompute_scale_factor=True), "recompute_scale_factor is not meaningful"),
    (dict(size=4, mode="bilinear"), r"needs a 4-d input, got shape \(2, 2, 4\)"),
    (dict(size=(4, 4)), r"one entry per spatial dim, 1"),
    (dict(scale_factor=0.1), "sizes must be greater than 0"),
    (dict(size=4, mode="cubic"), "mode"),
])
def test_interpolate_refuses_what_pytorch_refuses(call, message):
    x = np.ones((2, 2, 4))
    with pytest.raises((RuntimeError, ValueError, TypeError, NotImplementedError)):
        torch.nn.functional.interpolate(torch.tensor(x), **call)
    with pytest.raises(LucidError, match=message):
        F.interpolate(lucid.tensor(x), **call)


PADS = {"positive": (1, 2, 2, 0, 1, 1), "negative": (-1, -2, -1, 0, 0, -1), "mixed": (2, -1, -1, 3, 1, -2)}


@pytest.mark.parametrize("mode, widths, padded, rank", [
    (mode, widths, padded, rank) for mode, widths, padded in itertools.product(
        ("constant", "reflect", "replicate", "circular"), PADS, (1, 2, 3)) for rank in (padded + 1, padded + 2)])
def test_pad_matches_torch(mode, widths, padded, rank):
    x = np.random.default_rng(rank).standard_normal((2, 5, 4, 5, 4)[:rank])
    _same_as_torch("pad", x, pad=PADS[widths][:2 * padded], mode=mode)


@pytest.mark.parametrize("shape, pad, mode", [
    ((4,), (1, 1), "reflect"),  # one padded dim needs a 2-d or 3-d input
    ((1, 1, 1, 4), (1, 1), "replicate"),
    ((4, 4), (1, 1, 1, 1), "circular"),
    ((1, 1, 4), (4, 0), "reflect"),  # reflect pads less than the size
    ((1, 1, 4), (-3, -1), "replicate"),  # leaves nothing
    ((1, 1, 4), (5, 0), "circular"),  # wraps more than once
    ((1, 1, 4), (1, 1, 1, 1, 1, 1, 1, 1), "constant"),  # more dims than the input has
    ((3,), (2, -5), "constant"),  # crops more than the dim
])
def test_pad_refuses_what_pytorch_refuses(shape, pad, mode):
    x = np.zeros(shape)
    with pytest.raises((RuntimeError, ValueError, TypeError, NotImplementedError)):
        torch.nn.functional.pad(torch.tensor(x), pad, mode=mode)
    with pytest.raises(LucidError, match="pad: "):
        F.pad(lucid.tensor(x), pad, mode=mode)


def test_upsampling_layers_match_torch():
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    for ours, theirs in [(lucid.nn.Upsample(scale_factor=2, mode="bilinear"),
                          torch.nn.Upsample(scale_factor=2, mode="bilinear")),
                         (lucid.nn.Upsample(size=(5, 2), mode="bicubic", align_corners=True),
                          torch.nn.Upsample(size=(5, 2), mode="bicubic", align_corners=True)),
                         (lucid.nn.UpsamplingNearest2d(scale_factor=1.5),
                          torch.nn.UpsamplingNearest2d(scale_factor=1.5)),
                         (lucid.nn.UpsamplingBilinear2d(size=(4, 7)), torch.nn.UpsamplingBilinear2d(size=(4, 7)))]:
        np.testing.assert_allclose(ours(lucid.tensor(x)).data, theirs(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)
        assert repr(ours) == repr(theirs)
