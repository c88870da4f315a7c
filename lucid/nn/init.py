"""Weight initialisation, in place and from `lucid.generator()` (so `lucid.manual_seed` repeats it).

Names and formulas follow `torch.nn.init`. The fans of a weight are the sizes its output and
input units are connected to: for Linear (out, in) they are in and out; for a convolution
(out, in/groups, *kernel) each is multiplied by the kernel's size.
"""
from __future__ import annotations

import math

import numpy as np

from ..creation import generator
from ..errors import OpError
from ..tensor import Tensor, no_grad


def fans(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise OpError(f"init: fan in and fan out need a weight with at least 2 dims, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


@no_grad()  # an initialisation is not part of any graph (parameters require grad)
def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    return tensor.copy_(generator().uniform(a, b, tensor.shape))


@no_grad()
def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    return tensor.copy_(generator().normal(mean, std, tensor.shape))


@no_grad()
def zeros_(tensor: Tensor) -> Tensor:
    return tensor.zero_()


@no_grad()
def ones_(tensor: Tensor) -> Tensor:
    return tensor.fill_(1)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan_in): keeps the activations' variance
    steady through ReLU-like layers (He et al., 2015). PyTorch's Linear and Conv use a = sqrt(5),
    for which bound = 1 / sqrt(fan_in)."""
    if nonlinearity == "leaky_relu":
        gain = math.sqrt(2.0 / (1 + a * a))
    elif nonlinearity == "relu":
        gain = math.sqrt(2.0)
    elif nonlinearity in ("linear", "sigmoid"):
        gain = 1.0
    else:
        raise OpError(f"kaiming_uniform_: unsupported nonlinearity {nonlinearity!r} "
                      f"(expected 'leaky_relu', 'relu', 'linear' or 'sigmoid')")
    if tensor.data.size == 0:  # Linear(0, n): no weights to draw, and fan_in = 0 has no bound (PyTorch skips too)
        return tensor
    bound = gain * math.sqrt(3.0 / fans(tensor)[0])
    return uniform_(tensor, -bound, bound)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = fans(tensor)
    if tensor.data.size == 0:
        return tensor
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)
