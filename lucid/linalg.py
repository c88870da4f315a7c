"""`lucid.linalg`: the built-in ops registered under "linalg." (inv, det, solve, cholesky...)."""
from . import plugins as _plugins

globals().update(_plugins.exported("linalg.", globals()))
