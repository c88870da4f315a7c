"""Adagrad, Adamax, NAdam, RAdam and the schedulers beyond StepLR, against PyTorch step for step.

The comparisons with PyTorch run when it is installed: 20 float64 steps of training from the same
weights give the same losses and weights. The rest (state dicts, bad arguments) runs without it.
"""
import math

import numpy as np
import pytest

import lucid
from lucid import nn, optim
from lucid.errors import LucidError

STEPS = 20
RTOL = 1e-10


@pytest.fixture
def torch():
    """PyTorch, with float64 as its default dtype: its NAdam keeps the running product of the
    momentum coefficients in the default dtype (float32 would round it, Lucid keeps a float)."""
    torch = pytest.importorskip("torch")
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(default)


def mlp_pair(torch):
    """A Lucid and a PyTorch MLP with the same float64 weights."""
    lucid.manual_seed(0)
    ours = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def train_both(torch, make_ours, make_theirs, steps=STEPS, schedule=None):
    """Train both models on one batch with their optimizers (and `schedule(optimizer)` pairs, if
    given, stepped after each step); compare losses, learning rates and finally the weights."""
    ours, theirs = mlp_pair(torch)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    opt_ours, opt_theirs = make_ours(ours.parameters()), make_theirs(theirs.parameters())
    schedulers = schedule(opt_ours, opt_theirs) if schedule else None
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for step in range(steps):
        opt_ours.zero_grad()
        a = nn.functional.cross_entropy(ours(lucid.tensor(x)), lucid.tensor(y))
        a.backward()
        opt_ours.step()
        opt_theirs.zero_grad()
        b = torch.nn.functional.cross_entropy(theirs(xt), yt)
        b.backward()
        opt_theirs.step()
        np.testing.assert_allclose(a.item(), b.item(), rtol=RTOL, err_msg=f"loss at step {step}")
        if schedulers:
            schedulers[0].step(), schedulers[1].step()
            for g, h in zip(opt_ours.param_groups, opt_theirs.param_groups):
                np.testing.assert_allclose(g["lr"], h["lr"], rtol=1e-12, err_msg=f"lr after step {step}")
    theirs_state = theirs.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value.data, theirs_state[key].numpy(), rtol=RTOL, atol=1e-14, err_msg=key)
    return opt_ours, opt_theirs


OPTIMIZERS = {
    "Adagrad": ("Adagrad", dict(lr=0.1)),
    "Adagrad lr_decay weight_decay accumulator": ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                                                  initial_accumulator_value=0.3, eps=1e-6)),
    "Adagrad maximize": ("Adagrad", dict(lr=0.05, maximize=True)),
    "Adamax": ("Adamax", dict(lr=0.01)),
    "Adamax betas eps weight_decay": ("Adamax", dict(lr=0.02, betas=(0.3, 0.9), eps=1e-3, weight_decay=0.1)),
    "Adamax maximize": ("Adamax", dict(lr=0.01, maximize=True)),
    "NAdam": ("NAdam", dict(lr=0.01)),
    "NAdam momentum_decay weight_decay": ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), momentum_decay=0.1,
                                                        weight_decay=0.1)),
    "NAdam decoupled": ("NAdam", dict(lr=0.01, weight_decay=0.2, decoupled_weight_decay=True)),
    "NAdam maximize": ("NAdam", dict(lr=0.01, maximize=True, eps=1e-4)),
    "RAdam": ("RAdam", dict(lr=0.01)),
    "RAdam rectified early": ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1)),
    "RAdam decoupled": ("RAdam", dict(lr=0.01, betas=(0.5, 0.8), weight_decay=0.2, decoupled_weight_decay=True)),
    "RAdam maximize": ("RAdam", dict(lr=0.01, maximize=True, eps=1e-3)),
}


@pytest.mark.parametrize("case", OPTIMIZERS)
def test_optimizer_matches_pytorch(torch, case):
    name, settings = OPTIMIZERS[case]
    train_both(torch, lambda ps: getattr(optim, name)(ps, **settings),
               lambda ps: getattr(torch.optim, name)(ps, **settings))


def test_radam_switches_to_the_rectified_step_like_pytorch(torch):
    """With beta2 = 0.9, rho_t passes 5 at step 6: the 20 steps above cover both branches."""
    beta2 = 0.9
    rho_inf = 2 / (1 - beta2) - 1
    rho = [rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t) for t in range(1, STEPS + 1)]
    assert rho[0] <= 5 < rho[-1]


@pytest.mark.parametrize("name", ["Adagrad", "Adamax", "NAdam", "RAdam"])
def test_param_groups_with_their_own_settings_match_pytorch(torch, name):
    def groups(model_params):
        first, *rest = list(model_params)
        return [{"params": [first], "lr": 0.03, "weight_decay": 0.1}, {"params": rest}]

    train_both(torch, lambda ps: getattr(optim, name)(groups(ps), lr=0.01),
               lambda ps: getattr(torch.optim, name)(groups(ps), lr=0.01))


@pytest.mark.parametrize("name", ["Adagrad", "Adamax", "NAdam", "RAdam"])
def test_state_dict_resumes_the_same_trajectory(name):
    """Three steps, save through a file, three more in a fresh optimizer == six steps straight."""
    rng = np.random.default_rng(2)
    grads, start = [rng.standard_normal((3, 2)) for _ in range(6)], rng.standard_normal((3, 2))
    make = getattr(optim, name)

    def steps(p, opt, gs):
        for g in gs:
            p.grad = lucid.tensor(g)
            opt.step()

    straight = nn.Parameter(start.copy())
    steps(straight, make([straight], lr=0.1), grads)
    p = nn.Parameter(start.copy())
    opt = make([p], lr=0.1)
    steps(p, opt, grads[:3])
    saved = opt.state_dict()
    q = nn.Parameter(p.data.copy())
    resumed = make([q], lr=0.5)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == 0.1
    steps(q, resumed, grads[3:])
    np.testing.assert_array_equal(q.data, straight.data)


def test_state_dict_survives_a_file(tmp_path):
    p = nn.Parameter(np.ones((2, 2)))
    opt = optim.NAdam([p], lr=0.1, decoupled_weight_decay=True, weight_decay=0.1)
    p.grad = lucid.tensor(np.full((2, 2), 0.5))
    opt.step()
    lucid.save(opt.state_dict(), tmp_path / "nadam.npz")
    fresh = optim.NAdam([nn.Parameter(np.ones((2, 2)))])
    fresh.load_state_dict(lucid.load(tmp_path / "nadam.npz"))
    state = next(iter(fresh.state.values()))
    assert state["step"] == 1 and state["mu_product"] == opt.state[p]["mu_product"]
    assert fresh.param_groups[0]["decoupled_weight_decay"] is True
    np.testing.assert_array_equal(state["exp_avg_sq"], opt.state[p]["exp_avg_sq"])


def test_maximize_climbs():
    """maximize=True gives the step of the negated gradient, for every optimizer that takes it."""
    for make in (optim.Adagrad, optim.Adamax, optim.NAdam, optim.RAdam):
        up, down = nn.Parameter(np.zeros(3)), nn.Parameter(np.zeros(3))
        grad = np.array([1.0, -2.0, 0.5])
        up.grad, down.grad = lucid.tensor(grad), lucid.tensor(-grad)
        make([up], lr=0.1, maximize=True).step()
        make([down], lr=0.1).step()
        np.testing.assert_array_equal(up.data, down.data)
        assert np.all(np.sign(up.data) == np.sign(grad))


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.Adagrad(p, lr=-0.1), "Adagrad: invalid lr -0.1"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "Adagrad: invalid lr_decay -1"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-0.5), "invalid initial_accumulator_value -0.5"),
    (lambda p: optim.Adagrad(p, eps=math.nan), "Adagrad: invalid eps nan"),
    (lambda p: optim.Adagrad(p, weight_decay=-1e-3), "Adagrad: invalid weight_decay"),
    (lambda p: optim.Adamax(p, betas=(0.9, 1.0)), r"Adamax: invalid betas \(0.9, 1.0\)"),
    (lambda p: optim.Adamax(p, betas=(-0.1, 0.9)), "Adamax: invalid betas"),
    (lambda p: optim.NAdam(p, momentum_decay=-4e-3), "NAdam: invalid momentum_decay"),
    (lambda p: optim.NAdam(p, betas=(0.9,)), "NAdam: invalid betas"),
    (lambda p: optim.RAdam(p, eps=-1e-8), "RAdam: invalid eps"),
    (lambda p: optim.RAdam(p, lr=math.inf), "RAdam: invalid lr inf"),
    (lambda p: optim.RAdam([{"params": p, "betas": (1.5, 0.9)}]), "parameter group 0"),
])
def test_bad_hyperparameters_are_errors(make, message):
    with pytest.raises(LucidError, match=message):
        make([nn.Parameter(np.ones(2))])


def test_a_loaded_state_dict_is_checked():
    opt = optim.Adagrad([nn.Parameter(np.ones(2))])
    saved = opt.state_dict()
    saved["param_groups"][0]["lr_decay"] = -0.5
    with pytest.raises(LucidError, match="invalid lr_decay -0.5 in parameter group 0 of the state dict"):
        opt.load_state_dict(saved)
