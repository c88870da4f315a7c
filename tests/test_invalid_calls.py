"""Every bad argument gets a clear error: for every registered op, calls its own metadata makes
invalid (gradcheck.invalid) raise a LucidError naming the op; and the mechanisms behind that:
param kinds checked by apply, typed inputs, dims checked on 0-d inputs too."""
import numpy as np
import pytest

import lucid
from gradcheck.invalid import check_invalid_calls, core_dims, flaws_of, invalid_calls
from lucid import Op, OpError, Param

F = lucid.nn.functional
EXAMPLES = 25  # per op, derandomized: all ~150 ops take well under a minute


@pytest.mark.parametrize("name", list(lucid.registry))
def test_every_invalid_call_raises_a_lucid_error_naming_the_op(name):
    report = check_invalid_calls(name, max_examples=EXAMPLES)
    assert report.status in ("passed", "skipped"), report.format()


def test_most_ops_have_invalid_calls_to_draw():
    """Only ops whose metadata declares nothing to break are skipped (any dtype, unchecked params)."""
    skipped = {name for name, op in lucid.registry.items() if not flaws_of(op)}
    assert len(skipped) < 0.1 * len(lucid.registry)
    assert {"abs", "getitem", "reshape"} <= skipped


# --- params of a declared kind ---------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda x: x.sum(dim=0, keepdim=2), "sum: argument 'keepdim' must be True or False, got 2 (int)"),
    (lambda x: lucid.sum(x, 0, "yes"), "sum: argument 'keepdim' must be True or False, got 'yes'"),
    (lambda x: lucid.tril(x, 1.5), "tril: argument 'diagonal' must be an int"),
    (lambda x: lucid.tril(x, True), "tril: argument 'diagonal' must be an int"),
    (lambda x: F.elu(x, alpha="1"), "elu: argument 'alpha' must be an int or a float"),
    (lambda x: F.gelu(x, approximate="exact"), "gelu: argument 'approximate' must be one of 'none', 'tanh'"),
    (lambda x: F.dropout(x, training=2), "dropout: argument 'training' must be True or False"),
    (lambda x: lucid.linalg.norm(x, keepdim=1), "linalg.norm: argument 'keepdim' must be True or False"),
    (lambda x: x.sum(dim=1.5), "sum: dim must be an int or a sequence of ints, got 1.5"),
    (lambda x: x.squeeze(dim=1.5), "squeeze: dim must be an int or a sequence of ints, got 1.5"),
])
def test_a_param_of_the_wrong_type_is_refused_naming_op_and_param(call, message):
    x = lucid.randn(3, 3)
    with pytest.raises(OpError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(x)


def test_valid_params_still_pass():
    x = lucid.randn(3, 3)
    assert F.dropout(x, 0.5, False) is x  # training=False never reaches apply, and is still checked
    assert x.sum(np.int64(0), keepdim=True).shape == (1, 3)  # a NumPy integer is an int
    assert F.elu(x, alpha=2).shape == (3, 3)  # an int is a number


def test_none_is_valid_only_where_it_is_the_default():
    x = lucid.randn(2, 3)
    assert lucid.var(x, 0, unbiased=None).shape == (3,)  # default None
    with pytest.raises(OpError, match="sum: argument 'keepdim' must be True or False, got None"):
        x.sum(0, keepdim=None)


def test_a_param_declaration_is_checked_when_it_is_made():
    with pytest.raises(OpError, match="kind must be one of"):
        Param("dim", 0, kind="axis")
    with pytest.raises(OpError, match="its default 1 is not True or False"):
        Param("keepdim", 1, kind="bool")
    with pytest.raises(OpError, match="a choice param needs its choices"):
        Param("reduction", "mean", kind="choice")
    assert Param("eps", None, kind="number").accepts(None) and not Param("eps", 1.0, kind="number").accepts(None)
    assert Param("n", 1, kind="int").accepts(np.int64(3)) and not Param("n", 1, kind="int").accepts(True)


# --- inputs of a declared dtype ----------------------------------------------------------------------

def test_int_and_bool_inputs_are_checked_like_float_ones():
    x = lucid.randn(2, 3)
    with pytest.raises(OpError, match=r"nll_loss: argument 'target' \(input 1\) has dtype bool, expected an integer"):
        F.nll_loss(x, lucid.tensor([True, False]))
    with pytest.raises(OpError, match="polygamma: argument 'n' .* expected an integer tensor"):
        lucid.polygamma(1.5, x)
    with pytest.raises(OpError, match="dropout: argument 'mask' .* expected a bool tensor"):
        F.dropout(x, mask=lucid.ones(2, 3))
    assert np.allclose(lucid.polygamma(1, x).numpy(), lucid.polygamma(lucid.tensor(1), x).numpy())


def test_every_tensor_of_a_sequence_is_checked():
    a = lucid.randn(2, 2)
    with pytest.raises(OpError, match=r"einsum: argument 'operands' \(input 1\) has dtype int64"):
        lucid.einsum("ij,jk->ik", a, lucid.tensor([[1, 2], [3, 4]]))


# --- dims and shapes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda s: F.softmax(s, dim=1.5), lambda s: F.log_softmax(s, dim=2),
    lambda s: lucid.flatten(s, start_dim=5), lambda s: lucid.roll(s, 1, dims="0"),
])
def test_a_0d_input_still_checks_its_dim(call):
    with pytest.raises(OpError, match="dim"):
        call(lucid.tensor(1.0))


@pytest.mark.parametrize("shape", [(-2,), (-2, 3), (3, -3)])
def test_reshape_refuses_negative_sizes_other_than_minus_one(shape):
    x = lucid.randn(2, 3)
    with pytest.raises(OpError, match=r"reshape: invalid size in shape"):
        x.reshape(*shape)
    assert x.reshape(-1, 3).shape == (2, 3)


def test_core_dims_of_a_gufunc_signature():
    assert core_dims("(m?,n),(n,p?)->(m?,p?)") == [["m?", "n"], ["n", "p?"]]
    assert core_dims("(n,n)->()") == [["n", "n"]]


# --- the harness itself ----------------------------------------------------------------------------

def _ignores_dim(x, dim):
    return x * 1  # never looks at dim: an out-of-range or float dim is silently accepted


def test_the_check_reports_an_op_that_accepts_an_invalid_call():
    op = Op("sloppy", _ignores_dim, lambda g, out, x, dim: (g,), params=(Param("dim", 0, kind="dim"),))
    report = check_invalid_calls(op, max_examples=20)
    assert report.status == "failed" and "accepted the invalid call" in report.reason
    assert report.failing_input.startswith("dim=")  # names what was wrong and the call


class _Raw(Op):
    def __call__(self, *args, **kwargs):
        raise TypeError("unhashable")  # a bare internal error, outside apply


def test_the_check_reports_an_error_that_is_not_a_lucid_error():
    op = _Raw("raw", np.exp, lambda g, out, x: (g * out,))
    report = check_invalid_calls(op, max_examples=5)
    assert report.status == "failed" and "TypeError" in report.reason and "not a LucidError" in report.reason


def test_the_drawn_calls_are_invalid_in_the_way_they_say():
    """Every drawn call of matmul breaks its signature (or a dtype) and torch refuses it too."""
    torch = pytest.importorskip("torch")
    from hypothesis import given, settings

    @settings(max_examples=30, derandomize=True, database=None)
    @given(invalid_calls(lucid.registry["matmul"]))
    def refused_by_torch(call):
        with pytest.raises(Exception):  # noqa: B017  (torch's refusals have several types)
            torch.matmul(*(torch.from_numpy(np.asarray(x)) for x in call.inputs))

    refused_by_torch()


@pytest.mark.parametrize("case", ["keepdim=2", "keepdim='yes'", "dim=1.5", "reshape(-2)", "diagonal=1.5"])
def test_torch_refuses_these_calls_too(case):
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 3)
    call = {"keepdim=2": lambda: x.sum(0, keepdim=2), "keepdim='yes'": lambda: x.sum(0, keepdim="yes"),
            "dim=1.5": lambda: x.sum(dim=1.5), "reshape(-2)": lambda: x.reshape(-2),
            "diagonal=1.5": lambda: torch.tril(x, 1.5)}[case]
    with pytest.raises((TypeError, RuntimeError)):
        call()
