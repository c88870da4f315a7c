"""Weight initialisation, in place and from `lucid.generator()` (so `lucid.manual_seed` repeats it).

Names and formulas follow `torch.nn.init`. The fans of a weight are the sizes its output and
input units are connected to: for Linear (out, in) they are in and out; for a convolution
(out, in/groups, *kernel) each is multiplied by the kernel's size.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..creation import check_count, generator
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
def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> Tensor:
    """N(mean, std) conditioned on [a, b]: values outside are redrawn, not clipped. Drawn by
    inverting the truncated distribution's CDF, so an interval far in a tail costs no more."""
    if not (isinstance(mean, numbers.Real) and not isinstance(mean, bool) and math.isfinite(mean)):
        raise OpError(f"trunc_normal_: mean must be a finite number, got {mean!r}")
    if not (isinstance(std, numbers.Real) and 0 < std < math.inf):
        raise OpError(f"trunc_normal_: std must be a finite number > 0, got {std!r}")
    if not (isinstance(a, numbers.Real) and isinstance(b, numbers.Real) and a < b):
        raise OpError(f"trunc_normal_: the bounds must be numbers with a < b, got a={a!r}, b={b!r}")
    from scipy.stats import truncnorm  # imported here: only this initialiser needs scipy.stats
    standard = truncnorm.rvs((a - mean) / std, (b - mean) / std, size=tensor.shape, random_state=generator())
    # np.clip only undoes the rounding of mean + std * x; the bounds then hold in a float32 tensor too,
    # as rounding never moves a value past a rounded bound
    return tensor.copy_(np.clip(mean + std * standard, a, b))


@no_grad()
def constant_(tensor: Tensor, val: float) -> Tensor:
    if not isinstance(val, (numbers.Real, Tensor)):
        raise OpError(f"constant_: val must be a number or a one-element tensor, got {val!r}")
    return tensor.fill_(val)


@no_grad()
def zeros_(tensor: Tensor) -> Tensor:
    return tensor.zero_()


@no_grad()
def ones_(tensor: Tensor) -> Tensor:
    return tensor.fill_(1)


@no_grad()
def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (a rectangular one: ones on the main diagonal) in a 2-D weight, so that
    a Linear layer starts by passing its inputs through."""
    if tensor.ndim != 2:
        raise OpError(f"eye_: expected a 2-D tensor, got shape {tensor.shape}")
    return tensor.copy_(np.eye(*tensor.shape))


@no_grad()
def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """A convolution weight (out, in, *kernel) that passes channels through: in each of the
    `groups`, output channel d gets a 1 at the kernel's centre of input channel d."""
    if tensor.ndim not in (3, 4, 5):
        raise OpError(f"dirac_: expected a 3-D, 4-D or 5-D convolution weight, got shape {tensor.shape}")
    check_count(groups, "groups", "dirac_")
    if groups < 1 or tensor.shape[0] % groups:
        raise OpError(f"dirac_: groups must be a positive integer dividing dim 0 ({tensor.shape[0]}) of shape "
                      f"{tensor.shape}, got {groups!r}")
    out_per_group = tensor.shape[0] // groups
    centre = tuple(size // 2 for size in tensor.shape[2:])
    weight = np.zeros(tensor.shape)
    for g in range(groups):
        for d in range(min(out_per_group, tensor.shape[1])):
            weight[(g * out_per_group + d, d) + centre] = 1
    return tensor.copy_(weight)


_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor by which to scale a weight's standard deviation so that activations keep their
    variance through `nonlinearity` (PyTorch's values: 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + slope**2)) for leaky_relu with negative slope `param` (0.01 if None), 3/4 for selu)."""
    if nonlinearity in _LINEAR:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            param = 0.01
        elif isinstance(param, bool) or not isinstance(param, (int, float)):
            raise OpError(f"calculate_gain: the negative slope of leaky_relu must be a number, got {param!r}")
        return math.sqrt(2.0 / (1 + param ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise OpError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r} (expected one of "
                  f"{', '.join(map(repr, (*_LINEAR, 'tanh', 'relu', 'leaky_relu', 'selu')))})")


def _fan(tensor: Tensor, mode: str) -> int:
    """The fan_in or fan_out of `tensor`, as `mode` names it."""
    if mode not in ("fan_in", "fan_out"):
        raise OpError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(tensor)
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan): keeps the activations' variance steady
    through ReLU-like layers (He et al., 2015); `a` is leaky_relu's negative slope. PyTorch's
    Linear and Conv use a = sqrt(5), for which bound = 1 / sqrt(fan_in)."""
    gain = calculate_gain(nonlinearity, a)
    if tensor.data.size == 0:  # Linear(0, n): no weights to draw, and fan_in = 0 has no bound (PyTorch skips too)
        return tensor
    bound = gain * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std**2) with std = gain / sqrt(fan) (He et al., 2015); `a` is leaky_relu's negative slope."""
    gain = calculate_gain(nonlinearity, a)
    if tensor.data.size == 0:
        return tensor
    return normal_(tensor, 0.0, gain / math.sqrt(_fan(tensor, mode)))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = fans(tensor)
    if tensor.data.size == 0:
        return tensor
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = fans(tensor)
    if tensor.data.size == 0:
        return tensor
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


@no_grad()
def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix, times `gain`, drawn uniformly (Saxe et al., 2013): the weight
    viewed as (rows, everything else) has orthonormal rows or columns, whichever are fewer."""
    if tensor.ndim < 2:
        raise OpError(f"orthogonal_: expected a tensor with at least 2 dims, got shape {tensor.shape}")
    if tensor.data.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.data.size // rows
    flat = generator().standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # QR's signs are arbitrary; fixing them makes Q uniform (Mezzadri, 2007)
    return tensor.copy_((gain * (q.T if rows < cols else q)).reshape(tensor.shape))
