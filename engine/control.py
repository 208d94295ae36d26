"""Commands from another thread to a running training loop, applied only between batches.

The user interface calls `pause()`, `step_batch()`, `set(lr=...)` and so on from its own
thread; before each batch the loop calls `wait_while_paused()` (where it waits while paused
and learns whether to stop) and `take_settings()` (new live settings), and after each batch
`batch_done()`. A command therefore never lands in the middle of a step.

Another thread that must read the model while it is still (to save it) uses `hold()`: it
waits until the loop is waiting at a batch boundary and keeps it there until the block ends.
A thread that only needs a moment of it while training goes on (to copy the weights for a
picture of them) hands a function to `between_batches()`: the loop calls it at its next
boundary, paused or not; with no loop running, the caller calls it at once.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Iterator

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
        self._waiting = False  # the loop is inside wait_while_paused, between two batches
        self._holds = 0  # threads that keep the loop at its boundary (see hold)
        self._wakes = 0  # resumes and steps granted so far: a pause after one is a new pause to announce
        self._looping = False  # a loop is running (between `loop_started` and `loop_ended`)
        self._calls: list[tuple[Callable[[], Any], Future]] = []  # for the loop's next boundary

    # ------------------------------------------------------------------ called by the interface
    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._budget = None

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._budget = None
            self._wakes += 1
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
            self._wakes += 1
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

    def reset(self) -> None:
        """Forget the pause, step and stop commands, so that a loop which stopped can run again
        (live settings not yet taken stay: they are still wanted)."""
        with self._cond:
            self._paused = self._stop = False
            self._budget = None

    @property
    def stepping(self) -> bool:
        """While paused, a batch or an epoch is granted: the loop runs it, then pauses again."""
        return self._budget is not None

    @property
    def paused(self) -> bool:
        """A pause was requested (the loop may still be finishing its batch: see `waiting`)."""
        return self._paused

    @property
    def waiting(self) -> bool:
        """The loop is waiting between two batches right now, touching no arrays."""
        return self._waiting

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @contextlib.contextmanager
    def hold(self, timeout: float) -> Iterator[None]:
        """Wait up to `timeout` seconds for the loop to wait at a batch boundary, and keep it there
        (even if resumed, stepped or stopped meanwhile) until the block ends.

        For reading the model from another thread, e.g. to save it: a pause only asks the loop
        to stop after its current batch. TimeoutError if the loop does not get there in time
        (it is not paused, or its batch is slow).
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._waiting, timeout):
                raise TimeoutError("the training loop did not reach a batch boundary in time")
            self._holds += 1
        try:
            yield
        finally:
            with self._cond:
                self._holds -= 1
                self._cond.notify_all()

    def between_batches(self, fn: Callable[[], Any], timeout: float) -> Any:
        """`fn()` called while the model is still: by the loop at its next batch boundary (this thread
        waits up to `timeout` seconds for it: TimeoutError after, and `fn` is not called late), or here
        and now when no loop runs. An exception of `fn` is raised here."""
        with self._cond:
            future: Future | None = None
            if self._looping:
                future = Future()
                self._calls.append((fn, future))
                self._cond.notify_all()
        if future is None:
            return fn()
        try:
            return future.result(timeout)
        except FutureTimeout:   # (the built-in TimeoutError only from Python 3.11)
            future.cancel()     # given up on: if the loop has not taken it yet, it never will
            raise TimeoutError("the training loop did not reach a batch boundary in time") from None

    # ------------------------------------------------------------------ called by the loop
    def loop_started(self) -> None:
        """The loop begins: `between_batches` calls wait for its boundaries from now on."""
        with self._cond:
            self._looping = True

    def loop_ended(self) -> None:
        """The loop is over: the calls still waiting are served now (the model is still), later ones at once."""
        with self._cond:
            self._looping = False
        self._serve()

    def _serve(self) -> None:
        """Call the functions handed to `between_batches` (never with the lock held: they may take a while)."""
        with self._cond:
            calls, self._calls = self._calls, []
        for fn, future in calls:
            if not future.set_running_or_notify_cancel():   # its caller stopped waiting (timed out)
                continue
            try:
                future.set_result(fn())
            except BaseException as error:  # handed to the waiting thread, which raises it
                future.set_exception(error)

    def take_settings(self) -> dict[str, float]:
        """The settings changed since the last call."""
        with self._cond:
            pending, self._pending = self._pending, {}
        return pending

    def wait_while_paused(self, on_pause: Callable[[], None] | None = None,
                          on_resume: Callable[[], None] | None = None) -> bool:
        """Block while paused without a step budget (or held); return False when the run must stop.

        `on_pause()` is called when the wait begins, and again if a resume or step granted while it
        waits is taken back by a new pause before the loop could act on it (the interface has been
        told "resuming" meanwhile); `on_resume()` when a wait that was announced ends because the
        pause was lifted (not for a step, nor a stop). So an interface can follow the run's state
        from its events alone.
        """
        self._serve()
        with self._cond:
            announced = None   # the number of wakes when the pause was last announced
            while self._holds or (self._paused and self._budget is None and not self._stop):
                if self._calls:
                    self._cond.release()
                    try:
                        self._serve()
                    finally:
                        self._cond.acquire()
                    continue
                if announced != self._wakes and on_pause is not None and not self._holds:
                    announced = self._wakes
                    self._cond.release()
                    try:
                        on_pause()
                    finally:
                        self._cond.acquire()
                    continue
                self._waiting = True
                self._cond.notify_all()  # a hold() may be waiting for this
                self._cond.wait()
            self._waiting = False
            resumed = announced is not None and not self._paused and not self._stop
            carry_on = not self._stop
        if resumed and on_resume is not None:
            on_resume()
        return carry_on

    def batch_done(self, epoch_ended: bool) -> None:
        """Spend the step budget: a batch budget after any batch, an epoch budget at an epoch's end."""
        with self._cond:
            if self._budget == "batch" or (self._budget == "epoch" and epoch_ended):
                self._budget = None
