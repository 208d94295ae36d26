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

A series looks the same in every plot (`plots.SERIES`: one colour, and in monochrome one
marker). A model without accuracy (a regression, an autoencoder) has no accuracy plot: its
loss, the mean squared error, takes that space too. When a run fails or diverges, why (and
what to try) stays under the status line until the next run starts.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from nnstudio.datasets import DownloadProgress
from nnstudio.engine import events

from ..render import size_text
from ..run import Status
from ..run.config import RunConfig
from .plots import LossTrace, MetricPlot, downsample, legend_text, log_tick_labels, log_ticks, look, set_ticks
from .status_lines import STARTING, clock, eta_word, status_text

#: seconds between two rebuilds of the plots, at most
PLOT_INTERVAL = 0.5
#: seconds after the pane is shown again before the plots that changed meanwhile are rebuilt
SHOW_DELAY = 0.1
#: cells of the progress bar
BAR = 12

#: (widget id, title) of the four plots, in reading order
PLOTS = (("plot-loss", "loss"), ("plot-accuracy", "accuracy %"), ("plot-grad", "gradient norm (log)"),
         ("plot-lr", "learning rate"))
#: the loss plot's title for a model without accuracy (it then spans the accuracy plot's place too)
NO_ACCURACY_TITLES = {"reconstruction": "reconstruction error (MSE; no accuracy)",
                      "regression": "loss (MSE; regression: no accuracy)"}

class MonitorPane(Vertical):
    """Plots, progress and status of the current run."""

    DEFAULT_CSS = Path(__file__).with_name("monitor_pane.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Monitor pane"

    config: reactive[RunConfig | None] = reactive(None, init=False)
    """The run configuration (set by the app): the planned epochs and the batch size for the ETA."""
    task: reactive[str | None] = reactive(None, init=False)
    """What the model does: "classification", "regression" or "reconstruction" (set by the app once a run is
    prepared); None until known, when the history says whether there is an accuracy to plot."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status = Status.IDLE
        self.history: list[dict] = []
        self._live_epochs: list[events.EpochEnd] = []  # epochs trained since the history was shown: their pace
        self.trace = LossTrace()
        self.progress_updates = 0
        self.plot_redraws = 0
        self.reason: Text | None = None
        """Why the last run failed or diverged (and what to try), shown until the next run starts."""
        self._last_epoch: events.EpochEnd | None = None
        self._latest_batch: events.BatchEnd | None = None
        self._stale: set[str] = set()  # plots whose data changed since they were last drawn
        self._queued: list[str] = []  # stale plots to rebuild, one per screen refresh (redraw_if_dirty)
        self._legends: dict[str, tuple] = {}  # plot id -> (what its legend shows, its line count)
        self._status_lines = 1
        self._progress_dirty = False
        self._composed = False  # True from on_mount: the widgets to draw into exist (is_mounted comes later)
        self.plot_timer: Timer | None = None
        """Calls `redraw_if_dirty` every PLOT_INTERVAL seconds (from on_mount); tests pause it and call it themselves."""

    def compose(self) -> ComposeResult:
        yield Static(id="run-status")
        yield Static(id="run-reason")
        yield Static(id="run-progress")
        with VerticalScroll(id="plots"):
            with Grid(id="plot-grid"):
                for plot_id, title in PLOTS:
                    with Vertical(classes="metric", id=f"{plot_id}-box"):
                        yield Static(id=f"{plot_id}-legend", classes="legend")
                        yield MetricPlot(title, id=plot_id)

    def on_mount(self) -> None:
        self._composed = True
        self.plot_timer = self.set_interval(PLOT_INTERVAL, self.redraw_if_dirty, name="plot-redraw")
        self.set_running(self.status)
        self._show_reason()
        self._show_layout()
        self._show_progress(None)
        self.redraw()

    def on_resize(self) -> None:
        """The pane's size changed (it is also "resized" each time it is shown again): once the new layout is
        in place, redraw the plots whose size is not the one they were drawn for (series are downsampled to
        the width, legends wrap to it)."""
        self.call_after_refresh(self._redraw_resized)

    def _redraw_resized(self) -> None:
        resized = {plot.id for plot in self.query(MetricPlot) if plot.size != plot.drawn_size}
        if resized:
            self.redraw(resized)

    # ------------------------------------------------------------------ fed by the app
    def watch_config(self) -> None:
        """Called when config is updated: the planned epochs may have changed."""
        self._show_progress(None)

    def watch_task(self) -> None:
        """Called when task is updated: a model without accuracy gets no accuracy plot."""
        self._show_layout()

    def set_running(self, status: Status) -> None:
        """The run's status (idle, running, paused, stopped, finished, diverged, failed...) for the status line.

        A run that starts makes the reason the last one failed old news; the ETA says "paused" while paused.
        """
        self.status = status
        if status in STARTING and self.reason is not None:
            self.reason = None
            self._show_reason()
        if not self._composed:
            return
        text = status_text(status)
        if (status_line := self._part("#run-status", Static)) is not None:
            # one line at 80 columns; a narrower terminal wraps it (the status word first), which needs a layout
            lines = max(1, -(-text.cell_len // max(status_line.size.width - 2, 1))) if status_line.size.width else 1
            status_line.update(text, layout=lines != self._status_lines)
            self._status_lines = lines
        self._show_progress(self._latest_batch)

    def show_history(self, history: list[dict]) -> None:
        """Replace the plotted epochs (a loaded save's history, or [] for a fresh run) and redraw now.
        The model's task is not known until the app says it again (`task`)."""
        self.set_reactive(MonitorPane.task, None)
        self.history = [dict(h) for h in history]
        self._live_epochs = []
        self.trace = LossTrace()
        self._last_epoch = self._latest_batch = None
        self._show_layout()
        self._show_progress(None)
        self.redraw()

    def on_session_event(self, event) -> None:
        """An epoch ended: one more point on every plot (drawn at the next plot tick, not now); the data set
        is being downloaded before the run: the progress line says how far it is; the run failed or
        diverged: why, under the status line."""
        if isinstance(event, DownloadProgress):
            self._show_download(event)
        elif isinstance(event, events.EpochEnd):
            self.history.append(event.as_dict())
            self._live_epochs.append(event)
            self._last_epoch, self._latest_batch = event, None
            self._progress_dirty = True
            self._stale.update(plot_id for plot_id, _ in PLOTS)
            if len(self.history) == 1:
                self._show_layout()
        elif isinstance(event, (events.Failed, events.Diverged)):
            self.reason = Text.assemble(("Why: ", "bold red"), event.message)
            self._show_reason()

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

    # ------------------------------------------------------------------ status area
    def _show_reason(self) -> None:
        """Why the run failed or diverged, wrapped under the status line; nothing (no line) otherwise."""
        if not self._composed or (reason := self._part("#run-reason", Static)) is None:
            return
        reason.display = self.reason is not None
        reason.update(self.reason or "")

    @property
    def has_accuracy(self) -> bool:
        """Whether the model has an accuracy to plot: it classifies (its task, else its history says so;
        before either is known, assume it does)."""
        if self.task is not None:
            return self.task == "classification"
        figures = [h.get(key) for h in self.history for key in ("train_acc", "val_acc")]
        return not self.history or any(value is not None for value in figures)

    def _show_layout(self) -> None:
        """No accuracy plot for a model without accuracy: the loss plot takes both columns."""
        if not self._composed:
            return
        without = not self.has_accuracy
        if without != self.has_class("-no-accuracy"):
            self.set_class(without, "-no-accuracy")
            self._stale.add("plot-loss")
            self.call_after_refresh(self.redraw, {"plot-loss"})  # the legend's title says what is plotted

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
        the history was shown (a resumed run's earlier epochs ran elsewhere, at another pace); None before one.
        Trainer times only: a pause stops them."""
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
        parts: list[str] = []
        if batch is not None:
            parts = [f"batch {batch.batch + 1}/{batch.batches}", self._eta_text(self._eta(batch, planned)),
                     f"{batch.samples_per_s:,.0f}/s", f"loss {batch.loss:.4f}"]
        elif self._last_epoch is not None:
            e, pace = self._last_epoch, self._pace()
            parts = [self._eta_text(pace * max(planned - done, 0) if pace is not None else None),
                     f"{e.samples_per_s:,.0f} samples/s", f"{e.seconds:.1f} s/epoch"]
        if parts:
            text.append(" " + " · ".join(part for part in parts if part))
        if (progress := self._part("#run-progress", Static)) is not None:
            progress.update(text, layout=False)  # one line: no reflow

    def _eta_text(self, seconds: float | None) -> str:
        word = eta_word(self.status)
        return f"ETA {clock(seconds)}" if word is None else word

    def _eta(self, batch: events.BatchEnd, planned: int) -> float | None:
        """Seconds left: the epochs still to go at this session's pace (`_pace`), or before its first
        epoch ends, at the current batch rate. Both count the time spent training only (the trainer's
        clock stops while paused)."""
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
        training: plots nobody sees wait until the pane is shown again, and those that changed are
        rebuilt one per screen refresh (the loss first), so a key pressed meanwhile waits for one
        plot at most, never for four.
        """
        if self._stale and self.is_on_screen and not self._queued:
            self._queued = [plot_id for plot_id, _ in PLOTS if plot_id in self._stale]
            self._redraw_queued()

    def _redraw_queued(self) -> None:
        """Rebuild the next plot of the queue (if it is still stale), then the one after at the next refresh."""
        if not self.is_on_screen:  # hidden meanwhile: on_show starts again
            self._queued = []
        while self._queued:
            plot_id = self._queued.pop(0)
            if plot_id in self._stale:
                self.redraw({plot_id})
                break
        if self._queued:
            self.call_after_refresh(self._redraw_queued)

    def on_show(self) -> None:
        """Back in view: the plots are shown at once as they were, and those that changed meanwhile are
        rebuilt a moment later (SHOW_DELAY), so the pane switch itself waits for no plot."""
        if self._stale:
            self.set_timer(SHOW_DELAY, self.redraw_if_dirty)

    def _monochrome(self) -> bool:
        return bool(getattr(self.app, "no_color", False))

    def redraw(self, plots: set[str] | None = None) -> None:
        """Rebuild plots and their legends (all four, or those named) from the current data,
        downsampled to each plot's width, with round ticks on both axes."""
        if not self._composed:
            return
        plots = {plot_id for plot_id, _ in PLOTS} if plots is None else set(plots)
        self._stale -= plots
        mono = self._monochrome()
        for plot_id, paint in (("plot-loss", self._paint_loss), ("plot-accuracy", self._paint_accuracy),
                               ("plot-grad", self._paint_grad), ("plot-lr", self._paint_lr)):
            if plot_id not in plots:
                continue
            plot = self._part(f"#{plot_id}", MetricPlot)
            if plot is None:
                return
            plt, width, labels = plot.plt, max(plot.size.width - 10, 10), []
            xs_seen: list[float] = []

            def line(xs: list[float], ys: list[float], series: str, label: str, layer: int | None = None) -> None:
                xs, ys = downsample(xs, ys, width)
                plt.plot(xs, ys, **look(series, layer).plot_style(mono))
                labels.append((series, label, layer))
                xs_seen.extend((xs[0], xs[-1]))

            plt.clear_figure()
            plt.xlabel("epoch")
            ys_range = paint(plt, line)
            set_ticks(plot, xs_seen, ys_range)
            self._show_legend(plot_id, legend_text(self._title(plot), labels, max(plot.size.width - 2, 20), mono))
            self.plot_redraws += 1
            plot.changed()
            plot.drawn_size = plot.size

    def _title(self, plot: MetricPlot) -> str:
        if plot.id == "plot-loss" and not self.has_accuracy:
            return NO_ACCURACY_TITLES.get(self.task or "", "loss (no accuracy)")
        return plot.title

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

    @staticmethod
    def _span(*series: list[float]) -> tuple[float, float] | None:
        values = [v for ys in series for v in ys]
        return (min(values), max(values)) if values else None

    def _paint_loss(self, plt, line) -> tuple[float, float] | None:
        """The smoothed batch loss, and each epoch's train and validation loss."""
        if self.trace.xs:
            line(self.trace.xs, self.trace.ys, "batch", "batch")
        drawn = [self.trace.ys]
        for key, series in (("train_loss", "train"), ("val_loss", "validation")):
            x, y = self._series(key)
            if x:
                line(x, y, series, series)
                drawn.append(y)
        return self._span(*drawn)

    def _paint_accuracy(self, plt, line) -> tuple[float, float] | None:
        drawn = []
        for key, series in (("train_acc", "train"), ("val_acc", "validation")):
            x, y = self._series(key)
            if x:
                drawn.append([v * 100 for v in y])
                line(x, drawn[-1], series, series)
        return self._span(*drawn)

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
            line([p[0] for p in pairs], y, "layer", f"layer {layer}" if layer.isdigit() else layer, n)
        if math.isfinite(low):
            ticks = log_ticks(low, high)
            plt.yticks(ticks, log_tick_labels(ticks))
        return None

    def _paint_lr(self, plt, line) -> tuple[float, float] | None:
        x, y = self._series("lr")
        if x:
            line(x, y, "lr", "lr")
        return self._span(y)
