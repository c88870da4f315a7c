"""Lucid: a small PyTorch-like autodiff library in Python and NumPy, where every op is a plugin
and every plugin is verified.

    >>> import lucid
    >>> x = lucid.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> (x * x + x).sum().backward()
    >>> x.grad
    tensor([[3., 5.],
            [7., 9.]])
"""
from __future__ import annotations

import numpy as np

from .creation import (arange, eye, full, generator, linspace, manual_seed, ones, ones_like, rand, randn, zeros,
                       zeros_like)
from .functions import *  # noqa: F401,F403  (comparisons, argmax, isnan...: no grad)
from .errors import GraphError, LucidError, OpError, PluginError
from .hookspecs import hookimpl
from .op import REQUIRED, Arg, Draw, Example, Op, Param
from .tensor import (Tensor, backward, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled, tensor)
from .serialization import load, save

float32, float64, int32, int64, bool_ = np.float32, np.float64, np.int32, np.int64, np.bool_
float, double, long = np.float32, np.float64, np.int64

#: The release: its one source, which pyproject.toml reads (setuptools' `attr:`) and gradcheck shares.
__version__ = "0.1.0"

from . import plugins as _plugins  # noqa: E402  (plugins import lucid: everything above first)
from .plugins import ops, registry  # noqa: E402


def register_plugin(plugin: object, name: str | None = None) -> list[Op]:
    """Register an op plugin at run time; returns its ops, callable as `lucid.ops.<name>`."""
    return registry.register_plugin(plugin, name)


_plugins.load()
globals().update(_plugins.exported("", globals()))

from . import linalg, nn  # noqa: E402  (namespaces of built-in ops, filled once the registry is loaded)
from . import optim, utils  # noqa: E402
