"""The monitor's status line and the words of its progress line: what the run is doing and what the keys do now."""

from __future__ import annotations

import math

from rich.text import Text

from ..run import Status

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
    Status.FINISHED: ("✓", "bold green", "ctrl+s saves · raise the epochs (2) to go on · r starts afresh"),
    Status.EARLY_STOPPED: ("✓", "bold green", "validation loss stopped improving · ctrl+s saves · r afresh"),
    Status.DIVERGED: ("✗", "bold red", "lower the learning rate (2), then r and space"),
    Status.FAILED: ("✗", "bold red", "fix what is said below, then r and space"),
}
#: statuses at which a run starts: the reason an earlier one failed or diverged is then old news
STARTING = (Status.PREPARING, Status.RUNNING, Status.STEPPING)


def status_text(status: Status) -> Text:
    """"▶ RUNNING  space pauses, x stops": the status word in its colour, then what the keys do now."""
    symbol, style, hint = STATUS_LOOK[status]
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
