"""The monitor's status line and its progress line: what the run is doing, what the keys do now, how far it is."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text

from nnstudio.datasets import DownloadProgress
from nnstudio.engine import events

from ..render import size_text
from ..run import Status

#: cells of the progress bar
BAR = 12

#: status word -> (symbol, style, hint shown after it); a line fits 80 columns, most important first
STATUS_LOOK: dict[Status, tuple[str, str, str]] = {
    Status.IDLE: ("○", "bold", "space trains, n trains one epoch"),
    Status.PREPARING: ("…", "bold", "loading the data set and building the model"),
    Status.RUNNING: ("▶", "bold green", "space pauses, x stops"),
    Status.PAUSING: ("‖", "bold yellow", "pausing after this batch"),
    Status.PAUSED: ("‖", "bold yellow", "space resumes · n one epoch · N one batch · x stops · ctrl+s saves"),
    Status.STEPPING: ("▶", "bold green", "one batch or epoch, then paused again"),
    Status.STOPPING: ("■", "bold yellow", "stopping after this batch"),
    Status.STOPPED: ("■", "bold", "space continues · ctrl+s saves · r starts afresh"),
    Status.FINISHED: ("✓", "bold green", "ctrl+s saves · to go on, raise epochs in pane 2 · r starts afresh"),
    Status.EARLY_STOPPED: ("✓", "bold green", "validation loss stopped improving · ctrl+s saves · r afresh"),
    Status.DIVERGED: ("✗", "bold red", "lower the learning rate in pane 2, then r and space"),
    Status.FAILED: ("✗", "bold red", "fix what is said below, then r and space"),
}
#: the hints of a run followed here, which another process trains (`run_following.py`)
FOLLOWED_HINTS: dict[Status, str] = {
    Status.PREPARING: "reading the followed run's history",
    Status.RUNNING: "followed: space pauses, x stops it",
    Status.PAUSED: "followed: space resumes · n one epoch · N one batch · x stops it",
    Status.STOPPED: "in its process · space resumes it here · f in Runs (6) forks it",
    Status.FINISHED: "in its process · space trains its settings afresh here",
    Status.EARLY_STOPPED: "in its process · space trains its settings afresh here",
    Status.DIVERGED: "in its process · lower the learning rate in pane 2, then space afresh",
    Status.FAILED: "in its process · its log (train.log in its run folder) says why",
}
#: statuses at which a run starts: the reason an earlier one failed or diverged is then old news
STARTING = (Status.PREPARING, Status.RUNNING, Status.STEPPING)


def status_text(status: Status, followed: bool = False) -> Text:
    """"▶ RUNNING  space pauses, x stops": the status word in its colour, then what the keys do now (to a run
    followed here, `followed`, which another process trains)."""
    symbol, style, hint = STATUS_LOOK[status]
    hint = FOLLOWED_HINTS.get(status, hint) if followed else hint
    return Text.assemble((f"{symbol} {status.upper().replace('-', ' ')}", style), ("  " + hint, "dim") if hint else "")


def clock(seconds: float | None) -> str:
    """12 -> "0:12", 3725 -> "1:02:05"; unknown -> "-"."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def eta_word(status: Status) -> str | None:
    """What stands where the ETA goes when the run is not moving: "paused" or "stopped" (its time does not
    run then: an ETA would stand still), nothing once it has ended; None otherwise (the ETA is shown: of a
    run under way, or of the epochs an idle one has still to train)."""
    if status is Status.PAUSED:
        return "paused"
    if status is Status.STOPPED:
        return "stopped"
    if status in (Status.FINISHED, Status.EARLY_STOPPED, Status.DIVERGED, Status.FAILED):
        return ""
    return None


@dataclass
class Progress:
    """What the progress line says: epochs done of those planned (`training.epochs`, which counts the epochs the
    run already has), the newest batch of the epoch under way (None between epochs), the last epoch, and the
    epochs trained in this session (their pace: a resumed run's earlier ones ran elsewhere)."""

    done: int
    planned: int
    status: Status
    batch: events.BatchEnd | None
    last_epoch: events.EpochEnd | None
    live_epochs: list[events.EpochEnd]
    batch_size: int | None

    def pace(self) -> float | None:
        """Seconds an epoch takes in this session, evaluation included; None before one. Trainer times only: a
        pause stops them."""
        live = self.live_epochs
        if len(live) >= 2:
            return (live[-1].elapsed - live[0].elapsed) / (len(live) - 1)
        return live[0].seconds if live else None

    def eta(self) -> float | None:
        """Seconds left: the epochs still to go at this session's pace, or before its first epoch ends, at the
        current batch rate. Both count the time spent training only (the trainer's clock stops while paused)."""
        batch, pace = self.batch, self.pace()
        if batch is None:
            return pace * max(self.planned - self.done, 0) if pace is not None else None
        epochs_left = self.planned - batch.epoch - (batch.batch + 1) / max(batch.batches, 1)
        if pace is not None:
            return pace * max(epochs_left, 0.0)
        if batch.samples_per_s <= 0 or self.batch_size is None:
            return None
        return epochs_left * batch.batches * self.batch_size / batch.samples_per_s


def progress_text(p: Progress) -> Text:
    """"epoch 3/10 ████░░░ batch 12/844 · ETA 1:02 · 9,000/s · loss 0.3120"."""
    planned, batch = max(p.planned, 1), p.batch
    text = Text()
    text.append(f"epoch {min(p.done + (1 if batch else 0), planned)}/{planned} ", style="bold")
    fraction = (p.done + ((batch.batch + 1) / batch.batches if batch else 0)) / planned
    filled = int(round(min(max(fraction, 0.0), 1.0) * BAR))
    text.append("█" * filled, style="green")
    text.append("░" * (BAR - filled), style="dim")
    word = eta_word(p.status)
    eta = f"ETA {clock(p.eta())}" if word is None else word
    parts: list[str] = []
    if batch is not None:
        parts = [f"batch {batch.batch + 1}/{batch.batches}", eta, f"{batch.samples_per_s:,.0f}/s",
                 f"loss {batch.loss:.4f}"]
    elif p.last_epoch is not None:
        parts = [eta, f"{p.last_epoch.samples_per_s:,.0f} samples/s", f"{p.last_epoch.seconds:.1f} s/epoch"]
    if parts:
        text.append(" " + " · ".join(part for part in parts if part))
    return text


def download_text(event: DownloadProgress) -> Text:
    """"downloading train-images-idx3-ubyte.gz  3.1 MB of 9.9 MB (31%)"."""
    text = Text.assemble(("downloading ", "bold"), event.filename, f"  {size_text(event.done)}")
    if event.total:
        text.append(f" of {size_text(event.total)} ({event.done / event.total:.0%})")
    return text
