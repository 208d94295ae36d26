"""Optimizers, learning-rate schedules, gradient clipping and early stopping, with PyTorch's names.

    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.CosineAnnealingLR(opt, T_max=20, warmup_epochs=2)
    ...  opt.zero_grad(); loss.backward(); optim.clip_grad_norm_(model.parameters(), 1.0); opt.step()
    sched.step()  # once per epoch
"""

from .clip import clip_grad_norm_, grad_norms
from .early_stopping import EarlyStopping
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .schedulers import CosineAnnealingLR, StepLR

__all__ = [
    "Optimizer", "SGD", "RMSprop", "Adam", "AdamW",
    "StepLR", "CosineAnnealingLR",
    "clip_grad_norm_", "grad_norms", "EarlyStopping",
]
