"""Modules for the ops of `lucid_ops.more_activations`, `more_losses` and `more_nn`: GroupNorm,
PixelShuffle, PixelUnshuffle, GLU, PReLU, the shrinks, Softmin and the losses, as in `torch.nn`.

As everywhere in `lucid.nn`, a module holds weights and settings and calls one verified op.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import OpError
from ..plugins import registry
from ..tensor import Tensor
from . import functional as F
from . import init
from .activation import OpModule
from .layers import _new_parameter, check_dtype_matches, check_input
from .loss import Loss
from .module import Module, check_dtype


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


class PixelShuffle(OpModule):
    op_name = "nn.functional.pixel_shuffle"

    def __init__(self, upscale_factor: int):
        super().__init__(upscale_factor=upscale_factor)


class PixelUnshuffle(OpModule):
    op_name = "nn.functional.pixel_unshuffle"

    def __init__(self, downscale_factor: int):
        super().__init__(downscale_factor=downscale_factor)


class PReLU(Module):
    """x above 0, weight * x below: one learned slope, or one per channel (dim 1), starting at `init`."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = _new_parameter((num_parameters,), dtype, "PReLU")
        self.weight.data[...] = init

    def forward(self, input: Tensor) -> Tensor:
        check_dtype_matches(self, input, self.weight)
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class GroupNorm(Module):
    """Normalize each group of num_channels / num_groups channels of each sample, then scale and
    shift each channel (when affine: weight 1 and, unless bias=False, bias 0 to start)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, bias: bool = True,
                 dtype: Any = None):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
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


class InstanceNorm2d(Module):
    """Normalize each channel of each image (N, C, H, W) or (C, H, W) by its own statistics; with
    track_running_stats, keep running averages of them for eval, as BatchNorm does. By default, as
    in PyTorch, neither weights (affine=False) nor running statistics. (num_batches_tracked stays 0,
    as PyTorch's InstanceNorm leaves it: only its state dict has it.)"""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, dtype: Any = None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.register_parameter(
            "weight", init.ones_(_new_parameter((num_features,), dtype, "InstanceNorm2d")) if affine else None)
        self.register_parameter(
            "bias", init.zeros_(_new_parameter((num_features,), dtype, "InstanceNorm2d")) if affine else None)
        if track_running_stats:
            float_type = check_dtype(np.float32 if dtype is None else dtype, "InstanceNorm2d")
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=float_type)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=float_type)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, input: Tensor) -> Tensor:
        check_input(self, input, input.ndim in (3, 4) and input.shape[-3] == self.num_features,
                    f"(N, {self.num_features}, H, W) or ({self.num_features}, H, W)")
        check_dtype_matches(self, input, self.weight)
        batched = input if input.ndim == 4 else input.unsqueeze(0)
        out = F.instance_norm(batched, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats, self.momentum, self.eps)
        return out if input.ndim == 4 else out.squeeze(0)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class MarginRankingLoss(Loss):
    op_name = "nn.functional.margin_ranking_loss"

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction, margin=margin)

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:  # type: ignore[override]
        return registry[self.op_name](input1, input2, target, **self.settings())


class CosineEmbeddingLoss(MarginRankingLoss):
    op_name = "nn.functional.cosine_embedding_loss"


class TripletMarginLoss(Loss):
    op_name = "nn.functional.triplet_margin_loss"

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction, margin=margin, p=p, eps=eps, swap=swap)

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:  # type: ignore[override]
        return registry[self.op_name](anchor, positive, negative, **self.settings())


class PoissonNLLLoss(Loss):
    op_name = "nn.functional.poisson_nll_loss"

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8, reduction: str = "mean"):
        super().__init__(reduction, log_input=log_input, full=full, eps=eps)


class GaussianNLLLoss(Loss):
    op_name = "nn.functional.gaussian_nll_loss"

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction, full=full, eps=eps)

    def forward(self, input: Tensor, target: Tensor, var: Tensor) -> Tensor:  # type: ignore[override]
        return registry[self.op_name](input, target, var, **self.settings())


__all__ = ["GLU", "Hardshrink", "Softshrink", "Tanhshrink", "Softmin", "PixelShuffle", "PixelUnshuffle", "PReLU",
           "GroupNorm", "InstanceNorm2d", "MarginRankingLoss", "CosineEmbeddingLoss", "TripletMarginLoss",
           "PoissonNLLLoss", "GaussianNLLLoss"]
