"""Layers: Modules that own parameters (or settings) and call one op of `lucid.nn.functional`.

A layer's job is bookkeeping: create and initialise its weights, check that an input fits them
(so that a wrong shape is reported in the layer's terms), and hand both to the op. The math and
its derivative live in the op.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..creation import check_count
from ..dtypes import get_default_dtype
from ..errors import OpError
from ..tensor import Tensor, increment_version
from . import functional as F
from . import init
from .module import Module, Parameter, check_dtype


def check_input(layer: Module, input: Any, ok: bool, expected: str) -> None:
    """Raise a clear error, in the layer's own terms, if `input` is not a Tensor of the expected shape."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{type(layer).__name__}: expected a Tensor input, got {type(input).__name__}")
    if not ok:
        raise OpError(f"{type(layer).__name__}({layer.extra_repr()}): expected input of shape {expected}, "
                      f"got {tuple(input.shape)}")


def check_dtype_matches(layer: Module, input: Tensor, weight: Tensor | None) -> None:
    """A float32 layer given float64 data (or integers) is an error, as in PyTorch, rather than a
    silent upcast of every result."""
    if weight is not None and input.dtype != weight.dtype:
        raise OpError(f"{type(layer).__name__}: input has dtype {input.dtype} but the layer's weight is "
                      f"{weight.dtype}; convert the input (x.to(...)) or the layer (layer.to(...)) so they match")


def _new_parameter(shape: tuple[int, ...], dtype: Any, where: str) -> Parameter:
    """Every layer's weights are made here, so every layer's sizes are checked here."""
    for n in shape:
        check_count(n, "each size", where, shape)
    return Parameter(np.empty(shape, dtype=check_dtype(dtype or get_default_dtype(), where)))


class Identity(Module):
    """Returns its input: a placeholder where a layer is optional."""

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """y = x @ weight.T + bias, with weight of shape (out_features, in_features) as in PyTorch.

    Both start uniform in (-1/sqrt(in_features), 1/sqrt(in_features)): PyTorch's default."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None):
        super().__init__()
        check_count(in_features, "in_features", "Linear")
        check_count(out_features, "out_features", "Linear")
        self.in_features, self.out_features = in_features, out_features
        self.weight = _new_parameter((out_features, in_features), dtype, "Linear")
        self.register_parameter("bias", _new_parameter((out_features,), dtype, "Linear") if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        check_input(self, input, input.ndim >= 1 and input.shape[-1] == self.in_features, f"(*, {self.in_features})")
        check_dtype_matches(self, input, self.weight)
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


class _ConvNd(Module):
    """Shared by the convolutions and the transposed ones. A convolution's weight is
    (out_channels, in_channels / groups, *kernel_size); a transposed one's, the weight of the
    convolution it is the adjoint of, (in_channels, out_channels / groups, *kernel_size)."""

    dims: int
    function: str
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] | str = 0,
                 dilation: int | Sequence[int] = 1, groups: int = 1, bias: bool = True, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        if in_channels % groups or out_channels % groups:
            raise OpError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                          f"divisible by groups ({groups})")
        kernel = self._tuple(kernel_size)
        if len(kernel) != self.dims:
            raise OpError(f"{name}: kernel_size {kernel_size} should have {self.dims} entries")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel
        self.stride, self.dilation, self.groups = self._tuple(stride), self._tuple(dilation), groups
        self.padding = padding if isinstance(padding, str) else self._tuple(padding)  # "same" / "valid" stay
        channels = (in_channels, out_channels // groups) if self.transposed else (out_channels, in_channels // groups)
        self.weight = _new_parameter((*channels, *kernel), dtype, name)
        self.register_parameter("bias", _new_parameter((out_channels,), dtype, name) if bias else None)
        self.reset_parameters()

    def _tuple(self, value: int | Sequence[int]) -> tuple[int, ...]:
        return (value,) * self.dims if isinstance(value, int) else tuple(value)

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = init.fans(self.weight)[0]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _check(self, input: Tensor) -> None:
        n, spatial = self.dims, _SPATIAL[self.dims]
        ok = input.ndim in (n + 1, n + 2) and input.shape[-n - 1] == self.in_channels
        check_input(self, input, ok, f"(N, {self.in_channels}, {spatial}) or ({self.in_channels}, {spatial})")
        check_dtype_matches(self, input, self.weight)

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return getattr(F, self.function)(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                                         self.groups)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        text += f", padding={self.padding}" if self.padding != (0,) * self.dims else ""
        text += f", dilation={self.dilation}" if self.dilation != (1,) * self.dims else ""
        text += f", output_padding={self.output_padding}" if self.transposed and any(self.output_padding) else ""
        text += f", groups={self.groups}" if self.groups != 1 else ""
        return text + (", bias=False" if self.bias is None else "")


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation, as in PyTorch) over inputs (N, C, L)."""

    dims, function = 1, "conv1d"


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as in PyTorch) over inputs (N, C, H, W)."""

    dims, function = 2, "conv2d"


class Conv3d(_ConvNd):
    """3-D convolution (cross-correlation, as in PyTorch) over inputs (N, C, D, H, W)."""

    dims, function = 3, "conv3d"


class _ConvTransposeNd(_ConvNd):
    """A transposed convolution: the gradient of a convolution with respect to its input, so a
    layer that upsamples. output_padding (or a forward's output_size) picks among the output sizes
    that a strided convolution maps to the same input size."""

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                 output_padding: int | Sequence[int] = 0, groups: int = 1, bias: bool = True,
                 dilation: int | Sequence[int] = 1, dtype: Any = None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, dtype)
        self.output_padding = self._tuple(output_padding)

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        self._check(input)
        return getattr(F, self.function)(input, self.weight, self.bias, self.stride, self.padding,
                                         self._output_padding(input, output_size), self.groups, self.dilation)

    def _output_padding(self, input: Tensor, output_size: Sequence[int] | None) -> tuple[int, ...]:
        """output_padding, or the one that gives `output_size` (its last dims are the spatial ones)."""
        if output_size is None:
            return self.output_padding
        wanted = tuple(output_size)[-self.dims:]
        smallest = tuple((i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, d, k in zip(
            input.shape[-self.dims:], self.stride, self.padding, self.dilation, self.kernel_size))
        extra = tuple(w - m for w, m in zip(wanted, smallest))
        if len(wanted) != self.dims or any(e < 0 or e >= max(s, d) for e, s, d in zip(extra, self.stride,
                                                                                      self.dilation)):
            raise OpError(f"{type(self).__name__}: output_size {tuple(output_size)} is not reachable from an input "
                          f"of shape {tuple(input.shape)}: each spatial size must lie between {smallest} and that "
                          f"plus max(stride, dilation) - 1")
        return extra


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over inputs (N, C, L)."""

    dims, function = 1, "conv_transpose1d"


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over inputs (N, C, H, W)."""

    dims, function = 2, "conv_transpose2d"


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution over inputs (N, C, D, H, W)."""

    dims, function = 3, "conv_transpose3d"


def _check_image(layer: Module, input: Tensor) -> None:
    check_input(layer, input, input.ndim in (3, 4), "(N, C, H, W) or (C, H, W)")


class _PoolNd(Module):
    """Shared by the max and average poolings: the windows' settings (stride defaults to
    kernel_size: windows tile the input), and an input of dims + 1 or dims + 2 axes."""

    dims: int
    function: str

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                 padding: int | Sequence[int] = 0, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.padding, self.ceil_mode = kernel_size, padding, ceil_mode
        self.stride = kernel_size if stride is None else stride

    def _check(self, input: Tensor) -> None:
        spatial = _SPATIAL[self.dims]
        check_input(self, input, input.ndim in (self.dims + 1, self.dims + 2), f"(N, C, {spatial}) or (C, {spatial})")


class _MaxPoolNd(_PoolNd):
    """The maximum of each kernel_size window; with return_indices also where it lies (what
    MaxUnpool takes)."""

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                 padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation, self.return_indices = dilation, return_indices

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return getattr(F, self.function)(input, self.kernel_size, self.stride, self.padding, self.dilation,
                                         self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max pooling over inputs (N, C, L)."""

    dims, function = 1, "max_pool1d"


class MaxPool2d(_MaxPoolNd):
    """Max pooling over inputs (N, C, H, W)."""

    dims, function = 2, "max_pool2d"


class MaxPool3d(_MaxPoolNd):
    """Max pooling over inputs (N, C, D, H, W)."""

    dims, function = 3, "max_pool3d"


class _AvgPoolNd(_PoolNd):
    """The mean of each kernel_size window."""

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                 padding: int | Sequence[int] = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        override = {"divisor_override": self.divisor_override} if self.divisor_override is not None else {}
        return getattr(F, self.function)(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                         self.count_include_pad, **override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Average pooling over inputs (N, C, L) (PyTorch's takes no divisor_override)."""

    dims, function = 1, "avg_pool1d"

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                 padding: int | Sequence[int] = 0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Average pooling over inputs (N, C, H, W)."""

    dims, function = 2, "avg_pool2d"


class AvgPool3d(_AvgPoolNd):
    """Average pooling over inputs (N, C, D, H, W)."""

    dims, function = 3, "avg_pool3d"


class _MaxUnpoolNd(Module):
    """The inverse of max pooling where it can be one: each value put back where the pooling's
    return_indices found it, zeros elsewhere."""

    dims: int
    function: str

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                 padding: int | Sequence[int] = 0):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def forward(self, input: Tensor, indices: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        spatial = _SPATIAL[self.dims]
        check_input(self, input, input.ndim in (self.dims + 1, self.dims + 2), f"(N, C, {spatial}) or (C, {spatial})")
        return getattr(F, self.function)(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Max unpooling onto (N, C, L)."""

    dims, function = 1, "max_unpool1d"


class MaxUnpool2d(_MaxUnpoolNd):
    """Max unpooling onto (N, C, H, W)."""

    dims, function = 2, "max_unpool2d"


class MaxUnpool3d(_MaxUnpoolNd):
    """Max unpooling onto (N, C, D, H, W)."""

    dims, function = 3, "max_unpool3d"


class AdaptiveAvgPool2d(Module):
    """Average-pools any (H, W) down to `output_size`: what lets a CNN head accept any image size."""

    def __init__(self, output_size: int | Sequence[int]):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        _check_image(self, input)
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(Module):
    """Average-pools any length L down to `output_size`."""

    def __init__(self, output_size: int | Sequence[int]):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        check_input(self, input, input.ndim in (2, 3), "(N, C, L) or (C, L)")
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max-pools any (H, W) down to `output_size`; with return_indices also where each maximum lies."""

    def __init__(self, output_size: int | Sequence[int | None], return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        _check_image(self, input)
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    """Max-pools any length L down to `output_size`; with return_indices also where each maximum lies."""

    def __init__(self, output_size: int | Sequence[int], return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        check_input(self, input, input.ndim in (2, 3), "(N, C, L) or (C, L)")
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Flatten(Module):
    """Merge dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        ndim = max(input.ndim, 1)
        start, end = self.start_dim % ndim, self.end_dim % ndim
        check_input(self, input, -ndim <= self.start_dim < ndim and -ndim <= self.end_dim < ndim and start <= end,
                    f"with dims {self.start_dim}..{self.end_dim} in range")
        shape = input.shape
        return input.reshape(*shape[:start], int(np.prod(shape[start:end + 1])), *shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim `dim` into `unflattened_size` (one entry may be -1): Flatten's inverse,
    (N, 12) -> (N, 3, 4) with Unflatten(1, (3, 4))."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Unflatten: dim must be an int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in unflattened_size):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        self.dim, self.unflattened_size = int(dim), tuple(int(n) for n in unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        check_input(self, input, -input.ndim <= self.dim < input.ndim, f"with a dim {self.dim}")
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1/(1-p); in eval, identity."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or not 0 <= p <= 1:
            raise OpError(f"Dropout: probability p must be in [0, 1], got {p!r}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class _BatchNorm(Module):
    """Normalise each channel by its batch statistics in training, by running averages in eval;
    then scale by `weight` and shift by `bias` (when affine)."""

    shapes: tuple[int, ...]
    expected: str

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = None, *, bias: bool = True):
        super().__init__()
        name = type(self).__name__
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.register_parameter("weight", init.ones_(_new_parameter((num_features,), dtype, name)) if affine else None)
        self.register_parameter(
            "bias", init.zeros_(_new_parameter((num_features,), dtype, name)) if affine and bias else None)
        if track_running_stats:
            float_type = check_dtype(dtype or get_default_dtype(), name)
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=float_type)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=float_type)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, input: Tensor) -> Tensor:
        ok = input.ndim in self.shapes and input.shape[1] == self.num_features
        check_input(self, input, ok, self.expected.format(C=self.num_features))
        check_dtype_matches(self, input, self.weight)
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data = self.num_batches_tracked.data + 1
            if momentum is None:  # a cumulative average instead of an exponential one
                momentum = 1.0 / int(self.num_batches_tracked.data)
        use_batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                            use_batch_stats, momentum if momentum is not None else 0.0, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    shapes, expected = (2, 3), "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    shapes, expected = (4,), "(N, {C}, H, W)"


class LayerNorm(Module):
    """Normalise over the last dims (`normalized_shape`) of each sample, then scale and shift."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = None):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = init.ones_(_new_parameter(self.normalized_shape, dtype, "LayerNorm"))
            self.register_parameter(
                "bias", init.zeros_(_new_parameter(self.normalized_shape, dtype, "LayerNorm")) if bias else None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        n = len(self.normalized_shape)
        ok = input.ndim >= n and tuple(input.shape[input.ndim - n:]) == self.normalized_shape
        check_input(self, input, ok, f"(*, {', '.join(map(str, self.normalized_shape))})")
        check_dtype_matches(self, input, self.weight)
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalize each group of num_channels / num_groups channels of each sample, then scale and
    shift each channel (when affine: weight 1 and, unless bias=False, bias 0 to start)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, dtype: Any = None,
                 *, bias: bool = True):
        super().__init__()
        check_count(num_groups, "num_groups", "GroupNorm")
        check_count(num_channels, "num_channels", "GroupNorm")
        if num_groups == 0:
            raise OpError("GroupNorm: num_groups must be positive, got 0")
        if num_channels % num_groups:
            raise OpError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.register_parameter(
            "weight", init.ones_(_new_parameter((num_channels,), dtype, "GroupNorm")) if affine else None)
        self.register_parameter(
            "bias", init.zeros_(_new_parameter((num_channels,), dtype, "GroupNorm")) if affine and bias else None)

    def forward(self, input: Tensor) -> Tensor:
        check_input(self, input, input.ndim >= 2 and input.shape[1] == self.num_channels,
                    f"(N, {self.num_channels}, *)")
        check_dtype_matches(self, input, self.weight)
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class InstanceNorm2d(_BatchNorm):
    """Normalize each channel of each image (N, C, H, W) or (C, H, W) by its own statistics; with
    track_running_stats, keep running averages of them for eval, as BatchNorm does. By default, as
    in PyTorch, neither weights (affine=False) nor running statistics. As PyTorch's InstanceNorm,
    num_batches_tracked stays 0 (only the state dict has it) and momentum=None moves nothing."""

    expected = "(N, {C}, H, W) or ({C}, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, dtype: Any = None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        check_input(self, input, input.ndim in (3, 4) and input.shape[-3] == self.num_features,
                    self.expected.format(C=self.num_features))
        check_dtype_matches(self, input, self.weight)
        batched = input if input.ndim == 4 else input.unsqueeze(0)
        out = F.instance_norm(batched, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out if input.ndim == 4 else out.squeeze(0)


class PixelShuffle(Module):
    """(*, C r², H, W) -> (*, C, H r, W r): channels moved into r x r blocks of space."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor!r}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r², H, W): PixelShuffle undone."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor!r}"


class Embedding(Module):
    """A lookup table: row i of `weight` (num_embeddings, embedding_dim) is the vector of index i.
    Rows start standard normal; the `padding_idx` row starts at zero and gets no gradient."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype: Any = None):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise OpError(f"Embedding: padding_idx {padding_idx} is out of range for {num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.weight = init.normal_(_new_parameter((num_embeddings, embedding_dim), dtype, "Embedding"))
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0
            increment_version(self.weight)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
            got = input.dtype if isinstance(input, Tensor) else type(input).__name__
            raise OpError(f"Embedding: expected a tensor of integer indices, got {got}")
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")


__all__ = ["Identity", "Linear", "Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten",
           "Unflatten", "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d",
           "PixelShuffle", "PixelUnshuffle", "Embedding", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "MaxPool1d", "MaxPool3d", "AvgPool1d", "AvgPool3d", "MaxUnpool1d", "MaxUnpool2d",
           "MaxUnpool3d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d"]
