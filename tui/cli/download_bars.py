"""Download progress on the terminal: one rich bar per file, with its size, speed and time left.

Shared by `nnstudio data fetch` / `data info --fetch` and by `nnstudio train`, whose session
reports a download (a data set asked for and not yet on the machine) as `DownloadProgress` events.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)

from nnstudio.datasets import DownloadProgress


class DownloadBars:
    """Turns the fetcher's progress reports into one rich progress bar per file."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: DownloadProgress) -> None:
        task = self.tasks.get(event.filename)
        if task is None:  # start at the resumed size, so the speed counts only new bytes
            self.tasks[event.filename] = self.progress.add_task(event.filename, total=event.total,
                                                                completed=event.done)
        elif event.done < self.progress.tasks[task].completed:  # restarted (another mirror, or from zero)
            self.progress.reset(task, total=event.total, completed=event.done)
        else:
            self.progress.update(task, completed=event.done, total=event.total)


def download_bars(console: Console | None = None, transient: bool = False) -> Progress:
    """The rich progress display of downloads (and of reading a big file), on stderr unless another console is
    given; a `transient` one goes once done."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    return Progress(*columns, console=console or Console(stderr=True), transient=transient)
