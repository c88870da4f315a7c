"""Shape and indexing ops against NumPy references, their dtypes, 0-d inputs, errors, and their
first and second derivatives by central differences."""
import numpy as np
import pytest

import lucid
from lucid import OpError
from finite_differences import check_derivatives

F = lucid.nn.functional
rng = np.random.default_rng(1)
X = rng.standard_normal((3, 4, 2))
INDEX = np.array([[[0, 1]], [[2, 0]], [[1, 1]]])  # for gather along dim 1: shape (3, 1, 2)


def pieces(outs):
    return [o.data for o in outs]


# (call on a Tensor x, NumPy reference on the array x)
FORWARD = {
    "reshape": (lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1)),
    "flatten": (lambda x: x.flatten(), lambda x: x.reshape(-1)),
    "flatten 1..2": (lambda x: lucid.flatten(x, 1, -1), lambda x: x.reshape(3, 8)),
    "flatten 0..1": (lambda x: x.flatten(0, 1), lambda x: x.reshape(12, 2)),
    "unflatten": (lambda x: x.unflatten(1, (2, -1)), lambda x: x.reshape(3, 2, 2, 2)),
    "squeeze none": (lambda x: x.reshape(3, 1, 4, 1, 2).squeeze(), lambda x: x),
    "squeeze dim": (lambda x: x.reshape(3, 1, 8).squeeze(1), lambda x: x.reshape(3, 8)),
    "squeeze non-unit": (lambda x: x.squeeze(0), lambda x: x),
    "squeeze dims": (lambda x: x.reshape(1, 3, 1, 8).squeeze((0, 2)), lambda x: x.reshape(3, 8)),
    "unsqueeze": (lambda x: x.unsqueeze(1), lambda x: np.expand_dims(x, 1)),
    "unsqueeze last": (lambda x: x.unsqueeze(-1), lambda x: x[..., None]),
    "permute": (lambda x: x.permute(2, 0, 1), lambda x: np.transpose(x, (2, 0, 1))),
    "transpose": (lambda x: x.transpose(0, -1), lambda x: np.swapaxes(x, 0, 2)),
    "flip": (lambda x: x.flip((0, 2)), lambda x: x[::-1, :, ::-1]),
    "roll": (lambda x: x.roll(1, 1), lambda x: np.roll(x, 1, 1)),
    "roll several": (lambda x: x.roll((1, -3), (0, 1)), lambda x: np.roll(np.roll(x, 1, 0), -3, 1)),
    "roll flat": (lambda x: x.roll(5), lambda x: np.roll(x.reshape(-1), 5).reshape(x.shape)),
    "expand": (lambda x: x[:, :1].expand(2, 3, 5, 2), lambda x: np.broadcast_to(x[:, :1], (2, 3, 5, 2))),
    "broadcast_to": (lambda x: lucid.broadcast_to(x, (2, 3, 4, 2)), lambda x: np.broadcast_to(x, (2, 3, 4, 2))),
    "repeat": (lambda x: x.repeat(2, 1, 3, 1), lambda x: np.tile(x, (2, 1, 3, 1))),
    "tile": (lambda x: x.tile((2, 3)), lambda x: np.tile(x, (1, 2, 3))),
    "cat": (lambda x: lucid.cat([x, x[:, :1], x], 1), lambda x: np.concatenate([x, x[:, :1], x], 1)),
    "cat negative dim": (lambda x: lucid.cat((x, x), dim=-1), lambda x: np.concatenate([x, x], -1)),
    "stack": (lambda x: lucid.stack([x, 2 * x], 1), lambda x: np.stack([x, 2 * x], 1)),
    "stack last": (lambda x: lucid.stack([x, x], -1), lambda x: np.stack([x, x], -1)),
    "split size": (lambda x: pieces(x.split(3, 1)), lambda x: [x[:, :3], x[:, 3:]]),
    "split sections": (lambda x: pieces(lucid.split(x, [1, 0, 3], dim=1)), lambda x: [x[:, :1], x[:, 1:1], x[:, 1:]]),
    "chunk": (lambda x: pieces(x.chunk(3, 1)), lambda x: [x[:, :2], x[:, 2:]]),  # PyTorch: ceil(4/3) = 2 each
    "unbind": (lambda x: pieces(x.unbind(2)), lambda x: [x[..., 0], x[..., 1]]),
    "pad constant": (lambda x: F.pad(x, (1, 2)), lambda x: np.pad(x, ((0, 0), (0, 0), (1, 2)))),
    "pad value": (lambda x: F.pad(x, (1, 0, 0, 2), value=-1.0),
                  lambda x: np.pad(x, ((0, 0), (0, 2), (1, 0)), constant_values=-1)),
    "pad crop": (lambda x: F.pad(x, (0, 0, -1, 2)), lambda x: np.pad(x[:, 1:], ((0, 0), (0, 2), (0, 0)))),
    "pad reflect": (lambda x: F.pad(x, (1, 1, 3, 2), mode="reflect"),
                    lambda x: np.pad(x, ((0, 0), (3, 2), (1, 1)), mode="reflect")),
    "pad replicate": (lambda x: F.pad(x, (2, 0), mode="replicate"),
                      lambda x: np.pad(x, ((0, 0), (0, 0), (2, 0)), mode="edge")),
    "pad circular": (lambda x: F.pad(x, (0, 0, 2, 4), mode="circular"),
                     lambda x: np.pad(x, ((0, 0), (2, 4), (0, 0)), mode="wrap")),
    "gather": (lambda x: x.gather(1, lucid.tensor(INDEX)), lambda x: np.take_along_axis(x, INDEX, 1)),
    "gather smaller": (lambda x: lucid.gather(x, 0, lucid.tensor(np.array([[[2], [0]]]))),
                       lambda x: np.array([[[x[2, 0, 0]], [x[0, 1, 0]]]])),
    "index_select": (lambda x: lucid.index_select(x, 1, lucid.tensor([3, 0, 3])), lambda x: np.take(x, [3, 0, 3], 1)),
    "take_along_dim": (lambda x: lucid.take_along_dim(x, lucid.tensor(INDEX), 1),
                       lambda x: np.take_along_axis(x, INDEX, 1)),
    "take_along_dim broadcast": (lambda x: lucid.take_along_dim(x[:1], lucid.tensor(INDEX), 1),
                                 lambda x: np.take_along_axis(np.broadcast_to(x[:1], (3, 4, 2)), INDEX, 1)),
    "take_along_dim flat": (lambda x: lucid.take_along_dim(x, lucid.tensor(np.array([[23, 0]]))),
                            lambda x: x.reshape(-1)[[23, 0]]),
    "masked_fill": (lambda x: x.masked_fill(lucid.tensor(X > 0), -9.0), lambda x: np.where(X > 0, -9, x)),
    "masked_fill broadcast": (lambda x: x.masked_fill(lucid.tensor(np.array([True, False])), 0.5),
                              lambda x: np.where([True, False], 0.5, x)),
}

KEYS = {
    "int": 1, "negative int": -1, "slice": np.s_[1:], "negative step": np.s_[::-2], "negative start": np.s_[-2::-1],
    "tuple": np.s_[0, 1:3], "none": np.s_[None, :, 1], "ellipsis": np.s_[..., 1],
    "ellipsis middle": np.s_[1, ..., None],
    "int array": np.array([2, 0, 2]), "int list": [0, 0], "int arrays": (np.array([[0], [2]]), np.array([1, 3])),
    "int array later": np.s_[:, [3, 1]], "mask": X[:, 0, 0] > 0, "full mask": X > 0, "mask 2d": X[:, :, 0] > 0,
    "mixed": np.s_[1:, np.array([0, 3]), 0],
}


@pytest.mark.parametrize("name", FORWARD)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy_and_keeps_dtype(name, dtype):
    call, reference = FORWARD[name]
    x = X.astype(dtype)
    out, expected = call(lucid.tensor(x)), reference(x)
    if isinstance(out, list):
        assert len(out) == len(expected)
        for o, e in zip(out, expected):
            assert o.dtype == dtype and o.shape == e.shape
            np.testing.assert_array_equal(o, e)
    else:
        assert out.dtype == dtype and out.shape == np.shape(expected)
        np.testing.assert_allclose(out.data, expected, rtol=1e-6)


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_getitem_matches_numpy_and_its_gradient_scatters_back(key):
    t = lucid.tensor(X, requires_grad=True)
    out = t[key]
    np.testing.assert_array_equal(out.data, X[key])
    g = rng.standard_normal(out.shape)
    out.backward(g)
    expected = np.zeros_like(X)
    np.add.at(expected, key, g)  # repeated indices add up
    np.testing.assert_array_equal(t.grad.data, expected)


def test_getitem_with_tensor_keys():
    t = lucid.tensor(X)
    np.testing.assert_array_equal(t[lucid.tensor([2, 0])].data, X[[2, 0]])
    np.testing.assert_array_equal(t[lucid.tensor(X > 0)].data, X[X > 0])


def test_index_backward_adds_repeated_indices():
    g = lucid.tensor(np.array([1.0, 2.0, 4.0]))
    out = lucid.ops.index_backward(g, (3,), np.array([0, 2, 0]))
    np.testing.assert_array_equal(out.data, [5.0, 0.0, 2.0])


def test_zero_dim_inputs():
    x = lucid.tensor(np.float32(1.5))
    assert x.flatten().shape == (1,) and x.unsqueeze(0).shape == (1,) and x.squeeze().shape == ()
    assert x.squeeze(0).shape == () and x.flip(0).shape == () and x.roll(1).item() == 1.5
    assert lucid.stack([x, x]).data.tolist() == [1.5, 1.5]
    assert x.repeat(2).shape == (2,) and x.tile(()).shape == () and x.reshape(1, 1).shape == (1, 1)
    assert lucid.gather(x, 0, lucid.tensor(0)).item() == 1.5
    assert x.masked_fill(lucid.tensor(True), 0.0).item() == 0.0
    assert x.transpose(0, -1).shape == () and lucid.broadcast_to(x, (2,)).dtype == np.float32


def test_integer_tensors_pass_through():
    a = lucid.tensor(np.arange(6).reshape(2, 3))
    assert lucid.cat([a, a]).dtype == np.int64 and a.flip(0).dtype == np.int64
    assert F.pad(a, (1, 1), mode="reflect").data.tolist() == [[1, 0, 1, 2, 1], [4, 3, 4, 5, 4]]


WRONG_DIM = [lambda x: x.unsqueeze(3), lambda x: x.squeeze(2), lambda x: x.flatten(0, 2), lambda x: x.flip(-3),
             lambda x: x.roll(1, 2), lambda x: lucid.cat([x, x], 2), lambda x: lucid.stack([x, x], 4),
             lambda x: x.split(1, 2), lambda x: x.chunk(2, -3), lambda x: x.unbind(5), lambda x: x.transpose(0, 2),
             lambda x: x.unflatten(2, (1,)), lambda x: lucid.gather(x, 2, lucid.tensor([[0]])),
             lambda x: lucid.index_select(x, 2, lucid.tensor([0])),
             lambda x: lucid.take_along_dim(x, lucid.tensor([[0]]), -3)]


@pytest.mark.parametrize("call", WRONG_DIM)
def test_wrong_dim_names_the_dim_and_ndim(call):
    with pytest.raises(OpError, match=r"dim -?\d is out of range for a tensor with 2 dims"):
        call(lucid.tensor(np.ones((2, 3))))


@pytest.mark.parametrize("call, shapes", [
    (lambda a, b: lucid.cat([a, b], 1), r"\(2, 3\).*\(3, 3\)"),
    (lambda a, b: lucid.stack([a, b]), r"\(2, 3\).*\(3, 3\)"),
    (lambda a, b: lucid.take_along_dim(a, lucid.tensor(np.zeros((3, 1), np.int64)), 1), r"\(2, 3\).*\(3, 1\)"),
    (lambda a, b: a.masked_fill(lucid.tensor(np.ones(4, bool)), 0.0), r"\(4,\).*\(2, 3\)"),
    (lambda a, b: lucid.gather(a, 1, lucid.tensor(np.zeros((3, 1), np.int64))), r"\(3, 1\).*\(2, 3\)"),
    (lambda a, b: a.reshape(4, 2), r"\(4, 2\).*6"),
    (lambda a, b: a.unflatten(1, (2, 2)), r"\(2, 2\).*3"),
])
def test_incompatible_shapes_name_both(call, shapes):
    with pytest.raises(OpError, match=shapes):
        call(lucid.tensor(np.ones((2, 3))), lucid.tensor(np.ones((3, 3))))


@pytest.mark.parametrize("call, message", [
    (lambda x: lucid.gather(x, 1, lucid.tensor([[3]])), "index 3 is out of bounds for dim 1 with size 3"),
    (lambda x: lucid.index_select(x, 0, lucid.tensor([-1])), "index -1 is out of bounds for dim 0 with size 2"),
    (lambda x: lucid.index_select(x, 0, lucid.tensor([0.0])), "integer tensor"),
    (lambda x: x.masked_fill(lucid.tensor([1, 0, 1]), 0.0), "bool tensor"),
    (lambda x: F.pad(x, (3, 0), mode="reflect"), r"less than the size 3"),
    (lambda x: F.pad(x, (1, 1, 1, 1), mode="reflect"), r"length 4 does not fit an input of shape \(2, 3\)"),
    (lambda x: F.pad(x, (1, 1), mode="circular", value=1.0), "circular padding takes no value"),
    (lambda x: F.pad(x, (1, 1, 1)), "even length"),
    (lambda x: F.pad(x, (0, 1), mode="wrong"), "mode must be"),
    (lambda x: x.split([1, 1], 1), "add up to 3"),
    (lambda x: x.repeat(2), "at least the number of dims"),
    (lambda x: x.roll((1, 2), 0), "same length"),
    (lambda x: lucid.cat([]), "non-empty"),
])
def test_bad_arguments_are_explained(call, message):
    with pytest.raises(OpError, match=message):
        call(lucid.tensor(np.ones((2, 3))))


# --- derivatives ---------------------------------------------------------------------------------

P = rng.standard_normal((3, 4))
DERIVATIVES = {
    "reshape": lambda x: x.reshape(2, 6),
    "flatten": lambda x: x.flatten(),
    "unflatten": lambda x: x.unflatten(1, (2, 2)),
    "squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "permute": lambda x: x.permute(1, 0),
    "transpose": lambda x: x.transpose(0, 1),
    "flip": lambda x: x.flip(1),
    "roll": lambda x: x.roll((1, 2), (0, 1)),
    "expand": lambda x: x.unsqueeze(0).expand(2, 3, 4),
    "broadcast_to": lambda x: lucid.broadcast_to(x[:, :1], (2, 3, 4)),
    "repeat": lambda x: x.repeat(2, 1, 2),
    "tile": lambda x: x.tile((2,)),
    "cat": lambda x: lucid.cat([x, x * x, x[:1]], 0),
    "stack": lambda x: lucid.stack([x, x * x], -1),
    "split": lambda x: lucid.split(x * x, [1, 3], 1),
    "split one output used": lambda x: lucid.split(x * x, 2, 1)[1],
    "chunk": lambda x: (x * x).chunk(2, 0),
    "unbind": lambda x: (x * x).unbind(1),
    "pad constant": lambda x: F.pad(x * x, (1, -1, 2, 0), value=3.0),
    "pad reflect": lambda x: F.pad((x * x)[None], (3, 2, 1, 2), mode="reflect"),
    "pad replicate": lambda x: F.pad(x * x, (2, 1), mode="replicate"),
    "pad circular": lambda x: F.pad(x * x, (4, 1), mode="circular"),
    "getitem slices": lambda x: (x * x)[::-1, 1::2],
    "getitem int arrays": lambda x: (x * x)[[0, 0, 2], [1, 1, 3]],
    "getitem mask": lambda x: (x * x)[P > 0],
    "getitem none ellipsis": lambda x: (x * x)[None, ..., -1],
    "gather": lambda x: lucid.gather(x * x, 1, lucid.tensor([[0, 0], [3, 1], [2, 2]])),
    "index_select": lambda x: lucid.index_select(x * x, 1, lucid.tensor([1, 1, 0])),
    "take_along_dim": lambda x: lucid.take_along_dim(x * x, lucid.tensor([[0], [3], [3]]), 1),
    "take_along_dim flat": lambda x: lucid.take_along_dim(x * x, lucid.tensor([5, 5, 0])),
    "masked_fill": lambda x: (x * x).masked_fill(lucid.tensor(P > 0), 1.0),
    "to": lambda x: (x * x).to(np.float64),
}


@pytest.mark.parametrize("name", DERIVATIVES)
def test_first_and_second_derivatives(name):
    check_derivatives(DERIVATIVES[name], [P])


def test_cat_and_stack_differentiate_each_input():
    check_derivatives(lambda a, b: lucid.cat([a * a, b * a[:, :2]], 1), [P, P[:, :2] + 1])
    check_derivatives(lambda a, b: lucid.stack([a * b, a]), [P, 2 * P])


def test_constant_pad_grows_then_crops():
    x = np.arange(4.0)
    np.testing.assert_array_equal(F.pad(lucid.tensor(x), (-1, 2), value=9.0).data, [1, 2, 3, 9, 9])
    np.testing.assert_array_equal(F.pad(lucid.tensor(x), (2, -4)).data, [0, 0])  # all of x cropped, as PyTorch allows
    with pytest.raises(lucid.LucidError, match=r"pad: padding \(2, -5\) crops more than the size 4"):
        F.pad(lucid.tensor(x), (2, -5))  # PyTorch crops first: 5 of 4 values is an error there
    assert F.pad(lucid.tensor(np.zeros((0, 3))), (0, 0, 1, 0)).shape == (1, 3)
    check_derivatives(lambda t: F.pad(t * t, (2, -4), value=1.0), [x])


def test_empty_tensors():
    e = lucid.tensor(np.zeros((0, 3)), requires_grad=True)
    assert lucid.cat([e, lucid.tensor(np.ones((2, 3)))]).shape == (2, 3)
    assert [p.shape for p in e.split(2, 0)] == [(0, 3)] and e.flip(0).shape == (0, 3)
    (lucid.cat([e, e], 1).sum() + e.flatten().sum() + e[e.data > 0].sum()).backward()
    assert e.grad.shape == (0, 3)


# --- PyTorch's conventions, where it is installed ---------------------------------------------------

TORCH_CASES = {
    "chunk": lambda m, x: m.chunk(x, 3, 1),
    "chunk more than size": lambda m, x: m.chunk(x, 7, 0),
    "split": lambda m, x: m.split(x, [1, 3], 1),
    "split size": lambda m, x: m.split(x, 3, 1),
    "pad reflect": lambda m, x: m.nn.functional.pad(x.unsqueeze(0), (3, 1, 2, 2), mode="reflect"),
    "pad replicate": lambda m, x: m.nn.functional.pad(x, (3, 1), mode="replicate"),
    "pad circular": lambda m, x: m.nn.functional.pad(x.unsqueeze(0), (3, 1, 2, 0), mode="circular"),
    "pad crop": lambda m, x: m.nn.functional.pad(x, (-1, 2, 1, -2), value=0.5),
    "take_along_dim broadcast": lambda m, x: m.take_along_dim(x[:1], m.tensor(np.array([[0, 3], [2, 2]])), 1),
    "gather": lambda m, x: m.gather(x, 0, m.tensor(np.array([[0, 2, 1], [1, 1, 1]]))),
    "index_select": lambda m, x: m.index_select(x, 1, m.tensor(np.array([3, 3, 0]))),
    "masked_fill": lambda m, x: x.masked_fill(m.tensor(np.array([True, False, False, True])), 2.0),
    "repeat": lambda m, x: x.repeat(2, 1, 2),
    "tile": lambda m, x: x.tile((2,)),
    "roll": lambda m, x: m.roll(x, (1, -1), (0, 1)),
    "unflatten": lambda m, x: x.unflatten(1, (2, -1)),
    "squeeze": lambda m, x: x.unsqueeze(0).unsqueeze(-1).squeeze(),
    "getitem": lambda m, x: x[m.tensor(np.array([2, 0, 2])), 1:],
    "getitem mask": lambda m, x: x[m.tensor(P > 0)],
}


@pytest.mark.parametrize("name", TORCH_CASES)
def test_values_and_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    call = TORCH_CASES[name]
    t = torch.tensor(P, requires_grad=True)
    ours = lucid.tensor(P, requires_grad=True)
    expected, out = call(torch, t), call(lucid, ours)
    expected = expected if isinstance(expected, tuple) else (expected,)
    out = out if isinstance(out, tuple) else (out,)
    assert len(out) == len(expected)
    weights = [rng.standard_normal(tuple(e.shape)) for e in expected]
    sum((e * torch.tensor(w)).sum() for e, w in zip(expected, weights)).backward()
    total = None
    for o, w, e in zip(out, weights, expected):
        np.testing.assert_allclose(o.data, e.detach().numpy())
        term = (o * lucid.tensor(w)).sum()
        total = term if total is None else total + term
    total.backward()
    np.testing.assert_allclose(ours.grad.data, t.grad.numpy(), atol=1e-15)


class RandomDraw:
    """lucid.op.Draw on a seeded NumPy generator: thousands of samples, the same on every run."""

    edges = False

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def integer(self, low, high):
        return int(self.rng.integers(low, high + 1))

    def choice(self, options):
        return options[self.integer(0, len(options) - 1)]

    def boolean(self):
        return bool(self.rng.integers(2))

    def shape(self, min_dims=0, max_dims=3, min_side=1, max_side=4):
        return tuple(self.integer(min_side, max_side) for _ in range(self.integer(min_dims, max_dims)))

    def indices(self, shape, high):
        return self.rng.integers(0, high, shape)

    def mask(self, shape):
        return self.rng.integers(0, 2, shape).astype(bool)


@pytest.mark.parametrize("name", ["getitem", "index_backward"])
def test_every_key_an_indexing_sample_draws_fits_its_shape(name):
    """Each entry of a drawn key must index the axis it stands for: an Ellipsis put in front of
    entries drawn for the first axes once moved them onto the last ones, out of bounds."""
    sample = lucid.registry[name].sample
    draw = RandomDraw(0)
    for _ in range(3000):
        example = sample(draw)  # index_backward's sample indexes an array of the shape itself
        shape = example.params["shape"] if name == "index_backward" else example.inputs[0]
        lucid.ops.getitem(np.empty(shape), example.params["key"])  # as PyTorch reads the key
