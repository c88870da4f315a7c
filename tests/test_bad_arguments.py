"""Every bad argument outside the op registry gets a clear LucidError naming it, never a raw NumPy or
Python exception and never silent acceptance. Where PyTorch is the reference, its behaviour is noted."""
import math
import warnings

import numpy as np
import pytest

import lucid
from lucid import GraphError, OpError, nn, optim
from lucid.optim import lr_scheduler
from lucid.utils.data import DataLoader, Dataset, default_collate


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


# optimizers ------------------------------------------------------------------------------------

def param():
    return nn.Parameter(np.ones(2))


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD([{"params": [p], "lr": -1}], lr=0.1), r"SGD: invalid lr -1 in parameter group 0"),
    (lambda p: optim.SGD([{"params": [p], "momentum": -0.5}], lr=0.1), r"SGD: invalid momentum -0.5 in parameter "
                                                                         r"group 0"),
    (lambda p: optim.SGD([p], lr=math.nan), r"SGD: invalid lr nan in the defaults"),
    (lambda p: optim.SGD([p], lr="0.1"), r"SGD: invalid lr '0.1' in the defaults"),
    (lambda p: optim.Adam([{"params": [p], "betas": (1.5, 0.9)}]),
     r"Adam: invalid betas \(1.5, 0.9\) in parameter group 0; it must be a pair of numbers in \[0, 1\)"),
    (lambda p: optim.Adam([p], betas=(0.9,)), r"invalid betas \(0.9,\)"),
    (lambda p: optim.AdamW([{"params": [p], "eps": -1e-8}]), r"AdamW: invalid eps -1e-08 in parameter group 0"),
    (lambda p: optim.RMSprop([{"params": [p], "alpha": -0.9}]), r"RMSprop: invalid alpha -0.9 in parameter group 0"),
    (lambda p: optim.RMSprop([p], weight_decay=math.inf), r"RMSprop: invalid weight_decay inf in the defaults"),
])
def test_hyperparameters_are_checked_in_every_group(make, message):
    """PyTorch checks only the constructor's arguments: its SGD([{"params": p, "lr": -1}]) is accepted."""
    with pytest.raises(OpError, match=message):
        make(param())


def test_a_group_added_later_is_checked_too():
    opt = optim.SGD([param()], lr=0.1)
    with pytest.raises(OpError, match=r"SGD: invalid lr -0.1 in parameter group 1"):
        opt.add_param_group({"params": [param()], "lr": -0.1})
    assert len(opt.param_groups) == 1


def test_load_state_dict_checks_the_hyperparameters_it_loads():
    """PyTorch loads an lr of -1 without a word."""
    opt = optim.Adam([param()], lr=0.1)
    saved = opt.state_dict()
    saved["param_groups"][0]["betas"] = (0.9, 1.0)
    with pytest.raises(OpError, match=r"Adam.load_state_dict: invalid betas \(0.9, 1.0\) in parameter group 0 of "
                                      r"the state dict"):
        opt.load_state_dict(saved)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)


@pytest.mark.parametrize("state_dict, message", [
    ({"state": {}}, r"the state dict has no 'param_groups' key \(its keys: \['state'\]\)"),
    ({"param_groups": []}, r"the state dict has no 'state' key"),
    ([1, 2], r"expected a dict with 'state' and 'param_groups', got list"),
    ({"state": {}, "param_groups": 3}, r"'param_groups' must be a list of dicts, got int"),
    ({"state": {}, "param_groups": [{"lr": 0.1}]}, r"parameter group 0 of the state dict has no 'params' list"),
    ({"state": [], "param_groups": [{"params": [0], "lr": 0.1}]}, r"'state' must be a dict"),
    ({"state": {"x": {}}, "param_groups": [{"params": [0], "lr": 0.1}]}, r"'state' has the key 'x', which is not a "
                                                                           r"parameter number"),
    ({"state": {5: {}}, "param_groups": [{"params": [0], "lr": 0.1}]}, r"'state' has an entry for parameter 5, which "
                                                                         r"no parameter group lists"),
    ({"state": {0: 1.0}, "param_groups": [{"params": [0], "lr": 0.1}]}, r"the state of parameter 0 must be a dict"),
])
def test_optimizer_load_state_dict_names_the_missing_or_malformed_key(state_dict, message):
    opt = optim.SGD([param()], lr=0.1, momentum=0.9)
    with pytest.raises(OpError, match=r"SGD.load_state_dict: " + message):
        opt.load_state_dict(state_dict)


def test_a_failed_load_leaves_the_optimizer_as_it_was():
    p = param()
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = lucid.tensor(np.ones(2))
    opt.step()
    before = opt.state[p]["momentum_buffer"].copy()
    bad = {"state": {0: {"momentum_buffer": np.zeros(2)}, 1: {}}, "param_groups": [{"params": [0], "lr": 0.5}]}
    with pytest.raises(OpError, match="parameter 1, which no parameter group lists"):
        opt.load_state_dict(bad)
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], before)
    assert opt.param_groups[0]["lr"] == 0.1


def test_a_schedule_may_not_make_the_lr_negative():
    """PyTorch's StepLR(gamma=-1) and LambdaLR(lambda e: -1) set negative lrs silently."""
    opt = optim.SGD([param()], lr=0.1)
    with pytest.raises(OpError, match=r"StepLR: gamma must be a finite number >= 0, got -1"):
        lr_scheduler.StepLR(opt, step_size=1, gamma=-1)
    with pytest.raises(OpError, match=r"LambdaLR: epoch 0 gives parameter group 0 the learning rate -0.1; it must "
                                      r"be a finite number >= 0"):
        lr_scheduler.LambdaLR(optim.SGD([param()], lr=0.1), lambda epoch: -1)
    scheduler = lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 if epoch < 2 else math.nan)
    scheduler.step()
    with pytest.raises(OpError, match=r"LambdaLR: epoch 2 gives parameter group 0 the learning rate nan"):
        scheduler.step()
    assert scheduler.last_epoch == 1 and opt.param_groups[0]["lr"] == 0.1  # nothing changed


# modules ---------------------------------------------------------------------------------------

def test_module_load_state_dict_refuses_strings_and_non_numbers():
    layer = nn.Linear(2, 2)
    with pytest.raises(OpError, match=r"while copying 'weight': expected a Tensor or an array from the state dict, "
                                      r"got a str"):
        layer.load_state_dict({"weight": "abc", "bias": np.zeros(2)})
    with pytest.raises(OpError, match=r"while copying 'bias': expected numbers, got an array of dtype <U1"):
        layer.load_state_dict({"weight": np.zeros((2, 2)), "bias": np.array(["a", "b"])})
    with pytest.raises(OpError, match=r"size mismatch for 'weight': copying a value of shape \(3, 2\)"):
        layer.load_state_dict({"weight": np.zeros((3, 2)), "bias": np.zeros(2)})


def test_linear_sizes():
    """PyTorch accepts Linear(0, n): its output is the bias (zero-initialised, since no fan-in bounds it).
    Lucid follows; a negative or non-integer size is an error naming the argument."""
    layer = nn.Linear(0, 2)
    assert layer.weight.shape == (2, 0) and layer.bias.tolist() == [0.0, 0.0]
    assert layer(lucid.ones(3, 0)).tolist() == [[0.0, 0.0]] * 3
    with pytest.raises(OpError, match=r"Linear: in_features must be a non-negative int, got -1"):
        nn.Linear(-1, 2)
    with pytest.raises(OpError, match=r"Linear: out_features must be a non-negative int, got 2.5 \(float\)"):
        nn.Linear(2, 2.5)


@pytest.mark.parametrize("make, message", [
    (lambda: nn.Embedding(-1, 2), r"Embedding: each size must be a non-negative int, got -1 in \(-1, 2\)"),
    (lambda: nn.Embedding(2, 2.5), r"Embedding: each size must be a non-negative int, got 2.5 \(float\)"),
    (lambda: nn.Conv2d(-1, 2, 3), r"Conv2d: each size must be a non-negative int, got -1"),
    (lambda: nn.BatchNorm1d(2.5), r"BatchNorm1d: each size must be a non-negative int, got 2.5"),
    (lambda: nn.LayerNorm(-1), r"LayerNorm: each size must be a non-negative int, got -1"),
    (lambda: nn.Dropout("a"), r"Dropout: probability p must be in \[0, 1\], got 'a'"),
])
def test_every_layer_checks_the_sizes_of_its_weights(make, message):
    with pytest.raises(OpError, match=message):
        make()


def test_manual_seed_takes_what_pytorch_takes_and_names_what_it_does_not():
    lucid.manual_seed(1.5)  # int(seed), as torch.manual_seed
    first = lucid.rand(3).tolist()
    lucid.manual_seed(1)
    assert lucid.rand(3).tolist() == first
    lucid.manual_seed(-1)  # wraps around 2**64, as in PyTorch
    with pytest.raises(OpError, match=r"manual_seed: seed must be an int, got 'a' \(str\)"):
        lucid.manual_seed("a")


def test_lambda_lr_needs_functions():
    optimizer = optim.SGD([lucid.ones(2, requires_grad=True)], lr=0.1)
    with pytest.raises(OpError, match="LambdaLR: lr_lambda must be a function of the epoch, or a list of them"):
        lr_scheduler.LambdaLR(optimizer, 0.5)
    with pytest.raises(OpError, match="LambdaLR: lr_lambda must be a function"):
        lr_scheduler.LambdaLR(optimizer, [0.5])


# data ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("samples, message", [
    ([np.ones(2), np.ones(3)], r"can't stack the samples: sample 1 has shape \(3,\) and sample 0 has shape \(2,\)"),
    ([(np.ones(2), 0), (np.ones(2), 1, 2)], r"sample 1 is a tuple of length 3, but sample 0 is a tuple of length 2"),
    ([{"x": np.ones(2), "y": 0}, {"x": np.ones(2)}], r"sample 1 has no key 'y', unlike sample 0 \(keys \['x', 'y'\]\)"),
    ([{"x": 0}, {"x": 0, "z": 1}], r"sample 1 has a key 'z', unlike sample 0"),
    ([{"x": (np.ones(2), 0)}, {"x": (np.ones(4), 0)}], r"can't stack the samples at \['x'\]\[0\]: sample 1 has shape "
                                                        r"\(4,\)"),
    ([1.0, "a"], r"sample 1 is a str, not a number or an array of numbers"),
])
def test_default_collate_names_the_samples_that_differ(samples, message):
    with pytest.raises(OpError, match=r"default_collate: " + message):
        default_collate(samples)


def test_the_data_loader_names_the_batch_and_its_dataset_indices():
    class Ragged(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return {"x": np.ones(1 if i < 5 else 2), "y": i}

    loader = DataLoader(Ragged(), batch_size=2)
    with pytest.raises(OpError, match=r"DataLoader: batch 2 \(dataset indices \[4, 5\]\): default_collate: can't "
                                      r"stack the samples at \['x'\]: sample 1 has shape \(2,\)"):
        list(loader)



# PyTorch, the reference ------------------------------------------------------------------------

def test_pytorch_refuses_the_same_calls_and_accepts_what_lucid_refuses_beyond_it():
    """The claims above, checked against PyTorch: it refuses the same creation calls, ragged lists and
    grad assignments; it accepts Linear(0, n); and it silently accepts what Lucid refuses beyond it
    (a negative lr in a group or a loaded state dict, a schedule that makes the lr negative)."""
    torch = pytest.importorskip("torch")
    for make in (lambda: torch.zeros(-1), lambda: torch.zeros(2.5), lambda: torch.arange(0, 10, 0),
                 lambda: torch.arange(10, 0, 1), lambda: torch.tensor([[1, 2], [3]]),
                 lambda: torch.ones(2).to("foo"), lambda: torch.nn.Linear(-1, 2)):
        with pytest.raises((RuntimeError, TypeError, ValueError)):
            make()
    x = torch.ones(3, requires_grad=True)
    for value in ("hello", torch.ones(2), torch.ones(3, dtype=torch.float64)):
        with pytest.raises((RuntimeError, TypeError)):
            x.grad = value
    with pytest.raises(TypeError, match="gradients can be either Tensors or None, but got str"):
        (x * 2).backward(gradient="a")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Initializing zero-element tensors is a no-op"
        assert torch.nn.Linear(0, 2)(torch.ones(3, 0)).shape == (3, 2)
    p = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([{"params": [p], "lr": -1.0}], lr=0.1)
    saved = opt.state_dict()
    saved["param_groups"][0]["lr"] = -2.0
    opt.load_state_dict(saved)
    assert opt.param_groups[0]["lr"] == -2.0
    opt = torch.optim.SGD([p], lr=0.1)
    torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: -1)
    assert opt.param_groups[0]["lr"] == -0.1
