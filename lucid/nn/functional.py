"""`lucid.nn.functional`: the built-in ops registered under "nn.functional." (softmax, conv2d...)."""
from .. import plugins as _plugins

globals().update(_plugins.exported("nn.functional.", globals()))
