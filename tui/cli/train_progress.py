"""The progress bar of `nnstudio train`, laid out for the terminal's width.

    epoch 15/18 ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━   87/844 batches 0:00:03 42,425 samples/s loss 0.1652  acc 95.44%

Rich gives a fixed-width bar its 40 cells and cuts the text columns when the line is too long, so
at 80 columns the batch counts and the time left read "1579…" and "0:00:…". What must stay readable
here is the epoch, the batches done and the time left; the bar shrinks first (to `MIN_BAR`), then
the rate goes, then the loss, and the bar takes what is left.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn

#: the bar's cells at most (Rich's own width) and at least
MAX_BAR, MIN_BAR = 40, 10
#: the widest the other columns get: the time left ("0:00:03", "-:--:--"), the rate, the loss and accuracy
ETA_WIDTH = 7
SPEED_WIDTH = len("1,234,567 samples/s")
LOSS_WIDTH = len("loss 0.0000  acc 100.00%")
REGRESSION_LOSS_WIDTH = len("loss 0.0000")


def progress_columns(width: int, planned: int, batches: int, classes: bool) -> list[ProgressColumn]:
    """The columns for a terminal `width` wide, a run of `planned` epochs of `batches` batches: the bar as wide
    as fits (at most MAX_BAR), the rate and then the loss left out before the counts and the time left are cut."""
    title = len(f"epoch {planned}/{planned}")
    counts = 2 * len(str(batches)) + 1
    loss = LOSS_WIDTH if classes else REGRESSION_LOSS_WIDTH
    kept = [title, counts, len("batches"), ETA_WIDTH]   # (each column one space from the next)
    speed_on = loss_on = True
    while True:
        others = kept + ([SPEED_WIDTH] if speed_on else []) + ([loss] if loss_on else [])
        room = width - sum(others) - len(others) - 1   # (the line's last cell stays free: no wrap at the edge)
        if room >= MIN_BAR or not (speed_on or loss_on):
            break
        speed_on, loss_on = (False, loss_on) if speed_on else (False, False)
    columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn(bar_width=max(min(room, MAX_BAR), 1)),
                                     MofNCompleteColumn(), TextColumn("batches"), TimeRemainingColumn()]
    if speed_on:
        columns.append(TextColumn("{task.fields[speed]}"))
    if loss_on:
        columns.append(TextColumn("{task.fields[loss]}"))
    return columns


def epoch_progress(console: Console, planned: int, batches: int, classes: bool) -> Progress:
    """A transient progress bar for the epochs of a run, drawn only when told to (`refresh`)."""
    return Progress(*progress_columns(console.width, planned, batches, classes), console=console, transient=True,
                    auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
