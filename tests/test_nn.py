"""lucid.nn: the Module tree, state dicts, save/load, and each layer against a NumPy reference."""
import math

import numpy as np
import pytest

import lucid
from lucid import nn
from lucid.nn import functional as F

RNG = np.random.default_rng(0)


def mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
        self.heads = nn.ModuleDict({"a": nn.Linear(3, 1), "b": nn.Linear(3, 2, bias=False)})
        self.extra = nn.ModuleList([nn.Dropout(0.1)])
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))

    def forward(self, x):
        return self.heads["a"](self.features(x)) * self.scale


# the Module tree -------------------------------------------------------------------------------

def test_parameters_are_found_in_registration_order():
    names = [name for name, _ in Net().named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                     "heads.a.weight", "heads.a.bias", "heads.b.weight"]
    assert [n for n, _ in Net().named_buffers()] == ["features.1.running_mean", "features.1.running_var",
                                                    "features.1.num_batches_tracked"]


def test_children_and_modules():
    net = Net()
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "ModuleDict", "ModuleList"]
    assert [name for name, _ in net.named_modules()] == ["", "features", "features.0", "features.1", "heads",
                                                         "heads.a", "heads.b", "extra", "extra.0"]


def test_a_shared_parameter_is_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2


def test_parameter_is_a_leaf_tensor_that_requires_grad():
    p = nn.Parameter(np.array([1.0, 2.0]))
    assert isinstance(p, lucid.Tensor) and p.is_leaf and p.requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    y = p * p
    assert type(y) is lucid.Tensor
    (y * 3).backward(lucid.tensor(np.ones(2)))
    np.testing.assert_array_equal(p.grad.data, [6.0, 12.0])
    assert not nn.Parameter(np.ones(2), requires_grad=False).requires_grad


def test_attribute_assignment_registers_and_unregisters():
    m = nn.Module()
    m.w = nn.Parameter(np.ones(2))
    m.child = nn.Linear(2, 2)
    assert [n for n, _ in m.named_parameters()] == ["w", "child.weight", "child.bias"]
    m.w = 3  # a plain attribute replaces the parameter
    del m.child
    assert list(m.parameters()) == [] and m.w == 3


def test_train_and_eval_reach_every_module():
    net = Net().eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad():
    model = mlp()
    for p in model.parameters():
        p.grad = lucid.tensor(np.ones(p.shape, dtype=np.float32))
    model.zero_grad(set_to_none=False)
    assert all(not p.grad.data.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_dtype_keeps_parameter_objects_and_integer_buffers():
    net = Net()
    before = list(net.parameters())
    net.double()
    assert list(net.parameters()) == before
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.features[1].running_mean.dtype == np.float64
    assert net.features[1].num_batches_tracked.dtype == np.int64
    assert all(p.dtype == np.float32 for p in net.float().parameters())


def test_unsupported_dtype_is_an_error():
    with pytest.raises(ValueError, match="unsupported dtype int64; parameters must be float32 or float64"):
        mlp().to(np.int64)
    with pytest.raises(ValueError, match="Linear: unsupported dtype float16"):
        nn.Linear(2, 2, dtype=np.float16)
    with pytest.raises(ValueError, match="'not a dtype' is not a dtype"):
        mlp().to("not a dtype")


def test_module_needs_super_init():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(lucid.LucidError, match="call super\\(\\).__init__\\(\\)"):
        Broken()


def test_repr_follows_pytorch():
    assert repr(mlp()) == ("Sequential(\n"
                           "  (0): Linear(in_features=4, out_features=8, bias=True)\n"
                           "  (1): ReLU()\n"
                           "  (2): Linear(in_features=8, out_features=3, bias=True)\n"
                           ")")
    assert repr(nn.Conv2d(1, 4, 3, padding=1)) == "Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"


def test_containers():
    seq = mlp()
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and len(seq[:2]) == 2
    with pytest.raises(IndexError, match="Sequential index 3 is out of range for 3 modules"):
        seq[3]
    layers = nn.ModuleList([nn.Linear(1, 1)]).extend([nn.Linear(1, 1)])
    assert len(layers) == 2 and len(list(layers.parameters())) == 4
    heads = nn.ModuleDict({"x": nn.ReLU()})
    assert "x" in heads and list(heads.keys()) == ["x"]


# state dicts -----------------------------------------------------------------------------------

def test_state_dict_round_trip_from_numpy_arrays():
    source, target = Net(), Net()
    arrays = {k: v.numpy() * 2 + 1 for k, v in source.state_dict().items()}
    result = target.load_state_dict(arrays)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value.data, arrays[key].astype(value.dtype))
    assert target.features[0].weight.dtype == np.float32


def test_loading_copies_rather_than_aliases():
    a, b = mlp(), mlp()
    b.load_state_dict(a.state_dict())
    b[0].weight.data[...] = 0
    assert a[0].weight.data.any()


def test_missing_and_unexpected_keys_are_named():
    state = mlp().state_dict()
    del state["0.bias"]
    state["3.weight"] = np.ones(2)
    with pytest.raises(ValueError) as error:
        mlp().load_state_dict(state)
    message = str(error.value)
    assert "Error(s) in loading state_dict for Sequential" in message
    assert "Missing key(s) in state_dict: '0.bias'" in message
    assert "Unexpected key(s) in state_dict: '3.weight'" in message
    result = mlp().load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["3.weight"]


def test_shape_mismatch_is_an_error_even_when_not_strict():
    state = mlp().state_dict()
    state["2.weight"] = np.ones((4, 8))
    for strict in (True, False):
        with pytest.raises(ValueError, match=r"size mismatch for '2.weight': copying a value of shape \(4, 8\) "
                                             r"from the state dict, the shape in the current model is \(3, 8\)"):
            mlp().load_state_dict(state, strict=strict)


def test_save_and_load_a_state_dict(tmp_path):
    net = Net()
    path = tmp_path / "net.npz"
    lucid.save(net.state_dict(), path)
    loaded = lucid.load(path)
    assert list(loaded) == list(net.state_dict())
    for key, value in net.state_dict().items():
        assert isinstance(loaded[key], lucid.Tensor)
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        np.testing.assert_array_equal(loaded[key].data, value.data)
    fresh = Net()
    fresh.load_state_dict(loaded)
    with np.load(path, allow_pickle=False) as archive:  # plain NumPy reads it, no pickle needed
        np.testing.assert_array_equal(archive["features.0.weight"], net.features[0].weight.data)


def test_save_nested_structures_and_plain_npz(tmp_path):
    obj = {"epoch": 3, "name": "run", "none": None, "ratio": 0.5, "pair": (1, [2.0, np.arange(3)]),
           7: {"t": lucid.tensor(1.5)}}
    lucid.save(obj, tmp_path / "obj.npz")
    back = lucid.load(tmp_path / "obj.npz")
    assert back["epoch"] == 3 and back["name"] == "run" and back["none"] is None and back["ratio"] == 0.5
    assert back["pair"][0] == 1 and back["pair"][1][0] == 2.0 and isinstance(back["pair"], tuple)
    np.testing.assert_array_equal(back["pair"][1][1], np.arange(3))
    assert back[7]["t"].shape == () and back[7]["t"].item() == 1.5
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    assert lucid.load(tmp_path / "plain.npz")["w"].tolist() == [1.0, 1.0]


def test_save_refuses_what_would_need_pickle(tmp_path):
    with pytest.raises(lucid.LucidError, match="can't save a function"):
        lucid.save({"f": lambda: 0}, tmp_path / "x.npz")
    with pytest.raises(lucid.LucidError, match="dtype object"):
        lucid.save({"a": np.array([None])}, tmp_path / "x.npz")


# initialisation --------------------------------------------------------------------------------

def test_linear_init_is_pytorchs_uniform():
    lucid.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.01 * bound  # the std of U(-b, b)
    lucid.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(400, 300).weight.data, layer.weight.data)


def test_conv_init_uses_the_kernel_fan_in():
    conv = nn.Conv2d(3, 16, 5)
    assert conv.weight.shape == (16, 3, 5, 5) and conv.bias.shape == (16,)
    bound = 1 / math.sqrt(3 * 25)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.weight.data).max() > 0.9 * bound


# layers against NumPy --------------------------------------------------------------------------

def close(tensor, expected, rtol=1e-10):
    np.testing.assert_allclose(tensor.data, expected, rtol=rtol, atol=1e-12)


def test_linear_forward_and_backward():
    layer = nn.Linear(4, 3).double()
    x = RNG.standard_normal((5, 4))
    y = layer(lucid.tensor(x))
    close(y, x @ layer.weight.data.T + layer.bias.data)
    y.sum().backward()
    close(layer.weight.grad, np.ones((5, 3)).T @ x)
    close(layer.bias.grad, np.full(3, 5.0))
    no_bias = nn.Linear(4, 3, bias=False).double()
    close(no_bias(lucid.tensor(x[0])), no_bias.weight.data @ x[0])  # a single sample, no batch dim


def naive_conv2d(x, w, b, stride, padding):
    """Cross-correlation by explicit loops: the definition, not a fast algorithm."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, _, h, wd = x.shape
    out_c, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, out_c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w) + b
    return out


def test_conv2d_matches_the_definition():
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1).double()
    x = RNG.standard_normal((2, 2, 7, 6))
    close(conv(lucid.tensor(x)), naive_conv2d(x, conv.weight.data, conv.bias.data, 2, 1))


def test_conv1d_matches_the_definition():
    conv = nn.Conv1d(2, 4, 3).double()
    x = RNG.standard_normal((3, 2, 8))
    expected = naive_conv2d(x[:, :, None, :], conv.weight.data[:, :, None, :], conv.bias.data, 1, 0)[:, :, 0]
    close(conv(lucid.tensor(x)), expected)


def test_pooling():
    x = RNG.standard_normal((2, 3, 4, 6))
    windows = x.reshape(2, 3, 2, 2, 3, 2)
    close(nn.MaxPool2d(2)(lucid.tensor(x)), windows.max(axis=(3, 5)))
    close(nn.AvgPool2d(2)(lucid.tensor(x)), windows.mean(axis=(3, 5)))
    close(nn.AdaptiveAvgPool2d(1)(lucid.tensor(x)), x.mean(axis=(2, 3), keepdims=True))


def test_flatten():
    x = lucid.tensor(RNG.standard_normal((2, 3, 4, 5)))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)


def test_dropout_drops_in_training_only():
    x = lucid.tensor(np.ones((200, 50)))
    drop = nn.Dropout(0.25)
    y = drop(x).data
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(drop.eval()(x).data, x.data)


def test_batch_norm_uses_batch_statistics_then_running_ones():
    bn = nn.BatchNorm1d(3, momentum=0.1).double()
    bn.weight.data[...] = [1.0, 2.0, 3.0]
    bn.bias.data[...] = [0.0, -1.0, 1.0]
    x = RNG.standard_normal((8, 3)) * 2 + 5
    mean, var = x.mean(0), x.var(0)
    close(bn(lucid.tensor(x)), (x - mean) / np.sqrt(var + 1e-5) * bn.weight.data + bn.bias.data, rtol=1e-9)
    close(bn.running_mean, 0.9 * 0 + 0.1 * mean)
    close(bn.running_var, 0.9 * 1 + 0.1 * x.var(0, ddof=1))  # the running variance is unbiased
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    expected = (x - bn.running_mean.data) / np.sqrt(bn.running_var.data + 1e-5) * bn.weight.data + bn.bias.data
    close(bn(lucid.tensor(x)), expected, rtol=1e-9)
    assert bn.num_batches_tracked.item() == 1


def test_batch_norm_2d_normalises_each_channel():
    x = RNG.standard_normal((4, 2, 3, 3)) * 3 - 1
    y = nn.BatchNorm2d(2).double()(lucid.tensor(x)).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)


def test_layer_norm():
    ln = nn.LayerNorm(5).double()
    ln.weight.data[...] = RNG.standard_normal(5)
    x = RNG.standard_normal((3, 5))
    normed = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    close(ln(lucid.tensor(x)), normed * ln.weight.data + ln.bias.data, rtol=1e-9)


def test_embedding():
    emb = nn.Embedding(10, 3, padding_idx=0)
    assert not emb.weight.data[0].any()
    idx = np.array([[1, 0], [9, 1]])
    close(emb(lucid.tensor(idx)), emb.weight.data[idx])


def test_activation_modules_apply_their_op_with_their_settings():
    x = lucid.tensor(RNG.standard_normal(10))
    close(nn.ReLU()(x), np.maximum(x.data, 0))
    close(nn.LeakyReLU(0.2)(x), np.where(x.data > 0, x.data, 0.2 * x.data))
    close(nn.Tanh()(x), np.tanh(x.data))
    close(nn.Sigmoid()(x), 1 / (1 + np.exp(-x.data)))
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    close(nn.GELU("tanh")(x), F.gelu(x, approximate="tanh").data)


def test_softmax_modules():
    x = RNG.standard_normal((2, 4))
    e = np.exp(x - x.max(1, keepdims=True))
    close(nn.Softmax(dim=1)(lucid.tensor(x)), e / e.sum(1, keepdims=True))
    close(nn.LogSoftmax(dim=1)(lucid.tensor(x)), np.log(e / e.sum(1, keepdims=True)))


def test_loss_modules():
    logits, target = RNG.standard_normal((6, 4)), np.array([0, 3, 1, 1, 2, 0])
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    close(nn.CrossEntropyLoss()(lucid.tensor(logits), lucid.tensor(target)), -log_p[np.arange(6), target].mean())
    weight = np.array([1.0, 2.0, 0.5, 1.0])
    w = weight[target]
    close(nn.CrossEntropyLoss(weight=lucid.tensor(weight))(lucid.tensor(logits), lucid.tensor(target)),
          -(w * log_p[np.arange(6), target]).sum() / w.sum())
    a, b = RNG.standard_normal(5), RNG.standard_normal(5)
    close(nn.MSELoss()(lucid.tensor(a), lucid.tensor(b)), ((a - b) ** 2).mean())
    close(nn.L1Loss(reduction="sum")(lucid.tensor(a), lucid.tensor(b)), np.abs(a - b).sum())


# bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer, shape, message", [
    (nn.Linear(4, 3), (2, 5), r"Linear\(in_features=4, out_features=3, bias=True\): expected input of shape "
                              r"\(\*, 4\), got \(2, 5\)"),
    (nn.Conv2d(3, 8, 3), (2, 1, 8, 8), r"Conv2d\(.*\): expected input of shape \(N, 3, H, W\) or \(3, H, W\), "
                                       r"got \(2, 1, 8, 8\)"),
    (nn.Conv2d(3, 8, 3), (3, 8), r"got \(3, 8\)"),
    (nn.Conv1d(2, 8, 3), (4, 3, 8), r"Conv1d\(.*\): expected input of shape \(N, 2, L\) or \(2, L\)"),
    (nn.MaxPool2d(2), (4, 4), r"MaxPool2d\(.*\): expected input of shape \(N, C, H, W\) or \(C, H, W\), got \(4, 4\)"),
    (nn.BatchNorm1d(3), (4, 5), r"BatchNorm1d\(3, .*\): expected input of shape \(N, 3\) or \(N, 3, L\), got \(4, 5\)"),
    (nn.BatchNorm2d(3), (4, 3, 5), r"BatchNorm2d\(3, .*\): expected input of shape \(N, 3, H, W\), got \(4, 3, 5\)"),
    (nn.LayerNorm((2, 3)), (4, 3, 2), r"LayerNorm\(.*\): expected input of shape \(\*, 2, 3\), got \(4, 3, 2\)"),
])
def test_wrong_input_shape_names_the_layer_and_both_shapes(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(lucid.tensor(np.ones(shape, dtype=np.float32)))


def test_wrong_input_dtype():
    with pytest.raises(ValueError, match="Linear: input has dtype float64 but the layer's weight is float32"):
        nn.Linear(2, 2)(lucid.tensor(np.ones((1, 2))))
    with pytest.raises(ValueError, match="Linear: input has dtype int64"):
        nn.Linear(2, 2)(lucid.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="Embedding: expected a tensor of integer indices, got float32"):
        nn.Embedding(3, 2)(lucid.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="Linear: expected a Tensor input, got ndarray"):
        nn.Linear(2, 2)(np.ones((1, 2), dtype=np.float32))


def test_bad_layer_settings():
    with pytest.raises(ValueError, match=r"in_channels \(3\) and out_channels \(4\) must both be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="Dropout: probability p must be in"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="padding_idx 5 is out of range for 3 embeddings"):
        nn.Embedding(3, 2, padding_idx=5)
