"""gradcheck: verify derivatives against finite differences, on inputs drawn by hypothesis.

    >>> import gradcheck
    >>> gradcheck.check_op("exp").passed          # fuzz a registered op (or any lucid.Op)
    True
    >>> [r.op for r in gradcheck.check_ops() if not r.passed]   # every registered op
    []
    >>> x = lucid.randn(3, dtype=lucid.float64, requires_grad=True)
    >>> gradcheck.gradcheck(lambda x: (x * x).sum(), [x])   # one function at one input
    True

`check_op` draws inputs from the op's metadata (`gradcheck.strategies.inputs_for`), checks the
Jacobian against central differences with an error estimate, rejects samples at
non-differentiable points, checks the rule's contract (linear, no mutation, no aliasing, layout
independent, repeatable), and shrinks any failure to a minimal input in an `OpReport`.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # `X as X`: re-exported (PEP 484), for type checkers; at run time `__getattr__` imports them.
    from . import strategies as strategies
    from .checks import Tolerance as Tolerance
    from .hookspecs import hookimpl as hookimpl
    from .invalid import check_invalid_calls as check_invalid_calls
    from .mutate import mutate as mutate
    from .plugins import register_plugin as register_plugin
    from .report import Entry as Entry, GradcheckError as GradcheckError, OpReport as OpReport
    from .runner import check_op as check_op, check_ops as check_ops, check_oracle as check_oracle
    from .runner import gradcheck as gradcheck, gradgradcheck as gradgradcheck

    __version__: str

#: Where each public name lives. Each is imported on first use: pytest imports this package for
#: its plugin (`gradcheck.pytest_plugin`) in every run, which must not pay for hypothesis and Lucid.
_HOMES = {"check_op": "runner", "check_ops": "runner", "check_oracle": "runner", "gradcheck": "runner",
          "gradgradcheck": "runner",
          "GradcheckError": "report", "OpReport": "report", "Entry": "report", "Tolerance": "checks",
          "hookimpl": "hookspecs", "register_plugin": "plugins", "strategies": None,
          "check_invalid_calls": "invalid", "mutate": "mutate"}

__all__ = list(_HOMES)


def __getattr__(name: str) -> Any:
    if name == "__version__":  # Lucid's: gradcheck ships in Lucid's distribution, and has no release of its own
        from lucid import __version__

        return __version__
    if name not in _HOMES:
        raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
    home = _HOMES[name]
    module = importlib.import_module(f".{home or name}", __name__)
    value = module if home is None else getattr(module, name)
    globals()[name] = value  # found once: later lookups are plain attribute reads
    return value
