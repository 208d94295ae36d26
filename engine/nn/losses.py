"""Loss modules: `loss_fn(prediction, target)` returns a scalar tensor (or per-sample with reduction='none')."""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from raw logits (N, C) and integer class targets (N,)."""

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: Tensor, target) -> Tensor:
        return F.cross_entropy(logits, target, self.reduction, self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood from log-probabilities (use after LogSoftmax)."""

    def forward(self, log_probs: Tensor, target) -> Tensor:
        return F.nll_loss(log_probs, target, self.reduction)


class MSELoss(_Loss):
    def forward(self, pred: Tensor, target) -> Tensor:
        return F.mse_loss(pred, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities (use after Sigmoid)."""

    def forward(self, prob: Tensor, target) -> Tensor:
        return F.binary_cross_entropy(prob, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on raw scores: the stable way to train a sigmoid output."""

    def forward(self, logits: Tensor, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, self.reduction)
