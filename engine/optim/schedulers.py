"""Learning-rate schedules, stepped once per epoch: `StepLR` and `CosineAnnealingLR`.

Both take their base rate from `optimizer.lr` when built, set `optimizer.lr` at once for
epoch 0, and again at every `step()`. The rate for epoch e (0-based, e = number of
`step()` calls so far) is a function of e alone, so a schedule restored from a state dict
continues exactly where it left off.

Warm-up: with `warmup_epochs = W > 0`, epoch e < W uses

    lr = base_lr * (e + 1) / (W + 1)

a linear ramp that never starts at 0 (an epoch at lr 0 would be wasted); from epoch W on,
the schedule runs as if it started at its own epoch 0 (so epoch W uses base_lr).
"""

from __future__ import annotations

import math

from . import _checks


class _Schedule:
    """Shared machinery: warm-up, stepping, and persistence; subclasses give the rate after warm-up."""

    #: the settings a subclass saves in its state dict besides base_lr, last_epoch, warmup_epochs
    settings: tuple[str, ...] = ()

    def __init__(self, optimizer, warmup_epochs: int = 0) -> None:
        self.optimizer = optimizer
        self.base_lr = _checks.number("optimizer.lr", optimizer.lr, 0.0)
        self.warmup_epochs = _checks.count("warmup_epochs", warmup_epochs)
        self.last_epoch = 0
        self._check_settings()
        self._apply()

    def _check_settings(self) -> None:
        """Check (and normalise) the subclass's settings; raise ValueError naming a bad one."""

    def _decay(self, epoch: int) -> float:
        """The share of base_lr the rate carries at `epoch` after warm-up (1 at its start)."""
        raise NotImplementedError

    def _after_warmup(self, epoch: int) -> float:
        return self.base_lr * self._decay(epoch)

    def lr_at(self, epoch: int) -> float:
        """The learning rate for 0-based `epoch`, warm-up included."""
        if epoch < self.warmup_epochs:
            return self.base_lr * (epoch + 1) / (self.warmup_epochs + 1)
        return self._after_warmup(epoch - self.warmup_epochs)

    def _slope(self, epoch: int) -> float:
        """How much the rate at `epoch` gains per unit of base_lr (it is affine in base_lr)."""
        if epoch < self.warmup_epochs:
            return (epoch + 1) / (self.warmup_epochs + 1)
        return self._decay(epoch - self.warmup_epochs)

    def retarget(self, lr: float) -> None:
        """Make `lr` the rate of the current epoch, keeping the schedule's shape relative to it.

        For a learning rate typed during training: the rate is homogeneous in the schedule's
        scale (base_lr, and cosine's eta_min), so the scale is multiplied by lr / current and
        a later `step()` gives what it would have given, scaled alike. The change survives
        checkpoints, since the state dict holds the scale. A schedule at rate 0 has nothing to
        multiply: base_lr is then solved for from the slope; where base_lr no longer matters
        (cosine at or past its end), `_hold` keeps the rate another way. The optimizer's rate
        is left to the caller.
        """
        current = self.lr_at(self.last_epoch)
        if current > 0:
            self._scale(lr / current)
            return
        slope = self._slope(self.last_epoch)
        if slope > 0:
            self.base_lr += (lr - current) / slope
        else:
            self._hold(lr)

    def _scale(self, factor: float) -> None:
        """Multiply every rate of the schedule by `factor`."""
        self.base_lr *= factor

    def _hold(self, lr: float) -> None:
        """Make `lr` the current rate where base_lr has no effect on it."""
        self.base_lr = lr

    def step(self) -> None:
        """Move to the next epoch (call once per epoch, after its optimizer steps) and set its rate."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> float:
        """The rate this schedule last set (one float: an optimizer here has a single learning rate)."""
        return self._last_lr

    def _apply(self) -> None:
        self._last_lr = self.lr_at(self.last_epoch)
        self.optimizer.lr = self._last_lr

    def state_dict(self) -> dict:
        """A JSON-able snapshot: base_lr, last_epoch, warm-up and the schedule's settings."""
        state = {"type": type(self).__name__, "base_lr": self.base_lr,
                 "last_epoch": self.last_epoch, "warmup_epochs": self.warmup_epochs}
        state.update({name: getattr(self, name) for name in self.settings})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore a snapshot (checked first) and set the optimizer's rate to the restored epoch's.

        Setting `optimizer.lr` here means the order in which optimizer and schedule are
        restored does not matter: the next epoch trains at the scheduled rate either way.
        """
        kind = type(self).__name__
        _checks.same_type(kind, state, kind)
        _checks.require_keys(kind, state, ("base_lr", "last_epoch", "warmup_epochs", *self.settings))
        unexpected = [k for k in state if k not in ("type", "base_lr", "last_epoch", "warmup_epochs", *self.settings)]
        if unexpected:
            raise ValueError(f"{kind} state dict has unexpected entries {unexpected}")
        before = {name: getattr(self, name) for name in ("base_lr", "last_epoch", "warmup_epochs", *self.settings)}
        try:
            self.base_lr = _checks.number("base_lr", state["base_lr"], 0.0)
            self.last_epoch = _checks.count("last_epoch", state["last_epoch"])
            self.warmup_epochs = _checks.count("warmup_epochs", state["warmup_epochs"])
            for name in self.settings:
                setattr(self, name, state[name])
            self._check_settings()
        except ValueError:
            for name, value in before.items():  # all or nothing
                setattr(self, name, value)
            raise
        self._apply()

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.settings)
        return (f"{type(self).__name__}({settings}, warmup_epochs={self.warmup_epochs}, "
                f"base_lr={self.base_lr:g}, last_epoch={self.last_epoch})")


class StepLR(_Schedule):
    """Multiply the rate by `gamma` every `step_size` epochs: lr = base_lr * gamma ** (e // step_size)."""

    settings = ("step_size", "gamma")

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, warmup_epochs: int = 0) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, warmup_epochs)

    def _check_settings(self) -> None:
        self.step_size = _checks.count("step_size", self.step_size, low=1)
        self.gamma = _checks.number("gamma", self.gamma, 0.0, low_open=True)

    def _decay(self, epoch: int) -> float:
        return self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(_Schedule):
    """Half a cosine from base_lr down to `eta_min` over `T_max` epochs, then hold `eta_min`.

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * e / T_max)) / 2,   e <= T_max

    Unlike PyTorch's closed form, which climbs back up after T_max, the rate stays at
    eta_min: training run past its planned length should not suddenly speed up again.
    """

    settings = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, warmup_epochs: int = 0) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, warmup_epochs)

    def _check_settings(self) -> None:
        self.T_max = _checks.count("T_max", self.T_max, low=1)
        self.eta_min = _checks.number("eta_min", self.eta_min, 0.0)

    def _decay(self, epoch: int) -> float:
        progress = min(epoch, self.T_max) / self.T_max
        return (1 + math.cos(math.pi * progress)) / 2

    def _after_warmup(self, epoch: int) -> float:
        return self.eta_min + (self.base_lr - self.eta_min) * self._decay(epoch)

    def _scale(self, factor: float) -> None:
        """The floor scales with the rest, so the curve keeps its shape."""
        self.base_lr *= factor
        self.eta_min *= factor

    def _hold(self, lr: float) -> None:
        """At or past T_max the rate is the floor: the typed rate becomes it, and is held from then on."""
        self.eta_min = lr

    def stretch(self, T_max: int) -> None:
        """Span `T_max` epochs after warm-up from now on (a run planned longer), and set the current rate.

        A run extended past its end would otherwise hold eta_min (0 by default) and learn
        nothing more: the rate follows the longer curve instead, as if planned so from the start.
        """
        self.T_max = _checks.count("T_max", T_max, low=1)
        self._apply()
