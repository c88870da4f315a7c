"""The other spellings PyTorch accepts, each against torch: `axis=`/`keepdims=` for `dim=`/`keepdim=`,
`clip`, the method forms of softmax and the dtype conversions, `full_like`, `empty`, `empty_like`,
`sum(dtype=)`, `Tensor.unfold` (with its gradient) and `Tensor.view(dtype)`."""
from __future__ import annotations

import numpy as np
import pytest

import lucid

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).standard_normal((3, 4, 5))
G = np.random.default_rng(1).standard_normal


def _both(call, dtype=np.float64):
    """call(library, leaf) on Lucid and PyTorch: values, dtypes, shapes and gradients must agree."""
    ours_in, theirs_in = lucid.tensor(X.astype(dtype), requires_grad=True), torch.tensor(X.astype(dtype),
                                                                                         requires_grad=True)
    ours, theirs = call(lucid, ours_in), call(torch, theirs_in)
    assert ours.shape == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6)
    assert ours.requires_grad == theirs.requires_grad
    if ours.requires_grad:
        g = G(ours.shape)
        ours.backward(g)
        theirs.backward(torch.tensor(g, dtype=theirs.dtype))
        np.testing.assert_allclose(ours_in.grad.data, theirs_in.grad.numpy(), rtol=1e-6)


CALLS = {
    "sum axis": lambda m, x: m.sum(x, axis=1),
    "sum axis keepdims": lambda m, x: m.sum(x, axis=(0, 2), keepdims=True),
    "method sum axis": lambda m, x: x.sum(axis=-1),
    "mean axis": lambda m, x: x.mean(axis=0, keepdims=True),
    "cat axis": lambda m, x: m.cat([x, x], axis=1),
    "squeeze axis": lambda m, x: m.squeeze(x[:1], axis=0),
    "softmax method axis": lambda m, x: x.softmax(axis=1),
    "logsumexp axis": lambda m, x: m.logsumexp(x, axis=2),
    "cumsum axis": lambda m, x: m.cumsum(x, axis=1),
    "clip": lambda m, x: x.clip(-0.5, 0.5),
    "clip function": lambda m, x: m.clip(x, min=0.0),
    "softmax method": lambda m, x: x.softmax(1),
    "log_softmax method": lambda m, x: x.log_softmax(dim=-1),
    "type": lambda m, x: x.type(m.float32),
    "int": lambda m, x: (x * 3).int(),
    "long": lambda m, x: (x * 3).long(),
    "bool": lambda m, x: (x > 0).float().bool(),
    "float": lambda m, x: x.float(),
    "double": lambda m, x: x.float().double(),
    "sum dtype": lambda m, x: x.float().sum(dtype=m.float64),
    "sum dim dtype": lambda m, x: m.sum(x.float(), 1, dtype=m.float64),
    "sum int dtype": lambda m, x: (x * 3).int().sum(dim=0, dtype=m.float32),
    "unfold": lambda m, x: x.unfold(1, 2, 1),
    "unfold step": lambda m, x: x.unfold(2, 3, 2),
    "unfold last": lambda m, x: x.unfold(-1, 5, 1),
    "unfold empty window": lambda m, x: x.unfold(0, 0, 1),
    "unfold 0-d": lambda m, x: x[0, 0, 0].unfold(0, 1, 1),
    "unfold second order": lambda m, x: (x.unfold(1, 3, 1) ** 2),
    "full_like": lambda m, x: m.full_like(x, 2.5),
    "full_like dtype": lambda m, x: m.full_like(x, 2.7, dtype=m.int64),
    "full_like int": lambda m, x: m.full_like(x.long(), 2.7),
    "zeros_like dtype": lambda m, x: m.zeros_like(x, dtype=m.int32),
    "ones_like dtype": lambda m, x: m.ones_like(x, dtype=m.float32),
}


@pytest.mark.parametrize("name", CALLS)
def test_spelling_matches_pytorch(name):
    _both(CALLS[name])


def test_argument_functions_take_axis_too():
    x = lucid.tensor(X)
    t = torch.tensor(X)
    for name in ("argmax", "argmin", "all", "any", "count_nonzero"):
        ours, theirs = getattr(lucid, name)(x > 0 if name in ("all", "any") else x, axis=1), \
            getattr(torch, name)(t > 0 if name in ("all", "any") else t, axis=1)
        np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_an_argument_given_under_both_names_is_refused():
    with pytest.raises(lucid.OpError, match="got argument 'dim' twice"):
        lucid.sum(lucid.tensor(X), dim=0, axis=1)
    with pytest.raises(lucid.OpError, match="got argument 'dim' twice"):
        lucid.argmax(lucid.tensor(X), dim=0, axis=1)


def test_unfold_second_order_matches_pytorch():
    x, t = lucid.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    (g,) = lucid.grad((x.unfold(1, 3, 1) ** 3).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((t.unfold(1, 3, 1) ** 3).sum(), t, create_graph=True)
    (h,), (th,) = lucid.grad(g.sum(), x), torch.autograd.grad(tg.sum(), t)
    np.testing.assert_allclose(h.data, th.numpy())


@pytest.mark.parametrize("call", [lambda x: x.unfold(1, 5, 1), lambda x: x.unfold(1, 2, 0),
                                  lambda x: x.unfold(3, 1, 1)])
def test_unfold_refuses_what_pytorch_refuses(call):
    with pytest.raises(lucid.OpError, match="unfold"):
        call(lucid.tensor(X))
    with pytest.raises((RuntimeError, IndexError)):
        call(torch.tensor(X))


def test_empty_has_the_shape_and_dtype_asked_for():
    for ours, theirs in ((lucid.empty(2, 3), torch.empty(2, 3)), (lucid.empty((2, 3), dtype=lucid.int64),
                                                                    torch.empty((2, 3), dtype=torch.int64)),
                         (lucid.empty_like(lucid.tensor(X), dtype=lucid.float32),
                          torch.empty_like(torch.tensor(X), dtype=torch.float32))):
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")


VIEWS = {"float32 as int32": (np.float32, np.int32), "float32 as uint8": (np.float32, np.uint8),
         "float64 as float32": (np.float64, np.float32), "float32 as float64": (np.float32, np.float64),
         "int64 as float64": (np.int64, np.float64)}


@pytest.mark.parametrize("name", VIEWS)
def test_view_dtype_reads_the_same_bytes_as_pytorch(name):
    source, target = VIEWS[name]
    a = (X[0, :, :4] * 10).astype(source)
    ours, theirs = lucid.tensor(a).view(target), torch.from_numpy(a).view(getattr(torch, np.dtype(target).name))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_view_dtype_shares_memory_and_refuses_what_it_cannot_do():
    x = lucid.tensor(np.ones(4, np.float32))
    x.view(np.int32).fill_(0)
    assert x.data.tolist() == [0, 0, 0, 0]
    with pytest.raises(lucid.OpError, match="can't view"):
        lucid.tensor(np.ones((4, 4), np.float32))[:, ::2].view(np.float64)  # PyTorch: stride(-1) must be 1
    with pytest.raises(lucid.GraphError, match="not differentiable"):
        lucid.tensor(X, requires_grad=True).view(np.float64)
    assert not lucid.tensor(X, requires_grad=True).view(np.int64).requires_grad  # ints have no gradient to lose
    assert lucid.tensor(X).view(-1, 4).shape == (15, 4)
