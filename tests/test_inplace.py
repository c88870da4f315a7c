"""In-place ops and indexed assignment, compared with PyTorch in float64: values, gradients, and
where either refuses, the error (never a wrong number)."""
import numpy as np
import pytest

import lucid
from lucid import GraphError, OpError, nn

torch = pytest.importorskip("torch")

F = lucid.nn.functional
VALUES = np.random.default_rng(0).standard_normal((3, 4))


def run(pattern, lib, values=VALUES):
    """(result, gradient of its sum with respect to the leaf x) of `pattern(x, lib)`."""
    x = (lucid.tensor if lib is lucid else torch.tensor)(values.copy(), requires_grad=True)
    y = pattern(x, lib)
    y.sum().backward()
    return np.array(y.detach().numpy()), np.array(x.grad.numpy())


def functional(lib):
    return F if lib is lucid else torch.nn.functional


def idx(lib, values):
    return (lucid.tensor if lib is lucid else torch.tensor)(values)


PATTERNS = {
    "y[0] = 5": lambda x, lib: _assigned(x * 2, 0, 5.0),
    "h += x * x; h -= x; h *= x; h /= 2": lambda x, lib: _augmented(x * 1.5, x),
    "relu_": lambda x, lib: (x * 2).relu_(),
    "v = h[0]; v.mul_(x[1])": lambda x, lib: _through_view(x * 2, x),
    "h[0] += x[1]; h[:, 1] *= 3": lambda x, lib: _view_augmented(x * 2, x),
    "clamp_, index_add_, scatter_add_, scatter_": lambda x, lib: _indexed(x.sin(), x, lib),
    "buffer[1:4] = x * x": lambda x, lib: _buffer(lib.zeros(5, 4, dtype=x.dtype), x),
    "zero_, fill_, copy_ on rows": lambda x, lib: _rows(x * 2, x),
    "neg_, clip_, div_, sub_ and add_ with alpha": lambda x, lib: _arithmetic(x * 1, x),
    "v = x[[0, 2]]; v *= x[1] (an indexed copy of a leaf)": lambda x, lib: _indexed_copy(x),
    "h[[0, 2]] *= x[1]; h[h > 0] += 1": lambda x, lib: _indexed_copies(x * 2, x),
    "masked_fill_ on a non-leaf": lambda x, lib: (x * x).masked_fill_(x > 0, 0.5),
    "h = h + x against h += x in a loop": lambda x, lib: _loop(x),
    "setitem with masks and index lists": lambda x, lib: _advanced(x.sin() * 1, x, lib),
    "inplace=True activations": lambda x, lib: _activations(x * 2, lib),
    "copy_ of a source that requires grad into a constant": lambda x, lib: lib.zeros(3, 4, dtype=x.dtype).copy_(
        x.exp()),
    "fill_ with a 0-d tensor that requires grad": lambda x, lib: (x * 1).fill_(x[0, 1] * 3) * x,
    # a value read before it changed, by ops whose gradient does not need it (PyTorch saves nothing there)
    "y[0] = y[0] * 2": lambda x, lib: _read(x),
    "h[..., :2] = sigmoid(h[..., :2])": lambda x, lib: _sigmoid_columns(x * 3),
    "b = h * 2 and c = h.exp(), then h.mul_(3)": lambda x, lib: _read_then_changed(x * 1.5),
    "v = h[0] read by sum, then h.mul_(2)": lambda x, lib: _read_view_then_changed(x * 2),
    "b = h * 3; h[1] = 0; h * b": lambda x, lib: _rows_then_product(x * 1),
    # a view taken before its base changed reads the new values, and differentiates through the change
    "v = h[0]; h.mul_(2); v": lambda x, lib: _stale_view(x * 2),
    "v = h[1:][0]; h.mul_(x); v * x[0]": lambda x, lib: _stale_view_of_view(x * 2, x),
    # writes through views that other ops made: each is written where it lies in its base
    "h.reshape(-1).mul_(x.reshape(-1).sin())": lambda x, lib: _through_reshape(x * 2, x),
    "h.T[0] = 1; h.T[1] *= 3": lambda x, lib: _through_transpose(x * 2),
    "v = h.reshape(3, 2, 2).permute(2, 0, 1); v[0] += x[:, :2]": lambda x, lib: _through_permute(x * 2, x),
    "h.unsqueeze(0)[0, 1] = 5": lambda x, lib: _assigned((x * 1).unsqueeze(0), (0, 1), 5.0)[0],
    "r = h.reshape(4, 3); r.add_(1); r * h.reshape(4, 3)": lambda x, lib: _reshaped_twice(x * 1),
}


def _assigned(y, key, value):
    y[key] = value
    return y


def _augmented(h, x):
    h += x * x
    h -= x
    h *= x
    h /= 2
    return h


def _indexed_copy(x):
    v = x[[0, 2]]
    v *= x[1]
    return v


def _indexed_copies(h, x):
    h[[0, 2]] *= x[1]
    h[h > 0] += 1
    return h


def _through_view(h, x):
    v = h[0]
    v.mul_(x[1])
    return h * v.sum()


def _view_augmented(h, x):
    h[0] += x[1]
    h[:, 1] *= 3
    h[1:, ::2] -= x[:2, :2]
    return h


def _through_reshape(h, x):
    h.reshape(-1).mul_(x.reshape(-1).sin())
    return h


def _through_transpose(h):
    h.T[0] = 1
    h.T[1] *= 3
    return h


def _through_permute(h, x):
    v = h.reshape(3, 2, 2).permute(2, 0, 1)
    v[0] += x[:, :2]
    return h


def _reshaped_twice(h):
    r = h.reshape(4, 3)
    r.add_(1)
    return r * h.reshape(4, 3)


def _read(x):
    y = x * 3
    y[0] = y[0] * 2
    return y


def _sigmoid_columns(h):
    h[..., :2] = h[..., :2].sigmoid()
    return h


def _read_for_x(x):
    y = x * 3
    y[0] = y[0] * x[1]
    return y


def _read_then_changed(h):
    b, c = h * 2, h.exp()
    h.mul_(3)
    return b * c + h


def _read_view_then_changed(h):
    s = h[0].sum()
    h.mul_(2)
    return h * s


def _rows_then_product(h):
    b = h * 3
    h[1] = 0
    return h * b


def _stale_view(h):
    v = h[0]
    h.mul_(2)
    return v


def _stale_view_of_view(h, x):
    v = h[1:][0]
    h.mul_(x)
    return v * x[0]


def _indexed(h, x, lib):
    h.clamp_(-0.5, 0.5)
    h.index_add_(0, idx(lib, [0, 2, 0]), x[:3] * 2)
    h.scatter_add_(1, idx(lib, [[0, 1], [1, 1], [3, 0]]), x[:, :2])
    h.scatter_(1, idx(lib, [[2], [0], [1]]), x[:, 3:])
    return h


def _buffer(buffer, x):
    buffer[1:4] = x * x
    buffer[0] = x[0].exp()
    return buffer


def _rows(h, x):
    h[0].zero_()
    h[1].fill_(x[2, 0])
    h[2].copy_(x[0] * x[1])
    return h


def _arithmetic(h, x):
    h.neg_()
    h.clip_(-1, 1)
    h.div_(x + 3)
    h.sub_(x, alpha=2)
    h.add_(x, alpha=0.5)
    return h


def _loop(x):
    h, k = x * 0, x * 0
    for step in range(3):
        h = h + x * step
        k += x * step
    return h * k


def _advanced(h, x, lib):
    h[[0, 2], [1, 3]] = x[1, :2]
    h[h > 0.3] = 0.0
    h[:, [0, 2]] = x[:, :1] * 2
    h[None, 1, ..., -1] = x[2, 2]
    h[idx(lib, [True, False, True])] *= 2
    return h


def _activations(h, lib):
    f = functional(lib)
    a, b, c = h[0] * 1, h[1] * 1, h[2] * 1
    assert f.relu(a, inplace=True) is a
    f.leaky_relu(b, 0.2, inplace=True)
    f.hardtanh(c, -0.5, 0.5, True)
    return lib.stack([a, b, c]) ** 2


@pytest.mark.parametrize("name", PATTERNS)
def test_in_place_patterns_agree_with_pytorch(name):
    (y, g), (ty, tg) = (run(PATTERNS[name], lib) for lib in (lucid, torch))
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)


#: Where PyTorch refuses because the op that made the tensor saved its output, Lucid hands that op
#: a copy of the value it made and gives the gradient that PyTorch gives on a clone.
SAVED_OUTPUT = {
    "exp then add_": lambda x, clone: clone(x.exp()).add_(1),
    "tanh then y[0] = 1": lambda x, clone: _assigned(clone(x.tanh()), 0, 1.0),
    "sigmoid then masked_fill_": lambda x, clone: clone(x.sigmoid()).masked_fill_(x > 0, 0.5),
    "relu_ twice": lambda x, clone: clone((x * 2).relu_()).mul_(3).relu_(),
}


@pytest.mark.parametrize("name", SAVED_OUTPUT)
def test_changing_a_saved_output_keeps_its_gradient_where_pytorch_refuses(name):
    pattern = SAVED_OUTPUT[name]
    if name != "relu_ twice":
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            run(lambda x, lib: pattern(x, lambda t: t), torch)
    (y, g), (ty, tg) = run(lambda x, lib: pattern(x, lambda t: t), lucid), run(
        lambda x, lib: pattern(x, lambda t: t.clone()), torch)
    np.testing.assert_allclose(y, ty, rtol=1e-12)
    np.testing.assert_allclose(g, tg, rtol=1e-12)


REFUSED = {  # (pattern, does PyTorch refuse too?)
    "a leaf that requires grad": (lambda x, lib: x.add_(1), True),
    "a view of a leaf that requires grad": (lambda x, lib: _assigned(x[0], 0, 1.0), True),
    "x[0] += 1 on a leaf that requires grad": (lambda x, lib: _view_augmented(x, x), True),
    "a tensor mul saved, changed": (lambda x, lib: _saved_then_changed(x * 2), True),
    "h += h * x (the value read h)": (lambda x, lib: _read_all(x), True),
    "y[0] = y[0] * x[1] (mul saved y[0] for x's gradient)": (lambda x, lib: _read_for_x(x), True),
    "s = h.sin(), then h.add_(1) (sin saved h)": (lambda x, lib: _saved_by_sin(x * 2), True),
}


def _saved_then_changed(y):
    z = y * y
    y.add_(1)
    return z


def _read_all(x):
    h = x * 2
    h += h * x
    return h


def _saved_by_sin(h):
    s = h.sin()
    h.add_(1)
    return s


@pytest.mark.parametrize("name", REFUSED)
def test_what_the_graph_cannot_follow_is_an_error_not_a_wrong_gradient(name):
    pattern, torch_refuses = REFUSED[name]
    with pytest.raises(GraphError, match="in-place"):
        run(pattern, lucid)
    if torch_refuses:
        with pytest.raises(RuntimeError, match="in-place|inplace"):
            run(pattern, torch)


def test_a_view_whose_base_changed_backwards_through_the_change_as_a_root_too():
    """v = h[0] read after h.mul_(x): backward from v itself (no op has read it since) goes through mul_."""
    grads = []
    for lib in (lucid, torch):
        x = (lucid.tensor if lib is lucid else torch.tensor)(VALUES.copy(), requires_grad=True)
        h = x * 2
        v = h[0]
        h.mul_(x)
        v.backward((lucid.ones if lib is lucid else torch.ones)(4, dtype=x.dtype))
        grads.append(np.array(x.grad.numpy()))
    np.testing.assert_allclose(*grads, rtol=1e-12)


def test_a_write_through_a_piece_of_split_is_the_slice_write_pytorch_gives():
    """PyTorch refuses in-place changes of split's pieces (views of a multi-output op); Lucid writes
    them where they lie, which is PyTorch's h[:, 2:] *= ...: the same values and gradients."""
    x = lucid.tensor(VALUES.copy(), requires_grad=True)
    h = x * 1
    a, b = h.split(2, dim=1)
    b.mul_(x[:, :2])
    (h * a.sum()).sum().backward()
    t = torch.tensor(VALUES.copy(), requires_grad=True)
    k = t * 1
    k[:, 2:] *= t[:, :2]
    (k * k[:, :2].sum()).sum().backward()
    np.testing.assert_allclose(h.detach().numpy(), k.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_writes_through_views_made_outside_the_graph_or_sharing_places_are_refused():
    x = lucid.tensor(VALUES.copy(), requires_grad=True)
    with pytest.raises(GraphError, match="made outside the graph"):
        lucid.zeros(3, 4, dtype=lucid.float64)[0].copy_(x[0])
    overlapping = lucid.Op("testing.overlapping", lambda a: np.lib.stride_tricks.as_strided(
        a, (2, 2), (a.strides[0], a.strides[0]), writeable=True), lambda g, out, a: (None,))
    v = overlapping(x * 2)  # rows [h0, h1] and [h1, h2]: h1 in two places
    with pytest.raises(GraphError, match=r"view made by 'testing.overlapping' \(two of its elements lie at one place"):
        v.add_(1)
    h = x * 2
    with lucid.no_grad():
        h.reshape(12).add_(1)  # a plain write, seen by the base, as in PyTorch
    np.testing.assert_array_equal(h.data, VALUES * 2 + 1)


def test_no_grad_allows_in_place_on_leaves_and_bumps_the_version():
    for lib in (lucid, torch):
        w = (lucid.tensor if lib is lucid else torch.tensor)([1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            w.mul_(3)
            w += 1
            w[0] = 0.5
        assert w._version == 3 and w.is_leaf and w.grad_fn is None
        np.testing.assert_array_equal(w.detach().numpy(), [0.5, 7.0])


def test_versions_count_like_pytorchs():
    counts = []
    for lib in (lucid, torch):
        x = (lucid.tensor if lib is lucid else torch.tensor)(VALUES.copy(), requires_grad=True)
        h = x * 2
        h.add_(1)
        h[0] = 3.0
        h[[0, 1]] += 2.0
        v = h[2]
        v.relu_()
        counts.append((h._version, v._version))
    assert counts[0] == counts[1]


SETITEM_KEYS = [0, -1, (1, 2), slice(1, 3), (slice(None), 2), (Ellipsis, 1), (None, 1), [0, 2], ([0, 2], [1, 3]),
                (slice(None), [3, 0]), "mask", "rows", ([[0], [2]], [1, 2]), (1, [0, 3]), ([2, 0], slice(1, 3)),
                (True, 1), "tensor"]


def _key(key, lib, x):
    if key == "mask":
        return x > 0.2
    if key == "rows":
        return (lucid.tensor if lib is lucid else torch.tensor)([True, False, True])
    if key == "tensor":
        return (lucid.tensor if lib is lucid else torch.tensor)([[0, 1], [2, 0]])
    return key


@pytest.mark.parametrize("key", SETITEM_KEYS, ids=str)
@pytest.mark.parametrize("value", ["number", "full", "broadcast"])
def test_setitem_agrees_with_pytorch_for_every_key_form(key, value):
    results = []
    for lib in (lucid, torch):
        make = lucid.tensor if lib is lucid else torch.tensor
        x = make(VALUES.copy(), requires_grad=True)
        h = x * 1.5
        target = h.detach()[_key(key, lib, x.detach())].shape
        shape = tuple(target) if value == "full" else tuple(target)[-1:]
        v = make(np.linspace(-1, 1, int(np.prod(shape))).reshape(shape), requires_grad=True)
        h[_key(key, lib, x.detach())] = 2.5 if value == "number" else v * 2
        (h * h).sum().backward()
        results.append([h.detach().numpy(), x.grad.numpy()] + ([] if value == "number" else [v.grad.numpy()]))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-12)


def test_setitem_refuses_what_pytorch_refuses():
    h = lucid.tensor(VALUES.copy(), requires_grad=True) * 1
    with pytest.raises(OpError, match=r"setitem: a value of shape \(3,\) cannot be broadcast to the indexed shape "
                                      r"\(4,\) \(tensor of shape \(3, 4\)\)"):
        h[0] = lucid.ones(3, dtype=lucid.float64)
    with pytest.raises(OpError, match="index 5 is out of bounds for dim 0 with size 3"):
        h[5] = 1.0
    with pytest.raises(OpError, match="can't be cast to this tensor's dtype int64"):
        lucid.tensor([1, 2]).add_(1.5)
    with pytest.raises(OpError, match=r"add_: the result has shape \(2, 2\), which does not fit .* \(2,\)"):
        lucid.zeros(2).add_(lucid.zeros(2, 2))
    for refused in (lambda: torch.tensor([1, 2]).add_(1.5), lambda: torch.zeros(2).add_(torch.zeros(2, 2))):
        with pytest.raises(RuntimeError):
            refused()


def test_augmented_assignment_is_in_place_as_in_pytorch():
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    total = lucid.zeros(2)
    alias = total
    total += x * x  # a constant takes a history
    assert total is alias and total.grad_fn is not None and total.requires_grad
    total.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


@pytest.mark.parametrize("name", ["ReLU", "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "SiLU", "Mish", "Hardtanh",
                                  "Hardsigmoid", "Hardswish"])
def test_activation_layers_take_inplace_as_in_pytorch(name):
    results = []
    for lib, module in ((lucid, getattr(nn, name)(inplace=True)), (torch, getattr(torch.nn, name)(inplace=True))):
        x = (lucid.tensor if lib is lucid else torch.tensor)(VALUES.copy() * 4, requires_grad=True)
        h = x * 1
        y = module(h)
        assert y is h
        (y * y).sum().backward()
        results.append((h.detach().numpy(), x.grad.numpy(), repr(module)))
    (y, g, text), (ty, tg, ttext) = results
    np.testing.assert_allclose(y, ty, rtol=1e-7)  # hardsigmoid's 1/6: PyTorch rounds it to a float
    np.testing.assert_allclose(g, tg, rtol=1e-7)
    assert "inplace=True" in text


def test_inplace_false_leaves_the_input_alone_and_bad_inplace_is_refused():
    h = lucid.tensor(VALUES.copy())
    y = F.relu(h, inplace=False)
    assert y is not h and np.array_equal(h.data, VALUES)
    with pytest.raises(OpError, match="nn.functional.relu: argument 'inplace' must be True or False, got 1"):
        F.relu(h, inplace=1)


def test_dropout_inplace_drops_the_same_places_as_out_of_place():
    x = lucid.tensor(VALUES.copy(), requires_grad=True)
    lucid.manual_seed(3)
    expected = F.dropout(x * 1, 0.5)
    expected.sum().backward()
    g, x.grad = x.grad.numpy().copy(), None
    lucid.manual_seed(3)
    h = x * 1
    assert nn.Dropout(0.5, inplace=True)(h) is h
    h.sum().backward()
    np.testing.assert_array_equal(h.data, expected.data)
    np.testing.assert_array_equal(x.grad.numpy(), g)
    assert np.count_nonzero(h.data == 0) > 0


@pytest.mark.parametrize("method", [*lucid.inplace.IN_PLACE_METHODS, "clip_", "add_", "sub_"])
def test_each_in_place_method_agrees_with_pytorchs(method):
    arguments = {"clamp_": (-0.5, 0.5), "clip_": (-0.5, 0.5), "masked_fill_": ("mask", 0.25),
                 "index_add_": (0, "index", "source"), "scatter_": (0, "places", "source"),
                 "scatter_add_": (0, "places", "source"), "pow_": (3,), "mul_": ("other",), "div_": ("other",),
                 "add_": ("other",), "sub_": ("other",)}.get(method, ())
    results = []
    for lib in (lucid, torch):
        make = lucid.tensor if lib is lucid else torch.tensor
        x, other = make(np.abs(VALUES) + 0.5, requires_grad=True), make(VALUES[::-1].copy(), requires_grad=True)
        places = make([[1, 0, 2, 1], [0, 2, 1, 0], [2, 1, 0, 2]])  # each column a permutation: no place twice
        given = {"mask": x.detach() > 1, "index": make([2, 0, 2]), "places": places, "source": other, "other": other}
        h = x * 1
        assert getattr(h, method)(*(given.get(a, a) if isinstance(a, str) else a for a in arguments)) is h
        (h * h).sum().backward()
        results.append((h.detach().numpy(), x.grad.numpy(), other.grad))
    (y, g, g_other), (ty, tg, tg_other) = results
    np.testing.assert_allclose(y, ty, rtol=1e-12)
    np.testing.assert_allclose(g, tg, rtol=1e-12)
    assert (g_other is None) == (tg_other is None)
    if g_other is not None:
        np.testing.assert_allclose(g_other.numpy(), tg_other.numpy(), rtol=1e-12)


def test_clone_owns_its_memory_and_passes_the_gradient():
    x = lucid.tensor(VALUES.copy(), requires_grad=True)
    y = x.clone()
    y[0] = 0.0
    (y * 2).sum().backward()
    assert not np.shares_memory(x.data, y.data)
    np.testing.assert_array_equal(x.grad.numpy(), np.r_[[[0.0] * 4], np.full((2, 4), 2.0)])



@pytest.mark.parametrize("base, value", [(np.float32, np.float64), (np.float64, np.float32), (np.int64, np.float64)])
def test_an_assignment_keeps_the_tensors_dtype_and_the_value_gets_its_own(base, value):
    """PyTorch casts the value to the tensor written into, whatever their dtypes' promotion gives;
    the value's gradient comes back in its own dtype."""
    x, tx = lucid.zeros(2, 3, dtype=base), torch.zeros(2, 3, dtype=getattr(torch, np.dtype(base).name))
    v = lucid.tensor(np.full(3, 2.5, dtype=value), requires_grad=True)
    tv = torch.full((3,), 2.5, dtype=getattr(torch, np.dtype(value).name), requires_grad=True)
    y, ty = x.clone(), tx.clone()
    y[1], ty[1] = v, tv
    assert y.dtype == np.dtype(base) and str(ty.dtype) == f"torch.{np.dtype(base).name}"
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    if base != np.int64:  # an integer tensor records no gradient
        (y * 3).sum().backward(), (ty * 3).sum().backward()
        assert v.grad.dtype == np.dtype(value)
        np.testing.assert_array_equal(v.grad.numpy(), tv.grad.numpy())
