"""Activation modules: each applies one registered op with the settings it was built with.

`nn.ReLU()` is `F.relu` as a layer, so that it can sit in a `Sequential`. The settings are
attributes (`nn.LeakyReLU(0.2).negative_slope`), passed to the op by name on every call.
"""
from __future__ import annotations

from typing import Any

from ..plugins import registry
from ..tensor import Tensor
from .module import Module


class OpModule(Module):
    """Applies the op registered as `op_name`, passing this module's settings as its params."""

    op_name: str

    def __init__(self, **settings: Any):
        super().__init__()
        self._settings = tuple(settings)
        for name, value in settings.items():
            setattr(self, name, value)

    def settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._settings}

    def forward(self, input: Tensor) -> Tensor:
        return registry[self.op_name](input, **self.settings())

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={value!r}" for name, value in self.settings().items())


class ReLU(OpModule):
    op_name = "nn.functional.relu"


class ReLU6(OpModule):
    op_name = "nn.functional.relu6"


class LeakyReLU(OpModule):
    op_name = "nn.functional.leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        super().__init__(negative_slope=negative_slope)


class ELU(OpModule):
    op_name = "nn.functional.elu"

    def __init__(self, alpha: float = 1.0):
        super().__init__(alpha=alpha)


class CELU(OpModule):
    op_name = "nn.functional.celu"

    def __init__(self, alpha: float = 1.0):
        super().__init__(alpha=alpha)


class SELU(OpModule):
    op_name = "nn.functional.selu"


class GELU(OpModule):
    op_name = "nn.functional.gelu"

    def __init__(self, approximate: str = "none"):
        super().__init__(approximate=approximate)


class SiLU(OpModule):
    op_name = "nn.functional.silu"


class Mish(OpModule):
    op_name = "nn.functional.mish"


class Softplus(OpModule):
    op_name = "nn.functional.softplus"

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__(beta=beta, threshold=threshold)


class Softsign(OpModule):
    op_name = "nn.functional.softsign"


class Hardtanh(OpModule):
    op_name = "nn.functional.hardtanh"

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        super().__init__(min_val=min_val, max_val=max_val)


class Hardsigmoid(OpModule):
    op_name = "nn.functional.hardsigmoid"


class Hardswish(OpModule):
    op_name = "nn.functional.hardswish"


class LogSigmoid(OpModule):
    op_name = "nn.functional.logsigmoid"


class Sigmoid(OpModule):
    op_name = "sigmoid"


class Tanh(OpModule):
    op_name = "tanh"


class Softmax(OpModule):
    """Softmax along `dim` (PyTorch's implicit-dim guess is not kept: name the dim)."""

    op_name = "nn.functional.softmax"

    def __init__(self, dim: int):
        super().__init__(dim=dim)


class LogSoftmax(OpModule):
    op_name = "nn.functional.log_softmax"

    def __init__(self, dim: int):
        super().__init__(dim=dim)
