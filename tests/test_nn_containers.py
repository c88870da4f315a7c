"""nn.Unflatten and the list and dict containers: shapes, registration (parameters(),
state_dict keys as PyTorch's), training through them, and errors for bad names and values."""
import numpy as np
import pytest

import lucid
from lucid import nn, optim
from lucid.errors import LucidError


# Unflatten -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim, sizes, shape, expected", [(1, (3, 4), (2, 12), (2, 3, 4)),
                                                         (-1, [2, -1], (5, 2, 6), (5, 2, 2, 3)),
                                                         (0, (1, 2), (2,), (1, 2))])
def test_unflatten_splits_a_dim_and_passes_the_gradient_back(dim, sizes, shape, expected):
    x = lucid.randn(*shape, requires_grad=True)
    y = nn.Unflatten(dim, sizes)(x)
    assert y.shape == expected
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


def test_unflatten_undoes_flatten():
    x = lucid.randn(2, 3, 4, 5)
    np.testing.assert_array_equal(nn.Unflatten(1, (3, 4, 5))(nn.Flatten()(x)).data, x.data)


def test_unflatten_repr_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert repr(nn.Unflatten(1, (2, 5))) == repr(torch.nn.Unflatten(1, (2, 5)))


def test_unflatten_bad_arguments():
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints"):
        nn.Unflatten(1, 6)
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints"):
        nn.Unflatten(1, (2, 3.0))
    with pytest.raises(TypeError, match="dim must be an int"):
        nn.Unflatten(1.0, (2, 3))
    with pytest.raises(LucidError, match=r"Unflatten\(dim=2, unflattened_size=\(2, 3\)\): expected input"):
        nn.Unflatten(2, (2, 3))(lucid.randn(4, 6))
    with pytest.raises(LucidError, match="don't multiply to the size 6"):
        nn.Unflatten(1, (4, 2))(lucid.randn(4, 6))


# ParameterList / ParameterDict -----------------------------------------------------------------

class Mixture(nn.Module):
    """Weights in a ParameterList and a ParameterDict: the parent must see all of them."""

    def __init__(self):
        super().__init__()
        self.scales = nn.ParameterList([nn.Parameter(np.ones(3)), lucid.tensor(np.full(3, 2.0))])
        self.shifts = nn.ParameterDict({"first": nn.Parameter(np.zeros(3)), "second": lucid.tensor(np.ones(3))})

    def forward(self, x):
        for scale in self.scales:
            x = x * scale
        return x + self.shifts["first"] + self.shifts["second"]


def test_containers_register_their_parameters():
    model = Mixture()
    assert [name for name, _ in model.named_parameters()] == ["scales.0", "scales.1", "shifts.first",
                                                              "shifts.second"]
    assert list(model.state_dict()) == ["scales.0", "scales.1", "shifts.first", "shifts.second"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())


def test_state_dict_keys_match_pytorch():
    torch = pytest.importorskip("torch")

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(3)), torch.full((3,), 2.0)])
            self.shifts = torch.nn.ParameterDict({"first": torch.nn.Parameter(torch.zeros(3)),
                                                  "second": torch.ones(3)})

    theirs, ours = Theirs(), Mixture()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() * 3 for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours.scales[1].data, np.full(3, 6.0))


def test_training_reaches_the_parameters_in_containers():
    model = Mixture()
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, target = lucid.tensor(np.array([1.0, 2.0, 3.0])), lucid.tensor(np.array([0.5, -1.0, 4.0]))
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = ((model(x) - target) ** 2).sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]
    assert all(p.grad is not None for p in model.parameters())


def test_parameter_list_behaves_as_a_list():
    plist = nn.ParameterList()
    plist.append(lucid.tensor(np.ones(2)))
    plist.extend([nn.Parameter(np.zeros(2)), nn.Parameter(np.full(2, 2.0))])
    assert len(plist) == 3 and plist[-1].data.tolist() == [2.0, 2.0]
    replacement = nn.Parameter(np.full(2, 5.0))
    plist[1] = replacement
    assert plist[1] is replacement and list(plist)[1] is replacement
    head = plist[:2]
    assert isinstance(head, nn.ParameterList) and len(head) == 2 and head[0] is plist[0]
    with pytest.raises(IndexError, match="ParameterList index 3 is out of range for 3"):
        plist[3]
    with pytest.raises(TypeError, match="ParameterList: expected a Parameter or Tensor, got list"):
        plist.append([1.0, 2.0])


def test_parameter_dict_behaves_as_a_dict():
    pdict = nn.ParameterDict([("b", nn.Parameter(np.ones(1))), ("a", lucid.tensor(np.zeros(1)))])
    assert list(pdict) == ["b", "a"] and list(pdict.keys()) == ["b", "a"] and "a" in pdict and "c" not in pdict
    pdict.update({"c": lucid.tensor(np.ones(2))})
    assert len(pdict) == 3 and pdict.get("missing") is None and isinstance(pdict["c"], nn.Parameter)
    popped = pdict.pop("b")
    del pdict["a"]
    assert list(pdict.items()) == [("c", pdict["c"])] and popped.shape == (1,)
    assert [p.shape for p in pdict.values()] == [(2,)]


def test_containers_repr():
    plist = nn.ParameterList([nn.Parameter(np.ones((2, 3), dtype=np.float32))])
    assert repr(plist) == "ParameterList((0): Parameter containing: [lucid.float32 of size 2x3])"
    pdict = nn.ParameterDict({"w": nn.Parameter(np.ones(4)), "v": nn.Parameter(np.ones((1, 2)))})
    assert repr(pdict) == ("ParameterDict(\n  (w): Parameter containing: [lucid.float64 of size 4]\n"
                           "  (v): Parameter containing: [lucid.float64 of size 1x2]\n)")


@pytest.mark.parametrize("key, error, message", [
    ("a.b", LucidError, r"parameter name 'a.b' must be non-empty and contain no '.'"),
    ("", LucidError, "parameter name '' must be non-empty"),
    ("training", LucidError, "already has an attribute of that name"),
    (3, TypeError, "a parameter name must be a string, got int"),
])
def test_parameter_dict_bad_keys(key, error, message):
    with pytest.raises(error, match=message):
        nn.ParameterDict({key: nn.Parameter(np.ones(1))})


def test_names_are_checked_for_every_registration():
    """The rule lives in Module: buffers and sub-modules are named as parameters are."""
    module = nn.Linear(2, 2)
    with pytest.raises(LucidError, match="buffer name 'running.mean'"):
        module.register_buffer("running.mean", lucid.zeros(2))
    with pytest.raises(LucidError, match="can't register the buffer 'weight'"):
        module.register_buffer("weight", lucid.zeros(2))
    with pytest.raises(LucidError, match="can't register the module 'in_features'"):
        module.add_module("in_features", nn.ReLU())
    module.register_parameter("bias", None)  # re-registering a parameter is fine
    assert module.bias is None and "bias" not in module.state_dict()


def test_identity_exists_and_passes_through():
    x = lucid.randn(3)
    assert nn.Identity()(x) is x


@pytest.mark.parametrize("make, name, items", [
    (lambda: nn.ParameterList([nn.Parameter(np.ones(1))] * 2), "ParameterList", "parameters"),
    (lambda: nn.ModuleList([nn.ReLU(), nn.Tanh()]), "ModuleList", "modules"),
    (lambda: nn.Sequential(nn.ReLU(), nn.Tanh()), "Sequential", "modules"),
])
def test_list_indices_are_checked(make, name, items):
    container = make()
    assert container[np.int64(-1)] is container[1]  # any integer Python's lists take, as PyTorch
    with pytest.raises(LucidError, match=f"{name} indices must be integers or slices, got str 'a'"):
        container["a"]
    with pytest.raises(IndexError, match=f"{name} index -3 is out of range for 2 {items}"):
        container[-3]


def test_module_dict_behaves_as_a_dict_like_parameter_dict():
    """ModuleDict shares ParameterDict's dict methods, as in PyTorch: update, get, pop, and (key, value) pairs."""
    relu, tanh = nn.ReLU(), nn.Tanh()
    modules = nn.ModuleDict([("b", relu)])
    modules.update({"a": tanh})
    assert list(modules) == ["b", "a"] and modules.get("a") is tanh and modules.get("missing") is None
    assert modules.pop("b") is relu and list(modules.items()) == [("a", tanh)]
    with pytest.raises(TypeError, match="list is not a Module"):
        modules["c"] = [relu]
