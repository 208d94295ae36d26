"""Messages that travel up from the panes (and the training thread) to the studio app.

Children post messages up; the app sets attributes down (`pane.config = ...`). These are
the contract between the app and its panes, so they stay small, plain dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message

from ..run.config import RunConfig



@dataclass
class ConfigChanged(Message):
    """The builder or settings pane committed a valid change to the run configuration.

    The app replaces its config and pushes it down to every pane; a change the session cannot
    take (another model, data set or set-up) starts the run afresh, after asking when trained
    epochs would be lost (a no puts the panes back).
    """

    config: RunConfig


@dataclass
class LiveSettingRequested(Message):
    """During training, the user gave a new value for a live setting (`optimizer.lr`, ...).

    `value` is typed: the pane parsed what was typed (once, at the edge) and checked it; the
    session checks it against its config (`Session.set_live`) before the engine ever sees it.
    """

    path: str
    value: Any


@dataclass
class SessionEvent(Message):
    """One non-batch event from the training thread (EpochEnd, Paused, Finished, Notice, ...).

    Posted from the worker thread with `post_message` (thread-safe); handled on the UI
    thread. Batch events never travel this way: they would flood the queue. `source` is the
    bridge of the session that sent it: news from a session the studio has since let go
    (re-initialised, replaced by a load) may still be queued, and is dropped.
    """

    event: Any
    source: Any


@dataclass
class SessionReady(Message):
    """A save was loaded or a run resumed in a worker, and its session is ready to show.

    `outputs` are the probe predictions of the weights as loaded (so a loaded save shows
    its predictions before any training); `origin` is "loaded" or "resumed"; `batches` the per-batch
    history behind its epochs, found in the runs that trained it (`curves.restore_batches`).
    """

    session: Any
    origin: str
    bridge: Any               # the session's TrainingBridge, which the studio polls once it adopts it
    outputs: Any = None
    batches: Any = None


@dataclass
class LoadRequested(Message):
    """The saves pane asks to open a save: its model, settings, history and predictions."""

    path: Path


@dataclass
class SaveRequested(Message):
    """The saves pane asks to save the trained model under `name`."""

    name: str
    overwrite: bool = False
