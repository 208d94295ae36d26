"""Pane 4, predictions: what the model now makes of real test examples, and where it goes wrong.

The session predicts a fixed probe set of test examples every epoch (`Session.probe_index`,
`EpochEnd.probe_outputs`), so the same digits can be watched as they turn from wrong to right.
A page of them is drawn at a time (`s` shows the next page, `m` only the mistakes); beside
them a confusion matrix (rows = true class) with per-class accuracy says which classes are
confused with which. A model that does not classify has errors instead of mistakes: an
autoencoder's inputs are drawn beside their reconstructions, and `m` puts the worst first.
Data sets that are not images get a table of inputs.

Every figure says which examples it counts: the probe's (a few hundred test examples), the
validation set's (the confusion matrix an epoch brings), or, after `t`, the whole test set's,
evaluated in a thread worker on a copy of the weights (the interface never waits for it).

The pane knows nothing of sessions: the app hands it a `ProbeSet` once per session and
outputs after each epoch; it throttles its own redraws, because an epoch of a tiny synthetic
set can take milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from nnstudio.engine import events
from nnstudio.engine.metrics import confusion_matrix

from ..run import Status
from .confusion_view import confusion_view
from .digit_grid import DigitCard, DigitGrid
from .probe import ProbeSet, worst_first

__all__ = ["PAGE_SIZE", "PredictionsPane", "ProbeSet"]

#: digits per page: two rows at 200 columns, and still quick to draw
PAGE_SIZE = 12
#: at most this many redraws a second from epoch events (a loaded save or a test redraws at once)
REDRAW_INTERVAL = 0.25
#: seconds after the pane is shown again before the outputs that arrived meanwhile are drawn
SHOW_DELAY = 0.1


class PredictionsPane(Vertical, can_focus=True):
    """Probe digits with their predictions, and the confusion matrix beside them."""

    DEFAULT_CSS = Path(__file__).with_name("predictions_pane.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Predictions pane"
    BINDINGS = [
        Binding("s", "resample", "Next", tooltip="Show the next page of test examples", id="predictions.resample"),
        Binding("m", "toggle_mistakes", "Mistakes", tooltip="Show only the examples the model gets wrong",
                id="predictions.mistakes"),
        Binding("m", "toggle_worst", "Worst", tooltip="Show the examples with the highest error first",
                id="predictions.worst"),
        Binding("c", "confusion", "Confusion", tooltip="Scroll to the confusion matrix (again: back to the top)",
                id="predictions.confusion"),
        Binding("t", "test_set", "Test set", show=False, id="predictions.test-set",
                tooltip="Evaluate the whole test set with the weights as they are now"),
    ]

    mistakes_only: reactive[bool] = reactive(False)
    """Show only the examples the model gets wrong; for a model without classes, the worst first."""
    page: reactive[int] = reactive(0)
    """Which page of the (filtered) probe set is shown."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.config = None
        self.status = Status.IDLE
        self.probe: ProbeSet | None = None
        self.outputs: np.ndarray | None = None
        self.confusion: np.ndarray | None = None
        self.confusion_source = "validation set"
        self.predicted: np.ndarray | None = None  # the class each probe example is given, from the outputs
        self.errors: np.ndarray | None = None  # each probe example's squared error, for a model without classes
        self.test_result: dict[str, Any] | None = None
        """The whole test set's figures (`Session.evaluate_test`) for the weights whose outputs are shown."""
        self.testing = False  # a test set evaluation is under way
        self._weights = 0  # counts the outputs shown: a test result for older weights is dropped
        self._pending: events.EpochEnd | None = None
        self._shapes: dict[str, object] = {}  # part of the pane -> the shape of what it shows (see _update)
        self._composed = False  # True from on_mount: the widgets to draw into exist (is_mounted comes later)

    def compose(self) -> ComposeResult:
        yield Static(id="probe-summary")
        with VerticalScroll(id="predictions-body"):
            with Horizontal(id="predictions-layout"):
                yield DigitGrid(id="digits")
                yield Static(id="probe-table")
                yield Static(id="confusion")

    def on_mount(self) -> None:
        self._composed = True
        self._redraw()

    def on_resize(self) -> None:
        """Narrow terminals stack the matrix under the digits (`c` scrolls to it); the body scrolls."""
        self._fit_layout()

    # ------------------------------------------------------------------ fed by the app
    def set_running(self, status: Status) -> None:
        """The run's status: the whole test set is only evaluated on weights that are still."""
        self.status = status

    def show_probe(self, probe: ProbeSet | None) -> None:
        """A new session's probe set (None: no session); its earlier outputs no longer apply."""
        self.probe, self._pending = probe, None
        self._clear_outputs()
        self.set_reactive(PredictionsPane.page, 0)
        self.refresh_bindings()
        self._redraw()

    def _clear_outputs(self) -> None:
        self.outputs = self.confusion = self.predicted = self.errors = self.test_result = None
        self._weights += 1

    def show_outputs(self, outputs: np.ndarray | None, confusion: np.ndarray | None = None,
                     source: str = "validation set") -> None:
        """Model outputs for the probe set (and a confusion matrix of `source`: else one is made from the
        probe set). A test set result for the weights before is dropped."""
        self._clear_outputs()
        probe = self.probe
        if probe is None or not probe.fits(outputs):
            self._redraw()
            return
        self.outputs = np.asarray(outputs)
        if probe.classifies:
            self.predicted = self.outputs.argmax(axis=1)
            self.confusion, self.confusion_source = confusion, source
            if confusion is None:
                truth = np.asarray(probe.labels).reshape(-1)
                self.confusion = confusion_matrix(truth, self.predicted, len(probe.class_names))
                self.confusion_source = "probe test examples"
        else:
            self.errors = probe.errors(self.outputs)
        self._redraw()

    def on_session_event(self, event) -> None:
        """Epoch ends bring new outputs; drawn at most every REDRAW_INTERVAL seconds, and only in view."""
        if isinstance(event, events.EpochEnd) and event.probe_outputs is not None:
            if self._pending is None:
                self.set_timer(REDRAW_INTERVAL, self._flush_pending)
            self._pending = event

    def _flush_pending(self) -> None:
        """Draw the newest epoch's outputs, unless the pane is out of view: then when it is shown.

        Drawing is work on the interface thread, which shares the interpreter lock with training.
        """
        if not self.is_on_screen:
            return
        event, self._pending = self._pending, None
        if event is not None:
            self.show_outputs(event.probe_outputs, event.confusion)

    def on_show(self) -> None:
        """Back in view: the pane is shown at once as it was, and the outputs that arrived while it was hidden
        are drawn a moment later (SHOW_DELAY), so the pane switch itself waits for no redraw."""
        if self._pending is not None:
            self.set_timer(SHOW_DELAY, self._flush_pending)

    # ------------------------------------------------------------------ keys
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`m` reads "Mistakes" for a classifier and "Worst" otherwise; `c` is there while the matrix is under
        the digits."""
        classifies = self.probe is None or self.probe.classifies
        if action == "toggle_mistakes":
            return classifies
        if action == "toggle_worst":
            return not classifies
        if action == "confusion":
            return classifies and self.has_class("-narrow")
        return True

    def action_resample(self) -> None:
        """Show the next page of probe examples (wrapping around)."""
        pages = max(1, -(-len(self._visible_indices()) // PAGE_SIZE))
        self.page = (self.page + 1) % pages

    def action_toggle_mistakes(self) -> None:
        """Toggle showing only the examples the model gets wrong."""
        self.mistakes_only = not self.mistakes_only
        self.page = 0

    def action_toggle_worst(self) -> None:
        """Toggle showing the examples with the highest error first."""
        self.action_toggle_mistakes()

    def action_confusion(self) -> None:
        """Scroll the confusion matrix (under the digits in a narrow terminal) into view; again, back to the top."""
        body, matrix = self.query_one("#predictions-body", VerticalScroll), self.query_one("#confusion", Static)
        if body.scroll_y >= min(matrix.virtual_region.y, body.max_scroll_y) > 0:
            body.scroll_home(animate=False)
        else:
            body.scroll_to_widget(matrix, animate=False, top=True)

    def action_test_set(self) -> None:
        """Evaluate the whole test set with the weights as they are now, in a thread worker."""
        probe = self.probe
        if probe is None or probe.test_evaluation is None or self.outputs is None:
            self.notify("Nothing to evaluate yet: press space to train first.", severity="warning")
            return
        if not self.status.still:
            self.notify("Pause training (space) first: the test set is evaluated on weights that are still.",
                        severity="warning")
            return
        if self.testing:
            return
        self.testing = True
        self.run_worker(probe.test_evaluation(), thread=True, exclusive=True, group="test-set",
                        name=f"test-set-{self._weights}", exit_on_error=False)
        self._redraw(confusion=False)

    @on(Worker.StateChanged)
    def _test_set_done(self, event: Worker.StateChanged) -> None:
        """The test set evaluation ended: its figures are shown if the weights shown are still those it used."""
        if event.worker.group != "test-set" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        event.stop()
        self.testing = False
        if event.state == WorkerState.ERROR:
            self.notify(f"Could not evaluate the test set: {event.worker.error}", severity="error")
        elif event.worker.name == f"test-set-{self._weights}":
            self.test_result = event.worker.result
        self._redraw()

    def watch_mistakes_only(self) -> None:
        """Called when mistakes_only is updated."""
        self._redraw(confusion=False)

    def watch_page(self) -> None:
        """Called when page is updated."""
        self._redraw(confusion=False)

    # ------------------------------------------------------------------ drawing
    def _visible_indices(self) -> np.ndarray:
        if self.probe is None:
            return np.arange(0)
        if self.mistakes_only and self.predicted is not None:
            return np.flatnonzero(self.predicted != np.asarray(self.probe.labels).reshape(-1))
        if self.mistakes_only and self.errors is not None:
            return worst_first(self.errors)
        return np.arange(len(self.probe))

    def _fit_layout(self) -> None:
        """Matrix beside the digits when both fit across, else under them (and `c` scrolls to it)."""
        if not self._composed or not self.size.width:  # hidden: laid out again when shown
            return
        matrix = self.query_one("#confusion", Static)
        examples = self.query_one(DigitGrid).card_width if self.probe is None or self.probe.images is not None else 40
        beside = int(matrix.styles.width.value) if matrix.display and matrix.styles.width is not None else 0
        narrow = self.size.width < examples + beside + 4
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            self.refresh_bindings()

    def _redraw(self, confusion: bool = True) -> None:
        """Draw the page of examples (and the confusion matrix, unless only the page changed).

        Every part is laid out again only if it takes another size: a layout pass costs the whole
        screen, and the interface thread shares the interpreter with training.
        """
        if not self._composed:
            return
        shown = self._visible_indices()
        page = shown[self.page * PAGE_SIZE:(self.page + 1) * PAGE_SIZE]
        summary = self._summary(shown, page)
        wrapped = [-(-line.cell_len // max(self.size.width - 2, 1)) for line in summary.split("\n")]
        self._update("#probe-summary", summary, wrapped)  # its lines as wrapped to the pane's width
        is_image = self.probe is not None and self.probe.images is not None
        grid, table = self.query_one(DigitGrid), self.query_one("#probe-table", Static)
        grid.display, table.display = is_image or self.probe is None, not is_image and self.probe is not None
        if is_image:
            grid.show([self._card(i) for i in page])
        elif self.probe is not None:
            self._update("#probe-table", self._input_table(page), (len(page), self.outputs is None))
        else:
            grid.show([])
        if confusion:
            matrix, source = self.confusion, self.confusion_source
            if self.test_result is not None and self.test_result.get("confusion") is not None:
                matrix, source = np.asarray(self.test_result["confusion"]), "whole test set"
            names = self.probe.class_names if self.probe is not None and self.probe.classifies else ()
            view, width = confusion_view(matrix, names, source, expected=bool(names))
            widget = self._update("#confusion", view, (width, None if matrix is None else np.shape(matrix)))
            widget.display = width > 0
            widget.styles.width = width + 2  # + padding
            widget.styles.height = len(view.split("\n"))  # known: no measuring it on every layout
        self._fit_layout()

    def _update(self, selector: str, content, shape) -> Static:
        """Show `content` in a part of the pane; lay the screen out again only if its `shape` changed."""
        widget = self.query_one(selector, Static)
        widget.update(content, layout=self._shapes.get(selector) != shape)
        self._shapes[selector] = shape
        return widget

    def _summary(self, shown: np.ndarray, page: np.ndarray) -> Text:
        """Two lines: the figures, each saying which examples it counts; then what is shown and the keys."""
        if self.probe is None:
            return Text("Predictions appear here after the first epoch (press space to train).", style="dim")
        probe, text = self.probe, Text()
        kind = "image" if probe.images is not None else "example"
        noun, sample = f"test {kind}s", f"{len(probe)}-{kind} test sample: "
        if self.predicted is not None:
            wrong = int(np.count_nonzero(self.predicted != np.asarray(probe.labels).reshape(-1)))
            text.append(sample)
            text.append(f"{len(probe) - wrong} right ({(len(probe) - wrong) / len(probe):.0%})", style="bold green")
            text.append(", ")
            text.append(f"{wrong} wrong", style="bold red")
        elif self.errors is not None:
            text.append(f"{sample}MSE ")
            text.append(f"{float(self.errors.mean()):.4f}", style="bold")
        else:
            text.append(f"{sample}not trained yet", style="dim")
        text.append(" · ")
        text.append_text(self._test_set_text())
        text.append("\n")
        if self.mistakes_only and probe.classifies:
            what = "mistakes"
        else:
            what = f"{noun}, worst first" if self.mistakes_only else noun
        if len(page):
            first = self.page * PAGE_SIZE
            text.append(f"{first + 1}-{first + len(page)} of {len(shown)} {what}")
        else:
            text.append(f"no {what} to show")
        text.append("  s next · m " + ("mistakes" if probe.classifies else "worst first"), style="dim")
        return text

    def _test_set_text(self) -> Text:
        """The whole test set's figure ("test set: 97.6% of 10,000"), or how to get it."""
        result = self.test_result
        if self.testing:
            return Text("test set: evaluating…", style="italic")
        if result is None:
            return Text("whole test set: press t", style="dim")
        size = f"{result['test_size']:,}"
        if result.get("test_acc") is not None:
            return Text.assemble("test set: ", (f"{result['test_acc']:.1%}", "bold"), f" of {size}")
        return Text.assemble("test set: MSE ", (f"{result['test_mse']:.4f}", "bold"), f" of {size}")

    def _card(self, i: int) -> DigitCard:
        probe, true = self.probe, self.probe.label_name(i)
        if self.outputs is None:
            return DigitCard(probe.images[i], true)
        if probe.task == "reconstruction":
            return DigitCard(probe.images[i], true, reconstruction=probe.reconstruction_image(i, self.outputs),
                             error=float(self.errors[i]))
        if not probe.classifies:
            return DigitCard(probe.images[i], true)
        row = self.outputs[i]
        best = int(row.argmax())
        return DigitCard(probe.images[i], true, probe.class_names[best], float(row[best]))

    def _input_table(self, page: np.ndarray) -> Table:
        """Non-image data: one row per probe example with its inputs, truth and prediction (or error)."""
        table = Table(title="test sample", title_justify="left", box=None, pad_edge=False)
        probe, width = self.probe, self.probe.inputs.shape[1]
        for j in range(min(width, 6)):
            name = probe.feature_names[j] if j < len(probe.feature_names) else f"x{j + 1}"
            table.add_column(escape(name[:10]), justify="right")
        table.add_column("true" if probe.classifies else "target", justify="right")
        table.add_column("predicted", justify="right")
        table.add_column("" if probe.classifies else "sq. error", justify="right")
        for i in page:
            cells: list = [f"{v:.3f}" for v in probe.inputs[i][:6]]
            true = probe.label_name(i)
            if self.outputs is None:
                cells += [true, "", ""]
            elif probe.classifies:
                ok = self.predicted[i] == int(np.asarray(probe.labels[i]).reshape(-1)[0])
                guess = probe.class_names[int(self.predicted[i])]
                cells += [true, f"{guess} {float(self.outputs[i].max()):.0%}",
                          Text("✓", style="bold green") if ok else Text("✗", style="bold red")]
            else:
                out = self.outputs[i].reshape(-1)
                guess = f"{float(out[0]):.3f}" if out.size == 1 else " ".join(f"{v:.2f}" for v in out[:3])
                cells += [true, guess, f"{float(self.errors[i]):.4f}"]
            table.add_row(*cells)
        return table
