"""Stratified params: every option of every choice that drawing a call makes (a param's, or one
`draw.choice` of an op's `sample`) gets its own run of examples, so rare combinations are drawn."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

import lucid
from gradcheck import check_op
from gradcheck.runner import runs_of
from gradcheck.strata import share_budget, strata_for
from gradcheck.strategies import Stratum, inputs_for
from lucid import Example, Op, Param


def test_each_option_of_each_param_is_a_stratum_first_options_first():
    strata = strata_for(lucid.registry["nn.functional.kl_div"])
    assert [(s.site, s.option) for s in strata] == [("reduction", 0), ("log_target", 0), ("reduction", 1),
                                                    ("log_target", 1), ("reduction", 2), ("reduction", 3)]
    assert strata[0].name == "param 'reduction'"


def test_each_choice_of_a_sample_is_a_stratum_known_by_where_it_is_made():
    names = {s.name for s in strata_for(lucid.registry["linalg.norm"])}
    assert len(names) == 5 and all(name.startswith("_norm_sample, line ") for name in names)
    assert strata_for(lucid.registry["exp"]) == ()  # no choice: one run of every example, as before


def test_a_stratum_draws_only_calls_that_take_its_option_where_they_make_its_choice():
    def plain_or_chosen(draw):
        if draw.boolean():
            return Example(((2,),), {"kind": "plain"})
        return Example(((3,),), {"kind": draw.choice(["a", "b", "c"])})

    op = Op("draft.sin_of_kinds", np.sin, lambda g, out, x, kind: (g * lucid.cos(x),),
            params=(Param("kind"),), sample=plain_or_chosen)
    (site,) = {s.site for s in strata_for(op)}
    seen = set()

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(inputs_for(op, stratum=Stratum(site, 2)))
    def collect(case):
        seen.add(case.params["kind"])

    collect()
    assert seen == {"c", "plain"}  # the plain branch never reaches the choice, and is drawn as it comes


def test_the_examples_are_shared_among_the_strata_each_run_seeded_apart():
    assert share_budget(50, 18) == [3] * 14 + [2] * 4 and sum(share_budget(50, 36)) == 50
    assert share_budget(5, 18) == [1] * 5 + [0] * 13
    strata = tuple(Stratum("p", i) for i in range(4))
    runs = runs_of(strata, 10, seed=1)
    assert [(s.option, n) for s, n, _ in runs] == [(1, 3), (2, 3), (3, 2), (0, 2)]  # the seed says who goes first
    assert len({seed for _, _, seed in runs}) == 4 and runs == runs_of(strata, 10, seed=1)
    assert runs_of((), 10, seed=1) == [(None, 10, 1)]


# a rule wrong only at the last of eight options of a sample's choice
rare = Op("draft.rare", lambda x, k: x * k, lambda g, out, x, k: (g * (k if k < 8 else 0),),
          sample=lambda draw: Example(((2,),), {"k": draw.choice(range(1, 9))}), params=(Param("k"),))


def test_a_rule_wrong_at_one_option_fails_in_every_seed_and_shrinks_within_its_stratum():
    for seed in range(5):
        report = check_op(rare, seed=seed, max_examples=8, shrink=False)
        assert report.status == "failed" and "k=8" in report.failing_input, report.format()
        assert check_op(rare, seed=seed, max_examples=8, shrink=False).failing_input == report.failing_input
    shrunk = check_op(rare, seed=0, max_examples=8)
    assert shrunk.failing_input == "input 0: float64[2] [0., 0.]; params: k=8" and shrunk.blob


def test_a_plugins_strategy_is_surveyed_each_time_not_cached():
    """A hook builds a new strategy on every call: as a cache key it never hit and piled up an
    entry per check. An op drawn from its own metadata is surveyed once."""
    from hypothesis import strategies as st

    from gradcheck import strata

    before = len(strata._strata_found)
    for k in (1, 2, 3):
        assert strata_for(rare, st.just(Example(((2,),), {"k": k}))) == ()
    assert len(strata._strata_found) == before
    assert strata_for(rare) is strata_for(rare)  # the second from the cache


def _sign_rule(g, out, x):
    return (g * lucid.Tensor(np.where(x.data >= 0, 1.0, -1.0)),)


def test_a_stratum_whose_samples_are_all_rejected_is_not_vacuous_but_an_op_without_a_valid_one_is():
    """|x| at 0 is a kink, so every sample there is rejected: that option cannot be checked, and
    the check passes on the other; with no other option the check checked nothing and fails."""
    def at_zero_or_drawn(draw):
        return Example((np.zeros(3),) if draw.choice(["at zero", "drawn"]) == "at zero" else ((3,),))

    half = Op("draft.abs_half_at_kink", np.abs, _sign_rule, kinks=(0.0,), sample=at_zero_or_drawn)
    report = check_op(half, seed=0, max_examples=20)
    assert report.passed and report.examples > 0 and report.rejected > report.examples, report.format()
    always = Op("draft.abs_at_kink", np.abs, _sign_rule, kinks=(0.0,), sample=lambda draw: Example((np.zeros(3),)))
    report = check_op(always, seed=0, max_examples=20)
    assert report.status == "failed" and report.reason.startswith("vacuous:") and report.examples == 0


def test_a_branch_of_sample_that_makes_no_stratified_choice_is_still_drawn():
    """take_along_dim's dim=None branch draws no `choice`, its other branch does: when every stratum
    kept only the calls that made its choice, that branch was never drawn, and a rule wrong only
    there passed (as did a mutant of take_along_dim's rule that crashes on every such call)."""
    def flat_or_chosen(draw):
        if draw.boolean():
            return Example(((2,),))
        return Example(((draw.choice([3, 4]),),))

    def wrong_for_two(g, out, x):
        return (g * lucid.cos(x) * (2.0 if x.shape == (2,) else 1.0),)

    op = Op("draft.sin_wrong_in_a_plain_branch", np.sin, wrong_for_two, sample=flat_or_chosen)
    for seed in range(5):
        report = check_op(op, seed=seed, max_examples=20)
        assert report.status == "failed", report.format()
