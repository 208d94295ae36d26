"""The report of `nnstudio train`: what a training session says, drawn with Rich as it happens.

    model summary table, data set line, training line
    epoch  train loss  train acc  val loss  val acc  lr  time       <- one row per epoch
    [progress bar of the epoch under way, redrawn at most every REFRESH_SECONDS: `train_progress`]
    Finished: 5 of 5 epochs in 12.3s; best val acc 97.10% ...   <- the summary

With --json the same figures go to stdout as one JSON object per line, and the display to stderr.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any, Iterator, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TaskID
from rich.table import Table

from nnstudio import saves
from nnstudio.datasets import DownloadProgress
from nnstudio.engine import events
from nnstudio.engine.spec import summarize

from ..run import CheckpointSaved, Notice, Session, Status
from ..run import forking
from ..run.origins import fork_of
from ..run.signals import forget_the_terminal
from .common import number, percent, plain
from .download_bars import DownloadBars, download_bars
from .train_progress import epoch_progress, progress_columns

PROG = "nnstudio train"
#: the progress bar is redrawn at most this often, however fast the batches go
REFRESH_SECONDS = 0.1


class Reporter:
    """Shows a session's events: rich text on the console and, for --json, one JSON object per line.

    It is the session's `on_event`. The command runs the session in the main thread, so events
    arrive one at a time on the thread that draws; batch events redraw the progress bar at most
    every REFRESH_SECONDS. Notices that arrive while the data loads wait for the header; download
    bars drawn meanwhile last until the header, or until `opening` ends however it ends.
    """

    def __init__(self, console: Console, json_out: TextIO | None = None) -> None:
        self.console = console
        self.json_out = json_out  # kept: a live display may replace sys.stdout while it runs
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.downloads: Progress | None = None  # bars of a data set being downloaded before the run
        self._download_bars: DownloadBars | None = None
        self.pending_notices: list[str] | None = []
        self.ending: Any = None  # the event that ended the run
        self.checkpoint: Path | None = None
        self.started = time.monotonic()
        self._drawn_at = 0.0
        self._laid_out: tuple[int, int, int, bool] = (0, 0, 0, False)   # the bar's: width, epochs, batches, classes
        self.unwatched = False  # the terminal (or the reader of --json) is gone: the run goes on, showing nothing

    def __call__(self, event: Any) -> None:
        if isinstance(event, CheckpointSaved):
            self.checkpoint = event.path
        elif isinstance(event, (events.Finished, events.Stopped, events.Diverged, events.Failed)):
            self.ending = event
        with self.unless_gone():
            if isinstance(event, DownloadProgress):
                self._download(event)
            elif isinstance(event, Notice):
                self._notice(event.text)
            elif isinstance(event, events.BatchEnd):
                self._batch(event)
            elif isinstance(event, events.EpochEnd):
                self._epoch(event)

    @contextlib.contextmanager
    def unless_gone(self) -> Iterator[None]:
        """Show something, unless no one is there to see it any more. A terminal that hung up fails writes
        (EIO) and a closed pipe too (EPIPE), perhaps before SIGHUP is handled: that must not end the run,
        which goes on unwatched (its checkpoints and save are what count), writing nothing more there."""
        if self.unwatched:
            return
        try:
            yield
        except OSError:
            self.unwatched = True
            forget_the_terminal()

    def emit(self, record: dict) -> None:
        """One JSON line on stdout (only with --json)."""
        if self.json_out is not None:
            self.json_out.write(json.dumps(plain(record), allow_nan=False) + "\n")
            self.json_out.flush()

    # ------------------------------------------------------------------ before the run
    def _notice(self, text: str) -> None:
        if self.pending_notices is not None:
            self.pending_notices.append(text)
        else:
            self.console.print(f"[yellow]notice:[/] {escape(text)}", highlight=False, soft_wrap=True)

    def _download(self, event: DownloadProgress) -> None:
        """A data set is being downloaded before the run: bars on stderr (a terminal only), gone at the header."""
        if self._download_bars is None:
            if not self.console.is_terminal:
                return
            self.downloads = download_bars(self.console)
            self.downloads.start()
            self._download_bars = DownloadBars(self.downloads)
        self._download_bars(event)

    def _stop_downloads(self) -> None:
        """Take the download bars down: the cursor shows again and stdout/stderr are no longer redirected."""
        downloads, self.downloads, self._download_bars = self.downloads, None, None
        if downloads is not None:
            downloads.stop()

    @contextlib.contextmanager
    def opening(self) -> Iterator[None]:
        """Around opening the session: download bars it starts are stopped however it ends (a failed
        checksum, a network error, Ctrl+C), so that an error line is not drawn under a bar."""
        try:
            yield
        finally:
            self._stop_downloads()

    def header(self, session: Session, planned: int, *, resumed: bool, note: str | None = None) -> None:
        """The model summary, the data set and training lines, any notices, and the epoch table's header."""
        self._stop_downloads()
        self.console.print(model_table(session.spec))
        self.console.print(dataset_line(session), highlight=False, soft_wrap=True)
        notices, self.pending_notices = self.pending_notices or [], None
        for text in notices:
            self._notice(text)
        self.console.print(training_line(session, planned, resumed, note), highlight=False, soft_wrap=True)
        self.console.print(_epoch_table(header=True))

    # ------------------------------------------------------------------ during the run
    @contextlib.contextmanager
    def live(self, session: Session, planned: int) -> Iterator[None]:
        """A progress bar for the current epoch below the rows printed so far (gone when the run ends).

        Only on a terminal: in a pipe or a log file it would show nothing but a stray blank line.
        """
        if not self.console.is_terminal:
            yield
            return
        progress = epoch_progress(self.console, planned, len(session.batches), bool(session.classes))
        self._laid_out = (self.console.width, planned, len(session.batches), bool(session.classes))
        self.task = progress.add_task(self._title(session.epochs_done, planned), total=len(session.batches),
                                      speed="", loss="")
        self.progress = progress
        try:
            with progress:
                yield
        finally:
            self.progress = None

    @staticmethod
    def _title(epoch: int, planned: int) -> str:
        return f"epoch {epoch + 1}/{planned}"

    def _batch(self, event: events.BatchEnd) -> None:
        now = time.monotonic()
        if self.progress is None or (now - self._drawn_at < REFRESH_SECONDS and event.batch + 1 < event.batches):
            return
        self._drawn_at = now
        width, planned, batches, classes = self._laid_out
        if (width, batches) != (self.console.width, event.batches):   # (a resized terminal, another batch size)
            self._laid_out = (self.console.width, planned, event.batches, classes)
            self.progress.columns = tuple(progress_columns(*self._laid_out))
        accuracy = f"  acc {percent(event.accuracy)}" if event.accuracy is not None else ""
        self.progress.update(self.task, total=event.batches, completed=event.batch + 1,
                             speed=f"{event.samples_per_s:,.0f} samples/s",
                             loss=f"loss {number(event.mean_loss)}{accuracy}")
        self.progress.refresh()

    def _epoch(self, event: events.EpochEnd) -> None:
        """An epoch's JSON line and table row (the session numbers them as its history does)."""
        self.emit({"event": "epoch", **event.as_dict(), "epochs": event.epochs, "eta": event.eta})
        self.console.print(epoch_row(event))
        if self.progress is not None and event.epoch + 1 < event.epochs:
            self.progress.reset(self.task, description=self._title(event.epoch + 1, event.epochs),
                                speed="", loss="")
            self.progress.refresh()

    # ------------------------------------------------------------------ after the run
    def summary(self, session: Session, status: Status, saved: Path | None, problem: str | None,
                stopped_by: str | None = None) -> None:
        """The final JSON line and the closing lines: how it ended, the best figures, where things are."""
        record = self.final_record(session, status, saved, stopped_by)
        with self.unless_gone():
            self.emit(record)
            for line in summary_lines(record, problem):
                self.console.print(line, highlight=False, soft_wrap=True)

    def final_record(self, session: Session, status: Status, saved: Path | None, stopped_by: str | None = None) -> dict:
        run = saves.read_run(session.run_dir) if session.run_dir is not None else None
        message = getattr(self.ending, "message", "") or ""
        stopped_at = self.ending if isinstance(self.ending, events.Stopped) else None
        resumable = status is Status.STOPPED and self.checkpoint is not None
        return {
            "event": status, "epochs_done": session.epochs_done, "epochs": session.epochs_planned,
            "stopped_in_batch": stopped_at.batch if stopped_at else None,
            "stopped_by": stopped_by if status is Status.STOPPED else None,
            "metrics": session.metrics(), "best_epoch": (session.best_epoch or {}).get("epoch"),
            "seconds": round(time.monotonic() - self.started, 3),
            "message": message, "run_dir": session.run_dir, "checkpoint": self.checkpoint,
            "best_checkpoint": run.best if run is not None else None, "save": saved,
            "resume": f"{PROG} --resume {session.run_dir}" if resumable else None,
            "retry": (forking.retry_hint(session.run_dir, session.config.optimizer.lr)
                      if status is Status.DIVERGED and session.run_dir is not None else None),
            **({"traceback": self.ending.traceback} if isinstance(self.ending, events.Failed) else {}),
        }

    def interrupted(self, session: Session) -> None:
        """A second Ctrl+C (or SIGTERM) cut the run short: say what is kept and how to go on."""
        if self.checkpoint is not None:
            how = f"resume from the last checkpoint with: {PROG} --resume {session.run_dir}"
        else:
            how = "no checkpoint was written, so it cannot be resumed"
        with self.unless_gone():
            self.console.print(f"[yellow]Interrupted[/]; {escape(how)}", highlight=False, soft_wrap=True)


_ENDINGS = {Status.FINISHED: "[green]Finished[/]", Status.EARLY_STOPPED: "[green]Stopped early[/]",
            Status.STOPPED: "[yellow]Stopped[/]", Status.DIVERGED: "[red]Diverged[/]", Status.FAILED: "[red]Failed[/]"}


def summary_lines(record: dict, problem: str | None = None) -> list[str]:
    """The closing lines (rich markup) for a final record."""
    metrics = record["metrics"]
    facts = [f"{record['epochs_done']} of {record['epochs']} epochs in {record['seconds']:.1f}s"]
    if record["stopped_in_batch"]:
        facts[0] += f" (stopped {record['stopped_in_batch']} batches into epoch {record['epochs_done'] + 1})"
    if record.get("stopped_by"):
        facts[0] += f", by {record['stopped_by']}"
    if metrics.get("best_val_acc") is not None:   # (of the epochs this run trained: its best.safetensors)
        at = f" (epoch {record['best_epoch']})" if record.get("best_epoch") is not None else ""
        facts.append(f"best val acc {percent(metrics['best_val_acc'])}{at}")
    if metrics.get("val_loss") is not None:
        facts.append(f"final val loss {number(metrics['val_loss'])}")
    lines = [f"{_ENDINGS[record['event']]}: {'; '.join(facts)}"]
    if record["message"]:
        lines.append(escape(record["message"]))
    if record.get("retry"):
        lines.append(escape(record["retry"]))
    if record["run_dir"] is not None:
        best = f" (best: {escape(str(record['best_checkpoint']))})" if record["best_checkpoint"] else ""
        lines.append(f"checkpoints: {escape(str(record['run_dir']))}{best}")
    if record["save"] is not None:
        lines.append(f"saved: {escape(str(record['save']))}")
    elif problem is not None:
        lines.append(f"[red]not saved[/]: {escape(problem)}")
    if record["event"] == Status.STOPPED:
        lines.append(f"resume with: {escape(record['resume'])}" if record["resume"]
                     else "checkpoints were off (--no-checkpoints), so this run cannot be resumed")
    return lines



# ====================================================================== showing events
def model_table(spec: dict) -> Table:
    """The model summary: one row per layer with its output shape and parameters, and the total."""
    summary = summarize(spec)
    table = Table(title=f"Model: {escape(str(spec.get('name') or 'custom'))}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("layer")
    table.add_column("output shape")
    table.add_column("parameters", justify="right")
    table.add_row("", "input", _shape(summary.input_shape), "")
    for position, row in enumerate(summary):
        settings = f" ({escape(row.settings)})" if row.settings else ""
        table.add_row(row.name, f"{row.type}{settings}", _shape(row.output_shape), f"{row.params:,}",
                      end_section=position == len(summary) - 1)
    table.add_row("", "[bold]total[/]", "", f"[bold]{summary.total_params:,}[/]")
    return table


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def dataset_line(session: Session) -> str:
    """One line (rich markup): which data set, where from, how it is split, what the model must do."""
    dataset, data = session.dataset, session.data
    kind = (f"{dataset.num_classes} classes" if session.classes
            else "reconstruction" if session.reconstruct else dataset.task)
    return (f"[bold]data[/] {escape(dataset.name)} from {escape(str(dataset.source))}: {len(data.x_train):,} train / "
            f"{len(data.x_val):,} val / {len(data.x_test):,} test, input {_shape(dataset.input_shape)}, {kind}")


def training_line(session: Session, planned: int, resumed: bool, note: str | None = None) -> str:
    """One line (rich markup): the optimizer and loop settings, and where a continued run picks up.

    The epochs are the planned total, as the epoch rows count them ("5 epochs; continuing from a
    save trained for 3 epochs (2 more)").
    """
    c = session.config
    parts = [f"{c.optimizer.name} lr {c.optimizer.lr:g}", f"batch {c.training.batch_size}",
             f"{planned} epoch{'' if planned == 1 else 's'}",
             f"seed {c.training.seed}"]
    if c.schedule.name != "none":
        parts.append(f"{c.schedule.name} schedule")
    if c.training.early_stopping:
        parts.append(f"early stopping after {c.training.early_stopping}")
    if not session.checkpoints_enabled:
        parts.append("no checkpoints")
    text = f"[bold]training[/] {', '.join(parts)}"
    origin = session.origin
    if resumed:
        text += f"; {escape(resuming_text(session))}"
    elif origin.get("kind") == "fork":
        fork = fork_of(origin, session.inherited[0] if session.inherited else None)
        text += escape(f"; forked from {fork.point} ({fork.changes_text()}), {planned - origin['epoch']} more"
                       + (f" ({note})" if note else ""))
    elif session.history:
        text += (f"; continuing from a save trained for {len(session.history)} epochs "
                 f"({planned - len(session.history)} more)")
    return text


def resuming_text(session: Session) -> str:
    """What a resumed run continues, and where it goes on writing checkpoints.

    A run folder's latest checkpoint continues in that folder. Any other checkpoint (a copy
    outside a run folder, an older epoch of a run) continues in a new run folder, and the folder
    it lies in is left as it is (`Session.open_checkpoint`): say so, since the run's checkpoints
    are then not where the user pointed.
    """
    done, into = session.position
    where = f"{into} batches into epoch {done + 1}" if into else f"after epoch {done}"
    if session.run_dir is not None:
        return f"resuming {session.run_dir} {where}"
    checkpoint = session.resumed_from
    why = ("is not the latest checkpoint of its run" if checkpoint is not None and saves.is_run_dir(checkpoint.parent)
           else "lies outside a run folder")
    runs = saves.runs_folder(saves.folder_or_default(session.config.checkpoints.folder))
    return (f"resuming {checkpoint} {where}; it {why}, so the run goes on in a new run folder in "
            f"{runs}")


#: the per-epoch table: (title, width); a header once, then one row per epoch as it ends
EPOCH_COLUMNS = (("epoch", 9), ("train loss", 10), ("train acc", 9), ("val loss", 10), ("val acc", 9),
                 ("lr", 9), ("time", 7))


def _epoch_table(header: bool) -> Table:
    table = Table(box=None, show_header=header, header_style="bold", pad_edge=False, padding=(0, 1))
    for title, width in EPOCH_COLUMNS:
        table.add_column(title, justify="right", min_width=width, no_wrap=True)
    return table


def epoch_row(event: events.EpochEnd) -> Table:
    """One epoch's figures as a table row aligned under `_epoch_table(header=True)`, numbered as the
    session numbers them (after the epochs of the save the run continues)."""
    table = _epoch_table(header=False)
    table.add_row(f"{event.epoch + 1}/{event.epochs}", number(event.train_loss),
                  percent(event.train_accuracy),
                  number(event.val_loss), percent(event.val_accuracy), f"{event.lr:.3g}", f"{event.seconds:.1f}s")
    return table

