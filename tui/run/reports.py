"""What a session says besides the engine's loop events: its errors, and the news it reports through `on_event`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SessionError(Exception):
    """A run cannot be set up or continued; the message says why and what to do."""


class MismatchError(SessionError):
    """The model and the data set do not fit together: a bad combination of settings, not a failure."""


class NothingToTrain(SessionError):
    """A planned total that leaves no epoch to train: it is not more than the `done` epochs."""

    def __init__(self, total: int, done: int) -> None:
        self.total, self.done = total, done
        super().__init__(f"cannot plan {total} epochs in all: {done} are already done")


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint was written (after an epoch, or when the run stopped)."""

    path: Path
    epoch: int


@dataclass(frozen=True)
class Notice:
    """Something the user should read, e.g. that the embedded digits stand in for a missing data set."""

    text: str


@dataclass(frozen=True)
class Prepared:
    """The session's data set is loaded and its model built (sent from the thread that prepared it)."""

    session: Any
