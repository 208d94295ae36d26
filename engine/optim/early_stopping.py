"""`EarlyStopping`: stop training once a monitored metric has stopped improving."""

from __future__ import annotations

import math

from . import _checks


class EarlyStopping:
    """Watch one metric per epoch; say stop after `patience` epochs in a row without improvement.

    An epoch improves when its value beats the best so far by more than `min_delta`
    (below it for mode="min", e.g. a loss; above it for mode="max", e.g. an accuracy).
    NaN never improves: a diverged run counts down to its stop instead of resetting it.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min") -> None:
        self.patience = _checks.count("patience", patience, low=1)
        self.min_delta = _checks.number("min_delta", min_delta, 0.0)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.best: float | None = None       # best value so far (None before the first real one)
        self.best_epoch: int | None = None   # 0-based index of the step() call that gave it
        self.num_bad_epochs = 0              # consecutive calls without improvement
        self.epoch = 0                       # how many values have been seen
        self.should_stop = False

    def improves(self, value: float) -> bool:
        """Whether `value` beats the best so far by more than min_delta."""
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value: float) -> bool:
        """Record this epoch's value; True when training should stop."""
        value = float(value)
        if self.improves(value):
            self.best, self.best_epoch, self.num_bad_epochs = value, self.epoch, 0
        else:
            self.num_bad_epochs += 1
        self.epoch += 1
        self.should_stop = self.num_bad_epochs >= self.patience
        return self.should_stop

    def state_dict(self) -> dict:
        """A JSON-able snapshot of the progress (and the mode it was measured in)."""
        return {"type": "EarlyStopping", "mode": self.mode, "best": self.best, "best_epoch": self.best_epoch,
                "num_bad_epochs": self.num_bad_epochs, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        """Restore progress; `patience` and `min_delta` stay as constructed, the mode must match.

        Keeping the settings lets a resumed run use a changed patience, while a best value
        measured in the other mode would be meaningless and is refused.
        """
        _checks.same_type("EarlyStopping", state, "EarlyStopping")
        _checks.require_keys("EarlyStopping", state, ("mode", "best", "best_epoch", "num_bad_epochs", "epoch"))
        if state["mode"] != self.mode:
            raise ValueError(f"state dict was recorded with mode={state['mode']!r}, this EarlyStopping has mode={self.mode!r}")
        best = None if state["best"] is None else _checks.number("best", state["best"])
        best_epoch = None if state["best_epoch"] is None else _checks.count("best_epoch", state["best_epoch"])
        if (best is None) != (best_epoch is None):
            raise ValueError("best and best_epoch must both be set or both be None")
        num_bad = _checks.count("num_bad_epochs", state["num_bad_epochs"])
        epoch = _checks.count("epoch", state["epoch"])
        self.best, self.best_epoch, self.num_bad_epochs, self.epoch = best, best_epoch, num_bad, epoch
        self.should_stop = self.num_bad_epochs >= self.patience
