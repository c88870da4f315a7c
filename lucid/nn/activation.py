"""Activation modules: each applies one registered op with the settings it was built with.

`nn.ReLU()` is `F.relu` as a layer, so that it can sit in a `Sequential`. The settings are
attributes (`nn.LeakyReLU(0.2).negative_slope`), passed to the op by name on every call.
"""
from __future__ import annotations

from typing import Any

from ..plugins import registry
from ..tensor import Tensor
from .module import Module


class Elementwise(Module):
    """Applies the op registered as `op_name`, with this module's `settings` as its params."""

    op_name: str

    def __init__(self, **settings: Any):
        super().__init__()
        self._settings = tuple(settings)
        for name, value in settings.items():
            setattr(self, name, value)

    def forward(self, input: Tensor) -> Tensor:
        return registry[self.op_name](input, **{name: getattr(self, name) for name in self._settings})

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in self._settings)


class ReLU(Elementwise):
    op_name = "nn.functional.relu"


class ReLU6(Elementwise):
    op_name = "nn.functional.relu6"


class LeakyReLU(Elementwise):
    op_name = "nn.functional.leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        super().__init__(negative_slope=negative_slope)


class ELU(Elementwise):
    op_name = "nn.functional.elu"

    def __init__(self, alpha: float = 1.0):
        super().__init__(alpha=alpha)


class CELU(Elementwise):
    op_name = "nn.functional.celu"

    def __init__(self, alpha: float = 1.0):
        super().__init__(alpha=alpha)


class SELU(Elementwise):
    op_name = "nn.functional.selu"


class GELU(Elementwise):
    op_name = "nn.functional.gelu"

    def __init__(self, approximate: str = "none"):
        super().__init__(approximate=approximate)


class SiLU(Elementwise):
    op_name = "nn.functional.silu"


class Mish(Elementwise):
    op_name = "nn.functional.mish"


class Softplus(Elementwise):
    op_name = "nn.functional.softplus"

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__(beta=beta, threshold=threshold)


class Softsign(Elementwise):
    op_name = "nn.functional.softsign"


class Hardtanh(Elementwise):
    op_name = "nn.functional.hardtanh"

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        super().__init__(min_val=min_val, max_val=max_val)


class Hardsigmoid(Elementwise):
    op_name = "nn.functional.hardsigmoid"


class Hardswish(Elementwise):
    op_name = "nn.functional.hardswish"


class LogSigmoid(Elementwise):
    op_name = "nn.functional.logsigmoid"


class Sigmoid(Elementwise):
    op_name = "sigmoid"


class Tanh(Elementwise):
    op_name = "tanh"


class Softmax(Elementwise):
    """Softmax along `dim` (PyTorch's implicit-dim guess is not kept: name the dim)."""

    op_name = "nn.functional.softmax"

    def __init__(self, dim: int):
        super().__init__(dim=dim)


class LogSoftmax(Elementwise):
    op_name = "nn.functional.log_softmax"

    def __init__(self, dim: int):
        super().__init__(dim=dim)
