"""Pane 3, the training monitor: four live plots, a progress line and a status line; and runs compared.

The plots are loss (the per-batch loss smoothed, and train/validation loss per epoch),
accuracy (train/validation), per-layer gradient norms on a log scale, and the learning rate
(`monitor_plots.py`). X is in epochs, or in examples seen (`e`), everywhere, so a batch curve and
its epoch points line up; `s` changes the per-batch loss's smoothing, `l` draws the losses and the
learning rate on a log scale. Epochs are numbered as the session numbers them (after the epochs of a
save the run continues, as its history is), and the progress line counts up to `training.epochs`, the
run's planned total in that numbering.

Runs marked in the Runs pane are overlaid (`compare`): their histories are read in a thread
worker (and kept until their files change), and each run, the current one among them, is one
look in every plot, named above the plots by what differs (`overlay.py`); `v` shows their validation loss
in the loss plot instead of their training loss, `c` stops comparing.

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

from dataclasses import dataclass, replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from nnstudio.datasets import DownloadProgress
from nnstudio.engine import events

from ..run import Status
from ..run.config import RunConfig
from ..run.curves import RunCurves, origin_of
from ..run.history import Batches
from .monitor_plots import AXES, PLOTS, Scene, View, paint, title
from .overlay import THIS_RUN, ComparedRuns, Overlay
from .plots import MetricPlot, downsample, legend_text, set_ticks
from .series import SMOOTHINGS, BatchTrace
from .status_lines import STARTING, Progress, download_text, progress_text, status_text

#: seconds between two rebuilds of the plots, at most
PLOT_INTERVAL = 0.5
#: seconds after the pane is shown again before the plots that changed meanwhile are rebuilt
SHOW_DELAY = 0.1
class MonitorPane(Vertical):
    """Plots, progress and status of the current run, and the runs compared with it."""

    DEFAULT_CSS = Path(__file__).with_name("monitor_pane.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Monitor pane"
    BINDINGS = [
        Binding("e", "switch_axis", "Epochs/examples", id="monitor.axis",
                tooltip="Draw the curves against epochs or against examples seen (runs with other batch sizes "
                        "then compare fairly)"),
        Binding("s", "cycle_smoothing", "Smoothing", id="monitor.smoothing",
                tooltip="Smooth the per-batch loss more, or less, or not at all (a moving average whose past "
                        f"weighs {', '.join(f'{s:g}' for s in SMOOTHINGS)})"),
        Binding("l", "toggle_log", "Log loss", id="monitor.log",
                tooltip="Draw the losses and the learning rate on a log scale, or not"),
        Binding("v", "toggle_validation", "Val loss", id="monitor.validation",
                tooltip="Comparing runs: the loss plot shows each run's validation loss per epoch, or its training "
                        "loss per batch"),
        Binding("c", "stop_comparing", "Clear compare", id="monitor.clear",
                tooltip="Stop comparing: unmark every run marked in the Runs pane"),
    ]

    @dataclass
    class StopComparing(Message):
        """`c`: the user wants no run compared any more (the Runs pane, which holds the marks, unmarks them)."""

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
        self.trace = BatchTrace()
        self.train_size: int | None = None
        """Examples in an epoch of the current run (set by the app once known): where its batches fall in examples."""
        self.view = View()
        self._kept_curves: dict = {}   # the compared runs' per-batch curves as drawn (`Scene.kept`)
        self.live_run: Path | None = None
        """The current run's own folder (set by the app): marked or not, it is drawn live, never from its file."""
        self.followed = False
        """The current run is followed here, trained by another process (set by the app): the status line says so."""
        self.progress_updates = 0
        self.plot_redraws = 0
        self.reason: Text | None = None
        """Why the last run failed or diverged (and what to try), shown until the next run starts."""
        self._last_epoch: events.EpochEnd | None = None
        self._latest_batch: events.BatchEnd | None = None
        self._stale: set[str] = set()  # plots whose data changed since they were last drawn
        self._queued: list[str] = []  # stale plots to rebuild, one per screen refresh (redraw_if_dirty)
        self._legends: dict[str, tuple] = {}  # plot id -> (what its legend shows, its line count)
        self._parts: dict[str, Widget] = {}  # selector -> the widget it found (`_part`)
        self._current: tuple[tuple, RunCurves | None] | None = None  # (what it was made of, `current_curves`)
        self._config_dict: tuple[RunConfig, dict] | None = None   # (config, its portable dict)
        self._origin: tuple[Path | None, dict] = (None, {})   # (live run, where it came from: `_live_origin`)
        self._status_lines = 1
        self._progress_dirty = False
        self._composed = False  # True from on_mount: the widgets to draw into exist (is_mounted comes later)
        self.plot_timer: Timer | None = None
        """Calls `redraw_if_dirty` every PLOT_INTERVAL seconds (from on_mount); tests pause it and call it themselves."""

    def compose(self) -> ComposeResult:
        yield Static(id="run-status")
        yield Static(id="run-reason")
        yield Static(id="run-progress")
        yield ComparedRuns(id="overlay-legend")
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
        text = status_text(status, self.followed)
        if (status_line := self._part("#run-status", Static)) is not None:
            # one line at 80 columns; a narrower terminal wraps it (the status word first), which needs a layout
            lines = max(1, -(-text.cell_len // max(status_line.size.width - 2, 1))) if status_line.size.width else 1
            status_line.update(text, layout=lines != self._status_lines)
            self._status_lines = lines
        self._show_progress(self._latest_batch)

    def show_history(self, history: list[dict], batches: Batches | None = None, train_size: int | None = None) -> None:
        """Replace the plotted epochs (a loaded save's or a resumed run's history, or [] for a fresh run) and
        its per-batch losses (`batches`, from the runs that trained it), and redraw now. The model's task is not
        known until the app says it again (`task`)."""
        self.set_reactive(MonitorPane.task, None)
        self.history = [dict(h) for h in history]
        self._live_epochs = []
        self.trace = BatchTrace()
        self.train_size = train_size
        if batches is not None and len(batches) and train_size:
            self.trace.extend(batches.examples / train_size, batches.examples, batches.loss)
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

    def tick(self, latest: events.BatchEnd | None, losses: list[tuple]) -> None:
        """The app's poll (~10 times a second): batches since the last one, (epoch, batch, batches, loss[,
        examples seen in the epoch]) each, and the newest batch event.

        The progress line is rewritten here only, so it changes at most once a tick however
        fast batches and epochs go by.
        """
        size = self.train_size
        for epoch, batch, batches, loss, *seen in losses:
            x = epoch + (batch + 1) / max(batches, 1)
            n = (epoch * size + seen[0] if seen and seen[0] else x * size) if size else math.nan
            self.trace.add(x, n, loss)
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
        callback that was already due may still fire then). Found once (a query matches every widget
        of the pane, and the progress line alone is written ten times a second)."""
        part = self._parts.get(selector)
        if part is not None and part.is_attached:
            return part
        found = self.query(selector)
        part = found.first(kind) if found else None
        if part is not None:
            self._parts[selector] = part
        return part

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
        """No accuracy plot for a model without accuracy (unless runs are compared: their validation loss takes
        its place): the loss plot takes both columns."""
        if not self._composed:
            return
        without = not self.has_accuracy and not self.compared
        if without != self.has_class("-no-accuracy"):
            self.set_class(without, "-no-accuracy")
            self._stale.add("plot-loss")
            self.call_after_refresh(self.redraw, {"plot-loss"})  # the legend's title says what is plotted

    # ------------------------------------------------------------------ progress line
    def _show_download(self, event: DownloadProgress) -> None:
        if (progress := self._part("#run-progress", Static)) is not None:
            progress.update(download_text(event), layout=False)

    def _show_progress(self, batch: events.BatchEnd | None) -> None:
        self._progress_dirty = False
        if not self._composed:
            return
        self.progress_updates += 1
        planned = max(self.config.training.epochs if self.config is not None else 0, len(self.history))
        text = progress_text(Progress(len(self.history), planned, self.status, batch, self._last_epoch,
                                      self._live_epochs, self.config.training.batch_size if self.config else None))
        if (progress := self._part("#run-progress", Static)) is not None:
            progress.update(text, layout=False)  # one line: no reflow

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
        overlay = self.overlay()
        scene = self.scene(overlay)
        if (compared := self._part("#overlay-legend", ComparedRuns)) is not None:
            compared.show(overlay, max(self.size.width - 2, 20), mono)
        for plot_id, _ in PLOTS:
            if plot_id not in plots:
                continue
            plot = self._part(f"#{plot_id}", MetricPlot)
            if plot is None:
                return
            plt, width, labels = plot.plt, max(plot.size.width - 10, 10), []
            xs_seen: list[float] = []

            def line(xs: list[float], ys: list[float], series_look, label: str, kept: bool = False) -> None:
                xs, ys = downsample(xs, ys, width)
                plt.plot(xs, ys, **series_look.plot_style(mono))
                if kept and plt.kept == plt.series - 1:   # (the kept series come first: they are built once)
                    plt.keep()
                labels.append((series_look, label))
                xs_seen.extend((xs[0], xs[-1]))

            plt.clear_figure()
            plt.xlabel(AXES[self.view.axis])
            ys_range, log = paint(plot_id, plt, line, scene, width)
            set_ticks(plot, xs_seen, ys_range, counts=self.view.counts, log=log, steady=plt.kept > 0)
            shown = [] if scene.comparing else labels   # runs are named above the plots
            self._show_legend(plot_id, legend_text(title(plot_id, scene), shown, max(plot.size.width - 2, 20), mono))
            self.plot_redraws += 1
            plot.changed()
            plot.drawn_size = plot.size

    # ------------------------------------------------------------------ what is drawn
    def current_curves(self) -> RunCurves | None:
        """The current run's curves (None while it has nothing to show); the same object until its history, its
        batches or what is known of it change."""
        origin = self._live_origin()
        made_of = (id(self.history), len(self.history), id(self.trace), len(self.trace), self.config, self.task,
                   self.train_size, self.live_run, origin)
        if self._current is not None and self._current[0] == made_of:
            return self._current[1]
        curves = None
        if self.history or len(self.trace):
            config = self.config
            curves = RunCurves.of(THIS_RUN, self.history, train_size=self.train_size, path=self.live_run,
                                  dataset=config.data.name if config is not None else None, task=self.task,
                                  config=self._portable(config), origin=origin)
            curves.batch_x, curves.batch_n, curves.batch_loss = self.trace.xs, self.trace.ns, self.trace.losses
        self._current = (made_of, curves)
        return curves

    def _live_origin(self) -> dict:
        """Where the run being trained came from (a fork names its parent), read from the first line of its history
        once it is written; {} before, or with no run folder."""
        if self.live_run is None:
            return {}
        if self._origin[0] != self.live_run or not self._origin[1]:
            self._origin = (self.live_run, origin_of(self.live_run))
        return self._origin[1]

    def _portable(self, config: RunConfig | None) -> dict:
        """The config's settings as runs record them, the same dict while the config is the same (what names the
        runs compared is worked out again only when it changes: `ComparedRuns.overlay`)."""
        if config is None:
            return {}
        if self._config_dict is None or self._config_dict[0] is not config:
            self._config_dict = (config, config.portable_dict())
        return self._config_dict[1]

    def overlay(self) -> Overlay | None:
        """The runs compared (the current one among them), or None when none is marked."""
        compared = self._part("#overlay-legend", ComparedRuns)
        return compared.overlay(self.current_curves(), self.live_run) if compared is not None else None

    def scene(self, overlay: Overlay | None) -> Scene:
        """Everything the plots are drawn from now (`overlay`: the runs compared, if any)."""
        if overlay is None:
            return Scene(self.current_curves(), [], self.view, self.has_accuracy, self.task)
        current = overlay.shown[0].curves if overlay.shown and overlay.shown[0].curves.name == THIS_RUN else None
        kept = {key: value for key, value in self._kept_curves.items()
                if any(value[0] is shown.curves.batch_loss for shown in overlay.shown)}   # (only runs still shown)
        self._kept_curves = kept
        return Scene(current, overlay.shown, self.view, overlay.has_accuracy, self.task, kept)

    def _show_legend(self, plot_id: str, text: Text) -> None:
        """Put a legend above its plot only when it changed, and lay the screen out again only when its
        number of lines did: a layout pass costs the whole screen, and legends rarely change."""
        key, lines = (text.plain, tuple(span for span in text.spans)), text.plain.count("\n")
        if self._legends.get(plot_id, (None, None))[0] == key:
            return
        relayout = self._legends.get(plot_id, (None, -1))[1] != lines
        self._legends[plot_id] = (key, lines)
        if (legend_box := self._part(f"#{plot_id}-legend", Static)) is not None:
            legend_box.update(text, layout=relayout)

    # ------------------------------------------------------------------ runs compared
    @property
    def compared(self) -> tuple[Path, ...]:
        """The run folders marked for comparison (`compare`), in mark order."""
        compared = self._part("#overlay-legend", ComparedRuns)
        return compared.paths if compared is not None else ()

    @property
    def overlay_reads(self) -> int:
        """How many times the marked runs' histories were read (tests wait on it)."""
        compared = self._part("#overlay-legend", ComparedRuns)
        return compared.reads if compared is not None else 0

    def compare(self, paths: list[Path]) -> None:
        """Overlay these run folders (in mark order; [] stops comparing), read in a worker (`ComparedRuns`)."""
        self.query_one("#overlay-legend", ComparedRuns).compare(paths)
        self._show_layout()
        self._stale.update(plot_id for plot_id, _ in PLOTS)
        self.redraw_if_dirty()

    def on_compared_runs_read(self) -> None:
        """Called when the marked runs' histories were read: draw them."""
        self._stale.update(plot_id for plot_id, _ in PLOTS)
        self._show_layout()
        self.redraw_if_dirty()

    # ------------------------------------------------------------------ keys
    def refusal(self, action: str) -> str | None:
        """Why a key of the pane cannot act now (None if it can): the footer greys it, a press says why."""
        if action == "switch_axis" and self.view.axis == "epoch" and self.train_size is None and \
                self.current_curves() is not None and not self.compared:
            return "The examples this run has seen are not known (its data set's size is not): x stays in epochs."
        if action == "cycle_smoothing" and not len(self.trace) and not self.compared:
            return "No per-batch loss to smooth yet: train (space), or mark runs to compare in the Runs pane (6)."
        if action == "stop_comparing" and not self.compared:
            return "No runs are compared: mark some in the Runs pane (6) with m."
        if action == "toggle_validation" and not self.compared:
            return "The loss plot shows this run's validation loss already (per epoch); v switches it for runs " \
                   "compared."
        if action == "toggle_validation" and not self._compared_accuracy():
            return "These runs have no accuracy: the second plot shows their validation loss already."
        if action == "cycle_smoothing" and self.compared and self.view.validation and self._compared_accuracy():
            return "The validation loss is per epoch, not smoothed: v shows the training loss again."
        return None

    def _compared_accuracy(self) -> bool:
        """Whether the runs compared have an accuracy (else the second plot shows their validation loss)."""
        overlay = self.overlay()
        return overlay is None or overlay.has_accuracy

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if self.refusal(action) is not None else True

    def _view_changed(self, **change) -> None:
        self.view = replace(self.view, **change)
        self._stale.update(plot_id for plot_id, _ in PLOTS)
        self.redraw_if_dirty()

    def action_switch_axis(self) -> None:
        """Against epochs, or against examples seen."""
        self._view_changed(axis="examples" if self.view.axis == "epoch" else "epoch")

    def action_cycle_smoothing(self) -> None:
        """The next smoothing of the per-batch loss (none after the strongest)."""
        steps = list(SMOOTHINGS)
        at = steps.index(self.view.smoothing) if self.view.smoothing in steps else 0
        self._view_changed(smoothing=steps[(at + 1) % len(steps)])

    def action_toggle_log(self) -> None:
        """Losses on a log scale, or back on a linear one."""
        self._view_changed(log_loss=not self.view.log_loss)

    def action_toggle_validation(self) -> None:
        """Comparing: each run's validation loss in the loss plot, or its training loss again."""
        self._view_changed(validation=not self.view.validation)

    def action_stop_comparing(self) -> None:
        """Unmark every run (the Runs pane holds the marks): the monitor shows the current run alone."""
        self.post_message(self.StopComparing())
