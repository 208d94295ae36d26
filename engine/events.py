"""What a training run reports: small immutable records, one per kind of moment.

They cross threads (the training thread produces them, a user interface consumes them), so
they hold plain Python values and private copies of arrays, never live model state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .divergence import advice


@dataclass(frozen=True)
class BatchEnd:
    """After every optimizer step."""

    epoch: int  # 0-based
    batch: int  # 0-based, within the epoch
    batches: int  # batches in this epoch at the current batch size
    loss: float  # this batch's
    accuracy: float | None  # running accuracy over the epoch so far (classification)
    samples_per_s: float
    mean_loss: float = float("nan")  # running mean loss over the epoch so far (what a progress bar shows)
    seen: int = 0  # examples trained on in this epoch so far (this batch's included)


@dataclass(frozen=True)
class EpochEnd:
    """After every epoch: the figures a studio plots and a log prints."""

    epoch: int  # 0-based
    epochs: int  # planned in total
    train_loss: float
    train_accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    grad_norms: dict[str, float]  # per layer, averaged over sampled batches
    weight_norms: dict[str, float]  # per layer, at the end of the epoch
    update_ratios: dict[str, float]  # per layer: |step| / |weights|, averaged over sampled batches
    samples_per_s: float
    seconds: float  # this epoch
    elapsed: float  # the whole run so far
    eta: float  # seconds left for the planned epochs
    confusion: np.ndarray | None = field(default=None, repr=False)  # (C, C) on validation, rows = truth
    probe_outputs: np.ndarray | None = field(default=None, repr=False)  # model outputs for the probe inputs
    distributions: dict = field(default_factory=dict, repr=False)
    """Per weight layer: quantiles of its weights, biases, activations and gradients, dead and saturated
    unit shares (`inside.layer_distributions`, on the probe inputs)."""

    def as_dict(self) -> dict:
        """The JSON-able part (no arrays), e.g. one row of a run's history."""
        return {
            "epoch": self.epoch + 1, "train_loss": self.train_loss, "train_acc": self.train_accuracy,
            "val_loss": self.val_loss, "val_acc": self.val_accuracy, "lr": self.lr,
            "grad_norms": dict(self.grad_norms), "weight_norms": dict(self.weight_norms),
            "update_ratios": dict(self.update_ratios), "samples_per_second": self.samples_per_s,
            "seconds": self.seconds, "elapsed": self.elapsed,
            **({"distributions": self.distributions} if self.distributions else {}),
        }


@dataclass(frozen=True)
class Paused:
    """The run waits between batches for a command."""

    epoch: int
    batch: int  # batches done in this epoch


@dataclass(frozen=True)
class Resumed:
    """A pause was lifted and the run goes on (not sent for a step taken while paused)."""

    epoch: int
    batch: int  # batches done in this epoch


@dataclass(frozen=True)
class Finished:
    """All planned epochs ran, or early stopping ended the run."""

    epochs_done: int
    reason: str  # "completed" or "early-stopped"
    message: str = ""


@dataclass(frozen=True)
class Stopped:
    """Stopped on request between two batches; the run can be resumed from here."""

    epoch: int
    batch: int


@dataclass(frozen=True)
class Diverged:
    """The loss, the gradients or the weights blew up (`divergence`); the last good weights were restored.

    It holds the facts and says them in `message`, so that a session numbering epochs after those
    of a save it continues renumbers the fields and the message follows.
    """

    epoch: int  # 0-based, the epoch it happened in
    batch: int | None  # 0-based, the batch it happened at; None: at the end of the epoch
    problem: str  # what blew up, e.g. "the loss became nan"
    restored_epoch: int  # epochs done by the weights now in the model
    restored_batch: int = 0  # and batches done in the next one (a run resumed mid-epoch: where it started)
    clipped: bool = False  # the run clipped its gradients already (the advice says so)

    @property
    def message(self) -> str:
        """Where and why the run diverged, which weights are back, and what to try."""
        if self.batch is None:
            where = f"the end of epoch {self.epoch + 1}"
        else:
            where = f"epoch {self.epoch + 1}, batch {self.batch + 1}"
        if self.restored_batch:
            restored = (f"the weights at batch {self.restored_batch} of epoch {self.restored_epoch + 1}, "
                        f"where this run started")
        elif self.restored_epoch:
            restored = f"the weights after epoch {self.restored_epoch}"
        else:
            restored = "the initial weights"
        return f"Training diverged at {where}: {self.problem}. Restored {restored}. {advice(self.clipped)}"


@dataclass(frozen=True)
class Failed:
    """An unexpected error ended the run."""

    message: str
    traceback: str = ""


Event = BatchEnd | EpochEnd | Paused | Resumed | Finished | Stopped | Diverged | Failed
