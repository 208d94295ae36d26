"""The commands any thread may give a run (pause, resume, step, stop) and the status they move: the part of a
`Session` that the studio's keys and the command line's signal handlers talk to while the loop trains.

A command goes to the engine's `Controller` (the loop obeys it at its next batch boundary) and moves
the status at once to what was asked ("pausing", "stopping"); the loop's events then say what
happened (`status.after_event`). The rules of which status follows which are `status.py`'s.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from nnstudio.engine import events
from nnstudio.engine.control import Controller

from .reports import SessionError
from .status import Status, StatusChanged


class RunControls:
    """A run's status and the commands that move it, safe from any thread (a signal handler too)."""

    def __init__(self, on_event: Callable[[Any], None] | None = None) -> None:
        self.on_event = on_event or (lambda event: None)
        self.controller = Controller()
        self._status = Status.IDLE
        # commands (any thread, a signal handler too: reentrant) and the loop's events both move it
        self._status_lock = threading.RLock()
        self.stop_reason = ""
        """Why the run was asked to stop (`stop`), until the run has ended."""

    @property
    def status(self) -> Status:
        """What the run is doing now (see `nnstudio.tui.run.status`)."""
        return self._status

    def _move(self, rule: Callable[[Status], Status]) -> None:
        """Set the status to `rule(current status)`, atomically; report a change as `StatusChanged`."""
        with self._status_lock:
            before, self._status = self._status, rule(self._status)
            after = self._status
        if after is not before:
            self.on_event(StatusChanged(after))

    def _under_way(self, status: Status) -> Status:
        """The status of a run whose loop is starting: running, unless a pause or step was asked first."""
        if self.controller.stop_requested:
            return Status.STOPPING
        if self.controller.paused:
            return Status.STEPPING if self.controller.stepping else Status.PAUSING
        return Status.RUNNING

    def _failed(self, error: BaseException) -> None:
        """A run that could not start or go on: say why first (a `Failed` event, as the loop's own), then the status."""
        if isinstance(error, Exception):
            expected = isinstance(error, SessionError)
            self.on_event(events.Failed(str(error) if expected else f"{type(error).__name__}: {error}",
                                        "" if expected else traceback.format_exc()))
        self._move(lambda status: Status.FAILED)

    def pause(self) -> None:
        """Pause after the batch under way ("pausing", then "paused")."""
        self.controller.pause()
        self._move(lambda s: Status.PAUSING if s in (Status.RUNNING, Status.STEPPING) else s)

    def resume(self) -> None:
        self.controller.resume()
        self._move(lambda s: Status.RUNNING if s in (Status.PAUSED, Status.PAUSING) else s)

    def step_batch(self) -> None:
        """While paused: train one batch, then pause again."""
        self.controller.step_batch()
        self._move(lambda s: Status.STEPPING if s is Status.PAUSED else s)

    def step_epoch(self) -> None:
        """While paused: train to the end of the epoch, then pause again."""
        self.controller.step_epoch()
        self._move(lambda s: Status.STEPPING if s is Status.PAUSED else s)

    def stop(self, why: str = "") -> None:
        """Stop at the next batch boundary (a paused run too); the run writes a checkpoint and stays resumable.

        `why` is what its history records as the reason, a phrase that reads on its own ("stopped by
        Ctrl+C", "stopped from the studio (x)"); the first stop asked for names it, and one that says
        nothing is "stopped on request".
        """
        with self._status_lock:
            self.stop_reason = self.stop_reason or why
        self.controller.stop()
        self._move(lambda s: Status.STOPPING if s.busy else s)
