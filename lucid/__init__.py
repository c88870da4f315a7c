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

from typing import Any

import numpy as np

from .creation import (arange, empty, empty_like, eye, full, full_like, generator, linspace, manual_seed, ones,
                       ones_like, rand, randn, zeros, zeros_like)
from . import functions as _functions
from .functions import *  # noqa: F403  (comparisons, argmax, isnan...: no grad; listed in functions.__all__)
from .dtypes import get_default_dtype, promote_types, result_type, set_default_dtype
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
_builtin_ops = _plugins.exported("", globals())  # exp, matmul, sum...: known once the plugins are loaded
globals().update(_builtin_ops)

from . import inplace as _inplace  # noqa: E402  (x.add_(), x[i] = v, +=: the in-place methods)
_inplace.install()
from . import linalg, nn, special  # noqa: E402  (namespaces of built-in ops, filled once the registry is loaded)
from . import optim, utils  # noqa: E402

__all__ = [
    "Tensor", "tensor", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "arange", "empty", "empty_like", "eye", "full", "full_like",
    "linspace", "ones", "ones_like", "rand", "randn", "zeros", "zeros_like",
    "generator", "manual_seed", "load", "save",
    "float32", "float64", "int32", "int64", "bool_", "float", "double", "long",
    "LucidError", "OpError", "GraphError", "PluginError",
    "Op", "Arg", "Param", "Draw", "Example", "REQUIRED", "hookimpl", "register_plugin", "ops", "registry",
    "linalg", "nn", "special", "optim", "utils",
    "get_default_dtype", "set_default_dtype", "result_type", "promote_types",
    *_functions.__all__,
]
__all__ += sorted(_builtin_ops)


def __getattr__(name: str) -> Any:
    """Only reached for a name that is not here: the ops above are added at import time, which
    this signature also tells type checkers."""
    raise AttributeError(f"module 'lucid' has no attribute {name!r}")
