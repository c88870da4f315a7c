"""Every bad argument outside the op registry gets a clear LucidError naming it, never a raw NumPy or
Python exception and never silent acceptance. Where PyTorch is the reference, its behaviour is noted."""
import math

import numpy as np
import pytest

import lucid
from lucid import GraphError, OpError


# creation --------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: lucid.zeros(-1), r"zeros\(\): size must be a non-negative int, got -1 in \(-1,\)"),
    (lambda: lucid.zeros(2.5), r"zeros\(\): size must be a non-negative int, got 2.5 \(float\)"),
    (lambda: lucid.ones(2, True), r"ones\(\): size must be a non-negative int, got True \(bool\) in \(2, True\)"),
    (lambda: lucid.rand((3, -2)), r"rand\(\): size must be a non-negative int, got -2 in \(3, -2\)"),
    (lambda: lucid.randn(1.0), r"randn\(\): size must be a non-negative int, got 1.0"),
    (lambda: lucid.full((2, -1), 1.0), r"full\(\): size must be a non-negative int, got -1"),
    (lambda: lucid.linspace(0, 1, -1), r"linspace\(\): steps must be a non-negative int, got -1"),
    (lambda: lucid.eye(-1), r"eye\(\): n must be a non-negative int, got -1"),
    (lambda: lucid.zeros(3, dtype="foo"), r"zeros\(\): 'foo' is not a dtype"),
    (lambda: lucid.arange(0, 10, 0), r"arange\(\): step must be nonzero"),
    (lambda: lucid.arange(10, 0, 1), r"arange\(\): the bounds 10 -> 0 are inconsistent with the sign of step 1"),
    (lambda: lucid.arange(0, math.inf), r"arange\(\): unsupported range 0 -> inf"),
])
def test_creation_refuses_bad_sizes(make, message):
    with pytest.raises(OpError, match=message):
        make()


def test_a_size_too_large_says_how_many_bytes_were_asked_for():
    with pytest.raises(OpError, match=r"zeros\(\): can't allocate 4000000000000 bytes \(3725.3 GiB\) for a tensor "
                                      r"of shape \(1000000000000,\) and dtype float32"):
        lucid.zeros((10**12,))
    with pytest.raises(OpError, match=r"randn\(\): can't allocate 8000000000000 bytes .* dtype float64"):
        lucid.randn(10**6, 10**6, dtype=np.float64)


def test_good_sizes_still_work():
    assert lucid.zeros(2, 3).shape == lucid.zeros((2, 3)).shape == lucid.zeros(np.int64(2), 3).shape == (2, 3)
    assert lucid.zeros(0).shape == (0,) and lucid.zeros().shape == ()
    assert lucid.arange(5, 0, -2).tolist() == [5, 3, 1] and lucid.arange(0, 0).shape == (0,)


@pytest.mark.parametrize("data, message", [
    ([[1, 2], [3]], r"expected sequence of length 2 at dim 1 \(got 1\)"),
    ([[[1], [2]], [[3], [4, 5]]], r"expected sequence of length 1 at dim 2 \(got 2\)"),
    ([1, [2]], r"at dim 1 some entries are sequences and some are not"),
])
def test_a_ragged_nested_list_is_refused_in_pytorchs_words(data, message):
    with pytest.raises(OpError, match=r"tensor\(\): a ragged nested sequence: " + message):
        lucid.tensor(data)


def test_to_a_device_or_a_non_numeric_dtype_is_refused():
    x = lucid.ones(2)
    for bad in ("foo", "cuda", str, object):
        with pytest.raises(OpError, match=rf"to\(\): expected a numeric dtype .*got {bad!r}"):
            x.to(bad)
    assert x.to("float64").dtype == np.float64


# gradients -------------------------------------------------------------------------------------

def test_backward_refuses_a_gradient_that_is_not_numbers():
    x = lucid.ones(3, requires_grad=True)
    with pytest.raises(GraphError, match=r"the gradient for output 0 must be a Tensor, an array or a number, "
                                         r"got str"):
        (x * 2).backward(gradient="a")
    with pytest.raises(GraphError, match="got list of dtype <U21"):
        (x * 2).backward(gradient=[1, "a", 2])
    with pytest.raises(OpError, match="the gradient for output 0: a ragged nested sequence"):
        (x * 2).backward(gradient=[[1, 2], [3]])
    (x * 2).backward(gradient=[1, 2, 3])
    assert x.grad.tolist() == [2, 4, 6] and x.grad.dtype == np.float32


@pytest.mark.parametrize("value, error, message", [
    ("hello", GraphError, "assigned grad expected to be a Tensor or None but got grad of type str"),
    (np.ones(3, dtype=np.float32), GraphError, "but got grad of type ndarray"),
    (lucid.ones(2), GraphError, r"a gradient of shape \(2,\) to a tensor of shape \(3,\)"),
    (lucid.ones(3, dtype=np.float64), GraphError, "a gradient with dtype float64 to a tensor with dtype float32"),
])
def test_grad_assignment_is_checked_as_pytorch_does(value, error, message):
    x = lucid.ones(3, requires_grad=True)
    with pytest.raises(error, match=message):
        x.grad = value
    assert x.grad is None  # nothing was assigned
    with pytest.raises(GraphError, match="its own grad"):
        x.grad = x


def test_grad_assignment_that_fits_is_kept():
    x = lucid.ones(3, requires_grad=True)
    g = lucid.full((3,), 2.0)
    x.grad = g
    assert x.grad is g
    x.grad = None
    assert x.grad is None
    (x * 3).sum().backward()  # the engine's own writes still land
    assert x.grad.tolist() == [3, 3, 3]
