"""Pane 3, the training monitor: four live plots, a progress line and a status line.

The plots are loss (the per-batch loss smoothed, and train/validation loss per epoch),
accuracy (train/validation), per-layer gradient norms on a log scale, and the learning rate.
X is in epochs everywhere, so a batch curve and its epoch points line up. Epochs are numbered as
the session numbers them (after the epochs of a save the run continues, as its history is), and
the progress line counts up to `training.epochs`, the run's planned total in that numbering.

Redrawing is budgeted, because a plotext figure is rebuilt from scratch on every repaint
(~8 ms for 100 points, ~80 ms for 10,000) and an SSH link cannot carry a full repaint per
batch: the app feeds batches at most 10 times a second (`tick`, which only rewrites the
progress line), epoch ends are only recorded when they arrive, and the plots are rebuilt at
most every PLOT_INTERVAL seconds, only if something changed, from series downsampled to
about the plot's width.

In monochrome (NO_COLOR) every series also gets its own marker character, so lines that
were told apart by colour still can be.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static
from textual_plotext import PlotextPlot

from nnstudio.datasets import DownloadProgress
from nnstudio.engine import events

from ..render import size_text
from ..run import Status
from ..run.config import RunConfig

#: seconds between two rebuilds of the plots, at most
PLOT_INTERVAL = 0.5
#: batch losses kept; beyond this, neighbours are averaged in pairs (the plot shows ~width points anyway)
MAX_TRACE = 4096
#: cells of the progress bar
BAR = 12
#: exponential smoothing of the batch loss (weight of the newest batch)
SMOOTHING = 0.1

_COLOURS = ("cyan", "magenta", "green", "yellow", "red", "blue", "white", "gray")
_MARKERS = ("*", "+", "o", "x", "#", "%", "@", "=")

#: (widget id, title) of the four plots, in reading order
PLOTS = (("plot-loss", "loss"), ("plot-accuracy", "accuracy %"), ("plot-grad", "gradient norm (log)"),
         ("plot-lr", "learning rate"))

#: status word -> (symbol, style, hint shown after it)
STATUS_LOOK: dict[Status, tuple[str, str, str]] = {
    Status.IDLE: ("○", "bold", "press space to train, n to train one epoch"),
    Status.PREPARING: ("…", "bold", "loading the data set and building the model"),
    Status.RUNNING: ("▶", "bold green", "space pauses, x stops"),
    Status.PAUSING: ("‖", "bold yellow", "pausing after this batch"),
    Status.PAUSED: ("‖", "bold yellow", "space resumes, n steps an epoch, N one batch, x stops, ctrl+s saves"),
    Status.STEPPING: ("▶", "bold green", "one batch or epoch, then paused again"),
    Status.STOPPING: ("■", "bold yellow", "stopping after this batch"),
    Status.STOPPED: ("■", "bold", "space continues, ctrl+s saves, r starts afresh"),
    Status.FINISHED: ("✓", "bold green", "ctrl+s saves; raise the epochs in settings to go on, r starts afresh"),
    Status.EARLY_STOPPED: ("✓", "bold green", "the validation loss stopped improving; ctrl+s saves, r starts afresh"),
    Status.DIVERGED: ("✗", "bold red", "lower the learning rate (settings), then r to start again"),
    Status.FAILED: ("✗", "bold red", "see the message; fix the settings, then r and space to start again"),
}


def downsample(xs: list[float], ys: list[float], points: int) -> tuple[list[float], list[float]]:
    """At most `points` points: means of consecutive runs (keeps the shape, unlike striding)."""
    if len(xs) <= points or points < 2:
        return list(xs), list(ys)
    chunks = np.array_split(np.arange(len(xs)), points)
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    return [float(x[c].mean()) for c in chunks], [float(y[c].mean()) for c in chunks]


def clock(seconds: float | None) -> str:
    """12 -> "0:12", 3725 -> "1:02:05"; unknown -> "-"."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def log_ticks(low: float, high: float) -> list[float]:
    """Where to put y ticks on a log10 axis spanning [low, high]: round values, 1 times powers of
    ten on a wide range, 1, 2 and 5 times them on a narrower one, every digit times them on a
    range of a decade or less; the coarsest that gives three ticks (else two), at most five.
    A range too tiny for two round values gets its two ends."""
    candidates = []
    for mantissas in ((1,), (1, 2, 5), tuple(range(1, 10))):
        ticks = [math.log10(m) + k for k in range(math.floor(low), math.ceil(high) + 1) for m in mantissas]
        candidates.append([t for t in ticks if low - 1e-9 <= t <= high + 1e-9])
    ticks = next((c for c in candidates if len(c) >= 3), None) or next((c for c in candidates if len(c) >= 2), [])
    if not ticks:
        return [low, high] if high > low else [low]
    return ticks[::-(-len(ticks) // 5)]


class LossTrace:
    """The smoothed per-batch loss, x in epochs, bounded in memory by pairwise averaging."""

    def __init__(self) -> None:
        self.xs: list[float] = []
        self.ys: list[float] = []
        self._smooth: float | None = None

    def add(self, x: float, loss: float) -> None:
        if not math.isfinite(loss):
            return
        self._smooth = loss if self._smooth is None else (1 - SMOOTHING) * self._smooth + SMOOTHING * loss
        self.xs.append(x)
        self.ys.append(self._smooth)
        if len(self.xs) > MAX_TRACE:
            half = len(self.xs) // 2 * 2
            self.xs = [(a + b) / 2 for a, b in zip(self.xs[0:half:2], self.xs[1:half:2])] + self.xs[half:]
            self.ys = [(a + b) / 2 for a, b in zip(self.ys[0:half:2], self.ys[1:half:2])] + self.ys[half:]


class MetricPlot(PlotextPlot):
    """A plotext plot that is only rebuilt when the monitor asks (and counts it, for the redraw budget).

    Its title and legend are a line of text above it (`legend_text`), not plotext's own: a
    legend inside a plot a few rows high covers the very points it names.
    """

    def __init__(self, title: str, *, id: str) -> None:
        super().__init__(id=id)
        self.title = title
        self.redraws = 0


class MonitorPane(Vertical):
    """Plots, progress and status of the current run."""

    DEFAULT_CSS = Path(__file__).with_name("monitor_pane.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Monitor pane"

    config: reactive[RunConfig | None] = reactive(None, init=False)
    """The run configuration (set by the app): the planned epochs and the batch size for the ETA."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status = Status.IDLE
        self.history: list[dict] = []
        self._live_epochs: list[events.EpochEnd] = []  # epochs trained since the history was shown: their pace
        self.trace = LossTrace()
        self.progress_updates = 0
        self.plot_redraws = 0
        self._last_epoch: events.EpochEnd | None = None
        self._latest_batch: events.BatchEnd | None = None
        self._stale: set[str] = set()  # plots whose data changed since they were last drawn
        self._legends: dict[str, tuple] = {}  # plot id -> (what its legend shows, its line count)
        self._progress_dirty = False
        self._composed = False  # True from on_mount: the widgets to draw into exist (is_mounted comes later)
        self.plot_timer: Timer | None = None
        """Calls `redraw_if_dirty` every PLOT_INTERVAL seconds (from on_mount); tests pause it and call it themselves."""

    def compose(self) -> ComposeResult:
        yield Static(id="run-status")
        yield Static(id="run-progress")
        with VerticalScroll(id="plots"):
            with Grid(id="plot-grid"):
                for plot_id, title in PLOTS:
                    with Vertical(classes="metric"):
                        yield Static(id=f"{plot_id}-legend", classes="legend")
                        yield MetricPlot(title, id=plot_id)

    def on_mount(self) -> None:
        self._composed = True
        self.plot_timer = self.set_interval(PLOT_INTERVAL, self.redraw_if_dirty, name="plot-redraw")
        self.set_running(self.status)
        self._show_progress(None)
        self.redraw()

    def on_resize(self) -> None:
        """The plots' widths changed: redraw once the new layout is in place (legends wrap to the width)."""
        self.call_after_refresh(self.redraw)

    # ------------------------------------------------------------------ fed by the app
    def watch_config(self) -> None:
        """Called when config is updated: the planned epochs may have changed."""
        self._show_progress(None)

    def set_running(self, status: Status) -> None:
        """The run's status (idle, running, paused, stopped, finished, diverged, failed...) for the status line."""
        self.status = status
        if not self._composed:
            return
        symbol, style, hint = STATUS_LOOK[status]
        text = Text.assemble((f"{symbol} {status.upper().replace('-', ' ')}", style), ("  " + hint, "dim") if hint else "")
        if (status_line := self._part("#run-status", Static)) is not None:
            status_line.update(text, layout=False)

    def show_history(self, history: list[dict]) -> None:
        """Replace the plotted epochs (a loaded save's history, or [] for a fresh run) and redraw now."""
        self.history = [dict(h) for h in history]
        self._live_epochs = []
        self.trace = LossTrace()
        self._last_epoch = self._latest_batch = None
        self._show_progress(None)
        self.redraw()

    def on_session_event(self, event) -> None:
        """An epoch ended: one more point on every plot (drawn at the next plot tick, not now); or the
        data set is being downloaded before the run: the progress line says how far it is."""
        if isinstance(event, DownloadProgress):
            self._show_download(event)
        elif isinstance(event, events.EpochEnd):
            self.history.append(event.as_dict())
            self._live_epochs.append(event)
            self._last_epoch, self._latest_batch = event, None
            self._progress_dirty = True
            self._stale.update(plot_id for plot_id, _ in PLOTS)

    def tick(self, latest: events.BatchEnd | None, losses: list[tuple[int, int, int, float]]) -> None:
        """The app's poll (~10 times a second): batches since the last one, and the newest batch event.

        The progress line is rewritten here only, so it changes at most once a tick however
        fast batches and epochs go by.
        """
        for epoch, batch, batches, loss in losses:
            self.trace.add(epoch + (batch + 1) / max(batches, 1), loss)
        if losses:
            self._stale.add("plot-loss")  # the batch curve: the other plots change once an epoch
        if latest is not None:
            # a batch of an epoch already reported is old news: the epoch's summary is shown instead
            self._latest_batch = latest if latest.epoch >= len(self.history) else None
            self._progress_dirty = True
        if self._progress_dirty:
            self._show_progress(self._latest_batch)

    def _part(self, selector: str, kind: type):
        """One of the pane's widgets, or None once the app is taking the pane down (a timer or a
        callback that was already due may still fire then)."""
        found = self.query(selector)
        return found.first(kind) if found else None

    # ------------------------------------------------------------------ progress line
    def _show_download(self, event: DownloadProgress) -> None:
        if (progress := self._part("#run-progress", Static)) is None:
            return
        text = Text.assemble(("downloading ", "bold"), event.filename, f"  {size_text(event.done)}")
        if event.total:
            text.append(f" of {size_text(event.total)} ({event.done / event.total:.0%})")
        progress.update(text, layout=False)

    def _planned_epochs(self) -> int:
        """The epoch the run trains up to: `training.epochs`, which counts the epochs it already has
        (never fewer than the history holds)."""
        return max(self.config.training.epochs if self.config is not None else 0, len(self.history))

    def _pace(self) -> float | None:
        """Seconds an epoch takes in this session, evaluation included, measured on the epochs trained since
        the history was shown (a resumed run's earlier epochs ran elsewhere, at another pace); None before one."""
        live = self._live_epochs
        if len(live) >= 2:
            return (live[-1].elapsed - live[0].elapsed) / (len(live) - 1)
        return live[0].seconds if live else None

    def _show_progress(self, batch: events.BatchEnd | None) -> None:
        self._progress_dirty = False
        if not self._composed:
            return
        self.progress_updates += 1
        planned = max(self._planned_epochs(), 1)
        done = len(self.history)
        text = Text()
        text.append(f"epoch {min(done + (1 if batch else 0), planned)}/{planned} ", style="bold")
        fraction = (done + ((batch.batch + 1) / batch.batches if batch else 0)) / planned
        filled = int(round(min(max(fraction, 0.0), 1.0) * BAR))
        text.append("█" * filled, style="green")
        text.append("░" * (BAR - filled), style="dim")
        if batch is not None:
            text.append(f" batch {batch.batch + 1}/{batch.batches} · ETA {clock(self._eta(batch, planned))}"
                        f" · {batch.samples_per_s:,.0f}/s · loss {batch.loss:.4f}")
        elif self._last_epoch is not None:
            e, pace = self._last_epoch, self._pace()
            eta = pace * max(planned - done, 0) if pace is not None else None
            text.append(f" ETA {clock(eta)} · {e.samples_per_s:,.0f} samples/s · {e.seconds:.1f} s/epoch")
        if (progress := self._part("#run-progress", Static)) is not None:
            progress.update(text, layout=False)  # one line: no reflow

    def _eta(self, batch: events.BatchEnd, planned: int) -> float | None:
        """Seconds left: the epochs still to go at this session's pace (`_pace`), or before its first
        epoch ends, at the current batch rate."""
        epochs_left = planned - batch.epoch - (batch.batch + 1) / max(batch.batches, 1)
        pace = self._pace()
        if pace is not None:
            return pace * max(epochs_left, 0.0)
        if batch.samples_per_s <= 0 or self.config is None:
            return None
        return epochs_left * batch.batches * self.config.training.batch_size / batch.samples_per_s

    # ------------------------------------------------------------------ plots
    def redraw_if_dirty(self) -> None:
        """Called by the plot timer: rebuild the plots whose data changed, if the pane is in view at all.

        Every rebuild is work on the interface thread, which shares the interpreter lock with
        training: plots nobody sees wait until the pane is shown again.
        """
        if self._stale and self.is_on_screen:
            self.redraw(self._stale)

    def on_show(self) -> None:
        """Back in view: draw what changed while the pane was hidden."""
        if self._stale:
            self.call_after_refresh(self.redraw, set(self._stale))

    def _monochrome(self) -> bool:
        return bool(getattr(self.app, "no_color", False))

    def _style(self, i: int) -> dict:
        """Colour and braille dots (2x4 per cell: four times the resolution of a character) for the
        i-th series of a plot; in monochrome, a distinct character marker instead of a colour."""
        if self._monochrome():
            return {"marker": _MARKERS[i % len(_MARKERS)]}
        return {"color": _COLOURS[i % len(_COLOURS)], "marker": "braille"}

    def legend_text(self, title: str, labels: list[tuple[int, str]], width: int) -> Text:
        """"loss  ━ batch  ━ train  ━ validation", each key in its series' colour (its marker in
        monochrome); an entry that does not fit in `width` cells starts the next line, whole."""
        text, column = Text(title, style="bold"), len(title)
        for n, label in labels:
            mono = self._monochrome()
            key = _MARKERS[n % len(_MARKERS)] * 2 if mono else "━"
            entry = Text.assemble((key, "" if mono else f"bold {_COLOURS[n % len(_COLOURS)]}"), f" {label}")
            if column + 2 + len(entry) > width:
                text.append("\n")
                column = 0
            else:
                text.append("  ")
                column += 2
            text.append_text(entry)
            column += len(entry)
        return text

    def redraw(self, plots: set[str] | None = None) -> None:
        """Rebuild plots and their legends (all four, or those named) from the current data,
        downsampled to each plot's width."""
        if not self._composed:
            return
        plots = {plot_id for plot_id, _ in PLOTS} if plots is None else set(plots)
        self._stale -= plots
        for plot_id, paint in (("plot-loss", self._paint_loss), ("plot-accuracy", self._paint_accuracy),
                               ("plot-grad", self._paint_grad), ("plot-lr", self._paint_lr)):
            if plot_id not in plots:
                continue
            plot = self._part(f"#{plot_id}", MetricPlot)
            if plot is None:
                return
            plt, width, labels = plot.plt, max(plot.size.width - 10, 10), []

            def line(xs: list[float], ys: list[float], label: str, n: int) -> None:
                plt.plot(*downsample(xs, ys, width), **self._style(n))
                labels.append((n, label))

            plt.clear_figure()
            plt.xlabel("epoch")
            paint(plt, line)
            self._show_legend(plot_id, self.legend_text(plot.title, labels, max(plot.size.width - 2, 20)))
            plot.redraws += 1
            self.plot_redraws += 1
            plot.refresh()

    def _show_legend(self, plot_id: str, text: Text) -> None:
        """Put a legend above its plot only when it changed, and lay the screen out again only when its
        number of lines did: a layout pass costs the whole screen, and legends rarely change."""
        key, lines = (text.plain, tuple(span for span in text.spans)), text.plain.count("\n")
        if self._legends.get(plot_id, (None, None))[0] == key:
            return
        relayout = self._legends.get(plot_id, (None, -1))[1] != lines
        self._legends[plot_id] = (key, lines)
        if (legend := self._part(f"#{plot_id}-legend", Static)) is not None:
            legend.update(text, layout=relayout)

    def _series(self, key: str) -> tuple[list[float], list[float]]:
        pairs = [(float(i + 1), h[key]) for i, h in enumerate(self.history)
                 if isinstance(h.get(key), (int, float)) and math.isfinite(h[key])]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def _paint_loss(self, plt, line) -> None:
        """The smoothed batch loss, and each epoch's train and validation loss."""
        if self.trace.xs:
            line(self.trace.xs, self.trace.ys, "batch", 0)
        for n, (key, label) in enumerate((("train_loss", "train"), ("val_loss", "validation")), 1):
            x, y = self._series(key)
            if x:
                line(x, y, label, n)

    def _paint_accuracy(self, plt, line) -> None:
        for n, (key, label) in enumerate((("train_acc", "train"), ("val_acc", "validation"))):
            x, y = self._series(key)
            if x:
                line(x, [v * 100 for v in y], label, n)

    def _paint_grad(self, plt, line) -> None:
        """log10 of each layer's gradient norm; the axis is labelled in round values.

        Plotted as log-transformed values on a linear axis: plotext 5.3 raises when a
        log-scale figure is built twice, and the monitor rebuilds it on every redraw.
        """
        layers: list[str] = []
        for h in self.history:
            layers += [name for name in (h.get("grad_norms") or {}) if name not in layers]
        low, high = math.inf, -math.inf
        for n, layer in enumerate(layers):
            pairs = [(float(i + 1), h["grad_norms"][layer]) for i, h in enumerate(self.history)
                     if (h.get("grad_norms") or {}).get(layer, 0) > 0]
            if not pairs:
                continue
            y = [math.log10(p[1]) for p in pairs]
            low, high = min(low, *y), max(high, *y)
            line([p[0] for p in pairs], y, f"layer {layer}" if layer.isdigit() else layer, n)
        if math.isfinite(low):
            ticks = log_ticks(low, high)
            plt.yticks(ticks, [f"{10 ** t:.2g}" for t in ticks])

    def _paint_lr(self, plt, line) -> None:
        x, y = self._series("lr")
        if x:
            line(x, y, "lr", 0)
