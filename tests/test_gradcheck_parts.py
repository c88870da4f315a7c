"""The pieces under check_op: strategies draw valid, meaningful inputs; finite differences and
their error estimates are right; kinks are found; batching changes nothing."""
import itertools
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings

import gradcheck
import lucid
from gradcheck import strategies
from gradcheck.checks import DEFAULT_TOLERANCE, check_engine, check_example, check_layouts
from gradcheck.kinks import nondifferentiable
from gradcheck.numerical import Evaluator, analytic_jacobian, directional, jacobian
from gradcheck.report import Failure, Rejected
from gradcheck.runner import seeded
from gradcheck.target import OpTarget
from lucid import Arg, Op, Param


def test_value_range_keeps_a_margin_inside_the_domain():
    assert strategies.value_range(Arg()) == (-3.0, 3.0)
    lo, hi = strategies.value_range(Arg(low=0))
    assert 0 < lo < 0.1 and hi == 6.0
    lo, hi = strategies.value_range(Arg(low=-1, high=1))
    assert -1 < lo < -0.9 and 0.9 < hi < 1


def test_values_keep_away_from_kinks():
    x = strategies.away_from_kinks(np.array([0.0, 0.004, -0.002, 0.5]), (0.0,), -3, 3)
    assert np.all(np.abs(x) >= strategies.KINK_MARGIN)
    assert x[3] == 0.5
    scalar = strategies.away_from_kinks(np.float64(0.001), (0.0,), -3, 3)  # a 0-d input, drawn as a scalar
    assert abs(scalar) >= strategies.KINK_MARGIN


def test_kink_margin_grows_where_rounding_would_swamp_the_derivative():
    eps32, eps64 = float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps)
    assert strategies.kink_margin(eps64, 1e-5, 1) == strategies.kink_margin(eps64, 1e-5, 2) == strategies.KINK_MARGIN
    assert strategies.kink_margin(eps32, 1e-4, 2) > 0.1
    assert 0.1 > strategies.kink_margin(eps32, 1e-4, 1) >= strategies.KINK_MARGIN
    assert strategies.kink_margin(eps32, 0.0, 2) == strategies.KINK_MARGIN  # atol=0: a relative check
    x = strategies.away_from_kinks(np.array([0.05, -0.02, 0.5]), (0.0,), -3, 3, margin=0.1)
    np.testing.assert_array_equal(x, [0.1, -0.1, 0.5])


tied = Op("draft.max", lambda x, y: np.maximum(x, y), lambda g, out, x, y: (g, g), (Arg("input"), Arg("other")),
          ties=True)
spd = Op("draft.spd", lambda a: a, lambda g, out, a: (g,), (Arg("input", structure="spd"),), shapes="(n,n)->(n,n)")
reduction = Op("draft.sum", lambda x, dim, keepdim: x, lambda g, out, x, dim, keepdim: (g,),
               params=(Param("dim", None, lucid.op.dims), Param("keepdim", False, (False, True))))


@settings(max_examples=100, deadline=None)
@given(strategies.inputs_for(tied))
def test_tie_sensitive_inputs_are_distinct_and_well_separated(case):
    values = np.sort(np.concatenate([x.reshape(-1) for x in case.inputs]))
    assert np.all(np.diff(values) > 1e-3)


@pytest.mark.parametrize("shape", [(2, 2), (3, 3), (4, 3), (3, 4), (4, 4), (2, 4, 4)])
@pytest.mark.parametrize("window", [(-3.0, 3.0), (-30.0, 30.0), (0.06, 6.0)])
def test_distinct_values_where_shrinking_leads_are_no_singular_matrix(shape, window):
    """All draws 0 gave a grid in order, a ramp of rank 2: CI's oracle compared the nuclear norm's
    gradient there, where both libraries' U V^T holds LAPACK's arbitrary null vectors."""
    (x,) = strategies.distinct_values(lambda strategy: bytes(8 * int(np.prod(shape))), [shape], *window)
    assert np.all(np.linalg.matrix_rank(x) == min(shape[-2:]))


@settings(max_examples=50, deadline=None)
@given(strategies.inputs_for(spd))
def test_spd_inputs_are_symmetric_positive_definite(case):
    (a,) = case.inputs
    assert np.allclose(a, np.swapaxes(a, -1, -2))
    assert np.all(np.linalg.eigvalsh(a) > 0.5)
    assert case.symmetric == (0,)


def test_every_param_choice_is_drawn():
    seen = set()

    @settings(max_examples=300, deadline=None)
    @given(strategies.inputs_for(reduction))
    def collect(case):
        seen.add((case.params["dim"], case.params["keepdim"], case.inputs[0].ndim))

    collect()
    dims = {d for d, _, _ in seen}
    assert {None, -1, 0, (0, -1)} <= dims and {k for _, k, _ in seen} == {False, True}
    assert 0 in {n for _, _, n in seen}  # 0-d inputs too


def test_nondifferentiable_finds_a_kink_and_a_jump_but_not_a_smooth_curve():
    h = np.array([1e-6])
    t = np.array([-2, -1, 0, 1, 2])[:, None, None] * h[0]
    assert nondifferentiable(np.maximum(t + 3e-7, 0), h)[0]
    assert nondifferentiable(np.where(t > 1e-7, 1.0, 0.0), h)[0]
    assert not nondifferentiable(np.exp(2 + t), h)[0]
    assert nondifferentiable(np.where(t > 0, np.nan, t), h)[0]


def _target(op, *arrays, **params):
    return OpTarget(op, list(arrays), params)


def test_numerical_jacobian_matches_the_exact_one_within_its_error_estimate():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    t = _target(lucid.registry["sin"], x)
    d = jacobian(Evaluator(t), 0, 1e-6)
    exact = np.diag(np.cos(x).reshape(-1))
    assert d.smooth.all()
    assert np.all(np.abs(d.value.T - exact) <= d.error.T + 1e-12)
    assert np.all(d.error < 1e-7)


def test_batched_and_looped_evaluation_agree():
    a, b = np.arange(6.0).reshape(2, 3) / 7, np.arange(12.0).reshape(3, 4) / 5
    t = _target(lucid.registry["matmul"], a, b)
    batched = Evaluator(t)
    d1 = jacobian(batched, 1, 1e-6)
    assert batched.batched[1]
    t.batchable = False
    looped = Evaluator(t)
    d2 = jacobian(looped, 1, 1e-6)
    assert looped.calls > batched.calls
    np.testing.assert_allclose(d1.value, d2.value, rtol=1e-9, atol=1e-12)


def test_a_forward_that_mixes_the_rows_of_a_stack_is_evaluated_row_by_row():
    """x - mean(x) over all axes: stacked, each row would lose the stack's mean, not its own."""
    centered = Op("draft.centered", lambda x: x - x.mean(), lambda g, out, x: (g - g.mean(),))
    evaluate = Evaluator(_target(centered, np.arange(6.0).reshape(2, 3) / 7))
    d = jacobian(evaluate, 0, 1e-6)
    assert evaluate.batched[0] is False
    np.testing.assert_allclose(d.value.T, np.eye(6) - 1 / 6, atol=1e-8)


def test_analytic_jacobian_rows_are_vjps_and_projections_match():
    a, b = np.arange(6.0).reshape(2, 3) / 7, np.arange(12.0).reshape(3, 4) / 5
    t = _target(lucid.registry["matmul"], a, b)
    u = np.linspace(-1, 1, 8)
    ja, jb = analytic_jacobian(t, u, t.vjp(u))
    np.testing.assert_allclose(ja, np.kron(np.eye(2), b.T), atol=1e-12)
    v = np.linspace(1, -2, 6)
    d = directional(Evaluator(t), 0, v[None], 1e-6)
    np.testing.assert_allclose(d.value[0], ja @ v, atol=1e-8)


def test_disagreement_at_a_tie_is_a_rejection():
    """max |x| with a tie between -2.5 and 2.5: the rule picks one, finite differences see both."""
    x = np.array([[[-2.5, -1.5, -0.5]], [[0.5, 1.5, 2.5]]])
    with pytest.raises(Rejected):
        check_example(lucid.registry["linalg.norm"], [x], {"ord": np.inf, "dim": (2, 0), "keepdim": False}, (),
                      DEFAULT_TOLERANCE["float64"], "auto", 1, np.random.default_rng(0))


def _float32_example(op: Op, *values: list[float]) -> None:
    check_example(op, [np.array(v, dtype=np.float32) for v in values], {}, (), DEFAULT_TOLERANCE["float32"],
                  "auto", 1, np.random.default_rng(0))


def test_a_float32_result_beyond_float32s_range_is_a_rejection_and_an_intermediate_overflow_a_failure():
    """inf is float32's right answer where the exact value passes 3e38 (prod's gradient at the zero
    of [0, 1e20, 1e20] is 1e40); inf where the exact value fits is a rule's overflow, and a bug."""
    with pytest.raises(Rejected, match="gradient of input 0 is beyond float32's range"):
        _float32_example(lucid.registry["prod"], [0.0, 1e20, 1e20])
    cube = Op("draft.cube", lambda x: x ** 3, lambda g, out, x: (3 * g * x ** 2,))
    with pytest.raises(Rejected, match="output 0 is beyond float32's range"):
        _float32_example(cube, [1e13, 2.0])
    squares_too_early = Op("draft.cube", lambda x: x ** 3, lambda g, out, x: (3 * g * x ** 4 / x ** 2,))
    with pytest.raises(Failure, match="non-finite gradient"):
        _float32_example(squares_too_early, [1e11, 2.0])  # x**4 = 1e44 overflows, the gradient 3e22 fits
    prod = lucid.registry["prod"]
    nan_beyond = Op("draft.prod", prod.forward,
                    lambda g, out, x: tuple(d * (d / d) for d in prod.vjp(g, out, x, None, False)))
    with pytest.raises(Failure, match="non-finite gradient"):
        _float32_example(nan_beyond, [1e-5, 1e20, 1e20])  # inf / inf: a NaN is no rounding of 1e40


def test_an_input_declared_mutable_may_be_updated_in_place_and_no_other():
    def scale_and_count(x, counter):
        counter += 1  # a side effect on purpose, like batch_norm's running statistics
        return 2 * x

    def rule(g, out, x, counter):
        return 2 * g, None

    inputs = (Arg("input"), Arg("counter", dtype="float", mutable=True))
    declared = Op("test_counting_scale", scale_and_count, rule, inputs)
    undeclared = Op("test_counting_scale", scale_and_count, rule, (Arg("input"), Arg("counter")))
    assert gradcheck.check_op(declared, max_examples=20, seed=0).passed
    report = gradcheck.check_op(undeclared, max_examples=20, seed=0)
    assert not report.passed and "wrote into input 1" in report.reason


def test_seeded_generators_draw_what_numpy_draws_for_the_seed_and_are_never_shared():
    for seed in (0, 7, 2**32 - 1):
        with seeded(seed) as rng:
            first = rng.standard_normal(5)
            with seeded(seed + 1) as inner:  # a check inside a check: its own generator
                assert inner is not rng
                expected_inner = np.random.default_rng(seed + 1).standard_normal(3)
                np.testing.assert_array_equal(inner.standard_normal(3), expected_inner)
            second = rng.standard_normal(5)  # the outer stream goes on where it was
        expected = np.random.default_rng(seed)
        np.testing.assert_array_equal(first, expected.standard_normal(5))
        np.testing.assert_array_equal(second, expected.standard_normal(5))
    with seeded(3) as again:  # a reused generator starts the seed's stream afresh
        np.testing.assert_array_equal(again.standard_normal(4), np.random.default_rng(3).standard_normal(4))
    with seeded(None) as a, seeded(None) as b:  # None: fresh entropy each time, as in NumPy
        assert not np.array_equal(a.standard_normal(4), b.standard_normal(4))


def test_seeded_generators_are_not_shared_between_threads():
    expected = {seed: np.random.default_rng(seed).standard_normal(200) for seed in range(8)}
    wrong = []

    def draw(seed):
        for _ in range(30):
            with seeded(seed) as rng:
                values = np.concatenate([rng.standard_normal(1) for _ in range(200)])
            if not np.array_equal(values, expected[seed]):
                wrong.append(seed)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=draw, args=(seed,)) for seed in expected]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_a_broadcast_input_gradient_sums_the_same_whatever_the_layout_of_the_other_input(reduction):
    """smooth_l1_loss's target of shape (1,1,1) against float32 values that cancel: its gradient
    is a sum near 0, and summed in memory order a Fortran-order input changed its rounding by 50%
    (a false alarm of lucid-gradcheck --dtype float32 --seed 60607)."""
    x = np.array([[[-36, -30, -24], [18, 6, -18]], [[-12, -6, 24], [12, 30, 36]]], np.float32) / 13
    target = OpTarget(lucid.registry["nn.functional.smooth_l1_loss"], [x, np.zeros((1, 1, 1), np.float32)],
                      {"reduction": reduction, "beta": 1.0})
    for u in (1.0, 0.37, -1.3):
        check_layouts(target, np.full(1, u))


def test_a_broadcast_input_gradient_that_cancels_to_zero_agrees_with_the_engine():
    """l1_loss of a (1,) input against (2, 3) values: its gradient sums six terms of ±1/6 that
    cancel. The engine adds them row by row, the harness all at once: 0 against 1e-17, rounding
    relative to the terms, not to their sum (a false alarm of lucid-gradcheck --mode fast --seed 93004)."""
    y = np.array([[6, 12, 18], [-18, -12, -6]]) / 7
    target = OpTarget(lucid.registry["nn.functional.l1_loss"], [np.zeros(1), y], {"reduction": "mean"})
    for u in (1.0, 0.37, -1.3):
        check_engine(target.op, target, np.full(1, u), target.vjp(np.full(1, u)))


def test_the_engine_check_still_catches_a_gradient_off_by_more_than_rounding():
    calls = itertools.count()  # each call of the rule is 1e-6 further off: the engine's call is not the harness's
    op = Op("bug.drift", np.exp, lambda g, out, x: (g * out * (1 + 1e-6 * next(calls)),))
    target = OpTarget(op, [np.array([0.5, 1.0])], {})
    with pytest.raises(Failure, match="differs from the rule's own answer"):
        check_engine(op, target, np.ones(2), target.vjp(np.ones(2)))
