"""The Runs pane's table and what fills it: the runs of a saves folder summarised (and summarised again only when
their files changed), each as a row of text.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual.binding import Binding
from textual.widgets import DataTable

from nnstudio import saves

from ..run.history import HISTORY_FILE
from ..run.runs import RunSummary, summarize

#: how each status reads in the table
STATUS_STYLES = {"running": "bold cyan", "paused": "yellow", "interrupted": "yellow", "finished": "green", "early-stopped": "green",
                 "diverged": "bold red", "failed": "red", "pruned": "dim"}


class RunCatalogue:
    """The runs of a saves folder, summarised; a run is summarised again only when its files changed.
    Used by one worker at a time (the pane's are exclusive)."""

    def __init__(self) -> None:
        self._kept: dict[Path, tuple[tuple, RunSummary]] = {}

    def read(self, folder: Path, cancelled=lambda: False) -> list[RunSummary] | None:
        """Every run, newest first (None if cancelled meanwhile)."""
        runs = []
        for info in saves.find_runs(folder):
            if cancelled():
                return None
            try:
                stat = os.stat(info.path / HISTORY_FILE)
                history = (stat.st_mtime_ns, stat.st_size)
            except OSError:
                history = None
            stamp = (history, info.status, info.active, info.updated_at, info.last_epoch, info.resume_point)
            kept = self._kept.get(info.path)
            if kept is None or kept[0] != stamp:
                kept = self._kept[info.path] = (stamp, summarize(info, batches=False))
            runs.append(kept[1])
        return runs


def best_text(run: RunSummary) -> str:
    if run.best is None:
        return "—"
    return f"{run.best:.2%}" if run.task in (None, "classification") else f"loss {run.best:.4g}"


def optimizer_text(run: RunSummary) -> str:
    """"adam 0.001"; "—" for a run that records its settings but trains no optimizer (kernel ridge, fitted), "?" for
    one whose settings are not known (older than run histories)."""
    lr = f" {run.lr:g}" if isinstance(run.lr, (int, float)) else ""
    return f"{run.optimizer or ('—' if run.config else '?')}{lr}"


def epochs_text(run: RunSummary) -> str:
    planned = run.epochs_planned
    return f"{run.epochs_done}/{planned}" if isinstance(planned, int) and planned != run.epochs_done else \
        str(run.epochs_done)


class RunsTable(DataTable):
    """The runs' table, whose enter (selecting a row) compares the marked runs in the Monitor."""

    HELP_TITLE = "Runs"
    BINDINGS = [Binding("enter", "select_cursor", "Compare", id="runs.compare",
                        tooltip="Show the marked runs (or the selected one, marked) overlaid in the Monitor")]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_cursor" and self.refusal(action) is not None:
            return None
        return super().check_action(action, parameters)

    def refusal(self, action: str) -> str | None:
        pane = next((node for node in self.ancestors if callable(getattr(node, "refusal", None))), None)
        return pane.refusal("compare") if action == "select_cursor" and pane is not None else None


def row_words(run: RunSummary) -> str:
    """What the filter looks in: everything the row shows."""
    return " ".join((run.name, run.dataset or "", run.model or "", optimizer_text(run), run.shown_status,
                     "pruned" if run.pruned else "", best_text(run))).lower()
