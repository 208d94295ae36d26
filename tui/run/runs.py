"""Every run kept, summarised and compared: what `nnstudio runs` and the studio's Runs pane show.

    for run in list_runs():                     # newest first
        print(run.name, run.dataset, run.model, run.optimizer, run.lr, run.status, run.best)
    differences(runs)                           # {"optimizer.lr": [0.01, 0.1], ...}: what tells them apart

A run's summary comes from its run folder: the marker (`saves.read_run`: status, checkpoints) and
the history (`history.py`: settings, epochs, how it ended). A run older than the history file is
still listed, from what its marker says.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from nnstudio import saves

from .config import flat_settings
from .history import HISTORY_FILE, RunHistory, read_history

#: how a run's status reads: the marker's, told apart by the history's last end and the lock
STATUSES = ("running", "interrupted", "finished", "early-stopped", "stopped", "diverged", "failed")


@dataclass
class RunSummary:
    """One run as a list or a comparison shows it."""

    info: saves.RunInfo
    history: RunHistory | None
    size: int                                # bytes on disk
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def config(self) -> dict:
        return self.history.config if self.history is not None else {}

    def setting(self, path: str):
        """A setting of the run's config by its dotted path ("optimizer.lr"), or None."""
        value = self.config
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    @property
    def dataset(self) -> str | None:
        return (self.history.runs[0].get("dataset") if self.history and self.history.runs else None) \
            or self.setting("data.name")

    @property
    def model(self) -> str | None:
        if self.history and self.history.runs and self.history.runs[0].get("model"):
            return self.history.runs[0]["model"]
        return self.setting("model.preset")

    @property
    def optimizer(self) -> str | None:
        return self.setting("optimizer.name")

    @property
    def lr(self) -> float | None:
        return self.setting("optimizer.lr")

    @property
    def task(self) -> str | None:
        return self.history.runs[0].get("task") if self.history and self.history.runs else None

    @property
    def epochs_done(self) -> int:
        if self.history is not None and self.history.epochs:
            return int(self.history.epochs[-1].get("epoch", 0))
        return self.info.last_epoch or 0

    @property
    def epochs_planned(self) -> int | None:
        return self.setting("training.epochs")

    @property
    def status(self) -> str:
        """running (a process trains it), interrupted (cut off, resumable), or how it ended."""
        if self.info.status == "running":
            return "running" if self.info.active else "interrupted" if self.info.resume_point else "failed"
        end = self.history.end if self.history is not None else None
        if end is not None and end.get("status") in STATUSES:
            return end["status"]
        return self.info.status

    @property
    def best(self) -> float | None:
        """The best validation accuracy (classification) or the lowest validation loss, or None."""
        key, pick = ("val_acc", max) if self.task in (None, "classification") else ("val_loss", min)
        values = [e.get(key) for e in (self.history.epochs if self.history else [])]
        values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if values:
            return pick(values)
        return self.info.best_value if key == "val_acc" else None

    @property
    def final(self) -> dict:
        """The last epoch's figures."""
        return dict(self.history.epochs[-1]) if self.history is not None and self.history.epochs else {}

    @property
    def resumable(self) -> bool:
        return self.info.resume_point is not None


def folder_size(path: Path) -> int:
    """Bytes under `path` (files only, links not followed)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def summarize(info: saves.RunInfo) -> RunSummary:
    """A run folder's summary; a history that cannot be read leaves a note, not an error."""
    history, notes = None, []
    if (info.path / HISTORY_FILE).is_file():
        try:
            history = read_history(info.path)
            notes = list(history.notes)
        except saves.SaveError as error:
            notes = [str(error)]
    return RunSummary(info, history, folder_size(info.path), notes)


def list_runs(folder: str | Path | None = None) -> list[RunSummary]:
    """Every run in the saves folder's runs/, most recently updated first."""
    return [summarize(info) for info in saves.find_runs(folder)]


def differences(runs: list[RunSummary]) -> dict[str, list]:
    """The settings whose values are not the same in every run: {dotted path: [value per run]}."""
    flats = [flat_settings(run.config) for run in runs]
    paths = sorted(set().union(*flats)) if flats else []
    return {path: [flat.get(path) for flat in flats] for path in paths
            if len({repr(flat.get(path)) for flat in flats}) > 1}
