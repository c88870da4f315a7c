"""The indexing and product ops of lucid_ops/indexing.py and lucid_ops/products.py against
PyTorch: values, dtypes and gradients, with repeated indices, ties, zeros, empty tensors and
negative dims; their errors; and their second derivatives by central differences."""
import math

import numpy as np
import pytest

import lucid
from lucid import LucidError, OpError
from finite_differences import check_derivatives

torch = pytest.importorskip("torch")
rng = np.random.default_rng(18)
F = lucid.nn.functional
A = rng.standard_normal((3, 4))
B = rng.standard_normal((2, 4))
TWICE = np.array([[0, 1, 2, 0], [0, 1, 2, 0]])  # along dim 0: rows 0, 0 write to the same places
ROWS = np.array([[2, 0, 1, 2], [0, 2, 0, 0]])


def index(m, values):
    return m.tensor(np.asarray(values, dtype=np.int64))


def against_torch(call, *arrays, atol=1e-12):
    """call(torch, ...) and call(lucid, ...) on the same float64 arrays: the same values and dtype,
    and the same gradients of every input for a random cotangent (None counts as zeros)."""
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = [lucid.tensor(a, requires_grad=True) for a in arrays]
    expected, out = call(torch, *theirs), call(lucid, *ours)
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    out = out if isinstance(out, tuple) else (out,)
    assert len(out) == len(expected)
    for o, e in zip(out, expected):
        assert o.shape == tuple(e.shape) and o.dtype == np.dtype(str(e.dtype).removeprefix("torch."))
        np.testing.assert_allclose(o.data, e.detach().numpy(), rtol=1e-12, atol=atol)
    floats = [(o, e) for o, e in zip(out, expected) if e.dtype.is_floating_point and e.requires_grad]
    if not floats:
        return
    weights = [rng.standard_normal(tuple(e.shape)) for _, e in floats]
    expected_grads = torch.autograd.grad(sum((e * torch.tensor(w)).sum() for (_, e), w in zip(floats, weights)),
                                         theirs, allow_unused=True)
    total = sum(((o * lucid.tensor(w)).sum() for (o, _), w in zip(floats, weights)), lucid.tensor(0.0))
    grads = lucid.grad([total], ours, allow_unused=True)
    for g, e, a in zip(grads, expected_grads, arrays):
        np.testing.assert_allclose(np.zeros(a.shape) if g is None else g.data,
                                   np.zeros(a.shape) if e is None else e.numpy(), rtol=1e-12, atol=atol)


CASES = {
    "scatter": lambda m, x, s: m.scatter(x, 0, index(m, ROWS), s),
    "scatter method, negative dim": lambda m, x, s: x.scatter(-1, index(m, [[3, 0], [1, 2]]), s[:, :2]),
    "scatter repeated index": lambda m, x, s: x.scatter(0, index(m, TWICE), s),
    "scatter a number": lambda m, x, s: m.scatter(x, 1, index(m, [[0, 0, 3]]), 2.5) * s.sum(),
    "scatter value=": lambda m, x, s: m.scatter(x, 1, index(m, [[1], [3], [1]]), value=-1) * s.sum(),
    "scatter_add repeated index": lambda m, x, s: m.scatter_add(x, 0, index(m, TWICE), s),
    "scatter_add method": lambda m, x, s: x.scatter_add(1, index(m, [[3, 3, 0, 3], [1, 1, 1, 1]]), s),
    "index_add alpha": lambda m, x, s: m.index_add(x, 0, index(m, [2, 2]), s, alpha=-1.5),
    "index_add method, negative dim": lambda m, x, s: x.index_add(-1, index(m, [0, 3, 0]), m.cat([s, s])[:3, :3]),
    "index_copy": lambda m, x, s: m.index_copy(x, 0, index(m, [2, 0]), s),
    "index_copy repeated index": lambda m, x, s: x.index_copy(0, index(m, [1, 1]), s),
    "masked_select": lambda m, x, s: m.masked_select(x, m.tensor(A > 0)),
    "masked_select broadcasts the input": lambda m, x, s: x[:1].masked_select(m.tensor(A > 0)),
    "masked_select broadcasts the mask": lambda m, x, s: x.masked_select(m.tensor(np.array([True, False, True, True]))),
    "repeat_interleave int": lambda m, x, s: m.repeat_interleave(x, 2),
    "repeat_interleave tensor, dim": lambda m, x, s: x.repeat_interleave(index(m, [0, 2, 1]), dim=0),
    "repeat_interleave one repeat, negative dim": lambda m, x, s: x.repeat_interleave(index(m, [3]), dim=-1),
    "repeat_interleave output_size": lambda m, x, s: m.repeat_interleave(x, index(m, [1, 0, 2]), 0, output_size=3),
    "meshgrid ij": lambda m, x, s: m.meshgrid(x[0], s[1, :3], x[2, :2], indexing="ij"),
    "meshgrid xy": lambda m, x, s: m.meshgrid(x[0], s[1, :3], x[2, :2], indexing="xy"),
    "meshgrid a list, 0-d": lambda m, x, s: m.meshgrid([x[0, 0], s[1]], indexing="xy"),
    "diag of a vector": lambda m, x, s: m.diag(x[0]),
    "diag above": lambda m, x, s: x[1].diag(2),
    "diag of a matrix, below": lambda m, x, s: m.diag(x, -1),
    "diag of a wide matrix": lambda m, x, s: x.diag(1),
    "diag_embed": lambda m, x, s: m.diag_embed(x),
    "diag_embed offset, dims": lambda m, x, s: x.diag_embed(-1, 0, 2),
    "diag_embed negative dims": lambda m, x, s: m.diag_embed(s, 1, -1, 0),
    "kron": lambda m, x, s: m.kron(x, s),
    "kron of ranks 1 and 2": lambda m, x, s: x[0].kron(s),
    "kron of a 0-d": lambda m, x, s: m.kron(x[0, 0], s),
    "cdist": lambda m, x, s: m.cdist(x, s),
    "addmm": lambda m, x, s: m.addmm(x[:, :2], x, s.T),
    "addmm beta, alpha, broadcast": lambda m, x, s: m.addmm(x[0, :2], x, s.T, beta=0.5, alpha=-2),
    "addmm method": lambda m, x, s: x[:, :2].addmm(x, s.T, alpha=3),
    "baddbmm": lambda m, x, s: m.baddbmm(x[:1, :2], m.stack([x, 2 * x]), m.stack([s.T, s.T]), beta=2, alpha=0.5),
}


@pytest.mark.parametrize("name", CASES)
def test_values_and_gradients_match_pytorch(name):
    against_torch(CASES[name], A, B)


def test_scatter_keeps_the_last_write_and_gives_every_write_the_gradient():
    """PyTorch's CPU scatter keeps the last of repeated writes, and its rule hands the place's
    gradient to each source written there, the overwritten one too (not the forward's derivative)."""
    x = lucid.zeros(2, 3, dtype=np.float64, requires_grad=True)
    src = lucid.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    out = x.scatter(1, lucid.tensor(np.array([[0, 0], [2, 2]])), src)
    assert out.data.tolist() == [[2.0, 0.0, 0.0], [0.0, 0.0, 4.0]]
    out.backward(lucid.tensor(np.arange(6.0).reshape(2, 3)))
    assert src.grad.data.tolist() == [[0.0, 0.0], [5.0, 5.0]]
    assert x.grad.data.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 0.0]]


ROWS_WITH_TIES = np.array([[1.0, 1.0, 0.0, 2.0], [1.0, 3.0, 0.0, 0.0], [-1.0, 3.0, 5.0, 2.0]])


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("inputs", ["random", "ties and zeros"])
def test_scatter_reduce_matches_pytorch(reduce, include_self, inputs):
    """Repeated indices (rows 0 and 2 of src go to one place), ties between input and src and
    within src, a lone zero and two zeros in one place."""
    x, src = (A, rng.standard_normal((3, 4))) if inputs == "random" else (ROWS_WITH_TIES[:2] * 1.0, ROWS_WITH_TIES)
    rows = np.array([[0, 1, 0, 1], [1, 1, 1, 0], [0, 0, 1, 1]])
    against_torch(lambda m, x, s: x.scatter_reduce(0, index(m, rows), s, reduce, include_self=include_self), x, src)


def test_scatter_reduce_integers():
    """An integer mean rounds down (-7 / 3 is -3), as in PyTorch."""
    x = np.array([1, 2])
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            expected = torch.tensor(x).scatter_reduce(0, torch.tensor([0, 0]), torch.tensor([-3, -5]), reduce,
                                                      include_self=include_self)
            out = lucid.scatter_reduce(lucid.tensor(x), 0, lucid.tensor([0, 0]), lucid.tensor([-3, -5]), reduce,
                                       include_self=include_self)
            assert out.dtype == np.int64 and out.data.tolist() == expected.tolist()


def test_scatter_reduce_nan_spreads_through_amax():
    nan = math.nan
    x, src = np.array([1.0, 2.0]), np.array([nan, 5.0, 0.5])
    against_torch(lambda m, x, s: x.scatter_reduce(0, index(m, [0, 0, 1]), s, "amax"), x, src)
    against_torch(lambda m, x, s: x.scatter_reduce(0, index(m, [0, 0, 1]), s, "amin", include_self=False), x, src)


def test_one_hot():
    classes = np.array([[0, 2], [1, 1]])
    for num_classes in (-1, 3, 5):
        expected = torch.nn.functional.one_hot(torch.tensor(classes), num_classes)
        out = F.one_hot(lucid.tensor(classes), num_classes)
        assert out.dtype == np.int64 and out.data.tolist() == expected.tolist()
    assert F.one_hot(lucid.tensor(np.zeros(0, np.int64)), 3).shape == (0, 3)
    assert F.one_hot(lucid.tensor(1), num_classes=2).data.tolist() == [0, 1]


def test_one_hot_errors_name_the_op_and_refuse_no_classes_for_no_values():
    """PyTorch refuses an empty tensor with num_classes=0 as with -1: there is no class to infer."""
    empty = lucid.tensor(np.zeros(0, np.int64))
    with pytest.raises(OpError, match=r"^nn\.functional\.one_hot: cannot infer the number of classes"):
        F.one_hot(empty, num_classes=0)
    with pytest.raises(RuntimeError, match="Can not infer total number of classes"):
        torch.nn.functional.one_hot(torch.zeros(0, dtype=torch.int64), num_classes=0)
    with pytest.raises(OpError, match=r"^nn\.functional\.one_hot: class values must be non-negative"):
        F.one_hot(lucid.tensor([0, -1]))


def test_cross_and_linalg_cross():
    u, v = rng.standard_normal((3, 2)), rng.standard_normal((1, 2))
    against_torch(lambda m, a, b: m.cross(a, b), u, rng.standard_normal((3, 2)))  # dim None: the first of size 3
    against_torch(lambda m, a, b: m.cross(a, b.expand(3, 2), dim=0), u, v)
    against_torch(lambda m, a, b: a.T.cross(b.T.expand(2, 3), dim=-1), u, v)
    against_torch(lambda m, a, b: m.linalg.cross(a.T, b.T), u, rng.standard_normal((3, 2)))
    against_torch(lambda m, a, b: m.linalg.cross(a.T, b.T, dim=1), u, v.repeat(3, 0))


@pytest.mark.parametrize("name", ["cross", "linalg.cross"])
def test_cross_refuses_factors_of_two_dtypes_as_pytorch_does(name):
    op = lucid.registry[name]
    with pytest.raises(OpError, match=rf"^{name}: expected its inputs to have the same dtype, got 'input' int64, "
                                      rf"'other' float64"):
        op(lucid.tensor(np.ones(3, np.int64)), lucid.tensor(np.ones(3)))


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, math.inf])
def test_cdist_matches_pytorch_also_at_zero_distances_and_ties(p):
    """Row 1 of x1 is row 0 of x2 (distance 0: PyTorch's gradient is 0 there, for p = 2 too), and
    x1 and x2 share some coordinates (zero differences) and have equal largest differences."""
    x1 = np.array([[0.5, -1.0, 2.0], [1.0, 2.0, -1.0], [3.0, 2.0, 0.0]])
    x2 = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]])
    against_torch(lambda m, a, b: m.cdist(a, b, p=p), x1, x2)
    batched1, batched2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((1, 2, 4))
    against_torch(lambda m, a, b: m.cdist(a, b, p), batched1, batched2)


def test_cdist_gradient_is_zero_at_zero_distance():
    x = lucid.tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    lucid.cdist(x, lucid.tensor(np.array([[1.0, 2.0]]))).sum().backward()
    assert x.grad.data.tolist() == [[0.0, 0.0]]


def test_addmm_with_beta_zero_ignores_the_input():
    nan_input = np.full((3, 2), math.nan)
    against_torch(lambda m, c, a: m.addmm(c, a, a.T[:, :2], beta=0), nan_input, A)
    against_torch(lambda m, c, a: m.baddbmm(c, a[None], a.T[None, :, :2], beta=0), nan_input, A)


EMPTY = {
    "scatter, empty index": lambda m, x, s: m.scatter(x, 1, index(m, np.zeros((0, 2))), s[:0, :2]),
    "scatter_add, empty index": lambda m, x, s: m.scatter_add(x, 0, index(m, np.zeros((2, 0))), s[:, :0]),
    "scatter_reduce, empty index": lambda m, x, s: x.scatter_reduce(0, index(m, np.zeros((0, 4))), s[:0], "amax"),
    "index_add, empty index": lambda m, x, s: m.index_add(x, 0, index(m, np.zeros(0)), s[:0]),
    "index_copy, empty index": lambda m, x, s: m.index_copy(x, 1, index(m, np.zeros(0)), 2 * x[:, :0]),
    "masked_select, nothing selected": lambda m, x, s: m.masked_select(x, m.tensor(np.zeros((3, 4), bool))),
    "repeat_interleave, no repeats": lambda m, x, s: m.repeat_interleave(x, index(m, [0, 0, 0]), dim=0),
    "cdist, no rows": lambda m, x, s: m.cdist(x[:0], s),
    "addmm, empty inner dim": lambda m, x, s: m.addmm(x[:, :2], x[:, :0], s.T[:0]),
    "diag of a diagonal beyond the matrix": lambda m, x, s: m.diag(x, 5),
    "kron with an empty factor": lambda m, x, s: m.kron(x[:0], s),
}


@pytest.mark.parametrize("name", EMPTY)
def test_empty_tensors(name):
    against_torch(EMPTY[name], A, B)


def test_an_empty_index_of_any_shape_writes_nothing():
    """PyTorch skips its shape checks for an empty index (and then fails in its backward)."""
    expected = torch.scatter(torch.tensor(A), 1, torch.zeros(0, dtype=torch.int64), torch.tensor(B))
    src = lucid.tensor(B, requires_grad=True)
    out = lucid.scatter(lucid.tensor(A), 1, lucid.tensor(np.zeros(0, np.int64)), src)
    np.testing.assert_array_equal(out.data, expected.numpy())
    out.sum().backward()
    assert not src.grad.data.any()


def test_src_larger_than_index_has_zero_gradient_outside():
    """PyTorch writes the leading part of a src larger than index, and then fails in its backward
    (a gradient of index's shape); Lucid's gradient is zero outside the part written."""
    expected = torch.scatter(torch.tensor(A), 0, torch.tensor(ROWS[:, :2]), torch.tensor(B))
    src = lucid.tensor(B, requires_grad=True)
    out = lucid.scatter(lucid.tensor(A), 0, lucid.tensor(ROWS[:, :2]), src)
    np.testing.assert_array_equal(out.data, expected.numpy())
    out.sum().backward()
    assert src.grad.data.tolist() == [[1, 1, 0, 0], [1, 1, 0, 0]]


SECOND_ORDER = {
    "scatter": lambda x, s: lucid.scatter(x * x, 0, lucid.tensor(ROWS[:, :2]), s[:, :2] * s[:, :2]),
    "scatter_add": lambda x, s: lucid.scatter_add(x * x, 0, lucid.tensor(TWICE), s * x[:2]),
    "scatter_reduce prod": lambda x, s: lucid.scatter_reduce(x, 0, lucid.tensor(TWICE), s * s, "prod"),
    "scatter_reduce mean": lambda x, s: lucid.scatter_reduce(x * x, 0, lucid.tensor(TWICE), s * s, "mean",
                                                             include_self=False),
    "scatter_reduce amax": lambda x, s: lucid.scatter_reduce(x * x, 0, lucid.tensor(TWICE), s, "amax"),
    "index_add": lambda x, s: lucid.index_add(x * x, 1, lucid.tensor([3, 3]), s.T[:3] * x[:, :2], alpha=2),
    "index_copy": lambda x, s: lucid.index_copy(x * x, 0, lucid.tensor([2, 0]), s * s),
    "masked_select": lambda x, s: lucid.masked_select(x * x, lucid.tensor(A > 0)),
    "repeat_interleave": lambda x, s: lucid.repeat_interleave(x * x, lucid.tensor([2, 0, 1]), dim=0),
    "meshgrid": lambda x, s: lucid.meshgrid(x[0] * x[0], s[0] * x[1], indexing="xy"),
    "diag": lambda x, s: lucid.diag(lucid.diag(x * x, 1) * s[0, 0], -1),
    "diag_embed": lambda x, s: lucid.diag_embed(x * s[0], 1, 0, 2),
    "cross": lambda x, s: lucid.cross(x[:, :2] * x[:, :2], s[:, :3].T * x[:, :1], dim=0),
    "kron": lambda x, s: lucid.kron(x * x, s),
    "cdist p=2": lambda x, s: lucid.cdist(x * x, s),
    "cdist p=3": lambda x, s: lucid.cdist(x, s * s, p=3),
    "addmm": lambda x, s: lucid.addmm(x[:, :2] * x[:, :2], x * x, s.T, beta=0.5, alpha=2),
    "baddbmm": lambda x, s: lucid.baddbmm(x[:1, :2], (x * x)[None], (s * s).T[None], beta=-1, alpha=2),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_first_and_second_derivatives(name):
    check_derivatives(SECOND_ORDER[name], [A, B])


X, S = lucid.tensor(A), lucid.tensor(B)
ERRORS = {
    "scatter index too large": (lambda: X.scatter(0, lucid.tensor([[3]]), S), r"scatter: index 3 is out of bounds "
                                                                              r"for dim 0 with size 3"),
    "scatter negative index": (lambda: X.scatter(1, lucid.tensor([[-1]]), S), r"scatter: index -1 is out of bounds"),
    "scatter index of other ndim": (lambda: X.scatter(0, lucid.tensor([0]), S),
                                    r"scatter: index of shape \(1,\) must have as many dims as the input"),
    "scatter index larger than src": (lambda: X.scatter(0, lucid.tensor(np.zeros((3, 1), np.int64)), S),
                                      r"scatter: index of shape \(3, 1\) must be no larger .* src's shape \(2, 4\)"),
    "scatter float index": (lambda: X.scatter(0, lucid.tensor([[0.0]]), S),
                            r"scatter: argument 'index' \(input 1\) has dtype float32, expected an integer tensor"),
    "scatter src and value": (lambda: lucid.scatter(X, 0, lucid.tensor([[0]]), S, value=1.0),
                              r"scatter: give either src .* or value"),
    "scatter src of other dtype": (lambda: X.scatter(0, lucid.tensor([[0]]), S.to(np.float32)),
                                   r"scatter: expected its inputs to have the same dtype, got 'input' float64, "
                                   r"'src' float32"),
    "scatter dim out of range": (lambda: X.scatter(2, lucid.tensor([[0]]), S), r"scatter: dim 2 is out of range"),
    "scatter_add index too large": (lambda: X.scatter_add(1, lucid.tensor([[4]]), S),
                                    r"scatter_add: index 4 is out of bounds for dim 1 with size 4"),
    "scatter_reduce unknown reduce": (lambda: X.scatter_reduce(0, lucid.tensor([[0]]), S, "max"),
                                      r"scatter_reduce: argument 'reduce' must be one of 'sum'"),
    "index_add source shape": (lambda: X.index_add(0, lucid.tensor([0]), S),
                               r"index_add: source of shape \(2, 4\) must have the input's shape \(3, 4\) with 1 "
                               r"\(the length of index\) in dim 0"),
    "index_add index out of range": (lambda: X.index_add(0, lucid.tensor([0, 3]), S),
                                     r"index_add: index 3 is out of bounds for dim 0 with size 3"),
    "index_add 2-d index": (lambda: X.index_add(0, lucid.tensor([[0, 1]]), S),
                            r"index_add: index must be 0-d or 1-d, got shape \(1, 2\)"),
    "index_add alpha by position": (lambda: X.index_add(0, lucid.tensor([0, 1]), S, 2.0),
                                    r"index_add: takes 4 positional arguments"),
    "index_copy negative index": (lambda: X.index_copy(0, lucid.tensor([0, -1]), S),
                                  r"index_copy: index -1 is out of bounds"),
    "masked_select mask shape": (lambda: X.masked_select(lucid.tensor(np.ones(3, bool))),
                                 r"masked_select: mask of shape \(3,\) does not broadcast with the input's shape"),
    "one_hot negative class": (lambda: F.one_hot(lucid.tensor([0, -1])), r"one_hot: class values must be non-neg"),
    "one_hot too few classes": (lambda: F.one_hot(lucid.tensor([0, 2]), 2), r"one_hot: class values must be smaller"),
    "one_hot empty without classes": (lambda: F.one_hot(lucid.tensor(np.zeros(0, np.int64))),
                                      r"one_hot: cannot infer the number of classes from an empty tensor"),
    "one_hot float": (lambda: F.one_hot(X), r"one_hot: argument 'tensor' \(input 0\) has dtype float64"),
    "repeat_interleave negative": (lambda: X.repeat_interleave(lucid.tensor([1, -1, 1]), dim=0),
                                   r"repeat_interleave: repeats can not be negative"),
    "repeat_interleave size": (lambda: X.repeat_interleave(lucid.tensor([1, 2]), dim=0),
                               r"repeat_interleave: repeats of shape \(2,\) must be .* of the input's size 3 along"),
    "repeat_interleave output_size": (lambda: X.repeat_interleave(2, dim=0, output_size=5),
                                      r"repeat_interleave: output_size 5 does not match the 6 values"),
    "meshgrid 2-d": (lambda: lucid.meshgrid(X, S), r"meshgrid: tensor 0 has shape \(3, 4\); each tensor must be 0-d"),
    "meshgrid dtypes": (lambda: lucid.meshgrid(X[0], S[0].to(np.float32)),
                        r"meshgrid: .* same dtype, got 'tensors\[0\]' float64, 'tensors\[1\]' float32"),
    "diag 3-d": (lambda: lucid.diag(X[None]), r"diag: supports 1-d or 2-d tensors, got shape \(1, 3, 4\)"),
    "diag_embed same dims": (lambda: X.diag_embed(0, 1, -2), r"diag_embed: dim1 \(1\) and dim2 \(-2\) name the same"),
    "cross without size 3": (lambda: lucid.cross(S, S), r"cross: no dim of size 3 in the input of shape \(2, 4\)"),
    "cross dim not of size 3": (lambda: lucid.cross(X, X, dim=1), r"cross: input and other must have size 3 in dim 1"),
    "linalg.cross ndims": (lambda: lucid.linalg.cross(X[0, :3], X[:, :3]),
                           r"linalg.cross: input and other must have the same number of dims"),
    "cdist columns": (lambda: lucid.cdist(X, S[:, :3]), r"cdist: x1 and x2 must have the same number of columns, "
                                                        r"got shapes \(3, 4\) and \(2, 3\)"),
    "cdist 1-d": (lambda: lucid.cdist(X[0], S), r"cdist: x1 and x2 need at least 2 dims"),
    "cdist negative p": (lambda: lucid.cdist(X, S, p=-1.0), r"cdist: p must be non-negative, got -1.0"),
    "addmm inner dims": (lambda: lucid.addmm(X, X, S),
                         r"mm: input and mat2 shapes cannot be multiplied \(3x4 and 2x4\)"),
    "addmm input shape": (lambda: lucid.addmm(X, X, S.mT), r"addmm: input of shape \(3, 4\) does not broadcast to the "
                                                            r"product's shape \(3, 2\)"),
    "baddbmm ranks": (lambda: lucid.baddbmm(X, X, S.mT), r"bmm: input and mat2 must be 3-D"),
}


@pytest.mark.parametrize("name", ERRORS)
def test_bad_calls_name_op_argument_and_shapes(name):
    call, message = ERRORS[name]
    with pytest.raises(LucidError, match=message):
        call()


def test_keyword_only_params_are_passed_by_name_to_pytorch():
    """A bare "*" in a signature makes what follows keyword-only, in Lucid's calls and in the
    oracle's calls of PyTorch (which refuses index_add's alpha by position)."""
    from gradcheck.oracle import call_torch, torch_counterpart

    op = lucid.registry["index_add"]
    tensors = [torch.zeros(3), torch.tensor([0, 0]), torch.ones(2)]
    out = call_torch(op, torch_counterpart(op), tensors, {"dim": 0, "alpha": 2.0})
    assert out.tolist() == [4.0, 0.0, 0.0]
    with pytest.raises(OpError, match="takes 4 positional arguments"):
        lucid.index_add(lucid.zeros(3), 0, lucid.tensor([0]), lucid.ones(1), 2.0)
    grid = call_torch(lucid.registry["meshgrid"], torch.meshgrid, [torch.zeros(2), torch.zeros(3)], {"indexing": "xy"})
    assert tuple(grid[0].shape) == (3, 2)
