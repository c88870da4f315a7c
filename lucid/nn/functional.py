"""`lucid.nn.functional`: the built-in ops registered under "nn.functional." (softmax, conv2d...)."""
from typing import Any

from .. import plugins as _plugins

globals().update(_plugins.exported("nn.functional.", globals()))


def __getattr__(name: str) -> Any:
    """Only reached for a name that is not here: the ops above are added at import time, which
    this signature also tells type checkers."""
    raise AttributeError(f"module 'lucid.nn.functional' has no attribute {name!r}")
