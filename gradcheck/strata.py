"""An op's strata: one per option of every choice that drawing a call of it makes (`Stratum`),
found by a short hypothesis run of its own (the survey), and the share of a check's examples that
each gets. The strategies that draw within a stratum are in `gradcheck.strategies`."""
from __future__ import annotations

from collections.abc import Hashable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from lucid import Example, Op

from .strategies import HypothesisDraw, Stratum, draw_call, shapes_for

#: How many calls `strata_for` draws to find an op's choices and their options.
SURVEY = 20

#: Strata found for ops drawn from their own metadata, by what drawing a call reads of the op. A
#: plugin's strategy is not a key: hooks build a new one on every call, and it would only pile up.
_strata_found: dict[Hashable, tuple[Stratum, ...]] = {}


def strata_for(op: Op, example: st.SearchStrategy[Example] | None = None) -> tuple[Stratum, ...]:
    """One stratum per option of every choice that drawing a call of `op` makes (see `Stratum`),
    found by drawing SURVEY calls, the same ones every time; first option of every choice first,
    then the second, and so on. Each option drawn at random would leave a rare one (the fifth of
    nine orders, chosen only for a matrix) without examples in many runs."""
    key: Hashable = None
    if example is None:
        key = (op.sample, op.params, op.inputs, op.shapes, op.variadic)
        try:
            return _strata_found[key]
        except KeyError:
            pass
        except TypeError:  # a param with an unhashable default: found again each time
            key = None
    shapes = shapes_for(op) if example is None and op.sample is None else None
    if shapes is not None and not any(p.choices for p in op.params):
        return ()
    seen: dict[Hashable, tuple[str, int]] = {}

    @settings(max_examples=SURVEY, deadline=None, database=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @hypothesis_seed(0)
    @given(st.data())
    def survey(data: st.DataObject) -> None:
        draw_call(data.draw, op, shapes, example, HypothesisDraw(data.draw, seen=seen))

    try:
        survey()
    except Exception:  # a broken sample or metadata: the check itself reports it, with its input
        return ()
    count = max((n for _, n in seen.values()), default=0)
    strata = tuple(Stratum(site, option, name) for option in range(count)
                   for site, (name, n) in seen.items() if option < n and n > 1)
    if key is not None:
        _strata_found[key] = strata
    return strata


def share_budget(examples: int, strata: int) -> list[int]:
    """How many of `examples` each of `strata` runs gets: as even as it goes, the first ones taking
    what is left over (with fewer examples than strata, one each for the first)."""
    return [examples // strata + (i < examples % strata) for i in range(strata)]
