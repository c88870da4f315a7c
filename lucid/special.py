"""`lucid.special`: the built-in ops registered under "special." (i0e, i1, ndtr, log_ndtr...)."""
from typing import Any

from . import plugins as _plugins

globals().update(_plugins.exported("special.", globals()))


def __getattr__(name: str) -> Any:
    """Only reached for a name that is not here: the ops above are added at import time, which
    this signature also tells type checkers."""
    raise AttributeError(f"module 'lucid.special' has no attribute {name!r}")
