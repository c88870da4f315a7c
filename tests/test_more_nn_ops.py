"""The activations, losses and layers added after the first release (glu ... pixel_unshuffle,
GroupNorm ...): values and gradients against PyTorch, layers step for step in float64 from the same
weights, and bad arguments refused with a LucidError. The harness checks each op's rule on its own
(CI's pytest plugin); these pin PyTorch's semantics on chosen inputs: kinks, broadcasting, options."""
import inspect

import numpy as np
import pytest

import lucid
from lucid import LucidError, nn
from test_torch_parity import twins

torch = pytest.importorskip("torch")
F, TF = lucid.nn.functional, torch.nn.functional

rng = np.random.default_rng(11)
x34, y34, z34 = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
image = rng.standard_normal((2, 4, 3, 3))
positive = rng.uniform(0.1, 3, (3, 4))
signs = np.array([1.0, -1.0, 1.0])
kinks = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])  # exactly on the shrinks' and prelu's kinks

# (name, positional arrays, settings, indices of the inputs that require grad)
CASES = [
    ("glu", (x34,), {"dim": -1}, (0,)),
    ("glu", (image,), {"dim": 1}, (0,)),
    ("prelu", (image, rng.uniform(0, 1, 4)), {}, (0, 1)),
    ("prelu", (kinks, np.array([0.25])), {}, (0, 1)),
    ("hardshrink", (kinks,), {"lambd": 0.5}, (0,)),
    ("softshrink", (kinks,), {"lambd": 1.0}, (0,)),
    ("tanhshrink", (x34,), {}, (0,)),
    ("softmin", (x34,), {"dim": 0}, (0,)),
    ("margin_ranking_loss", (x34[:, 0], y34[:, 0], signs), {"margin": 0.3}, (0, 1, 2)),
    ("margin_ranking_loss", (np.zeros(3), np.zeros(3), signs), {"reduction": "sum"}, (0, 1, 2)),  # at the hinge
    ("triplet_margin_loss", (x34, y34, z34), {}, (0, 1, 2)),
    ("triplet_margin_loss", (x34, y34[:1], z34), {"p": 1.0, "swap": True, "margin": 2.0, "reduction": "none"},
     (0, 1, 2)),
    ("poisson_nll_loss", (x34, positive), {}, (0, 1)),
    ("poisson_nll_loss", (positive, positive * 2), {"log_input": False, "full": True, "reduction": "sum"}, (0, 1)),
    ("gaussian_nll_loss", (x34, y34, positive), {"full": True}, (0, 1, 2)),
    ("gaussian_nll_loss", (x34, y34, positive[:, 0]), {"reduction": "none"}, (0, 1, 2)),  # one var per row
    ("gaussian_nll_loss", (x34, y34, positive[:, :1] * 1e-8), {}, (0, 1, 2)),  # clamped at eps
    ("cosine_embedding_loss", (x34, y34, signs), {"margin": -0.5}, (0, 1)),
    ("cosine_embedding_loss", (x34[0], y34[0], np.array(-1.0)), {"reduction": "none"}, (0, 1)),
    ("group_norm", (image, 2, rng.standard_normal(4), rng.standard_normal(4)), {}, (0, 2, 3)),
    ("group_norm", (image, 4), {"eps": 1e-3}, (0,)),
    ("instance_norm", (image, None, None, rng.standard_normal(4), rng.standard_normal(4)), {}, (0, 3, 4)),
    ("instance_norm", (image, rng.standard_normal(4), positive[0], rng.standard_normal(4), None),
     {"use_input_stats": False}, (0, 3)),
    ("pixel_shuffle", (image, 2), {}, (0,)),
    ("pixel_unshuffle", (rng.standard_normal((2, 1, 4, 6)), 2), {}, (0,)),
]


@pytest.mark.parametrize("name, args, settings, wrt", CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_values_and_gradients_match_pytorch(name, args, settings, wrt):
    ours = [lucid.tensor(a, requires_grad=i in wrt) if isinstance(a, np.ndarray) else a for i, a in enumerate(args)]
    theirs = [torch.tensor(a, requires_grad=i in wrt) if isinstance(a, np.ndarray) else a for i, a in enumerate(args)]
    a, b = getattr(F, name)(*ours, **settings), getattr(TF, name)(*theirs, **settings)
    np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = np.random.default_rng(12).standard_normal(a.shape)
    grads = lucid.grad(a, [ours[i] for i in wrt], lucid.tensor(g))
    expected = torch.autograd.grad(b, [theirs[i] for i in wrt], torch.tensor(g))
    for i, ours_grad, theirs_grad in zip(wrt, grads, expected):
        np.testing.assert_allclose(ours_grad.data, theirs_grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"input {i}")


def test_second_derivatives_at_prelus_kink_are_pytorchs():
    """PyTorch's slope at 0 is the weight's, but its second-order rules mask x >= 0."""
    x, w = np.array([0.0, 1.0, -1.0]), np.array([0.25])
    xl, wl = lucid.tensor(x, requires_grad=True), lucid.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    gx, gw = lucid.grad(F.prelu(xl, wl).sum(), [xl, wl], create_graph=True)
    tx, tw = torch.autograd.grad(TF.prelu(xt, wt).sum(), [xt, wt], create_graph=True)
    np.testing.assert_array_equal(gx.data, tx.detach().numpy())
    for ours, theirs in zip(lucid.grad(gx.sum() + gw.sum(), [xl, wl]),
                            torch.autograd.grad(tx.sum() + tw.sum(), [xt, wt])):
        np.testing.assert_array_equal(ours.data, theirs.numpy())


# layers ------------------------------------------------------------------------------------------

LAYERS = [
    (lambda: nn.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4), (3, 4, 2, 2)),
    (lambda: nn.GroupNorm(1, 4, affine=False), lambda: torch.nn.GroupNorm(1, 4, affine=False), (3, 4, 5)),
    (lambda: nn.InstanceNorm2d(3), lambda: torch.nn.InstanceNorm2d(3), (2, 3, 4, 4)),
    (lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
     lambda: torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 4, 4)),
    (lambda: nn.InstanceNorm2d(3, momentum=0.5), lambda: torch.nn.InstanceNorm2d(3, momentum=0.5), (3, 4, 4)),
    (lambda: nn.PReLU(4), lambda: torch.nn.PReLU(4), (3, 4, 2)),
    (lambda: nn.PReLU(), lambda: torch.nn.PReLU(), (5, 2)),
    (lambda: nn.PixelShuffle(2), lambda: torch.nn.PixelShuffle(2), (2, 8, 3, 3)),
    (lambda: nn.PixelUnshuffle(3), lambda: torch.nn.PixelUnshuffle(3), (2, 1, 6, 3)),
    (lambda: nn.GLU(1), lambda: torch.nn.GLU(1), (2, 6)),
    (lambda: nn.Hardshrink(0.3), lambda: torch.nn.Hardshrink(0.3), (4, 5)),
    (lambda: nn.Softshrink(0.3), lambda: torch.nn.Softshrink(0.3), (4, 5)),
    (lambda: nn.Tanhshrink(), lambda: torch.nn.Tanhshrink(), (4, 5)),
    (lambda: nn.Softmin(1), lambda: torch.nn.Softmin(1), (4, 5)),
]


@pytest.mark.parametrize("make_ours, make_theirs, shape", LAYERS)
def test_layers_train_step_for_step_like_pytorch(make_ours, make_theirs, shape):
    """Five SGD steps on one batch from the same float64 weights: outputs, input gradients and
    weights stay equal."""
    x = np.random.default_rng(13).standard_normal(shape)
    probe = twins(make_ours(), make_theirs())[1]
    weights = np.random.default_rng(14).standard_normal(probe(torch.tensor(x)).shape)  # sum(y²) is flat for a norm
    ours, theirs = twins(make_ours(), make_theirs())
    opt_ours = lucid.optim.SGD(ours.parameters(), lr=0.1) if list(ours.parameters()) else None
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.1) if opt_ours else None
    for step in range(5):
        xl, xt = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        a, b = ours(xl), theirs(xt)
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=f"step {step}")
        (a * a * lucid.tensor(weights)).sum().backward()
        (b * b * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(xl.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"step {step}")
        if opt_ours:
            opt_ours.step(), opt_theirs.step()
            opt_ours.zero_grad(), opt_theirs.zero_grad()
    theirs_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(theirs_state)
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value.data, theirs_state[key].numpy(), rtol=1e-12, err_msg=key)


LOSSES = [
    ("MarginRankingLoss", {"margin": 0.2}, (x34[:, 0], y34[:, 0], signs)),
    ("CosineEmbeddingLoss", {"margin": 0.1, "reduction": "sum"}, (x34, y34, signs)),
    ("TripletMarginLoss", {"margin": 0.5, "p": 3.0, "swap": True}, (x34, y34, z34)),
    ("PoissonNLLLoss", {"full": True}, (x34, positive * 3)),
    ("GaussianNLLLoss", {"full": True, "reduction": "none"}, (x34, y34, positive)),
]


@pytest.mark.parametrize("name, settings, inputs", LOSSES, ids=lambda v: v if isinstance(v, str) else "")
def test_loss_modules_match_pytorch(name, settings, inputs):
    ours = getattr(nn, name)(**settings)
    theirs = getattr(torch.nn, name)(**settings)
    np.testing.assert_allclose(ours(*map(lucid.tensor, inputs)).data, theirs(*map(torch.tensor, inputs)).numpy(),
                               rtol=1e-12, atol=1e-14)


def test_reprs_match():
    for a, b in [(nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
                 (nn.GroupNorm(2, 4, bias=False), torch.nn.GroupNorm(2, 4, bias=False)),
                 (nn.PReLU(3), torch.nn.PReLU(3)),
                 (nn.Tanhshrink(), torch.nn.Tanhshrink())]:
        assert repr(a) == repr(b)


# bad arguments -----------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: F.glu(lucid.ones(3)), "glu: halving dimension must be even"),
    (lambda: F.glu(lucid.tensor(1.0)), "glu: a 0-d input has no dim to halve"),
    (lambda: F.prelu(lucid.ones(2, 3), lucid.ones(2)), "prelu: weight of shape (2,) does not fit input"),
    (lambda: F.prelu(lucid.ones(2, 3), lucid.ones(1, 1)), "prelu: weight must be a scalar or 1-D"),
    (lambda: F.softshrink(lucid.ones(2), -1.0), "softshrink: lambd must be >= 0, got -1.0"),
    (lambda: F.softmin(lucid.ones(2), 1), "softmin: dim 1 is out of range"),
    (lambda: F.margin_ranking_loss(lucid.ones(3), lucid.ones(()), lucid.ones(3)), "same number of dims"),
    (lambda: F.margin_ranking_loss(lucid.ones(3), lucid.ones(2), lucid.ones(3)), "do not broadcast"),
    (lambda: F.margin_ranking_loss(lucid.ones(3), lucid.ones(2), lucid.ones(3)),
     "margin_ranking_loss: input1 of shape (3,), input2 of shape (2,) and target of shape (3,) do not broadcast"),
    (lambda: F.triplet_margin_loss(lucid.ones(2, 3), lucid.ones(2, 3), lucid.ones(2, 3), margin=0.0),
     "margin must be greater than 0"),
    (lambda: F.triplet_margin_loss(lucid.ones(2, 3), lucid.ones(2, 3), lucid.ones(2, 3), p=-1.0),
     "p must be a number >= 0"),
    (lambda: F.poisson_nll_loss(lucid.ones(3), lucid.ones(2)), "poisson_nll_loss: input of shape (3,)"),
    (lambda: F.poisson_nll_loss(lucid.ones(3), lucid.ones(3), reduction="avg"), "reduction"),
    (lambda: F.gaussian_nll_loss(lucid.ones(2, 3), lucid.ones(2, 3), lucid.ones(3, 2)), "var of shape (3, 2)"),
    (lambda: F.gaussian_nll_loss(lucid.ones(2, 3), lucid.ones(2, 3), -lucid.ones(2, 3)), "var has negative"),
    (lambda: F.cosine_embedding_loss(lucid.ones(2, 3), lucid.ones(2, 3), lucid.ones(())), "0-d target expects"),
    (lambda: F.cosine_embedding_loss(lucid.ones(2, 3), lucid.ones(2, 3), lucid.ones(2, 1)), "0-d or 1-d target"),
    (lambda: F.group_norm(lucid.ones(2, 3, 2), 2), "3 channels (shape (2, 3, 2)) are not divisible"),
    (lambda: F.group_norm(lucid.ones(2, 4), 2, lucid.ones(3)),
     "group_norm: weight of shape (3,) does not match the input's 4 channels"),
    (lambda: F.group_norm(lucid.ones(1, 2), 2), "more than 1 value per channel"),
    (lambda: F.instance_norm(lucid.ones(2, 3, 1)), "more than 1 spatial element"),
    (lambda: F.instance_norm(lucid.ones(2, 3, 2), use_input_stats=False), "running_mean and running_var are required"),
    (lambda: F.instance_norm(lucid.ones(2, 3, 2), lucid.ones(2)),
     "instance_norm: running_mean of shape (2,) does not match the input's 3 channels"),
    (lambda: F.pixel_shuffle(lucid.ones(1, 3, 2, 2), 2), "3 channels"),
    (lambda: F.pixel_shuffle(lucid.ones(3, 2), 2), "expected an input of shape (*, C, H, W)"),
    (lambda: F.pixel_unshuffle(lucid.ones(1, 1, 3, 2), 2), "must be divisible by downscale_factor"),
    (lambda: F.pixel_unshuffle(lucid.ones(1, 1, 2, 2), 0), "downscale_factor must be a positive int"),
    (lambda: nn.GroupNorm(3, 4), "GroupNorm: num_channels (4) must be divisible by num_groups (3)"),
    (lambda: nn.GroupNorm(2, 4)(lucid.ones(2, 3)), "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True): expected"),
    (lambda: nn.GroupNorm("a", 4), "GroupNorm: num_groups must be a non-negative int, got 'a'"),
    (lambda: nn.GroupNorm(2, 4.0), "GroupNorm: num_channels must be a non-negative int, got 4.0"),
    (lambda: nn.GroupNorm(0, 4), "GroupNorm: num_groups must be positive, got 0"),
])
def test_bad_arguments_raise_a_lucid_error(call, message):
    with pytest.raises(LucidError) as raised:
        call()
    assert message in str(raised.value)


# the modules' constructors, as PyTorch 2.13's ------------------------------------------------------

def test_instance_norm_takes_bias_and_shows_it_as_pytorch():
    for ours, theirs in [(nn.InstanceNorm2d(3), torch.nn.InstanceNorm2d(3)),
                         (nn.InstanceNorm2d(3, affine=True, bias=False),
                          torch.nn.InstanceNorm2d(3, affine=True, bias=False))]:
        assert repr(ours) == repr(theirs)
        assert (ours.bias is None) == (theirs.bias is None)


def test_instance_norm_momentum_none_keeps_the_running_statistics_as_pytorch():
    """PyTorch's InstanceNorm passes momentum 0 for None (no cumulative average, unlike BatchNorm)."""
    ours = nn.InstanceNorm2d(3, momentum=None, track_running_stats=True).to(lucid.float64)
    theirs = torch.nn.InstanceNorm2d(3, momentum=None, track_running_stats=True, dtype=torch.float64)
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4)) * 3 + 1
    np.testing.assert_allclose(ours(lucid.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy())
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy())


def test_group_norms_bias_is_keyword_only_as_pytorchs():
    """GroupNorm(2, 4, 1e-5, True, False) reads as if False were the bias; PyTorch makes bias keyword-only."""
    assert inspect.signature(nn.GroupNorm).parameters["bias"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.signature(torch.nn.GroupNorm).parameters["bias"].kind is inspect.Parameter.KEYWORD_ONLY


def test_prelus_starting_slope_is_an_in_place_change_as_pytorchs():
    """Filled through Lucid (init.constant_), so its version counts the write, as torch.nn.PReLU's does."""
    assert nn.PReLU(init=0.1).weight._version == torch.nn.PReLU(init=0.1).weight._version == 1


def test_prelu_refuses_a_numpy_array_as_the_other_layers_do():
    with pytest.raises(TypeError, match="PReLU: expected a Tensor input, got ndarray"):
        nn.PReLU()(np.ones(3, dtype=np.float32))


def test_loss_modules_are_related_as_pytorchs():
    """CosineEmbeddingLoss is not a MarginRankingLoss (it only shares the three-input call)."""
    names = ["MarginRankingLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "PoissonNLLLoss", "GaussianNLLLoss"]
    for a in names:
        for b in names:
            assert issubclass(getattr(nn, a), getattr(nn, b)) == issubclass(getattr(torch.nn, a), getattr(torch.nn, b))


def test_loss_modules_take_their_inputs_by_name_as_pytorchs():
    a, p, n = lucid.ones(2, 3), lucid.ones(2, 3), lucid.zeros(2, 3)
    assert nn.TripletMarginLoss()(anchor=a, positive=p, negative=n).item() == 0
    assert nn.MSELoss()(input=a, target=n).item() == 1
