"""Nothing silently wrong, nothing lost: in-place changes of saved values are caught (versions),
threads adding into one leaf lose no gradient, and complex results are refused rather than dropped."""
import sys
import threading

import numpy as np
import pytest

import lucid
from lucid import GraphError, OpError, nn


def leaf(values, dtype=np.float64):
    return lucid.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# --- versions: a value a node saved and that changed since is refused ------------------------------

def test_an_optimizer_step_between_forward_and_backward_is_refused():
    w = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    opt = lucid.optim.SGD([w], lr=1.0)
    loss = (w * w).sum()
    w.grad = lucid.ones(3)
    opt.step()
    with pytest.raises(GraphError, match=r"modified by an in-place operation: input 1 \('other'\) of 'mul', "
                                         r"shape \(3,\) float32, is at version 1; expected version 0"):
        loss.backward()


def test_an_output_the_vjp_reads_is_checked_too():
    x = leaf([0.5, 1.0])
    y = x.exp()  # exp's vjp reads its output
    with lucid.no_grad():
        y.zero_()
    with pytest.raises(GraphError, match=r"output 0 of 'exp', shape \(2,\) float64, is at version 1"):
        y.backward(lucid.ones(2, dtype=lucid.float64))


def test_a_detached_tensor_and_a_view_share_the_version_of_their_memory():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = (x * x).sum()
    x.detach()[0].fill_(5.0)  # a view of a detached tensor: the same memory as x
    assert x._version == 1
    with lucid.no_grad():
        x.reshape(4).zero_()
    assert x._version == 2 and x.detach()._version == 2
    with pytest.raises(GraphError, match="is at version 2; expected version 0"):
        y.backward()


def test_the_saved_version_is_the_one_at_recording_even_after_several_changes():
    x = lucid.tensor([1.0, 2.0], dtype=lucid.float64)
    for _ in range(3):
        x.fill_(1.0)
    w = leaf([1.0, 1.0])
    y = (w * x).sum()  # records x at version 3
    x.fill_(2.0)
    x.fill_(3.0)
    with pytest.raises(GraphError, match=r"input 1 \('other'\) of 'mul'.* is at version 5; expected version 3"):
        y.backward()


def test_changes_after_backward_or_outside_the_graph_are_fine():
    w = leaf([1.0, 2.0])
    other = lucid.tensor([0.0, 0.0])
    loss = (w * w).sum()
    other.fill_(1.0)  # not saved by any node: backward looks it up and finds nothing changed
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0])
    with lucid.no_grad():
        w.fill_(3.0)
    loss = (w * w).sum()  # recorded after the change
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, [8.0, 10.0])


def test_retain_graph_after_an_optimizer_step_is_refused():
    w = leaf([1.0, 2.0])
    opt = lucid.optim.Adam([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(GraphError, match="'mul'"):
        loss.backward()


def test_writing_into_data_is_the_unchecked_escape_hatch():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    w.data[...] = 10.0  # NumPy's own write: Lucid cannot see it, as PyTorch's .data
    assert w._version == 0
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, [20.0, 20.0])


def test_every_in_place_change_in_lucid_bumps_the_version():
    model = nn.Linear(2, 2)
    weight = model.weight
    x = lucid.ones(3, 2, requires_grad=True)  # x's gradient needs the weight
    changes = [
        lambda: lucid.optim.SGD(model.parameters(), lr=0.1, momentum=0.9).step(),
        lambda: model.load_state_dict({k: v.data.copy() for k, v in model.state_dict().items()}),
        lambda: nn.init.normal_(weight),
        lambda: nn.init.zeros_(weight),
        lambda: nn.init.kaiming_uniform_(weight),
    ]
    for change in changes:
        before = weight._version
        loss = model(x).sum()
        loss.backward(retain_graph=True)
        change()
        assert weight._version == before + 1
        with pytest.raises(GraphError, match="modified by an in-place operation"):
            loss.backward()


def test_a_changed_value_the_gradient_does_not_need_is_no_error_as_in_pytorch():
    """The weight is needed only for the input's gradient: with an input that does not require grad,
    a step between forward and backward changes nothing of the gradients, in PyTorch as in Lucid."""
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (lucid, torch):
        model = (nn if lib is lucid else torch.nn).Linear(3, 2).double()
        with lib.no_grad():
            model.weight.copy_(lib.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]], dtype=lib.float64))
            model.bias.copy_(lib.tensor([0.5, -1.0], dtype=lib.float64))
        x = lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=lib.float64)
        loss = (model(x) ** 2).sum()
        with lib.no_grad():
            model.weight.mul_(10)
        loss.backward()
        grads.append(np.array(model.weight.grad.numpy()))
    np.testing.assert_allclose(*grads, rtol=1e-12)


@pytest.mark.parametrize("owner", ["optimizer", "module"])
def test_zero_grad_without_none_zeroes_in_place_and_bumps(owner):
    model = nn.Linear(2, 1)
    opt = lucid.optim.SGD(model.parameters(), lr=0.1)
    model(lucid.ones(1, 2)).sum().backward()
    grad = model.weight.grad
    (opt if owner == "optimizer" else model).zero_grad(set_to_none=False)
    assert model.weight.grad is grad and grad._version == 1
    np.testing.assert_array_equal(grad.data, 0.0)


def test_zero_grad_without_none_leaves_a_create_graph_gradient_out_of_its_graph():
    w = leaf([1.0, 2.0])
    opt = lucid.optim.SGD([w], lr=0.1)
    (w ** 3).sum().backward(create_graph=True)
    assert w.grad.grad_fn is not None
    opt.zero_grad(set_to_none=False)
    assert w.grad.grad_fn is None and not w.grad.requires_grad
    np.testing.assert_array_equal(w.grad.data, 0.0)


# --- the in-place building blocks ------------------------------------------------------------------

def test_zero_fill_copy_change_the_values_in_place():
    x = lucid.tensor([[1.0, 2.0], [3.0, 4.0]])
    memory = x.data
    assert x.fill_(lucid.tensor(7.0)) is x and x.data is memory
    np.testing.assert_array_equal(x.data, 7.0)
    x.copy_(lucid.tensor([1.5, 2.5], dtype=lucid.float64))  # broadcast, and cast to x's float32
    np.testing.assert_array_equal(x.data, [[1.5, 2.5], [1.5, 2.5]])
    assert x.dtype == np.float32
    x.zero_()
    np.testing.assert_array_equal(x.data, 0.0)
    assert x._version == 3


def test_in_place_on_a_leaf_that_requires_grad_is_refused_outside_no_grad():
    w = leaf([1.0, 2.0])
    with pytest.raises(GraphError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        w.zero_()
    assert w._version == 0 and w.data.tolist() == [1.0, 2.0]
    with lucid.no_grad():
        w.zero_()
    assert w._version == 1


def test_in_place_changes_in_a_graph_are_recorded():
    w = leaf([1.0, 2.0])
    y = w * 2.0
    y.fill_(0.0)  # its old history is cut: the gradient to w is 0
    copied = lucid.zeros(2, dtype=lucid.float64).copy_(w * w)
    filled = lucid.zeros(2, dtype=lucid.float64).fill_(w[0])  # the path to w is kept
    assert y.grad_fn is not None and copied.grad_fn is not None and filled.grad_fn is not None
    (y + copied + filled).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0 + 2.0, 4.0])


def test_in_place_errors_name_the_problem():
    with pytest.raises(OpError, match=r"copy_: a source of shape \(3,\) cannot be broadcast to .* \(2,\)"):
        lucid.zeros(2).copy_(np.ones(3))
    with pytest.raises(OpError, match="fill_: this tensor's memory is read-only"):
        lucid.Tensor(np.broadcast_to(np.zeros(3), (2, 3))).fill_(1.0)
    with pytest.raises(OpError, match=r"fill_: the value must be a number or a one-element tensor, got shape \(2,\)"):
        lucid.zeros(2).fill_(lucid.ones(2))


def test_versions_agree_with_pytorch():
    torch = pytest.importorskip("torch")
    w, tw = leaf([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    outcomes = []
    for x, lib in ((w, lucid), (tw, torch)):
        y = x.exp()
        with lib.no_grad():
            y.detach().zero_()
        z = (x * x).sum()
        with lib.no_grad():
            x.copy_(x.detach() * 2)
        outcomes.append((x._version, y._version))
        for root in (y.sum(), z):
            with pytest.raises(RuntimeError, match="modified by an inplace operation|modified by an in-place"):
                root.backward()
    assert outcomes[0] == outcomes[1] == (1, 1)


# --- threads ---------------------------------------------------------------------------------------

@pytest.fixture
def frequent_thread_switches():
    """Switch threads every microsecond, so that a race has many chances to show."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_threads_adding_into_one_shared_leaf_lose_no_gradient(frequent_thread_switches):
    x = lucid.tensor(np.arange(12.0).reshape(3, 4) % 5)  # small integers: every sum is exact in float64
    per_call = np.ones((3, 1)) @ np.ones((1, 5))  # d sum(x @ W) / dW = x^T @ ones
    expected_one = x.data.T @ per_call
    threads, iterations = 4, 200
    for trial in range(5):
        W = lucid.tensor(np.zeros((4, 5)), requires_grad=True)

        def work():
            for _ in range(iterations):
                (x @ W).sum().backward()

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        np.testing.assert_array_equal(W.grad.data, threads * iterations * expected_one, err_msg=f"trial {trial}")


def test_separate_graphs_in_threads_match_a_serial_run_bit_for_bit(frequent_thread_switches):
    def train(seed):
        rng = np.random.default_rng(seed)
        w1, w2 = (lucid.tensor(rng.standard_normal(s), requires_grad=True) for s in ((6, 8), (8, 3)))
        x = lucid.tensor(rng.standard_normal((5, 6)))
        opt = lucid.optim.Adam([w1, w2], lr=0.01)
        for _ in range(20):
            opt.zero_grad()
            loss = ((x @ w1).tanh() @ w2).exp().mean()
            loss.backward()
            opt.step()
        return w1.data.copy(), w2.data.copy(), w1.grad.data.copy()

    serial = [train(seed) for seed in range(4)]
    threaded = [None] * 4

    def run(seed):
        threaded[seed] = train(seed)

    workers = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for ours, theirs in zip(threaded, serial):
        for a, b in zip(ours, theirs):
            assert a.tobytes() == b.tobytes()


# --- complex results are refused, not dropped ------------------------------------------------------

def test_a_complex_result_of_an_input_that_requires_grad_is_refused():
    r = leaf([1.0, -2.0])
    c = lucid.tensor(np.array([1 + 1j, 2 - 1j]))
    with pytest.raises(OpError, match=r"mul: the result is complex and an input requires grad, but Lucid does not "
                                      r"differentiate complex values \(inputs: \(2,\) float64, \(2,\) complex128\)"):
        r.sum() + (r * c).abs().sum()


def test_complex_values_work_outside_the_graph():
    r = leaf([3.0, -4.0])
    c = lucid.tensor(np.array([1j, 1j]))
    np.testing.assert_array_equal((r.detach() * c).abs().data, [3.0, 4.0])
    with lucid.no_grad():
        assert (r * c).dtype == np.complex128


def test_a_complex_tensor_cannot_require_grad():
    with pytest.raises(GraphError, match="got dtype complex64 .Lucid does not differentiate complex values"):
        lucid.tensor(np.ones(2, np.complex64), requires_grad=True)
