"""gradcheck catches wrong derivatives (seeded bugs, each a small Op whose rule is wrong in one
way) and raises no false alarm on correct ops, including the non-smooth ones."""
import re

import numpy as np
import pytest

import gradcheck
import lucid
from lucid import Arg, Example, Op, Tensor
from lucid_ops.exponential import exp
from lucid_ops.trigonometric import cos, sin

# --- seeded bugs: each must be caught in default settings ------------------------------------

unary = (Arg("input"),)
binary = (Arg("input"), Arg("other"))


def _bad(name, forward, vjp, inputs=unary, **kw):
    return Op(name, forward, vjp, inputs, **kw)


BUGS = {
    # name: (op, the input whose gradient is wrong, words the reason must contain)
    "scaled_by_1.01": (_bad("bug.scaled", np.exp, lambda g, out, x: (g * out * 1.01,)), 0, "differs"),
    "flipped_sign": (_bad("bug.sign", np.sin, lambda g, out, x: (-g * cos(x),)), 0, "differs"),
    "transposed_matmul": (_bad("bug.matmul", np.matmul, lambda g, out, a, b: (g @ b, a.mT @ g), binary,
                               shapes="(n,n),(n,n)->(n,n)"), 0, "differs"),
    "product_rule_missing_term": (_bad("bug.xsin", lambda x: x * np.sin(x), lambda g, out, x: (g * sin(x),)),
                                  0, "differs"),
    "wrong_for_x_above_2": (_bad("bug.part", np.sin, lambda g, out, x: (
        g * cos(x) * Tensor(np.where(x.data > 2, 1.5, 1.0).astype(x.dtype)),)), 0, "differs"),
    "wrong_only_when_broadcast": (_bad("bug.bcast", np.multiply, lambda g, out, a, b: (
        g * b, g * a if a.shape == b.shape else g * a / 2), binary), 1, "differs"),
    "second_input_ignored": (_bad("bug.div", np.divide, lambda g, out, a, b: (g / b, None),
                                  (Arg("input"), Arg("other", low=0.5))), 1, "differs"),
}


def _mutating_vjp(g, out, x):
    result = g * out
    x.data[...] = 0.0
    return (result,)


def _layout_vjp(g, out, x):
    """Reads x in memory order: right for C-ordered inputs only."""
    in_memory_order = np.ravel(x.data, order="K").reshape(x.shape)
    return (g * Tensor(in_memory_order),)


CONTRACT_BUGS = {
    # shrinking may lead to zeros, which writing zeros does not change: then the read-only view shows it
    "mutates_its_input": (_bad("bug.mutate", np.exp, _mutating_vjp), ("wrote into input 0", "read-only")),
    "writes_output_gradient": (_bad("bug.mutate_g", np.exp, lambda g, out, x: (_scale_in_place(g) * out,)),
                               "wrote into the output gradient"),
    "nonlinear_in_gradient": (_bad("bug.square_g", np.exp, lambda g, out, x: (g * g * out,)), "doubl"),
    "constant_term": (_bad("bug.plus", np.exp, lambda g, out, x: (g * out + 1e-3,)), "zero output gradient"),
    "wrong_shape": (_bad("bug.shape", np.exp, lambda g, out, x: ((g * out).sum(),)), "gradient of shape"),
    "raises": (_bad("bug.raises", np.exp, lambda g, out, x: (g.nonexistent,)), "vjp raised"),
    "depends_on_memory_layout": (_bad("bug.layout", lambda x: x * x / 2, _layout_vjp), "layout"),
    "nan_on_valid_input": (_bad("bug.log", np.log, lambda g, out, x: (g / x,), (Arg("input", low=-1),)),
                           ("nan", "inf")),
}


def _scale_in_place(g):
    """Right value, but doubles the caller's output gradient in place."""
    g.data *= 2.0
    return g / 2.0


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_wrong_derivative_is_caught_with_op_and_input_named(bug):
    op, index, words = BUGS[bug]
    report = gradcheck.check_op(op, seed=0)
    assert report.status == "failed", report.format()
    assert report.op == op.name and f"input {index}" in report.reason and words in report.reason
    assert report.worst and report.worst[0].input == index
    assert report.failing_input and "input 0" in report.failing_input
    text = report.format()
    assert op.name in text and "analytic" in text and "reproduce" in text


@pytest.mark.parametrize("bug", sorted(CONTRACT_BUGS))
def test_broken_contract_is_caught(bug):
    op, words = CONTRACT_BUGS[bug]
    report = gradcheck.check_op(op, seed=0)
    assert report.status == "failed", report.format()
    assert any(w in report.reason for w in ((words,) if isinstance(words, str) else words)), report.reason


def test_fast_mode_catches_a_small_scale_error_with_signed_projections():
    op, _, _ = BUGS["scaled_by_1.01"]
    report = gradcheck.check_op(op, seed=1, mode="fast")
    assert report.status == "failed" and "input 0" in report.reason


def test_rule_that_cannot_be_differentiated_again_fails_order_2_only():
    op = Op("bug.detached", np.sin, lambda g, out, x: (g * Tensor(np.cos(x.data)),))
    assert gradcheck.check_op(op, seed=0).passed
    report = gradcheck.check_op(op, seed=0, order=2)
    assert report.status == "failed" and "second derivative" in report.reason


def test_float32_gradient_of_float64_precision_is_reported():
    op = Op("bug.upcast", np.exp, lambda g, out, x: (Tensor((g.data * out.data).astype(np.float64)),))
    report = gradcheck.check_op(op, seed=0, dtype="float32")
    assert report.status == "failed" and "float64 gradient" in report.reason


def test_failure_replays_with_the_same_seed():
    op, _, _ = BUGS["wrong_for_x_above_2"]
    first, second = gradcheck.check_op(op, seed=5), gradcheck.check_op(op, seed=5)
    assert first.failing_input == second.failing_input and "seed=5" in first.reproduce


# --- no false alarms ---------------------------------------------------------------------------

NON_SMOOTH = ["relu", "abs", "max", "min", "amax", "maximum", "minimum", "clamp", "where"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", NON_SMOOTH)
def test_correct_non_smooth_ops_pass_at_500_examples(name, dtype):
    if name not in lucid.registry:
        pytest.skip(f"{name} is not registered")
    report = gradcheck.check_op(name, max_examples=500, seed=0, dtype=dtype)
    assert report.passed, report.format()
    assert report.examples >= 250


@pytest.mark.parametrize("name", ["floor_divide", "remainder", "fmod", "div"])
@pytest.mark.parametrize("seed", [1, 2])
def test_quotients_are_checked_away_from_their_jumps(name, seed):
    """a / b jumps where it is an integer, and hypothesis's arrays repeat one value (a = b): the
    quotient ops declare ties, so a tie is not drawn, and the check judges 90% of its samples or
    more (37-46% were rejected, and CI failed one as vacuous at 56%)."""
    report = gradcheck.check_op(name, max_examples=100, seed=seed)
    assert report.passed, report.format()
    assert report.rejected <= 0.1 * (report.examples + report.rejected)


@pytest.mark.parametrize("name", ["exp", "mul", "matmul", "sum", "nn.functional.softmax", "linalg.inv"])
def test_correct_ops_pass_second_order(name):
    report = gradcheck.check_op(name, max_examples=30, seed=0, order=2)
    assert report.passed, report.format()


@pytest.mark.parametrize("name", ["nn.functional.normalize", "nn.functional.cosine_similarity"])
def test_float32_second_derivatives_near_a_singular_point_are_no_false_alarm(name):
    """Near the zero vector their second derivatives cancel terms of size 1/|x|^2: float32 leaves
    1e-3 of rounding at |x| = 0.01, so float32 second-order inputs keep farther from the kink."""
    report = gradcheck.check_op(name, max_examples=150, seed=0, order=2, dtype="float32")
    assert report.passed, report.format()


def test_a_purely_relative_tolerance_is_a_valid_setting():
    report = gradcheck.check_op("exp", atol=0.0, max_examples=20, seed=0)
    assert report.passed, report.format()


def test_undeclared_kink_is_rejected_not_reported():
    relu = Op("draft.relu", lambda x: np.maximum(x, 0), lambda g, out, x: (g * Tensor((x.data > 0).astype(x.dtype)),))
    report = gradcheck.check_op(relu, max_examples=200, seed=0)
    assert report.passed, report.format()


# --- bad input never crashes a run -------------------------------------------------------------


def test_unknown_op_and_broken_metadata_are_reported_not_raised():
    assert gradcheck.check_op("no.such.op").status == "error"
    broken = Op("draft.broken", np.exp, lambda g, out, x: (g * out,), sample=lambda draw: 1 / 0)
    report = gradcheck.check_op(broken, seed=0)
    assert report.status == "error" and "ZeroDivisionError" in report.reason


def test_forward_that_raises_is_the_ops_failure():
    op = Op("draft.raises", lambda x: x[10], lambda g, out, x: (g,))
    report = gradcheck.check_op(op, seed=0)
    assert report.status == "failed" and "forward raised" in report.reason


def test_check_ops_goes_on_after_a_failure():
    reports = gradcheck.check_ops(["no.such.op", "exp"], max_examples=10, seed=0)
    assert [r.status for r in reports] == ["error", "passed"]


# --- plugins: a custom strategy or tolerance for an op ---------------------------------------


class AtTheKink:
    """A gradcheck plugin: inputs of draft.abs exactly at its kink, and a tolerance for draft.exp."""

    @gradcheck.hookimpl
    def lucid_gradcheck_strategy(self, op):
        from hypothesis import strategies as st
        if op.name == "draft.abs":
            return st.just(Example((np.zeros(3),)))
        return None

    @gradcheck.hookimpl
    def lucid_gradcheck_tolerance(self, op, dtype):
        return {"rtol": 0.05} if op.name == "draft.exp" else None


def test_plugin_strategy_and_tolerance(monkeypatch):
    plugin = AtTheKink()
    gradcheck.register_plugin(plugin)
    try:
        # at 0 the rule says 1, finite differences say 0: only a kink can explain it, every time
        at_kink = Op("draft.abs", np.abs, lambda g, out, x: (g * Tensor(np.where(x.data >= 0, 1.0, -1.0)),))
        report = gradcheck.check_op(at_kink, seed=0, max_examples=20)
        assert report.status == "failed" and "vacuous" in report.reason
        loose = Op("draft.exp", np.exp, lambda g, out, x: (g * out * 1.01,))
        assert gradcheck.check_op(loose, seed=0).passed
    finally:
        gradcheck.plugins.manager.unregister(plugin)


# --- gradcheck / gradgradcheck on any function ---------------------------------------------------


def test_gradcheck_function_api():
    x = lucid.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    y = lucid.tensor(np.linspace(0.5, 2, 3), requires_grad=True)
    assert gradcheck.gradcheck(lambda a, b: (a * b).exp().sum(dim=1), [x, y])
    assert gradcheck.gradgradcheck(lambda a, b: (a * b).exp().sum(dim=1), [x, y])
    wrong = BUGS["scaled_by_1.01"][0]
    with pytest.raises(gradcheck.GradcheckError) as caught:
        gradcheck.gradcheck(lambda a: wrong(a), [x])
    assert caught.value.report.worst[0].input == 0
    assert not gradcheck.gradcheck(lambda a: wrong(a), [x], raise_exception=False)


def test_gradgradcheck_uses_the_given_output_gradient():
    """A square whose rule treats x as a constant: first derivatives right, second ones wrong,
    unless the output gradient u is 0 (then the second derivative, 2u, is 0 either way)."""
    detached = Op("test_detached_square", np.square, lambda g, out, x: (g * 2 * Tensor(x.data),))
    x = lucid.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    assert gradcheck.gradcheck(detached, [x])
    assert not gradcheck.gradgradcheck(detached, [x], raise_exception=False)
    assert gradcheck.gradgradcheck(detached, [x], lucid.tensor(np.zeros((2, 3))))
    assert gradcheck.gradgradcheck(lambda a: a * a, [x], [np.linspace(2, 3, 6).reshape(2, 3)])


@pytest.mark.parametrize("setting, message", [
    ({"mode": "exact"}, "mode must be one of auto, full, fast, got 'exact'"),
    ({"eps": 0.0}, "eps must be a positive number, got 0.0"),
    ({"atol": -1e-5}, "atol must be a number >= 0, got -1e-05"),
    ({"rtol": float("nan")}, "rtol must be a number >= 0, got nan"),
    ({"seed": -1}, "seed must be a non-negative int or None, got -1"),
    ({"seed": 0.5}, "seed must be a non-negative int or None, got 0.5"),
])
def test_gradcheck_names_a_bad_setting(setting, message):
    """A mode it does not know once checked nothing and passed; a negative eps or atol gave a
    meaningless verdict; a bad seed a bare NumPy error."""
    x = lucid.tensor(np.linspace(-1, 1, 4), requires_grad=True)
    for check in (gradcheck.gradcheck, gradcheck.gradgradcheck):
        with pytest.raises(ValueError, match=r"^(grad)?gradcheck: " + re.escape(message) + "$"):
            check(exp, [x], **setting)
    assert gradcheck.gradcheck(exp, [x], seed=np.int64(3))


def test_check_op_reports_a_bad_tolerance_as_a_setup_error():
    report = gradcheck.check_op("exp", atol=-1.0, max_examples=5, seed=0)
    assert report.status == "error" and "atol must be a number >= 0, got -1.0" in report.reason


def test_order_2_also_checks_the_first_order_gradient():
    """A rule off by a constant has the right derivative: order 2 alone would pass it."""
    off = Op("square_off", np.square, lambda g, out, x: (g * (2 * x + 1),))
    report = gradcheck.check_op(off, order=2, seed=0, max_examples=20)
    assert report.status == "failed" and "second derivative" not in report.reason, report.format()


def test_order_2_compares_the_gradient_recorded_with_create_graph_with_the_plain_one():
    """A rule that takes another path while a graph is recorded (as linalg.norm does), wrong in
    value there but with the right derivative: only comparing the two gradients catches it."""
    def rule(g, out, x):
        grad = g * 2 * x
        return (grad + grad.detach() if lucid.is_grad_enabled() else grad,)

    sneaky = Op("square_sneaky", np.square, rule)
    assert gradcheck.check_op(sneaky, seed=0, max_examples=20).passed
    report = gradcheck.check_op(sneaky, order=2, seed=0, max_examples=20)
    assert report.status == "failed" and "create_graph=True differs" in report.reason, report.format()


@pytest.mark.parametrize("seed", range(10))
def test_a_rule_that_skips_the_wrong_input_is_caught_when_only_some_inputs_require_grad(seed):
    """mul's rule with `if b.requires_grad` where `a` is meant: right whenever both inputs require
    grad, which was all the harness ever tried."""
    binary = (Arg("input"), Arg("other"))
    wrong = Op("mul_skipping", np.multiply,
               lambda g, out, a, b: (g * b if b.requires_grad else None, g * a if b.requires_grad else None), binary)
    report = gradcheck.check_op(wrong, seed=seed)
    assert report.status == "failed" and "only input 0 required grad" in report.reason, report.format()
