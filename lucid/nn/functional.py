"""`lucid.nn.functional`: the built-in ops registered under "nn.functional." (softmax, conv2d...)."""
from typing import Any

from .. import plugins as _plugins
from ..inplace import in_place_option as _in_place_option

globals().update(_plugins.exported("nn.functional.", globals()))

#: The activations that take PyTorch's `inplace=` (F.relu(x, inplace=True)): each is its op, applied in place.
IN_PLACE_ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "selu", "celu", "hardtanh", "hardsigmoid", "hardswish",
                        "silu", "mish")
globals().update({name: _in_place_option(globals()[name], "nn.functional." + name) for name in IN_PLACE_ACTIVATIONS
                  if name in globals()})


def __getattr__(name: str) -> Any:
    """Only reached for a name that is not here: the ops above are added at import time, which
    this signature also tells type checkers."""
    raise AttributeError(f"module 'lucid.nn.functional' has no attribute {name!r}")
