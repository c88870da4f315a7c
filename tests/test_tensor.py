"""The engine: graph building, backward, accumulation, broadcasting, higher order, grad mode."""
import dataclasses
import threading

import numpy as np
import pytest

import lucid
from lucid import GraphError, Op, OpError


def leaf(values, dtype=np.float64):
    return lucid.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def test_issue_example():
    x = lucid.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x * x + x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.data, 2 * x.data + 1)
    assert x.grad.dtype == np.float32
    assert repr(x.grad) == "tensor([[3., 5.],\n        [7., 9.]])"


def test_paths_accumulate_and_no_gradient_is_shared():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = a + b
    s = (c + a).sum()
    s.backward()
    np.testing.assert_array_equal(b.grad.data, [1, 1])
    np.testing.assert_array_equal(a.grad.data, [2, 2])
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data[0] = 99  # writing one gradient must not change another
    assert b.grad.data[0] == 1


def test_shared_subexpression_gets_the_sum_of_both_branches():
    x = leaf(3.0)
    shared = x * x  # used by both branches of a diamond
    y = (shared * 2.0) * (shared + 1.0)  # y = 2 s (s + 1): dy/ds = 4 s + 2, ds/dx = 2 x
    y.backward()
    assert x.grad.item() == pytest.approx((4 * 9.0 + 2) * 2 * 3.0)


def test_each_node_is_visited_once():
    x = leaf(2.0)
    t = x
    for _ in range(20):  # each level doubles the number of paths: 2**20 of them
        t = t + t
    t.backward()
    assert x.grad.item() == 2.0 ** 20


def test_seed_gradient_is_not_aliased():
    x = leaf([1.0, 2.0])
    seed = lucid.tensor(np.array([1.0, 1.0]))
    (x + 0.0).backward(seed)
    assert not np.shares_memory(x.grad.data, seed.data)


def test_repeated_backward_accumulates():
    x = leaf([1.0, -2.0])
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 3 * 2 * x.data)


def unbroadcast(g, shape):
    """The reference: sum g over the axes along which an input of `shape` was broadcast."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(shape)


@pytest.mark.parametrize("shape_a, shape_b", [((3, 1), (1, 4)), ((2, 3), ()), ((), (5,)), ((4, 1, 3), (2, 1)),
                                              ((1,), (2, 2))])
def test_broadcast_gradients_are_summed_to_each_input_shape(shape_a, shape_b):
    rng = np.random.default_rng(0)
    a, b = leaf(rng.standard_normal(shape_a)), leaf(rng.standard_normal(shape_b))
    (a * b).sum().backward()
    full = np.broadcast_shapes(shape_a, shape_b)
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    np.testing.assert_allclose(a.grad.data, unbroadcast(np.broadcast_to(b.data, full), shape_a))
    np.testing.assert_allclose(b.grad.data, unbroadcast(np.broadcast_to(a.data, full), shape_b))


def test_broadcast_three_inputs():
    a, b, c = leaf(np.ones((2, 1, 1))), leaf(np.ones((3, 1))), leaf(np.ones(4))
    ((a + b) * c).sum().backward()
    assert a.grad.shape == (2, 1, 1) and (a.grad.data == 12).all()
    assert b.grad.shape == (3, 1) and (b.grad.data == 8).all()
    assert c.grad.shape == (4,) and (c.grad.data == 12).all()


def test_python_scalars_keep_float32():
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    y = (2.5 * x + 1) / 3 - 1.0
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, [2.5 / 3] * 2, rtol=1e-6)


def test_python_numbers_take_the_first_floating_tensors_dtype():
    mask, x = lucid.tensor([True, False]), lucid.tensor([1.0, 2.0])
    assert lucid.where(mask, x, 0.0).dtype == np.float32  # not the bool condition's float64
    assert (lucid.tensor([1, 2], dtype=lucid.int32) + 1).dtype == np.int32


def test_million_op_chain_has_no_recursion_error():
    x = leaf(1.0)
    t = x
    for _ in range(1_000_000):
        t = -t
    t.backward()
    assert x.grad.item() == 1.0  # an even number of negations


@pytest.mark.parametrize("f, d2", [(lambda x: x ** 3, lambda x: 6 * x), (lambda x: x.exp(), np.exp),
                                   (lambda x: (x * x).log(), lambda x: -2 / x ** 2)])
def test_second_derivatives(f, d2):
    x = leaf([0.5, 1.5, 2.0])
    (g,) = lucid.grad(f(x).sum(), x, create_graph=True)
    (h,) = lucid.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, d2(x.data), rtol=1e-12)
    assert x.grad is None


def test_second_derivative_of_matmul():
    rng = np.random.default_rng(1)
    a, b = leaf(rng.standard_normal((3, 4))), leaf(rng.standard_normal((4, 2)))
    y = ((a @ b) ** 2).sum()
    (ga,) = lucid.grad(y, a, create_graph=True)  # ga = 2 (a b) b^T
    (gb,) = lucid.grad(ga.sum(), b)  # d/db sum(2 a b b^T)
    # sum(ga) = 2 u^T b b^T v with u = a^T 1 and v = 1, whose derivative in b is 2 (u v^T b + v u^T b)
    u = a.data.T @ np.ones(3)
    v = np.ones(4)
    expected = 2 * (np.outer(u, v @ b.data) + np.outer(v, u @ b.data))
    np.testing.assert_allclose(gb.data, expected, rtol=1e-10)


def test_grad_of_non_leaf_and_allow_unused():
    x, unused = leaf([1.0, 2.0]), leaf([5.0])
    h = x * 3.0
    y = (h * h).sum()
    gh, gx = lucid.grad(y, [h, x], retain_graph=True)
    np.testing.assert_allclose(gh.data, 2 * h.data)
    np.testing.assert_allclose(gx.data, 18 * x.data)
    with pytest.raises(GraphError, match="not used"):
        lucid.grad(y, [x, unused], retain_graph=True)
    assert lucid.grad(y, [unused], allow_unused=True) == (None,)


def test_retain_grad_on_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)


def test_graph_is_freed_and_second_backward_is_an_error():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(GraphError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 4 * x.data)


def test_freed_graph_releases_saved_tensors():
    import weakref
    x = leaf(np.ones(3))
    h = x * 2.0
    y = (h * h).sum()
    ref = weakref.ref(h)
    del h
    assert ref() is not None  # kept alive by y's graph
    y.backward()
    assert ref() is None


def test_non_scalar_backward_needs_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(GraphError, match="non-scalar"):
        (x * 2.0).backward()
    (x * 2.0).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.data, [2, 20])


def test_backward_on_tensor_without_grad_is_an_error():
    with pytest.raises(GraphError, match="does not require grad"):
        lucid.tensor([1.0]).sum().backward()


def test_integer_and_bool_tensors_never_require_grad():
    with pytest.raises(GraphError, match="floating-point"):
        lucid.tensor([1, 2], requires_grad=True)
    with pytest.raises(GraphError, match="floating-point"):
        lucid.tensor([True]).requires_grad_()


def test_integer_input_where_float_is_required_names_op_and_dtype():
    with pytest.raises(OpError, match=r"exp: argument 'input' \(input 0\) has dtype int64"):
        lucid.exp(lucid.tensor([1, 2]))


def test_incompatible_shapes_name_the_op_and_both_shapes():
    with pytest.raises(OpError, match=r"add: .*\(2, 3\) float32, \(4,\) float32"):
        lucid.zeros(2, 3) + lucid.zeros(4)


def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with lucid.no_grad():
        assert not (x * 2.0).requires_grad
    assert (x * 2.0).requires_grad

    @lucid.no_grad()
    def f(t):
        return t * 2.0

    assert not f(x).requires_grad and lucid.is_grad_enabled()


def test_grad_mode_is_thread_local():
    x = leaf([1.0])
    seen = {}

    def worker():
        seen["requires_grad"] = (x * 2.0).requires_grad

    with lucid.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen["requires_grad"] is True


def test_tensor_creation_dtypes():
    assert lucid.tensor(1.5).dtype == np.float32
    assert lucid.tensor([1, 2]).dtype == np.int64
    assert lucid.tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert lucid.tensor([1.0], dtype=lucid.float64).dtype == np.float64
    assert lucid.arange(3).dtype == np.int64 and lucid.arange(0.0, 1.0, 0.5).dtype == np.float32
    lucid.manual_seed(0)
    a = lucid.randn(2, 3)
    lucid.manual_seed(0)
    np.testing.assert_array_equal(a.data, lucid.randn(2, 3).data)
    assert lucid.eye(3).shape == (3, 3) and lucid.full((2,), 7.0).data.tolist() == [7.0, 7.0]
    assert lucid.linspace(0, 1, 5).data[-1] == 1.0 and lucid.ones_like(a).shape == (2, 3)


def test_tensor_facts_and_repr():
    x = lucid.tensor([[1.0, 2.0]], requires_grad=True)
    assert repr(x) == "tensor([[1., 2.]], requires_grad=True)"
    assert x.shape == (1, 2) and x.ndim == 2 and x.numel() == 2 and len(x) == 1 and x.is_leaf
    assert x.T.shape == (2, 1)
    y = x * 2.0
    assert repr(y) == "tensor([[2., 4.]], grad_fn=<mul>)" and not y.is_leaf
    assert repr(lucid.tensor([1.0], dtype=lucid.float64)) == "tensor([1.], dtype=lucid.float64)"
    with pytest.raises(GraphError, match="detach"):
        x.numpy()
    assert x.detach().numpy() is x.data and np.asarray(x) is x.data
    assert lucid.tensor(3.0).item() == 3.0


def test_indexing_and_matmul_through_operators():
    x = leaf(np.arange(6.0).reshape(2, 3))
    x[:, ::-1][0].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1, 1, 1], [0, 0, 0]])
    v = leaf([1.0, 2.0, 3.0])
    (x @ v).sum().backward()
    np.testing.assert_allclose(v.grad.data, x.data.sum(0))


# --- residuals: arrays a forward hands to its vjp ---------------------------------------------

def _softplus_with_residual(vjp=None):
    """softplus, whose forward also returns sigmoid(x): its slope, and the residual its vjp reuses."""
    def rule(g, out, x):
        (g, g_slope), (_, slope) = g, out
        gx = g * slope
        return (gx if g_slope is None else gx + g_slope * slope * (1 - slope),)

    forward = lambda x: (np.logaddexp(0, x), 1 / (1 + np.exp(-x)))  # noqa: E731
    return Op("test_softplus_residual", forward, vjp or rule, residuals=1)


def test_an_op_with_residuals_returns_its_result_alone_and_its_vjp_reuses_them():
    op = _softplus_with_residual()
    x = lucid.tensor([-1.0, 0.5, 2.0], dtype=np.float64, requires_grad=True)
    y = op(x)
    assert isinstance(y, lucid.Tensor) and y.shape == (3,)
    np.testing.assert_allclose(y.data, np.logaddexp(0, x.data))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 1 / (1 + np.exp(-x.data)))


def test_second_order_goes_through_the_residual():
    """d²/dx² softplus = s (1 - s): it reaches x only through the residual s."""
    x = lucid.tensor([-1.0, 0.5, 2.0], dtype=np.float64, requires_grad=True)
    (g,) = lucid.grad(_softplus_with_residual()(x).sum(), x, create_graph=True)
    (gg,) = lucid.grad(g.sum(), x)
    s = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(gg.data, s * (1 - s))


def test_gradcheck_verifies_the_residual_branch_of_a_vjp():
    import gradcheck
    assert gradcheck.check_op(_softplus_with_residual(), max_examples=20, order=2).passed
    ignores = lambda g, out, x: (g[0] * out[1],)  # noqa: E731  (drops the residual's gradient)
    assert not gradcheck.check_op(_softplus_with_residual(ignores), max_examples=20, order=2).passed


def test_a_forward_that_forgets_its_residuals_is_named():
    forgets = Op("test_forgets_residual", np.exp, lambda g, out, x: (g[0] * out[1],), residuals=1)
    with pytest.raises(OpError, match=r"test_forgets_residual: its forward must return \(result, 1 residual arrays\), "
                                      r"got a ndarray"):
        forgets(lucid.tensor([1.0, 2.0]))
    with pytest.raises(OpError, match="test_forgets_residual: .* got 3 values"):
        dataclasses.replace(forgets, forward=lambda x: (x, x, x))(lucid.tensor([1.0]))


def test_a_multi_output_forward_that_returns_one_array_is_named():
    halves = Op("test_halves", lambda x: x / 2, lambda g, out, x: (g[0] + g[1],), outputs=2)
    with pytest.raises(OpError, match="test_halves: its forward must return a tuple of arrays, got a ndarray"):
        halves(lucid.tensor([1.0, 2.0]))


def test_residuals_are_for_single_output_ops():
    with pytest.raises(OpError, match="residuals are for single-output ops"):
        Op("test_bad_residuals", lambda x: (x, x, x), lambda g, out, x: (None,), outputs=2, residuals=1)
