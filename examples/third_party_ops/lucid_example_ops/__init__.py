"""Two ops from outside Lucid, registered through the `lucid` entry-point group.

Once installed, `lucid.ops.example.logaddexp` and `lucid.ops.example.smooth_abs` exist, and
`lucid-gradcheck -k example_ops` checks their derivatives.
"""
import numpy as np

import lucid
from lucid import Arg, Op, Param, hookimpl


def _logaddexp_vjp(g, out, x, y):
    """d/dx log(e^x + e^y) = e^x / (e^x + e^y) = e^(x - out): never overflows, as out >= x."""
    return g * lucid.exp(x - out), g * lucid.exp(y - out)


# Elementwise ops broadcast their inputs; the engine sums each gradient back to its input's shape.
logaddexp = Op("example.logaddexp", np.logaddexp, _logaddexp_vjp, inputs=(Arg("input"), Arg("other")))

# sqrt(x² + eps²): |x| with the kink at 0 rounded off, so it is differentiable everywhere.
smooth_abs = Op("example.smooth_abs", lambda x, eps=1.0: np.sqrt(x * x + np.asarray(eps * eps, x.dtype)),
                lambda g, out, x, eps: (g * x / out,), params=(Param("eps", 1.0, (0.5, 1.0, 2.0)),))


@hookimpl
def lucid_ops():
    return [logaddexp, smooth_abs]
