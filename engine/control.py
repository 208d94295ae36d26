"""Commands from another thread to a running training loop, applied only between batches.

The user interface calls `pause()`, `step_batch()`, `set(lr=...)` and so on from its own
thread; the loop calls `checkpoint()` before each batch, where it picks up new settings,
waits while paused and learns whether to stop. A command therefore never lands in the
middle of a step.
"""

from __future__ import annotations

import threading

#: settings that may change while training
LIVE_SETTINGS = ("lr", "momentum", "weight_decay", "batch_size")


class Controller:
    """Thread-safe mailbox between a user interface and the training loop."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._stop = False
        self._budget: str | None = None  # while paused: "batch" or "epoch" to run, then pause again
        self._pending: dict[str, float] = {}

    # ------------------------------------------------------------------ called by the interface
    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._budget = None

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._budget = None
            self._cond.notify_all()

    def step_batch(self) -> None:
        """While paused: run one batch, then pause again."""
        self._grant("batch")

    def step_epoch(self) -> None:
        """While paused: run to the end of the current epoch, then pause again."""
        self._grant("epoch")

    def _grant(self, budget: str) -> None:
        with self._cond:
            self._paused = True
            self._budget = budget
            self._cond.notify_all()

    def stop(self) -> None:
        """End the run at the next batch boundary (a paused run too)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def set(self, **settings: float) -> None:
        """Change live settings (see LIVE_SETTINGS); they apply before the next batch."""
        unknown = sorted(set(settings) - set(LIVE_SETTINGS))
        if unknown:
            raise ValueError(f"cannot change {', '.join(unknown)} during training "
                             f"(live settings: {', '.join(LIVE_SETTINGS)})")
        with self._cond:
            self._pending.update(settings)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stop_requested(self) -> bool:
        return self._stop

    # ------------------------------------------------------------------ called by the loop
    def take_settings(self) -> dict[str, float]:
        """The settings changed since the last call."""
        with self._cond:
            pending, self._pending = self._pending, {}
        return pending

    def wait_while_paused(self, on_pause=None) -> bool:
        """Block while paused without a step budget; return False when the run must stop.

        `on_pause()` is called once when the wait begins (to report it).
        """
        with self._cond:
            announced = False
            while self._paused and self._budget is None and not self._stop:
                if not announced and on_pause is not None:
                    announced = True
                    self._cond.release()
                    try:
                        on_pause()
                    finally:
                        self._cond.acquire()
                    continue
                self._cond.wait()
            return not self._stop

    def batch_done(self, epoch_ended: bool) -> None:
        """Spend the step budget: a batch budget after any batch, an epoch budget at an epoch's end."""
        with self._cond:
            if self._budget == "batch" or (self._budget == "epoch" and epoch_ended):
                self._budget = None
