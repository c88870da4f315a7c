"""gradcheck's own hooks: how an op's plugin tailors the checking of its op.

A Lucid plugin module may implement these next to its `lucid_ops()` hook, marked with
`gradcheck.hookimpl` (the project name is "lucid_gradcheck", so Lucid's own plugin manager
ignores them). gradcheck registers every plugin Lucid loaded, so nothing else is needed::

    import gradcheck

    @gradcheck.hookimpl
    def lucid_gradcheck_tolerance(op, dtype):
        if op.name == "my_ops.bessel_k":
            return {"atol": 1e-4}   # scipy's kv is accurate to ~1e-10 only

Each hook is `firstresult`: the first plugin that answers (not None) wins.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from lucid import Example, Op

PROJECT = "lucid_gradcheck"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def lucid_gradcheck_strategy(op: Op) -> SearchStrategy[Example] | None:
    """A hypothesis strategy of `lucid.Example`s for `op`, instead of the one gradcheck derives
    from its metadata; None to keep that one. Inputs given as shapes are filled from the op's
    Arg domains as usual (with margins, away from kinks); arrays are used as they are."""


@hookspec(firstresult=True)
def lucid_gradcheck_tolerance(op: Op, dtype: str) -> Mapping[str, Any] | None:
    """Tolerances for `op` checked in `dtype` ("float64" or "float32"): a mapping with any of
    `atol`, `rtol`, `eps` (the relative finite-difference step); None for the defaults."""
