"""Mutation analysis (`gradcheck.mutate`): mutants of a rule's source and of its meaning, each
checked as the derivative check would check the op; survivors reported with whether they ever
differed from the rule on a drawn input."""
from __future__ import annotations

import dataclasses
import inspect
import textwrap
import types

import numpy as np
import pytest

import lucid
from gradcheck import check_op
from gradcheck.mutate import mutants_of, mutate, rule_definition, source_mutants
from lucid import Op


def test_every_mutant_of_exps_rule_is_killed():
    report = mutate("exp", max_examples=50)
    kinds = [m.kind for m in report.mutants]
    assert report.passed and report.check == "mutation", report.format()
    assert kinds.count("source") >= 3 and kinds.count("semantic") == 4  # scaled, negated, no cotangent, dropped
    assert all(m.killed for m in report.mutants)
    assert "score 100.0%" in report.summary()


def twice_rule(g, out, x):
    """2x has slope 2; the second term only matters beyond x = 10, which the harness never draws."""
    return (g * (2 + (x.data > 10)),)


def test_a_branch_no_drawn_input_reaches_survives_and_is_reported_as_never_differing():
    op = Op("twice", lambda x: 2 * x + np.where(x > 10, x - 10, 0), twice_rule)
    report = mutate(op, max_examples=50)
    survivors = [m for m in report.mutants if not m.killed]
    assert report.status == "failed" and report.reason == f"{len(survivors)} of {len(report.mutants)} mutants survived"
    assert survivors[0].description.startswith("test_mutate.py:") and "x.data > 10  ->  x.data >= 10" in \
        {m.description.split(": ", 1)[1] for m in survivors}
    assert all(m.differed is False for m in survivors)  # nothing drawn goes beyond 10
    assert "never differed on a drawn input" in report.format()
    killed = {m.description for m in report.mutants if m.killed}
    assert "every gradient negated" in killed and any("2  ->  3" in d for d in killed)


def test_of_two_lambdas_on_one_line_the_rule_is_mutated_not_the_forward():
    op = Op("negated", lambda x: -x, lambda g, out, x: (-g,))
    assert isinstance(rule_definition(op.vjp), __import__("ast").Lambda)
    descriptions = [d for _, d, _ in source_mutants(op.vjp)]
    assert any(d.endswith("-g  ->  g") for d in descriptions)
    assert not any("-x" in d for d in descriptions)


def test_a_rule_without_readable_source_still_gets_the_semantic_mutants():
    namespace: dict = {}
    exec("def rule(g, out, x):\n    return (g * 3,)\n", namespace)  # no file to read it back from
    op = Op("thrice", lambda x: 3 * x, namespace["rule"])
    assert rule_definition(op.vjp) is None
    assert [m.kind for m in mutants_of(op)] == ["semantic"] * 4
    assert mutate(op, max_examples=20).passed


def test_a_mutant_is_an_op_of_the_same_name_and_metadata_with_another_rule():
    exp = lucid.registry["exp"]
    (_, _, description, mutant), *_ = mutants_of(exp)
    assert mutant.name == "exp" and mutant.forward is exp.forward and mutant.inputs == exp.inputs
    assert mutant.vjp is not exp.vjp
    x = lucid.tensor([0.5], dtype=lucid.float64, requires_grad=True)
    (right,) = lucid.grad(exp(x), [x])
    (wrong,) = lucid.grad(mutant(x), [x])
    assert not np.allclose(right.data, wrong.data), description


def test_the_cli_reports_each_ops_mutants_and_the_runs_score(tmp_path):
    from test_cli import lucid_gradcheck

    done = lucid_gradcheck("exp", "log", "--mutate", "--max-examples", "30", "--seed", "1", "-v",
                           "--json", str(tmp_path / "m.json"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    report = __import__("json").loads((tmp_path / "m.json").read_text())
    mutants = [m for op in report["ops"] for m in op["mutants"]]
    assert {op["check"] for op in report["ops"]} == {"mutation"} and all(m["killed"] for m in mutants)
    assert f"mutation score: {len(mutants)} of {len(mutants)} mutants killed (100.0%)" in done.stdout
    assert "exp [mutation] PASSED (9 mutants, 9 killed" in done.stdout


def test_a_dropped_gradient_that_was_zero_anyway_never_differed():
    """None is a zero gradient: dropping floor's (zero) gradient is an equivalent mutant."""
    report = mutate("floor", max_examples=20)
    dropped = [m for m in report.mutants if m.description == "the gradient of 'input' dropped"]
    assert dropped and not dropped[0].killed and dropped[0].differed is False


def test_differed_compares_the_gradients_in_the_runs_dtype():
    """A mutant wrong only for float64 inputs never differs in a float32 run, whose check casts
    the drawn inputs to float32 (it was once asked on the float64 draws)."""
    from gradcheck.mutate import differed

    op = Op("mylib.sin", np.sin, lambda g, out, x: (g * lucid.cos(x),))
    wrong_in_float64 = dataclasses.replace(
        op, vjp=lambda g, out, x: (g * lucid.cos(x) * (1.5 if x.dtype == np.float64 else 1.0),))
    assert differed(op, wrong_in_float64, max_examples=10, seed=0, order=1, dtype="float64")
    assert not differed(op, wrong_in_float64, max_examples=10, seed=0, order=1, dtype="float32")


def test_differed_also_asks_with_part_of_the_inputs_requiring_grad():
    """A rule that tests the wrong input's requires_grad is right whenever all inputs require grad:
    the check draws a part of them in a third of its examples, and `differed` asks those too."""
    from gradcheck.mutate import differed

    op = Op("mylib.mul", np.multiply, lambda g, out, x, y: (g * y if x.requires_grad else None,
                                                            g * x if y.requires_grad else None),
            (lucid.Arg("x"), lucid.Arg("y")))
    wrong_flag = dataclasses.replace(op, vjp=lambda g, out, x, y: (g * y if y.requires_grad else None,
                                                                   g * x if y.requires_grad else None))
    assert differed(op, wrong_flag, max_examples=30, seed=0, order=1, dtype="float64")
    assert not differed(op, op, max_examples=30, seed=0, order=1, dtype="float64")


# --- blind spots closed: hand-made mutants the default check kills in every seed ----------------
# (checked without shrinking, as mutation analysis does: the same verdict, sooner)


def edited(op_name: str, old: str, new: str, helper: str | None = None) -> Op:
    """The registered op with one piece of its rule's source replaced (or of `helper`, a function of
    the rule's module that the rule calls): a mutant written by hand."""
    op = lucid.registry[op_name]
    function = op.vjp if helper is None else op.vjp.__globals__[helper]
    source = textwrap.dedent(inspect.getsource(function))
    assert source.count(old) == 1, f"{old!r} is not (once) in {function.__name__} of {op_name}"
    namespace = dict(function.__globals__)
    namespace.update(zip(function.__code__.co_freevars, (c.cell_contents for c in function.__closure__ or ())))
    exec(compile(source.replace(old, new), inspect.getsourcefile(function) or "<rule>", "exec"), namespace)
    changed = namespace[function.__name__]
    if helper is not None:  # the rule, reading the changed helper
        changed = types.FunctionType(op.vjp.__code__, {**op.vjp.__globals__, helper: changed}, op.vjp.__name__,
                                     op.vjp.__defaults__, op.vjp.__closure__)
    return dataclasses.replace(op, vjp=changed)


@pytest.mark.parametrize("seed", range(10))
def test_einsums_rule_forgetting_a_label_broadcast_in_another_operand_is_killed(seed):
    """A label of size 1 in one operand and n in another broadcasts; the gradient of the operand of
    size n then needs ones to sum over the label. Einsum's sampler drew one size per label, and this
    mutant passed; it now draws such operands."""
    mutant = edited("einsum", "if size.get(label, 1) < n or label not in size:", "if label not in size:")
    report = check_op(mutant, seed=seed, shrink=False)
    assert report.status in ("failed", "error"), report.format()


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("old, new", [("w.dilation, w.pads)]", "w.dilation, [w.pads[0]] * n)]"),
                                      ("zip(grid[2:], w.stride,", "zip(grid[2:], [w.stride[0]] * n,")],
                         ids=["padding", "stride"])
def test_max_pool2ds_rule_reading_the_rows_param_for_the_columns_is_killed(old, new, seed):
    """max_pool2d's sampler drew one int padding for both dims: a rule placing each window's
    gradient with the row padding in the columns passed. It now draws padding, stride, kernel and
    dilation per dim. (The stride mutant was killed already, by the default stride: the kernel.)
    The places are found by `_maxima`, which the rule calls."""
    report = check_op(edited("nn.functional.max_pool2d", old, new, helper="_maxima"), seed=seed, shrink=False)
    assert report.status in ("failed", "error"), report.format()


NARROW_SAMPLER_MUTANTS = {  # what the sampler did not draw: (op, piece of its rule, the mutant's version)
    "avg_pool2d's divisor_override": ("nn.functional.avg_pool2d", "count_include_pad, divisor_override)",
                                      "count_include_pad, None)"),
    "layer_norm's bias without a weight": ("nn.functional.layer_norm", "g if bias is not None else None",
                                           "g if weight is not None and bias is not None else None"),
    "norm's p = 0": ("norm", "np.zeros_like(x.data), x),)", "sgn(x.data), x),)"),
    "gaussian_nll_loss's mean over the input's entries, not a larger target's": (
        "nn.functional.gaussian_nll_loss", "np.broadcast_shapes(x.shape, t.shape, v_shape)",
        "np.broadcast_shapes(x.shape, x.shape, v_shape)"),
}


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("case", sorted(NARROW_SAMPLER_MUTANTS))
def test_a_rule_wrong_only_where_the_sampler_did_not_draw_is_killed(case, seed):
    """Each mutant passed all ten seeds while the op's metadata left out what it is wrong on."""
    op_name, old, new = NARROW_SAMPLER_MUTANTS[case]
    report = check_op(edited(op_name, old, new), seed=seed, shrink=False)
    assert report.status in ("failed", "error"), report.format()


WINDOW_MUTANTS = {  # wrong only beyond the usual window of values, or close to a bound
    "hardswish's mask read on the output (wrong below -3)": (
        "nn.functional.hardswish", "where(x.data <= -3", "where(out.data <= -3"),
    "batch_norm's eps left out of the running variance (off by eps / 2 var)": (
        "nn.functional.batch_norm", "rstd = (running_var.reshape(shape_c) + eps) ** -0.5",
        "rstd = running_var.reshape(shape_c) ** -0.5"),
}


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("case", sorted(WINDOW_MUTANTS))
def test_values_beyond_the_usual_window_and_close_to_a_bound_are_drawn(case, seed):
    """Values were drawn from about [-3, 3], and from 0.06 up for a domain bounded below: each
    mutant passed every seed. The window is now drawn at several scales (`SCALES`)."""
    op_name, old, new = WINDOW_MUTANTS[case]
    report = check_op(edited(op_name, old, new), seed=seed, shrink=False)
    assert report.status in ("failed", "error"), report.format()


RARE_CHOICE_MUTANTS = {  # wrong only on a rare combination of choices: (op, piece of its rule, the mutant's version)
    "linalg.norm's matrix 1-norm given the nuclear norm's gradient": (
        "linalg.norm", "_matrix_norm_grad(x, ord, *dims)", "_matrix_norm_grad(x, 'nuc' if ord == 1 else ord, *dims)"),
    "kl_div's batchmean dividing a 1-D input's gradient by 1": (
        "nn.functional.kl_div", "g / (x.shape[0] if x.ndim else 1)", "g / (x.shape[0] if x.ndim > 1 else 1)"),
    "norm's p = 1 gradient summed over every slice of a dim": ("norm", "return (g * sign,)",
                                                               "return (g.sum() * sign,)"),
}


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("case", sorted(RARE_CHOICE_MUTANTS))
def test_a_rule_wrong_only_on_a_rare_choice_is_killed(case, seed):
    """Each choice drawn at random per example left rare combinations with few examples or none:
    these passed 2 (linalg.norm), 3 (kl_div) and 3 (norm) of 10 seeds at 100 examples, and 9, 7 and
    2 at CI's 50.
    Every option of every choice now has its own stratum of examples (`strata_for`)."""
    op_name, old, new = RARE_CHOICE_MUTANTS[case]
    report = check_op(edited(op_name, old, new), seed=seed, shrink=False)
    assert report.status in ("failed", "error"), report.format()


@pytest.mark.parametrize("seed", range(10))
def test_dets_rule_wrong_only_at_singular_matrices_is_killed(seed):
    """det is a polynomial: differentiable at singular matrices too, where its rule takes the
    cofactors instead of det(A) A^-T. Drawn only well-conditioned, a rule dividing by the cofactors
    there passed; a third of det's matrices are now exactly singular (structure "square")."""
    mutant = edited("linalg.det", "g[..., None, None] * _cofactors(a)", "g[..., None, None] / _cofactors(a)")
    report = check_op(mutant, seed=seed, shrink=False)
    assert report.status in ("failed", "error"), report.format()


CONVENTION_MUTANTS = {  # wrong only where the rule follows PyTorch's convention, not a derivative
    "pow's zero gradient at y = 0 dropped": ("pow", "y.data == 0", "y.data != 0"),
    "embedding's padding_idx row given its gradient": (
        "nn.functional.embedding", "g = g * (indices.data != padding_idx", "g = g * (indices.data == padding_idx"),
}


@pytest.mark.parametrize("case", sorted(CONVENTION_MUTANTS))
def test_with_an_oracle_a_rule_wrong_only_at_a_convention_is_killed_there(case):
    """Finite differences never look there: pow at y = 0 exactly, embedding's `padding_idx` (which
    only the oracle's draws set: `lucid.Draw.edges`). The torch oracle's edge cases do."""
    pytest.importorskip("torch")
    from gradcheck.mutate import Judge

    op_name, old, new = CONVENTION_MUTANTS[case]
    mutant = edited(op_name, old, new)
    settings = dict(max_examples=100, seed=1, order=1, dtype="float64")
    assert Judge(lucid.registry[op_name], **settings)(mutant) == (False, "")
    killed, why = Judge(lucid.registry[op_name], "torch", **settings)(mutant)
    assert killed and why.startswith("the torch oracle: the gradient of input"), why


ORACLE_DRAWN_MUTANTS = {  # wrong only on inputs that the oracle alone draws
    "xlog1py's x = 0 mask read as x == 0 (wrong at x = 0, y = -1 and at y = -1 beside x != 0)": (
        "special.xlog1py", "(x.data != 0) | (y.data > -1)", "(x.data == 0) | (y.data > -1)"),
    "xlog1py's bound y = -1 taken as defined": ("special.xlog1py", "(y.data > -1)", "(y.data >= -1)"),
    "rms_norm's eps=None read off normalized_shape": (
        "nn.functional.rms_norm", "_epsilon(x, eps)", "_epsilon(normalized_shape, eps)"),
}


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("case", sorted(ORACLE_DRAWN_MUTANTS))
def test_a_rule_wrong_only_where_the_oracle_draws_is_killed_by_it(case, seed):
    """Special values were drawn input by input, a quarter of the entries each: x = 0 beside y = -1
    came up in few examples, and each of xlog1py's 9 mutants of this mask survived seed 1; the
    oracle's first calls now put every special value of one input beside every one of the other's
    (`edges.edge_pairs_for`). rms_norm's eps=None (the dtype's epsilon) was never drawn, since a
    float32 derivative check cannot take it: its sample now draws it for the oracle (`Draw.edges`)."""
    pytest.importorskip("torch")
    from gradcheck.runner import check_oracle

    op_name, old, new = ORACLE_DRAWN_MUTANTS[case]
    assert check_oracle(edited(op_name, old, new), seed=seed).status == "failed"


def test_an_op_without_a_counterpart_is_judged_by_its_derivative_check_alone():
    pytest.importorskip("torch")
    from gradcheck.mutate import Judge

    op = Op("twice", lambda x: 2 * x + np.where(x > 10, x - 10, 0), twice_rule)
    judge = Judge(op, "torch", max_examples=20, seed=0, order=1, dtype="float64")
    assert judge.oracle is None  # torch has no "twice": the oracle cannot tell its mutants apart
    report = mutate(op, max_examples=20, oracle="torch")
    assert report.settings["oracle"] == "torch" and report.status == "failed"  # the branch beyond 10 survives
