"""Loss modules: `nn.CrossEntropyLoss()(logits, target)` is `F.cross_entropy(logits, target)` with
its settings fixed at construction. Tensor settings (class weights, pos_weight) are buffers, so
`.to(dtype)` converts them with the model."""
from __future__ import annotations

from typing import Any

from ..plugins import registry
from ..tensor import Tensor
from .activation import OpModule


class Loss(OpModule):
    """Applies the loss op registered as `op_name` to its inputs ((input, target), or three, as
    (anchor, positive, negative)), passing the settings and the non-None buffers by name."""

    def __init__(self, reduction: str = "mean", **settings: Any):
        super().__init__(reduction=reduction, **settings)

    def forward(self, *inputs: Tensor, **named_inputs: Tensor) -> Tensor:
        """The inputs by position or by the op's names for them (input=, target=), as PyTorch's losses take them."""
        kwargs = self.settings()
        kwargs.update((name, t) for name, t in self._buffers.items() if t is not None)
        return registry[self.op_name](*inputs, **named_inputs, **kwargs)


class MSELoss(Loss):
    op_name = "nn.functional.mse_loss"


class L1Loss(Loss):
    op_name = "nn.functional.l1_loss"


class SmoothL1Loss(Loss):
    op_name = "nn.functional.smooth_l1_loss"

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction, beta=beta)


class HuberLoss(Loss):
    op_name = "nn.functional.huber_loss"

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction, delta=delta)


class KLDivLoss(Loss):
    op_name = "nn.functional.kl_div"

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction, log_target=log_target)


class CrossEntropyLoss(Loss):
    """Softmax and negative log-likelihood in one, from logits (N, C) and class indices (N,) or
    class probabilities (N, C)."""

    op_name = "nn.functional.cross_entropy"

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)
        self.register_buffer("weight", weight)


class NLLLoss(Loss):
    op_name = "nn.functional.nll_loss"

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction, ignore_index=ignore_index)
        self.register_buffer("weight", weight)


class BCELoss(Loss):
    op_name = "nn.functional.binary_cross_entropy"

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class BCEWithLogitsLoss(Loss):
    op_name = "nn.functional.binary_cross_entropy_with_logits"

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean", pos_weight: Tensor | None = None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)


class MarginRankingLoss(Loss):
    op_name = "nn.functional.margin_ranking_loss"

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction, margin=margin)


class CosineEmbeddingLoss(Loss):
    op_name = "nn.functional.cosine_embedding_loss"

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction, margin=margin)


class TripletMarginLoss(Loss):
    op_name = "nn.functional.triplet_margin_loss"

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction, margin=margin, p=p, eps=eps, swap=swap)


class PoissonNLLLoss(Loss):
    op_name = "nn.functional.poisson_nll_loss"

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8, reduction: str = "mean"):
        super().__init__(reduction, log_input=log_input, full=full, eps=eps)


class GaussianNLLLoss(Loss):
    op_name = "nn.functional.gaussian_nll_loss"

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction, full=full, eps=eps)
