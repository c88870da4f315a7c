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
from lucid.optim import lr_scheduler

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
    given, stepped after each step); compare losses, learning rates and finally the weights.
    Returns the first group's lr after each step."""
    ours, theirs = mlp_pair(torch)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    opt_ours, opt_theirs = make_ours(ours.parameters()), make_theirs(theirs.parameters())
    schedulers = schedule(opt_ours, opt_theirs) if schedule else None
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lrs = []
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
            metric = (a.item(),) if isinstance(schedulers[0], lr_scheduler.ReduceLROnPlateau) else ()
            schedulers[0].step(*metric), schedulers[1].step(*metric)
            for g, h in zip(opt_ours.param_groups, opt_theirs.param_groups):
                np.testing.assert_allclose(g["lr"], h["lr"], rtol=1e-12, err_msg=f"lr after step {step}")
        lrs.append(opt_ours.param_groups[0]["lr"])
    theirs_state = theirs.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value.data, theirs_state[key].numpy(), rtol=RTOL, atol=1e-14, err_msg=key)
    return lrs


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
    "SGD maximize": ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, maximize=True)),
    "Adam maximize": ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    "AdamW maximize": ("AdamW", dict(lr=0.01, maximize=True)),
    "RMSprop maximize": ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, maximize=True)),
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
    """maximize=True gives the step of the negated gradient, for every optimizer (all take it)."""
    for make in (optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad, optim.Adamax, optim.NAdam,
                 optim.RAdam):
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
    (lambda p: optim.SGD(p, lr=0.1, maximize="yes"), "SGD: invalid maximize 'yes'.*True or False"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=1), "SGD: invalid nesterov 1"),
    (lambda p: optim.Adam([{"params": p, "amsgrad": "no"}]), "Adam: invalid amsgrad 'no' in parameter group 0"),
    (lambda p: optim.RMSprop(p, centered=None), "RMSprop: invalid centered None"),
    (lambda p: optim.NAdam(p, decoupled_weight_decay="true"), "NAdam: invalid decoupled_weight_decay"),
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


# schedulers ------------------------------------------------------------------------------------

def sgd_pair(torch, groups=1, **settings):
    """A Lucid and a PyTorch SGD over the same number of parameter groups (lrs 0.1, 0.2, ...)."""
    settings = {"lr": 0.1, "momentum": 0.9, **settings}

    def groups_of(parameter):
        return [{"params": [parameter(np.ones(1))], "lr": 0.1 * (i + 1)} for i in range(groups)]

    return (optim.SGD(groups_of(nn.Parameter), **settings),
            torch.optim.SGD(groups_of(lambda a: torch.nn.Parameter(torch.from_numpy(a))), **settings))


def assert_same_settings(ours, theirs, epoch):
    for g, h in zip(ours.param_groups, theirs.param_groups):
        for key in ("lr", "momentum", "betas"):
            if key in h:
                np.testing.assert_allclose(g[key], h[key], rtol=1e-12, atol=1e-15, err_msg=f"{key} at epoch {epoch}")


def compare_schedules(torch, make, epochs=30, pair=sgd_pair, metrics=None):
    """Step a Lucid and a PyTorch scheduler `epochs` times (with `metrics`, if given: the values
    ReduceLROnPlateau reads); the lrs (and momenta) must agree after every step."""
    ours, theirs = pair(torch)
    scheduler_ours, scheduler_theirs = make(lr_scheduler, ours), make(torch.optim.lr_scheduler, theirs)
    assert_same_settings(ours, theirs, 0)
    for epoch in range(1, epochs + 1):
        ours.step(), theirs.step()
        args = () if metrics is None else (metrics[epoch - 1],)
        scheduler_ours.step(*args), scheduler_theirs.step(*args)
        assert_same_settings(ours, theirs, epoch)
        np.testing.assert_allclose(scheduler_ours.get_last_lr(), scheduler_theirs.get_last_lr(), rtol=1e-12)
    return scheduler_ours, scheduler_theirs


SCHEDULES = {
    "MultiStepLR": lambda s, opt: s.MultiStepLR(opt, milestones=[3, 7, 7, 12], gamma=0.5),
    "MultiStepLR unsorted": lambda s, opt: s.MultiStepLR(opt, milestones=[10, 2], gamma=0.3),
    "ExponentialLR": lambda s, opt: s.ExponentialLR(opt, gamma=0.9),
    "LinearLR warm-up": lambda s, opt: s.LinearLR(opt),
    "LinearLR decay": lambda s, opt: s.LinearLR(opt, start_factor=1.0, end_factor=0.05, total_iters=12),
    "CosineAnnealingWarmRestarts": lambda s, opt: s.CosineAnnealingWarmRestarts(opt, T_0=4),
    "CosineAnnealingWarmRestarts T_mult": lambda s, opt: s.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2,
                                                                                       eta_min=0.01),
    "OneCycleLR": lambda s, opt: s.OneCycleLR(opt, max_lr=1.0, total_steps=30),
    "OneCycleLR three phases, linear": lambda s, opt: s.OneCycleLR(
        opt, max_lr=[0.5, 2.0], epochs=7, steps_per_epoch=5, pct_start=0.4, anneal_strategy="linear",
        three_phase=True, base_momentum=0.7, max_momentum=0.9, div_factor=10.0, final_div_factor=100.0),
    "SequentialLR warm-up then exponential": lambda s, opt: s.SequentialLR(
        opt, [s.LinearLR(opt, start_factor=0.1, total_iters=4), s.ExponentialLR(opt, gamma=0.8)], milestones=[4]),
    "SequentialLR of three": lambda s, opt: s.SequentialLR(
        opt, [s.ExponentialLR(opt, gamma=0.5), s.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2),
              s.MultiStepLR(opt, milestones=[2, 4])], milestones=[3, 14]),
}


@pytest.mark.parametrize("case", SCHEDULES)
def test_scheduler_matches_pytorch(torch, case):
    compare_schedules(torch, SCHEDULES[case], pair=lambda torch: sgd_pair(torch, groups=2))


def adam_pair(torch):
    return optim.Adam([nn.Parameter(np.ones(1))]), torch.optim.Adam([torch.nn.Parameter(torch.ones(1))])


def test_one_cycle_cycles_adams_beta1_like_pytorch(torch):
    compare_schedules(torch, lambda s, opt: s.OneCycleLR(opt, max_lr=0.01, total_steps=25, pct_start=0.2),
                      epochs=25, pair=adam_pair)


def test_one_cycle_without_momentum_and_its_last_step_like_pytorch(torch):
    def pair(torch):
        return optim.Adagrad([nn.Parameter(np.ones(1))]), torch.optim.Adagrad([torch.nn.Parameter(torch.ones(1))])

    ours, theirs = compare_schedules(
        torch, lambda s, opt: s.OneCycleLR(opt, max_lr=0.3, total_steps=10, cycle_momentum=False), epochs=10,
        pair=pair)
    with pytest.raises(LucidError, match="tried to step 11 times; the cycle has total_steps=10"):
        ours.step()
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        theirs.step()


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.8, 0.8, 0.81, 0.9, 0.7, 0.71, 0.7, 0.72, 0.73, 0.74,
                   0.6, 0.65, 0.66, 0.67, 0.68, 0.69, 0.5, 0.55, 0.56, 0.57, 0.58, 0.59, 0.6, 0.61]


@pytest.mark.parametrize("settings", [
    dict(patience=2),
    dict(patience=1, factor=0.5, cooldown=2, min_lr=[0.01, 0.05]),
    dict(mode="max", patience=0, threshold=0.1, threshold_mode="abs", factor=0.3, min_lr=1e-3),
    dict(patience=0, threshold=0.05, eps=0.02, factor=0.7),
], ids=str)
def test_reduce_lr_on_plateau_matches_pytorch(torch, settings):
    compare_schedules(torch, lambda s, opt: s.ReduceLROnPlateau(opt, **settings),
                      pair=lambda torch: sgd_pair(torch, groups=2), metrics=PLATEAU_METRICS)


@pytest.mark.parametrize("metrics, message", [
    ("abc", "str 'abc'"), (None, "NoneType None"), (lucid.Tensor(np.ones(3)), "Tensor"),
])
def test_reduce_lr_on_plateau_refuses_a_metric_that_is_not_a_number(metrics, message):
    scheduler = lr_scheduler.ReduceLROnPlateau(one_sgd())
    with pytest.raises(LucidError, match=f"ReduceLROnPlateau.step: metrics must be a number or a one-element "
                                         f"tensor, got {message}"):
        scheduler.step(metrics)
    assert scheduler.last_epoch == 0


def test_reduce_lr_on_plateau_takes_a_tensor_metric():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    scheduler.step(lucid.tensor(2.0))
    scheduler.step(lucid.tensor(3.0))
    assert scheduler.best == 2.0 and opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_warm_restarts_at_fractional_epochs_like_pytorch(torch):
    """step(epoch + batch / batches), then plain step()s that go on from the last fractional epoch."""
    ours, theirs = sgd_pair(torch)
    a = lr_scheduler.CosineAnnealingWarmRestarts(ours, T_0=2, T_mult=3, eta_min=0.001)
    b = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(theirs, T_0=2, T_mult=3, eta_min=0.001)
    for epoch in range(7):
        for batch in range(4):
            ours.step(), theirs.step()
            a.step(epoch + batch / 4), b.step(epoch + batch / 4)
            assert_same_settings(ours, theirs, epoch + batch / 4)
    a.step(2.5), b.step(2.5)
    for epoch in range(5):
        a.step(), b.step()
        assert_same_settings(ours, theirs, 3.5 + epoch)


TRAINING_SCHEDULES = {**{case: make for case, make in SCHEDULES.items()
                         if case != "OneCycleLR three phases, linear"},  # (its max_lr is for two groups)
                      "ReduceLROnPlateau on the loss": lambda s, opt: s.ReduceLROnPlateau(opt, patience=1,
                                                                                          threshold=0.05, factor=0.5)}


@pytest.mark.parametrize("case", TRAINING_SCHEDULES)
def test_training_with_a_schedule_matches_pytorch(torch, case):
    """The schedulers drive real training: losses, lrs and weights agree with PyTorch's."""
    make = TRAINING_SCHEDULES[case]
    lrs = train_both(torch, lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5),
                     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.5),
                     schedule=lambda a, b: (make(lr_scheduler, a), make(torch.optim.lr_scheduler, b)))
    assert len(set(lrs)) > 2  # the schedule did change the lr


def lucid_schedules(opt):
    """One of each new scheduler on `opt`, by name."""
    return {
        "MultiStepLR": lambda: SCHEDULES["MultiStepLR"](lr_scheduler, opt),
        "LinearLR": lambda: SCHEDULES["LinearLR decay"](lr_scheduler, opt),
        "CosineAnnealingWarmRestarts": lambda: SCHEDULES["CosineAnnealingWarmRestarts T_mult"](lr_scheduler, opt),
        "OneCycleLR": lambda: SCHEDULES["OneCycleLR"](lr_scheduler, opt),
        "SequentialLR": lambda: SCHEDULES["SequentialLR of three"](lr_scheduler, opt),
        "ReduceLROnPlateau": lambda: lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1),
    }


@pytest.mark.parametrize("name", ["MultiStepLR", "LinearLR", "CosineAnnealingWarmRestarts", "OneCycleLR",
                                  "SequentialLR", "ReduceLROnPlateau"])
def test_scheduler_state_dict_resumes_the_same_schedule(tmp_path, name):
    """Eight epochs, save optimizer and scheduler to a file, then eight more in fresh ones loaded
    from it == sixteen epochs straight."""
    def advance(opt, scheduler, epochs):
        seen = []
        for epoch in epochs:
            opt.step()
            scheduler.step(*([PLATEAU_METRICS[epoch]] if name == "ReduceLROnPlateau" else []))
            seen.append([(g["lr"], g["momentum"]) for g in opt.param_groups])
        return seen

    def fresh():
        opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1, momentum=0.9)
        return opt, lucid_schedules(opt)[name]()

    straight = advance(*fresh(), range(16))
    opt, scheduler = fresh()
    advance(opt, scheduler, range(8))
    lucid.save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}, tmp_path / "checkpoint.npz")
    saved = lucid.load(tmp_path / "checkpoint.npz")
    opt, scheduler = fresh()
    opt.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    assert advance(opt, scheduler, range(8, 16)) == straight[8:]


def one_sgd():
    return optim.SGD([nn.Parameter(np.ones(1))], lr=0.1, momentum=0.9)


@pytest.mark.parametrize("make, message", [
    (lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[2, 3.5]),
     r"MultiStepLR: each milestone must be a non-negative int, got 3.5 \(float\)"),
    (lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[-1, 0, 3]), "each milestone must be a non-negative int"),
    (lambda opt: lr_scheduler.MultiStepLR(opt, milestones=5), "MultiStepLR: milestones must be a list of epochs"),
    (lambda opt: lr_scheduler.MultiStepLR(opt, milestones=None), "MultiStepLR: milestones must be a list"),
    (lambda opt: lr_scheduler.StepLR(opt, 2.5), r"StepLR: step_size must be a non-negative int, got 2.5 \(float\)"),
    (lambda opt: lr_scheduler.StepLR(opt, "a"), "StepLR: step_size must be a non-negative int, got 'a'"),
    (lambda opt: lr_scheduler.StepLR(opt, 0), "StepLR: step_size must be a positive integer, got 0"),
    (lambda opt: lr_scheduler.CosineAnnealingLR(opt, None), "CosineAnnealingLR: T_max must be a non-negative int"),
    (lambda opt: lr_scheduler.CosineAnnealingLR(opt, 4, eta_min=-0.1), "CosineAnnealingLR: eta_min must be"),
    (lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[2], gamma=-0.5), "MultiStepLR: gamma must be"),
    (lambda opt: lr_scheduler.ExponentialLR(opt, gamma=math.nan), "ExponentialLR: gamma must be"),
    (lambda opt: lr_scheduler.LinearLR(opt, start_factor=0), r"start_factor must be in \(0, 1\]"),
    (lambda opt: lr_scheduler.LinearLR(opt, end_factor=1.5), r"end_factor must be in \[0, 1\]"),
    (lambda opt: lr_scheduler.LinearLR(opt, total_iters=0), "total_iters must be a positive integer"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0), "T_0 must be a positive integer"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=1.5), "T_mult must be"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, eta_min=-1), "eta_min must be"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2).step(-1), "epoch must be a finite number"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1), "give either total_steps or both epochs"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=0), "total_steps must be a positive"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=2, steps_per_epoch=-1), "steps_per_epoch must"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1.5), "pct_start must be"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=0.1), "leaves phase 1"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp"),
     "anneal_strategy must be 'cos' or 'linear'"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=[0.1, 0.2], total_steps=10), "expected 1 values of max_lr"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=-0.1, total_steps=10), "max_lr must be a finite number"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, div_factor=0), "div_factor must be"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, max_momentum=-0.9),
     "OneCycleLR: invalid momentum -0.9 in parameter group 0"),
    (lambda opt: lr_scheduler.OneCycleLR(optim.Adam(opt.param_groups[0]["params"]), max_lr=0.1, total_steps=10,
                                         base_momentum=1.0), r"invalid betas \(1.0, 0.999\)"),
    (lambda opt: lr_scheduler.OneCycleLR(optim.Adagrad(opt.param_groups[0]["params"]), max_lr=0.1,
                                         total_steps=10), "Adagrad has neither"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, mode="lowest"), "mode must be 'min' or 'max'"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="pct"), "threshold_mode must be"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=1.0), "factor must be < 1"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=-0.1), "factor must be a finite number >= 0"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, patience=-1), "patience must be a non-negative int"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, cooldown=1.5), "cooldown must be a non-negative int"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2]), "expected 1 values of min_lr"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, min_lr=-1e-3), "min_lr must be"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [], []), "at least one scheduler"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(opt, 0.9)] * 2, []),
     "expected 1 milestones for 2 schedulers"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(opt, 0.9)] * 3, [5, 2]),
     "milestones must be increasing integers"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(opt, 0.9)] * 2, 5),
     "SequentialLR: milestones must be a list of epochs"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(opt, 0.9)] * 2, [-2]),
     "SequentialLR: each milestone must be a non-negative int, got -2"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.ReduceLROnPlateau(opt)], []),
     "needs a metric"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(one_sgd(), 0.9)], []),
     "schedules another optimizer"),
])
def test_bad_scheduler_arguments_are_errors(make, message):
    with pytest.raises(LucidError, match=message):
        make(one_sgd())


def test_a_scheduler_that_is_not_one_is_a_type_error():
    opt = one_sgd()
    with pytest.raises(TypeError, match="scheduler 0 is a SGD"):
        lr_scheduler.SequentialLR(opt, [opt], [])
    with pytest.raises(TypeError, match="expected a lucid.optim.Optimizer"):
        lr_scheduler.ReduceLROnPlateau([nn.Parameter(np.ones(1))])


def test_one_cycle_refuses_the_negative_lr_pytorch_extrapolates_to():
    """PyTorch allows one step past the cycle's last, extrapolating its last phase: linearly, that
    can go below zero (here at step 30), which Lucid refuses, as it refuses any negative lr."""
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1, momentum=0.9)
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=30, anneal_strategy="linear", three_phase=True,
                                        pct_start=0.4, div_factor=10.0, final_div_factor=100.0)
    for _ in range(29):
        scheduler.step()
    with pytest.raises(LucidError, match="epoch 30 gives parameter group 0 the learning rate -0.00"):
        scheduler.step()
    assert scheduler.last_epoch == 29 and opt.param_groups[0]["lr"] == pytest.approx(0.0005)
