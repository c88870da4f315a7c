"""Optimizers and schedulers against textbook formulas written out independently here in NumPy."""
import math

import numpy as np
import pytest

import lucid
from lucid import nn, optim
from lucid.optim import lr_scheduler

RNG = np.random.default_rng(0)
GRADS = [RNG.standard_normal((3, 2)) for _ in range(6)]  # a fixed gradient per step
START = RNG.standard_normal((3, 2))


def run(make_optimizer):
    """Apply the fixed gradients with a Lucid optimizer; return the weights after each step."""
    p = nn.Parameter(START.copy())
    opt = make_optimizer([p])
    trajectory = []
    for g in GRADS:
        p.grad = lucid.tensor(g)
        opt.step()
        trajectory.append(p.data.copy())
    return trajectory


@pytest.mark.parametrize("momentum, dampening, nesterov, weight_decay",
                         [(0.0, 0.0, False, 0.0), (0.9, 0.0, False, 0.0), (0.9, 0.3, False, 0.1),
                          (0.8, 0.0, True, 0.01)])
def test_sgd_matches_the_textbook_rule(momentum, dampening, nesterov, weight_decay):
    lr = 0.05
    got = run(lambda ps: optim.SGD(ps, lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                                   weight_decay=weight_decay))
    w, buf = START.copy(), None
    for g, actual in zip(GRADS, got):
        d = g + weight_decay * w
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        w = w - lr * d
        np.testing.assert_allclose(actual, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls, weight_decay, amsgrad", [(optim.Adam, 0.0, False), (optim.Adam, 0.1, False),
                                                        (optim.AdamW, 0.1, False), (optim.Adam, 0.0, True)])
def test_adam_and_adamw_match_the_paper(cls, weight_decay, amsgrad):
    lr, b1, b2, eps = 0.01, 0.9, 0.99, 1e-8
    got = run(lambda ps: cls(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))
    w, m, v, vmax = START.copy(), 0.0, 0.0, 0.0
    for t, (g, actual) in enumerate(zip(GRADS, got), start=1):
        if cls is optim.AdamW:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v) if amsgrad else v
        m_hat, v_hat = m / (1 - b1 ** t), vmax / (1 - b2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(actual, w, rtol=1e-10)


def test_adam_first_step_moves_each_weight_by_lr():
    """With m and v bias-corrected, step 1 is lr * g / (|g| + eps): lr in the direction of -sign(g)."""
    got = run(lambda ps: optim.Adam(ps, lr=0.1, eps=0.0))[0]
    np.testing.assert_allclose(got, START - 0.1 * np.sign(GRADS[0]), rtol=1e-14)


@pytest.mark.parametrize("momentum, centered, weight_decay", [(0.0, False, 0.0), (0.9, False, 0.0),
                                                              (0.5, True, 0.1)])
def test_rmsprop_matches_the_textbook_rule(momentum, centered, weight_decay):
    lr, alpha, eps = 0.01, 0.9, 1e-8
    got = run(lambda ps: optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered,
                                       weight_decay=weight_decay))
    w, sq, mean_g, buf = START.copy(), 0.0, 0.0, 0.0
    for g, actual in zip(GRADS, got):
        g = g + weight_decay * w
        sq = alpha * sq + (1 - alpha) * g * g
        mean_g = alpha * mean_g + (1 - alpha) * g
        avg = np.sqrt(sq - mean_g ** 2 if centered else sq) + eps
        if momentum:
            buf = momentum * buf + g / avg
            w = w - lr * buf
        else:
            w = w - lr * g / avg
        np.testing.assert_allclose(actual, w, rtol=1e-10)


def test_float32_parameters_stay_float32():
    p = nn.Parameter(START.astype(np.float32))
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9), optim.Adam([p]), optim.RMSprop([p])):
        p.grad = lucid.tensor(GRADS[0].astype(np.float32))
        opt.step()
        assert p.dtype == np.float32


def test_step_skips_parameters_without_grad_and_zero_grad_clears():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=1.0)
    a.grad = lucid.tensor(np.array([1.0, 2.0]))
    opt.step()
    np.testing.assert_array_equal(a.data, [0.0, -1.0])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.data, [0.0, 0.0])
    assert b.grad is None
    opt.zero_grad()
    assert a.grad is None


def test_param_groups_have_their_own_hyperparameters():
    a, b = nn.Parameter(np.ones(1)), nn.Parameter(np.ones(1))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = lucid.tensor(np.ones(1)), lucid.tensor(np.ones(1))
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.5])


def test_closure_is_evaluated_with_grad_enabled():
    p = nn.Parameter(np.array([3.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with lucid.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.data, [3.0 - 0.25 * 6.0])


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1), lambda ps: optim.RMSprop(ps, momentum=0.5)])
def test_state_dict_resumes_the_same_trajectory(make):
    """Three steps, save, three more in a fresh optimizer loaded from the save == six steps straight."""
    straight = run(make)[-1]
    p = nn.Parameter(START.copy())
    opt = make([p])
    for g in GRADS[:3]:
        p.grad = lucid.tensor(g)
        opt.step()
    saved = opt.state_dict()
    q = nn.Parameter(p.data.copy())
    resumed = make([q])
    resumed.load_state_dict(saved)
    for g in GRADS[3:]:
        q.grad = lucid.tensor(g)
        resumed.step()
    np.testing.assert_array_equal(q.data, straight)


def test_state_dict_survives_save_and_load(tmp_path):
    p = nn.Parameter(START.copy())
    opt = optim.Adam([p], lr=0.1)
    p.grad = lucid.tensor(GRADS[0])
    opt.step()
    lucid.save(opt.state_dict(), tmp_path / "opt.npz")
    fresh = optim.Adam([nn.Parameter(START.copy())], lr=0.5)
    fresh.load_state_dict(lucid.load(tmp_path / "opt.npz"))
    assert fresh.param_groups[0]["lr"] == 0.1 and fresh.param_groups[0]["betas"] == (0.9, 0.999)
    state = next(iter(fresh.state.values()))
    assert state["step"] == 1
    np.testing.assert_array_equal(state["exp_avg"], opt.state[p]["exp_avg"])


# bad input -------------------------------------------------------------------------------------

def test_empty_parameter_list_is_an_error():
    with pytest.raises(ValueError, match="SGD got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Adam got an empty parameter list"):
        optim.Adam(nn.ReLU().parameters())


def test_non_leaf_is_an_error():
    w = lucid.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.Adam([w * 2])


def test_other_bad_parameters():
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(nn.Parameter(np.ones(2)), lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 is a ndarray"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="dtype int64"):
        optim.SGD([lucid.tensor([1, 2])], lr=0.1)
    p = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="invalid lr -1"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))


def test_loading_a_mismatched_state_dict_is_an_error():
    opt = optim.SGD([nn.Parameter(np.ones(2))], lr=0.1, momentum=0.9)
    other = optim.SGD([nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 2 parameters in the state dict and 1 in this optimizer"):
        opt.load_state_dict(other.state_dict())
    wrong = {"state": {0: {"momentum_buffer": np.ones(3)}}, "param_groups": opt.state_dict()["param_groups"]}
    with pytest.raises(ValueError, match=r"has shape \(3,\), the parameter has shape \(2,\)"):
        opt.load_state_dict(wrong)


# schedulers ------------------------------------------------------------------------------------

def lrs(scheduler_factory, epochs, lr=0.1):
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=lr)
    scheduler = scheduler_factory(opt)
    seen = []
    for _ in range(epochs):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert scheduler.get_last_lr() == [opt.param_groups[0]["lr"]]
    return seen


def test_step_lr():
    got = lrs(lambda opt: lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), 8)
    np.testing.assert_allclose(got, [0.1] * 3 + [0.05] * 3 + [0.025] * 2, rtol=1e-15)


def test_cosine_annealing_lr():
    got = lrs(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.02), 5)
    np.testing.assert_allclose(got, [0.1, 0.02 + 0.08 * (1 + math.sqrt(0.5)) / 2, 0.06,
                                     0.02 + 0.08 * (1 - math.sqrt(0.5)) / 2, 0.02], rtol=1e-14)


def test_lambda_lr_and_its_state_dict():
    got = lrs(lambda opt: lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (epoch + 1)), 4)
    np.testing.assert_allclose(got, [0.1, 0.05, 0.1 / 3, 0.025], rtol=1e-15)
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    scheduler = lr_scheduler.LambdaLR(opt, lambda epoch: 0.5 ** epoch)
    scheduler.step()
    state = scheduler.state_dict()
    assert state["last_epoch"] == 1 and "lr_lambdas" not in state and "optimizer" not in state


def test_scheduler_errors():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="2 lr_lambdas for 1 parameter groups"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1, lambda e: 1])
    with pytest.raises(ValueError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD([nn.Parameter(np.ones(1))], lr=0.1), step_size=2, last_epoch=3)
