"""What a training run is doing: one status type, owned by the session, read alike by every view.

    idle -> preparing -> running <-> pausing -> paused <-> stepping
                            \\-> stopping -> stopped -> (running again)
    ... -> finished | early-stopped | diverged | failed

A command (pause, resume, step, stop) moves the status at once to what was asked ("pausing",
"stopping"), since the loop obeys only at the next batch boundary; the loop's own events then
say what happened (`after_event`), and the run's outcome is its status once it has returned.
News that a newer command has overtaken is ignored: a run being stopped does not flash
"paused", a run being paused does not flash "running".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nnstudio.engine import events


class Status(str, Enum):
    """The run's status; compares equal to its word ("running"), which views and JSON output show."""

    IDLE = "idle"                    # nothing under way: not started, or discarded
    PREPARING = "preparing"          # loading the data set, building the model
    RUNNING = "running"
    PAUSING = "pausing"              # a pause was asked: the batch under way finishes first
    PAUSED = "paused"
    STEPPING = "stepping"            # while paused: one batch or one epoch, then paused again
    STOPPING = "stopping"            # a stop was asked: the batch under way finishes first
    STOPPED = "stopped"              # stopped on request, resumable
    FINISHED = "finished"            # every planned epoch
    EARLY_STOPPED = "early-stopped"  # early stopping ended it
    DIVERGED = "diverged"            # the loss or gradients blew up; the last good weights are back
    FAILED = "failed"                # an error ended it, or it could not start

    def __str__(self) -> str:
        return self.value

    def __hash__(self) -> int:   # as its word's, so that tables keyed by the words find it
        return str.__hash__(self)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def busy(self) -> bool:
        """A training thread is (or is about to be) alive: the model and data must not change now."""
        return self in _BUSY

    @property
    def still(self) -> bool:
        """The weights are not moving, so they can be saved."""
        return self in _STILL

    @property
    def ended(self) -> bool:
        """The run is over and cannot go on as it is (it may be re-initialised)."""
        return self in (Status.DIVERGED, Status.FAILED)


_BUSY = frozenset({Status.PREPARING, Status.RUNNING, Status.PAUSING, Status.PAUSED, Status.STEPPING, Status.STOPPING})
_STILL = frozenset({Status.IDLE, Status.PAUSED, Status.STOPPED, Status.FINISHED, Status.EARLY_STOPPED,
                    Status.DIVERGED})

#: how a trainer's outcome (`Trainer.run`'s word) ends a session's status
OUTCOMES = {outcome: Status(outcome) for outcome in ("finished", "early-stopped", "stopped", "diverged", "failed")}


@dataclass(frozen=True)
class StatusChanged:
    """The session's status changed (sent from the thread that changed it; read `Session.status` for the latest)."""

    status: Status


def after_event(status: Status, event) -> Status:
    """The status a pause or resume reported by the training loop leaves the run in, given the status it is in.

    How a run ends (finished, stopped, diverged, failed) is not taken from the loop's events but
    set when `Session.run` returns, once its checkpoints are closed: a run shown as stopped has
    its checkpoint on disk.
    """
    if isinstance(event, events.Paused):
        return status if status is Status.STOPPING else Status.PAUSED
    if isinstance(event, events.Resumed):   # a Resumed sent before a newer pause or stop was asked
        return status if status in (Status.STOPPING, Status.PAUSING) else Status.RUNNING
    return status
