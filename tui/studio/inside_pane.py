"""Pane 8, Inside: what happens inside the network, live while it trains.

One view at a time, chosen by a key: the decision boundary (b), each unit's map (u), the first
layer's weights as images (w), a layer's distributions (d), the gradient flow (g), an
autoencoder's latent space (a), the confusion drill-down (c), the gradient check (k, which
runs it), and optimizers racing on a test function (o: `race_view`, with keys of its own). `[` and
`]` choose the layer, `t` the other half of a view (test points, the latent walk), page up/down the
page of pictures, the arrows the confusion matrix's cell.

The pane never touches the arrays being trained: it asks for a copy of the model taken between
two batches (`subject_source`, the app's), and computes and draws the view in a thread worker on
that copy (`nnstudio.tui.run.inside`, `nnstudio.tui.render.inside`); the interface thread only
shows the finished lines. While training it redraws every REFRESH seconds at most, and less
often when a drawing costs more (it takes at most COST_SHARE of the time), and only while in view.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from nnstudio.engine import events

from ..render.inside import draw, grid_for, message_lines
from ..run import Status
from ..run.inside import NotApplicable, Subject, first_view, look
from .race_view import RACE_BINDINGS, RaceView

#: (key, view, name in the view bar)
VIEW_KEYS = (("b", "boundary", "boundary"), ("u", "neurons", "units"), ("w", "weights", "weights"),
             ("d", "distributions", "dist"), ("g", "gradient-flow", "flow"), ("a", "latent", "latent"),
             ("c", "confusion", "confusion"), ("k", "gradcheck", "check"), ("o", "optimizers", "optimizers"))
#: seconds between two live redraws, at least
REFRESH = 0.5
#: while training, the pane's drawing takes at most this share of the time (its measure misses the screen's
#: own rendering of the lines, about as long again)
COST_SHARE = 0.05
#: how often the pane asks itself whether a redraw is due
TICK = 0.1
#: a drawing not back after this many seconds says, in the bar, that it is under way
SLOW = 0.3
#: seconds to wait for the training loop to reach a batch boundary for a copy of the weights
COPY_TIMEOUT = 5.0


class InsidePane(Vertical, can_focus=True):
    """Views of the network's insides, drawn with characters."""

    DEFAULT_CSS = Path(__file__).with_name("inside_pane.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Inside pane"
    BINDINGS = [
        *(Binding(key, f"show_view('{view}')", name.title(), show=False, id=f"inside.{view}",
                  tooltip=f"Show {view.replace('-', ' ')}" + (" (runs the check again)" if key == "k" else ""))
          for key, view, name in VIEW_KEYS),
        Binding("left_square_bracket", "layer(-1)", "Layer -", key_display="[", id="inside.layer-down",
                tooltip="The layer before (neurons, distributions)"),
        Binding("right_square_bracket", "layer(1)", "Layer +", key_display="]", id="inside.layer-up",
                tooltip="The next layer (neurons, distributions)"),
        Binding("t", "other", "Test/walk", id="inside.other",
                tooltip="Test points instead of training points (boundary); the walk (latent)"),
        Binding("pagedown", "page(1)", "Page", show=False, id="inside.page-down", tooltip="Next page of pictures"),
        Binding("pageup", "page(-1)", "Page", show=False, id="inside.page-up", tooltip="Previous page of pictures"),
        *(Binding(key, f"cell({dr}, {dc})", key.title(), show=False, id=f"inside.cell-{key}",
                  tooltip="Move to another cell of the confusion matrix")
          for key, dr, dc in (("up", -1, 0), ("down", 1, 0), ("left", 0, -1), ("right", 0, 1))),
        *RACE_BINDINGS,
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.subject_source: Callable[[], Subject] | None = None
        """Called in a worker thread: a Subject on a copy of the model (the app sets it); NotApplicable when
        there is no model to look at."""
        self.view: str | None = None       # None: the first that applies (`first_view`)
        self.chosen_layer: int | None = None
        self.layer_count = 0                    # the model's weight layers, as the last drawing found
        self.other = False
        self.page = 0
        self.cell: tuple[int, int] | None = None
        self.class_count = 0
        self.running = False
        self.busy = False
        self.dirty = True
        self.checked: list[Text] | None = None   # the last gradient check's lines (it runs on `k` only)
        self._started = 0.0                # monotonic time the last drawing started
        self._cost = 0.0                   # seconds the last drawing took
        self._generation = 0               # new model (session): drawings of the one before are dropped
        self.drawn: list[Text] = []
        self.draws = 0                     # views shown so far (tests wait on it)
        self.requests = 0                  # drawings asked for so far
        self.race_view = RaceView(id="inside-race")   # the optimizers view, drawn by itself
        self.config = None   # the run's settings: the app sets every pane's (`_push_config`)
        self.race_view.settings_source = lambda: self.config

    def compose(self) -> ComposeResult:
        yield Static(id="inside-bar")
        yield Static(id="inside-view")
        yield self.race_view

    def on_mount(self) -> None:
        self._show_bar()
        self.set_interval(TICK, self._tick, name="inside-tick")

    # ------------------------------------------------------------------ fed by the app
    def set_running(self, status: Status) -> None:
        self.running = status in (Status.RUNNING,)
        self.dirty = True
        self.race_view.training = self.running

    def show_history(self, history: list[dict], *_args) -> None:
        """A run's history put back (a load, a resume): what was drawn belongs to another model."""
        self.new_model()

    def new_model(self) -> None:
        """Another model from now on (a new session: the one that trains is not the untrained one looked at
        before): the drawings out, the gradient check and the confusion cell belong to the one before."""
        self._generation += 1
        self.checked, self.cell, self.dirty = None, None, True

    def on_session_event(self, event) -> None:
        """New weights: drawn at once when the run is still (a step, the end); while it runs, the redraws
        keep their own pace (`_due`), however many epochs go by (a 2-D set's epoch takes milliseconds)."""
        if isinstance(event, (events.Finished, events.Stopped, events.Diverged)) or \
                (isinstance(event, events.EpochEnd) and not self.running):
            self.dirty = True

    # ------------------------------------------------------------------ keys
    def action_show_view(self, view: str) -> None:
        if view == "gradcheck":
            self.checked = None   # `k` runs the check (again)
        elif view != self.view:
            self.page = 0
        self.view, self.dirty = view, True
        self.query_one("#inside-view").display = view != "optimizers"
        self.race_view.display = view == "optimizers"
        self._show_bar()
        self.refresh_bindings()
        self._tick()

    def action_layer(self, step: int) -> None:
        self.chosen_layer = min(max((self.chosen_layer or 1) + step, 1), self.layer_count)
        self.page, self.dirty = 0, True
        self._tick()

    def action_other(self) -> None:
        self.other, self.dirty = not self.other, True
        self._tick()

    def action_page(self, step: int) -> None:
        self.page, self.dirty = self.page + step, True   # the drawing wraps it round, both ways
        self._tick()

    def action_cell(self, rows: int, cols: int) -> None:
        if self.view != "confusion" or self.cell is None:
            return
        k = max(self.class_count, 1)
        self.cell = (min(max(self.cell[0] + rows, 0), k - 1), min(max(self.cell[1] + cols, 0), k - 1))
        self.dirty = True
        self._tick()

    def action_race(self, what: str, *args) -> None:
        if (said := self.race_view.act(what, *args)) is not None:
            self.app.notify(said, title="Optimizers", severity="warning", markup=False)

    def action_race_move(self, dx: int, dy: int) -> None:
        self.action_race("move", dx, dy)

    def refusal(self, action: str) -> str | None:
        """Why a key of the pane cannot act on the view shown (None if it can): the footer greys it, a press
        says why (the app's `run_action`)."""
        if action == "layer":
            if self.view not in ("neurons", "distributions"):
                return "[ and ] choose the layer of the units view (u) and of the distributions view (d)."
            if self.layer_count <= 1:
                return "This model has one weight layer: there is no other to choose."
        if action == "other" and self.view not in ("boundary", "latent"):
            return "t shows the test points in the boundary view (b), and the walk in the latent view (a)."
        if action == "page" and self.view not in ("neurons", "weights"):
            return "Page up and down turn the pages of the units view (u) and of the weights view (w)."
        if action == "race" and self.view != "optimizers":
            return "f, + -, p, s and 0 drive the optimizer race: press o to show it."
        if action == "race_move" and self.view != "optimizers":
            return "The arrows move the start of the optimizer race (o) and choose a cell of the confusion matrix (c)."
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cell":   # the arrows are the confusion matrix's, and the race's start
            return self.view == "confusion"
        if action in ("race", "race_move") and self.view != "optimizers":
            return False   # (out of the footer: the race's keys would push the studio's own out; o shows them)
        return None if self.refusal(action) is not None else True

    # ------------------------------------------------------------------ drawing
    def on_resize(self) -> None:
        self.dirty = True
        self._show_bar()

    def on_show(self) -> None:
        self.dirty = True

    def _due(self) -> bool:
        if self.busy or not self.is_on_screen or self.subject_source is None or self.view == "optimizers":
            return False
        if self.view == "gradcheck":
            return self.checked is None
        if self.dirty:
            return True
        gap = max(REFRESH, self._cost / COST_SHARE)
        return self.running and time.monotonic() - self._started >= gap

    def _tick(self) -> None:
        if not self._due():
            return
        view = self.query_one("#inside-view", Static)
        width, height = view.size.width or self.size.width, view.size.height or max(self.size.height - 1, 3)
        self.busy, self.dirty, self._started = True, False, time.monotonic()
        request = dict(view=self.view, layer=self.chosen_layer, other=self.other, page=self.page, cell=self.cell,
                       width=max(width, 10), height=max(height, 3), mono=bool(getattr(self.app, "no_color", False)),
                       generation=self._generation)
        self.requests += 1
        if self.view == "gradcheck":
            self._show_lines([Text("Checking the gradients against central differences (float64)…")])
        else:
            self.set_timer(SLOW, lambda n=self.requests, v=self.view: self._say_slow(n, v))
        self._draw_in_thread(request)

    def _say_slow(self, request: int, view: str | None) -> None:
        """A drawing still under way (a whole test split through a CNN takes seconds): the title line says so,
        over what is shown meanwhile."""
        if self.busy and self.requests == request:
            what = f"the {view.replace('-', ' ')} view" if view else "the view"
            note = Text(f"Drawing {what}…", "italic")
            self.query_one("#inside-view", Static).update(Group(note, *self.drawn[1:]), layout=False)

    @work(thread=True, group="inside", exit_on_error=False)
    def _draw_in_thread(self, request: dict) -> None:
        started = time.perf_counter()
        found: dict = {}
        try:
            lines = self._drawing(request, found)
        except TimeoutError:
            lines = None   # the loop was busy (a long epoch end): the next tick tries again
        except Exception as error:  # a view must never take the studio down: say what went wrong
            lines = message_lines(f"Could not draw the {request['view'] or 'inside'} view: "
                                  f"{type(error).__name__}: {error}", request["width"])
        self.app.call_from_thread(self._drawn, request, lines, found, time.perf_counter() - started)

    def _drawing(self, request: dict, found: dict) -> list[Text]:
        """The lines of the requested view (in the worker thread)."""
        width, height = request["width"], request["height"]
        try:
            subject = self.subject_source()
        except NotApplicable as reason:
            return message_lines(str(reason), width)
        def options(view: str) -> dict:
            return dict(layer=request["layer"], cell=request["cell"], **grid_for(view, width, height))
        try:
            if request["view"] is None:
                view, result = first_view(subject, options)
            else:
                view, result = request["view"], look(request["view"], subject, **options(request["view"]))
        except NotApplicable as reason:
            return message_lines(f"{reason}.", width) + [Text(""), *self._choices(width)]
        found.update(view=view, layers=getattr(result, "layers", 0) if view in ("neurons", "distributions")
                     else len(subject.layers()), cell=getattr(result, "cell", None), classes=len(subject.class_names))
        return draw(result, width, height, request["mono"], other=request["other"], page=request["page"])

    @staticmethod
    def _choices(width: int) -> list[Text]:
        return message_lines("Keys: " + ", ".join(f"{key} {view.replace('-', ' ')}" for key, view, _ in VIEW_KEYS),
                             width)

    def _drawn(self, request: dict, lines: list[Text] | None, found: dict, cost: float) -> None:
        self.busy = False
        self._cost = cost
        if lines is None or request["generation"] != self._generation:
            self.dirty = True
            return
        if found.get("view") and self.view is None:
            self.view = found["view"]
            self._show_bar()
            self.refresh_bindings()
        if found.get("layers", self.layer_count) != self.layer_count:
            self.layer_count = found["layers"]
            self.refresh_bindings()
        self.class_count = found.get("classes", self.class_count)
        if found.get("cell") is not None and self.cell is None:   # the first matrix: its most frequent mistake
            self.cell = found["cell"]
        if request["view"] == "gradcheck":
            self.checked = lines
        if request["view"] == self.view or request["view"] is None:
            self._show_lines(lines)

    def _show_lines(self, lines: list[Text]) -> None:
        """Show finished lines (the view's size is fixed by the pane's layout: no layout pass is needed)."""
        started = time.perf_counter()
        self.drawn = lines
        self.draws += 1
        self.query_one("#inside-view", Static).update(Group(*lines), layout=False)
        self._cost += time.perf_counter() - started

    def _show_bar(self) -> None:
        """Each view's key and name, the one shown highlighted; narrower than the names, the keys alone and the
        name of the view shown (every key stays in sight)."""
        bar = Text()
        full = sum(len(key) + 1 + len(name) for key, _, name in VIEW_KEYS) + 2 * (len(VIEW_KEYS) - 1)
        wide = self.size.width == 0 or self.size.width - 2 >= full
        for n, (key, view, name) in enumerate(VIEW_KEYS):
            bar.append(("  " if wide else " ") if n else "")
            bar.append(key, "bold reverse" if view == self.view and not wide else "bold")
            if wide:
                bar.append(f" {name}", "reverse bold" if view == self.view else "")
        if not wide and self.view:
            bar.append(f" · {dict((v, name) for _, v, name in VIEW_KEYS)[self.view]}")
        self.query_one("#inside-bar", Static).update(bar)
