"""Upsampling layers: `nn.functional.interpolate` with its settings kept, as torch.nn's."""
from __future__ import annotations

from collections.abc import Sequence

from ..tensor import Tensor
from . import functional as F
from .module import Module

Size = int | Sequence[int] | None
Scale = float | Sequence[float] | None


class Upsample(Module):
    """interpolate(input, size or scale_factor, mode, align_corners, recompute_scale_factor)."""

    def __init__(self, size: Size = None, scale_factor: Scale = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None):
        super().__init__()
        self.size = tuple(size) if isinstance(size, Sequence) else size
        # PyTorch keeps the factors as floats, so a layer made with 2 shows scale_factor=2.0
        self.scale_factor = tuple(map(float, scale_factor)) if isinstance(scale_factor, Sequence) else \
            None if scale_factor is None else float(scale_factor)
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        given = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{given}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample in mode nearest (PyTorch's older name for it, for 4-d inputs)."""

    def __init__(self, size: Size = None, scale_factor: Scale = None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample in mode bilinear with align_corners=True (PyTorch's older name, which keeps the corners)."""

    def __init__(self, size: Size = None, scale_factor: Scale = None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
