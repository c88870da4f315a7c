"""Activation modules: each applies one registered op with the settings it was built with.

`nn.ReLU()` is `F.relu` as a layer, so that it can sit in a `Sequential`. The settings are
attributes (`nn.LeakyReLU(0.2).negative_slope`), passed to the op by name on every call.
"""
from __future__ import annotations

from typing import Any

from ..plugins import registry
from ..tensor import Tensor
from . import functional as F
from . import init as initializers
from .layers import _new_parameter, check_dtype_matches, check_input
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


class InPlaceOpModule(OpModule):
    """An activation that takes PyTorch's `inplace=`: with True, it changes its input in place."""

    def __init__(self, inplace: bool = False, **settings: Any):
        super().__init__(**settings)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return getattr(F, self.op_name.rsplit(".", 1)[1])(input, inplace=self.inplace, **self.settings())

    def extra_repr(self) -> str:
        return ", ".join(filter(None, (super().extra_repr(), "inplace=True" if self.inplace else "")))


class ReLU(InPlaceOpModule):
    op_name = "nn.functional.relu"


class ReLU6(InPlaceOpModule):
    op_name = "nn.functional.relu6"


class LeakyReLU(InPlaceOpModule):
    op_name = "nn.functional.leaky_relu"

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__(inplace, negative_slope=negative_slope)


class ELU(InPlaceOpModule):
    op_name = "nn.functional.elu"

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(inplace, alpha=alpha)


class CELU(InPlaceOpModule):
    op_name = "nn.functional.celu"

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(inplace, alpha=alpha)


class SELU(InPlaceOpModule):
    op_name = "nn.functional.selu"


class GELU(OpModule):
    op_name = "nn.functional.gelu"

    def __init__(self, approximate: str = "none"):
        super().__init__(approximate=approximate)


class SiLU(InPlaceOpModule):
    op_name = "nn.functional.silu"


class Mish(InPlaceOpModule):
    op_name = "nn.functional.mish"


class Softplus(OpModule):
    op_name = "nn.functional.softplus"

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__(beta=beta, threshold=threshold)


class Softsign(OpModule):
    op_name = "nn.functional.softsign"


class Hardtanh(InPlaceOpModule):
    op_name = "nn.functional.hardtanh"

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__(inplace, min_val=min_val, max_val=max_val)


class Hardsigmoid(InPlaceOpModule):
    op_name = "nn.functional.hardsigmoid"


class Hardswish(InPlaceOpModule):
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


class GLU(OpModule):
    op_name = "nn.functional.glu"

    def __init__(self, dim: int = -1):
        super().__init__(dim=dim)


class Hardshrink(OpModule):
    op_name = "nn.functional.hardshrink"

    def __init__(self, lambd: float = 0.5):
        super().__init__(lambd=lambd)


class Softshrink(OpModule):
    op_name = "nn.functional.softshrink"

    def __init__(self, lambd: float = 0.5):
        super().__init__(lambd=lambd)


class Tanhshrink(OpModule):
    op_name = "nn.functional.tanhshrink"


class Softmin(OpModule):
    """Softmin along `dim` (as Softmax, name the dim)."""

    op_name = "nn.functional.softmin"

    def __init__(self, dim: int):
        super().__init__(dim=dim)


class PReLU(Module):
    """x above 0, weight * x below: one learned slope, or one per channel (dim 1), starting at `init`."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = _new_parameter((num_parameters,), dtype, "PReLU")
        initializers.constant_(self.weight, init)

    def forward(self, input: Tensor) -> Tensor:
        channels = self.num_parameters
        fits = channels == 1 or (input.ndim >= 2 and input.shape[1] == channels)
        check_input(self, input, fits, f"(N, {channels}, *)")
        check_dtype_matches(self, input, self.weight)
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
