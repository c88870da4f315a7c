"""`lucid.linalg`: the built-in ops registered under "linalg." (inv, det, solve, cholesky...)."""
from typing import Any

from . import plugins as _plugins

globals().update(_plugins.exported("linalg.", globals()))


def __getattr__(name: str) -> Any:
    """Only reached for a name that is not here: the ops above are added at import time, which
    this signature also tells type checkers."""
    raise AttributeError(f"module 'lucid.linalg' has no attribute {name!r}")
