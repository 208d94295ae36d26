"""Pane 4, predictions: what the model now makes of real test images, and where it goes wrong.

The session predicts a fixed probe set of test images every epoch (`Session.probe_index`,
`EpochEnd.probe_outputs`), so the same digits can be watched as they turn from wrong to right.
A page of them is drawn at a time (`s` shows the next page, `m` only the mistakes); beside
them a confusion matrix (validation set, rows = true class) with per-class accuracy says
which classes are confused with which. Data sets that are not images get a table of inputs.

The pane knows nothing of sessions or threads: the app hands it a `ProbeSet` once per
session and outputs after each epoch; it throttles its own redraws, because an epoch of a
tiny synthetic set can take milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from nnstudio.engine import events
from nnstudio.engine.metrics import confusion_matrix

from .digit_grid import DigitCard, DigitGrid

#: digits per page: two rows at 200 columns, and still quick to draw
PAGE_SIZE = 12
#: at most this many redraws a second from epoch events (a loaded save or a test redraws at once)
REDRAW_INTERVAL = 0.25
#: below this width the confusion matrix goes under the digits instead of beside them
NARROW = 100


@dataclass(frozen=True)
class ProbeSet:
    """The probe test examples of a session, as the pane draws them (raw pixels, not the scaled inputs)."""

    labels: np.ndarray                 # (N,) class indices, or (N, 1) targets for regression
    class_names: tuple[str, ...]       # empty for regression
    images: np.ndarray | None = None   # (N, H, W) grey images, for image data sets
    inputs: np.ndarray | None = None   # (N, D) feature rows, for everything else

    @classmethod
    def from_session(cls, session) -> ProbeSet:
        """The probe set of a prepared session (its data set's raw test rows at `probe_index`).

        A model that does not classify (regression, an autoencoder) gets no class names: its
        outputs are not predictions of a class.
        """
        dataset, index = session.dataset, session.probe_index
        names = tuple(dataset.class_names) if session.classes else ()
        if dataset.image_shape is not None:
            channels, height, width = dataset.image_shape
            images = dataset.x_test[index].reshape(len(index), channels, height, width)
            images = images[:, 0] if channels == 1 else images.mean(axis=1)
            return cls(dataset.y_test[index], names, images=images)
        return cls(dataset.y_test[index], names, inputs=dataset.x_test[index].reshape(len(index), -1))

    def __len__(self) -> int:
        return len(self.labels)


class PredictionsPane(Vertical, can_focus=True):
    """Probe digits with their predictions, and the confusion matrix beside them."""

    DEFAULT_CSS = Path(__file__).with_name("predictions_pane.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Predictions pane"
    BINDINGS = [
        Binding("s", "resample", "Resample", tooltip="Show the next page of test images", id="predictions.resample"),
        Binding("m", "toggle_mistakes", "Mistakes", tooltip="Show only the images the model gets wrong",
                id="predictions.mistakes"),
    ]

    mistakes_only: reactive[bool] = reactive(False)
    """Show only probe images the model currently gets wrong."""
    page: reactive[int] = reactive(0)
    """Which page of the (filtered) probe set is shown."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.config = None
        self.probe: ProbeSet | None = None
        self.outputs: np.ndarray | None = None
        self.confusion: np.ndarray | None = None
        self.confusion_source = "validation set"
        self.predicted: np.ndarray | None = None  # the class each probe example is given, from the outputs
        self._pending: events.EpochEnd | None = None
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
        """Narrow terminals (80 columns) stack the matrix under the digits; the body scrolls."""
        self.set_class(self.size.width < NARROW, "-narrow")

    # ------------------------------------------------------------------ fed by the app
    def show_probe(self, probe: ProbeSet | None) -> None:
        """A new session's probe set (None: no session); its earlier outputs no longer apply."""
        self.probe, self.outputs, self.predicted, self.confusion, self._pending = probe, None, None, None, None
        self.set_reactive(PredictionsPane.page, 0)
        self._redraw()

    def show_outputs(self, outputs: np.ndarray | None, confusion: np.ndarray | None = None,
                     source: str = "validation set") -> None:
        """Model outputs for the probe set (and a confusion matrix: else one is made from the probe set).

        Outputs that are not class probabilities (an autoencoder's reconstructions) are not
        predictions: the images are then shown with their labels only.
        """
        if outputs is not None and np.ndim(outputs) == 2 and self._class_count() and \
                np.shape(outputs)[1] != self._class_count():
            outputs = None
        self.outputs, self.confusion, self.confusion_source = outputs, confusion, source
        classify = outputs is not None and self._class_count()
        self.predicted = np.asarray(outputs).argmax(axis=1) if classify else None
        if confusion is None and classify:
            truth = np.asarray(self.probe.labels).reshape(-1)
            self.confusion = confusion_matrix(truth, self.predicted, self._class_count())
            self.confusion_source = f"{len(truth)} test images"
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
        """Back in view: draw the outputs that arrived while the pane was hidden."""
        if self._pending is not None:
            self.call_after_refresh(self._flush_pending)

    # ------------------------------------------------------------------ keys
    def action_resample(self) -> None:
        """Show the next page of probe images (wrapping around)."""
        pages = max(1, -(-len(self._visible_indices()) // PAGE_SIZE))
        self.page = (self.page + 1) % pages

    def action_toggle_mistakes(self) -> None:
        """Toggle showing only the images the model gets wrong."""
        self.mistakes_only = not self.mistakes_only
        self.page = 0

    def watch_mistakes_only(self) -> None:
        """Called when mistakes_only is updated."""
        self._redraw(confusion=False)

    def watch_page(self) -> None:
        """Called when page is updated."""
        self._redraw(confusion=False)

    # ------------------------------------------------------------------ drawing
    def _class_count(self) -> int:
        return len(self.probe.class_names) if self.probe is not None else 0

    def _visible_indices(self) -> np.ndarray:
        if self.probe is None:
            return np.arange(0)
        predicted = self.predicted
        if self.mistakes_only and predicted is not None:
            return np.flatnonzero(predicted != np.asarray(self.probe.labels).reshape(-1))
        return np.arange(len(self.probe))

    def _redraw(self, confusion: bool = True) -> None:
        """Draw the page of examples (and the confusion matrix, unless only the page changed)."""
        if not self._composed:
            return
        shown = self._visible_indices()
        page = shown[self.page * PAGE_SIZE:(self.page + 1) * PAGE_SIZE]
        self.query_one("#probe-summary", Static).update(self._summary(shown, page))
        is_image = self.probe is not None and self.probe.images is not None
        grid, table = self.query_one(DigitGrid), self.query_one("#probe-table", Static)
        grid.display, table.display = is_image or self.probe is None, not is_image and self.probe is not None
        if is_image:
            grid.show([self._card(i) for i in page])
        elif self.probe is not None:
            table.update(self._input_table(page))
        else:
            grid.show([])
        if confusion:
            matrix, width = self._confusion_table()
            widget = self.query_one("#confusion", Static)
            widget.update(matrix)
            widget.styles.width = width + 2  # + padding: a rich Table under `width: auto` would be squeezed

    def _summary(self, shown: np.ndarray, page: np.ndarray) -> Text:
        if self.probe is None:
            return Text("Predictions appear here after the first epoch (press space to train).", style="dim")
        predicted = self.predicted
        text = Text()
        if predicted is not None:
            wrong = int(np.count_nonzero(predicted != np.asarray(self.probe.labels).reshape(-1)))
            text.append(f"{len(self.probe) - wrong}/{len(self.probe)} right", style="bold green")
            text.append(" · ")
            text.append(f"{wrong} wrong", style="bold red")
            text.append(" · ")
        elif not self._class_count():
            text.append("this model does not classify · ", style="dim")
        else:
            text.append("not trained yet · ", style="dim")
        what = "mistakes" if self.mistakes_only else "test examples"
        if len(page):
            first = self.page * PAGE_SIZE
            text.append(f"{first + 1}-{first + len(page)} of {len(shown)} {what}")
        else:
            text.append(f"no {what} to show")
        text.append("  s next · m mistakes", style="dim")
        return text

    def _card(self, i: int) -> DigitCard:
        names = self.probe.class_names
        label = self.probe.labels[i]
        true = names[int(label)] if names else str(label)
        if self.outputs is None or not names:
            return DigitCard(self.probe.images[i], true)
        row = np.asarray(self.outputs[i])
        best = int(row.argmax())
        return DigitCard(self.probe.images[i], true, names[best], float(row[best]))

    def _input_table(self, page: np.ndarray) -> Table:
        """Non-image data: one row per probe example with its inputs, truth and prediction."""
        table = Table(title="test examples", title_justify="left", box=None, pad_edge=False)
        width = self.probe.inputs.shape[1]
        for j in range(min(width, 6)):
            table.add_column(f"x{j + 1}", justify="right")
        table.add_column("true")
        table.add_column("predicted")
        table.add_column("")
        predicted = self.predicted
        for i in page:
            cells = [f"{v:.3f}" for v in self.probe.inputs[i][:6]]
            if self._class_count():
                true = self.probe.class_names[int(self.probe.labels[i])]
                if predicted is None:
                    cells += [true, "", ""]
                else:
                    ok = predicted[i] == self.probe.labels[i]
                    guess = self.probe.class_names[int(predicted[i])]
                    confidence = float(np.asarray(self.outputs[i]).max())
                    cells += [true, f"{guess} {confidence:.0%}",
                              Text("✓", style="bold green") if ok else Text("✗", style="bold red")]
            else:
                target = float(np.asarray(self.probe.labels[i]).reshape(-1)[0])
                guess = "" if self.outputs is None else f"{float(np.asarray(self.outputs[i]).reshape(-1)[0]):.3f}"
                cells += [f"{target:.3f}", guess, ""]
            table.add_row(*cells)
        return table

    def _confusion_table(self) -> tuple[Group | Text, int]:
        """The matrix as a table, and the width it needs."""
        if self.confusion is None:
            text = "Confusion matrix: after the first epoch." if self._class_count() else ""
            return Text(text, style="dim"), len(text)
        matrix = np.asarray(self.confusion)
        classes = matrix.shape[0]
        names = [self.probe.class_names[i] if self.probe is not None and i < self._class_count() else str(i)
                 for i in range(classes)]
        names = [name if len(name) <= 8 else str(i) for i, name in enumerate(names)]
        cell = max(len(str(int(matrix.max()))), 1) + 1
        width = max(max(len(n) for n in names) + classes * cell + 6, len(self.confusion_source) + 12, 32)
        table = Table(box=None, pad_edge=False, padding=(0, 0, 0, 1))
        table.add_column("", justify="right", style="bold")
        for j in range(classes):
            table.add_column(str(j), justify="right")
        table.add_column("acc", justify="right")
        for i in range(classes):
            total = int(matrix[i].sum())
            cells = []
            for j in range(classes):
                value = int(matrix[i, j])
                style = "bold green" if i == j else ("red" if value else "dim")
                cells.append(Text(str(value) if value or i == j else "·", style=style))
            accuracy = matrix[i, i] / total if total else float("nan")
            cells.append(Text(f"{accuracy:.0%}" if total else "-", style="bold"))
            table.add_row(names[i], *cells)
        # title and caption outside the table: a table's own would wrap to its (narrow) width
        return Group(Text(f"confusion ({self.confusion_source})", style="bold"), table,
                     Text("rows: true · columns: predicted", style="dim")), width
