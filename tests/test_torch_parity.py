"""Step for step like PyTorch: the same weights and data in float64 give the same losses and weights.

Optional: skipped when PyTorch is not installed (it is never a dependency of Lucid).
"""
import numpy as np
import pytest

import lucid
from lucid import nn, optim
from lucid.optim import lr_scheduler

torch = pytest.importorskip("torch")

STEPS = 20
RTOL = 1e-10


def twins(lucid_model, torch_model):
    """Give the PyTorch model the Lucid model's (float64) weights."""
    lucid_model.double()
    torch_model.double()
    torch_model.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in lucid_model.state_dict().items()})
    return lucid_model, torch_model


def mlp_pair():
    lucid.manual_seed(0)
    return twins(nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4)),
                 torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16),
                                     torch.nn.ReLU(), torch.nn.Linear(16, 4)))


def cnn_pair():
    lucid.manual_seed(0)
    return twins(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                               nn.Linear(16, 4)),
                 torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                     torch.nn.Flatten(), torch.nn.Linear(16, 4)))


OPTIMIZERS = {
    "SGD momentum": (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "SGD nesterov + weight decay": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True,
                                                                     weight_decay=1e-2)),
    "SGD dampening": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.5, dampening=0.3)),
    "Adam": (optim.Adam, torch.optim.Adam, dict(lr=0.01)),
    "Adam amsgrad + weight decay": (optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    "AdamW": (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    "RMSprop": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01)),
    "RMSprop centered momentum": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
}


def train_both(pair, make_lucid, make_torch, settings, x, y):
    ours, theirs = pair
    opt_ours, opt_theirs = make_lucid(ours.parameters(), **settings), make_torch(theirs.parameters(), **settings)
    loss_ours, loss_theirs = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    losses = []
    for step in range(STEPS):
        opt_ours.zero_grad()
        a = loss_ours(ours(lucid.tensor(x)), lucid.tensor(y))
        a.backward()
        opt_ours.step()
        opt_theirs.zero_grad()
        b = loss_theirs(theirs(xt), yt)
        b.backward()
        opt_theirs.step()
        np.testing.assert_allclose(a.item(), b.item(), rtol=RTOL, err_msg=f"loss at step {step}")
        losses.append(a.item())
    assert losses[-1] < losses[0]  # the comparison is of real training, not of a stuck model
    theirs_state = theirs.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value.data, theirs_state[key].numpy(), rtol=RTOL, atol=1e-14, err_msg=key)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_mlp_training_matches_pytorch(name):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((32, 6)), rng.integers(0, 4, 32)
    train_both(mlp_pair(), *OPTIMIZERS[name], x, y)


@pytest.mark.parametrize("name", ["SGD momentum", "Adam"])
def test_cnn_training_matches_pytorch(name):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 1, 4, 4)), rng.integers(0, 4, 8)
    train_both(cnn_pair(), *OPTIMIZERS[name], x, y)


def test_initial_loss_and_gradients_match():
    ours, theirs = mlp_pair()
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((5, 6)), rng.integers(0, 4, 5)
    nn.CrossEntropyLoss()(ours(lucid.tensor(x)), lucid.tensor(y)).backward()
    torch.nn.CrossEntropyLoss()(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-12, atol=1e-15, err_msg=name)


# layers ----------------------------------------------------------------------------------------

LAYERS = [
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1),
     (2, 3, 7, 7)),
    (lambda: nn.Conv1d(2, 3, 3), lambda: torch.nn.Conv1d(2, 3, 3), (4, 2, 9)),
    (lambda: nn.BatchNorm1d(5), lambda: torch.nn.BatchNorm1d(5), (6, 5)),
    (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), (4, 3, 2, 2)),
    (lambda: nn.LayerNorm((3, 4)), lambda: torch.nn.LayerNorm((3, 4)), (2, 3, 4)),
    (lambda: nn.MaxPool2d(3, stride=2), lambda: torch.nn.MaxPool2d(3, stride=2), (2, 3, 7, 7)),
    (lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), (2, 3, 6, 6)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda: torch.nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 6, 6)),
]


@pytest.mark.parametrize("make_ours, make_theirs, shape", LAYERS)
def test_layer_forward_backward_and_state_match(make_ours, make_theirs, shape):
    ours, theirs = twins(make_ours(), make_theirs())
    x = np.random.default_rng(4).standard_normal(shape)
    g = np.random.default_rng(5).standard_normal(ours(lucid.tensor(x)).shape)
    ours, theirs = twins(make_ours(), make_theirs())  # again: the first call moved BatchNorm's running stats
    xl, xt = lucid.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    ours(xl).backward(lucid.tensor(g))
    theirs(xt).backward(torch.from_numpy(g))
    np.testing.assert_allclose(xl.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    theirs_state = theirs.state_dict()
    for key, value in ours.state_dict().items():  # BatchNorm's running statistics too
        np.testing.assert_allclose(value.data, theirs_state[key].numpy(), rtol=1e-12, err_msg=key)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(lucid.tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_reprs_match():
    ours, theirs = mlp_pair()
    assert repr(ours) == repr(theirs)
    for a, b in [(nn.Conv2d(1, 8, 3, padding=1), torch.nn.Conv2d(1, 8, 3, padding=1)),
                 (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),  # (Dropout: Lucid has no inplace= to show)
                 (nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)),
                 (nn.BatchNorm1d(4, bias=False), torch.nn.BatchNorm1d(4, bias=False)),
                 (nn.LayerNorm(5), torch.nn.LayerNorm(5)),
                 (nn.LayerNorm(5, bias=False), torch.nn.LayerNorm(5, bias=False)),
                 (nn.Embedding(10, 3), torch.nn.Embedding(10, 3)), (nn.Flatten(), torch.nn.Flatten()),
                 (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2))]:
        assert repr(a) == repr(b)


def test_state_dict_keys_match():
    for a, b in [(nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)), (nn.LayerNorm(3), torch.nn.LayerNorm(3)),
                 (nn.BatchNorm1d(3, affine=False), torch.nn.BatchNorm1d(3, affine=False)),
                 (nn.Conv2d(1, 2, 3, bias=False), torch.nn.Conv2d(1, 2, 3, bias=False))]:
        assert list(a.state_dict()) == list(b.state_dict())


# schedulers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ours, theirs, kwargs", [
    (lr_scheduler.StepLR, torch.optim.lr_scheduler.StepLR, dict(step_size=3, gamma=0.5)),
    (lr_scheduler.CosineAnnealingLR, torch.optim.lr_scheduler.CosineAnnealingLR, dict(T_max=7, eta_min=0.001)),
    (lr_scheduler.LambdaLR, torch.optim.lr_scheduler.LambdaLR, dict(lr_lambda=lambda e: 0.9 ** e + 0.1)),
])
def test_schedulers_match_pytorch(ours, theirs, kwargs):
    a = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1)
    b = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    sa, sb = ours(a, **kwargs), theirs(b, **kwargs)
    for epoch in range(20):
        np.testing.assert_allclose(a.param_groups[0]["lr"], b.param_groups[0]["lr"], rtol=1e-12, err_msg=str(epoch))
        a.step(), b.step()
        sa.step(), sb.step()


# activation and loss modules -------------------------------------------------------------------

ACTIVATIONS = ["ReLU", "ReLU6", "SELU", "SiLU", "Mish", "Softsign", "Hardsigmoid", "Hardswish", "LogSigmoid",
               "Sigmoid", "Tanh", ("LeakyReLU", 0.2), ("ELU", 0.5), ("CELU", 2.0), ("GELU", "tanh"),
               ("Softplus", 2.0, 1.0), ("Hardtanh", -0.5, 2.0), ("Softmax", 1), ("LogSoftmax", 0)]


@pytest.mark.parametrize("spec", ACTIVATIONS, ids=str)
def test_activation_modules_match_pytorch(spec):
    name, *args = (spec,) if isinstance(spec, str) else spec
    x = np.random.default_rng(6).standard_normal((4, 5)) * 3
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    np.testing.assert_allclose(ours(lucid.tensor(x)).data, theirs(torch.from_numpy(x)).numpy(), rtol=1e-10,
                               atol=1e-12)
    assert repr(ours) == repr(theirs)


def loss_cases():
    rng = np.random.default_rng(7)
    logits, classes = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    probs = rng.dirichlet(np.ones(4), 6)
    a, b = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    p, labels = rng.uniform(0.05, 0.95, (6, 4)), rng.integers(0, 2, (6, 4)).astype(np.float64)
    weight = rng.uniform(0.5, 2, 4)
    classes_ignored = classes.copy()
    classes_ignored[1] = -1
    return [
        ("CrossEntropyLoss", {}, logits, classes),
        ("CrossEntropyLoss", {"weight": weight, "label_smoothing": 0.1}, logits, classes),
        ("CrossEntropyLoss", {"ignore_index": -1, "reduction": "sum"}, logits, classes_ignored),
        ("CrossEntropyLoss", {}, logits, probs),
        ("NLLLoss", {"weight": weight}, np.log(probs), classes),
        ("MSELoss", {"reduction": "none"}, a, b),
        ("L1Loss", {}, a, b),
        ("SmoothL1Loss", {"beta": 0.5}, a, b),
        ("HuberLoss", {"delta": 0.5}, a, b),
        ("KLDivLoss", {"reduction": "batchmean"}, np.log(probs), probs[::-1].copy()),
        ("BCELoss", {"weight": weight}, p, labels),
        ("BCEWithLogitsLoss", {"pos_weight": weight}, a, labels),
    ]


@pytest.mark.parametrize("name, settings, input, target", loss_cases(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_loss_modules_match_pytorch(name, settings, input, target):
    def tensors(make):
        return {k: make(v) if isinstance(v, np.ndarray) else v for k, v in settings.items()}

    ours = getattr(nn, name)(**tensors(lucid.tensor))(lucid.tensor(input, requires_grad=True), lucid.tensor(target))
    theirs = getattr(torch.nn, name)(**tensors(torch.from_numpy))(torch.from_numpy(input), torch.from_numpy(target))
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)
