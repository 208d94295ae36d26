"""Pane 9, Draw: draw a digit and watch the model read it as you draw.

The canvas (`draw_canvas.py`) is drawn with the mouse or the keys; after each change the pane
has the model read the canvas as it is then (`run.drawing.DigitReader`: made and centred as
MNIST's digits were, scaled and standardised as the model's training data) and shows a bar per
class, or, for an autoencoder, the reconstruction, beside the digit as the model sees it.

The model is the studio's (`InsideSource.model`, which the Inside pane uses too): the session's,
copied between two batches, or before any training the untrained one space would train (the
pane says so). A loaded save is the studio's session, so it is read the same way. The copy is
kept until the model changes (a new session, an epoch while paused, the end of a run; every
REFRESH seconds while training, and only while in view), so a stroke costs one prediction and
no copy. Predictions run in a thread worker, one at a time: when one is done and the canvas has
changed meanwhile, only its latest state is read, so the pane never queues up behind the pen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from nnstudio.engine import events

from ..render import digit_lines
from ..render.cells import shrink
from ..render.bars import probability_bars
from ..run import Status
from ..run.drawing import DigitReader, NotDrawable, Reading
from ..run.inside import NotApplicable
from .digit_grid import halfblock_rows
from .draw_canvas import BRUSHES, DrawCanvas

#: seconds between two fresh copies of a model that is training, at least
REFRESH = 1.0
#: a reading not back after this many seconds says that the model is being prepared
SLOW = 0.3
#: pane width from which the digit as the model sees it is drawn full size (else at half size)
WIDE = 110
#: how to get a model that reads drawings, after what it needs (`drawing_problem`)
HOW = "Choose one in 2 Settings (data) and train, or load such a save in 5 Saves."


class Picture:
    """Rows of segments (a half-block picture) as a renderable for a Static."""

    def __init__(self, rows: list[list[Segment]]) -> None:
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for row in self.rows:
            yield from row
            yield Segment.line()


@dataclass(frozen=True)
class Answer:
    """What a worker brings back: a reading by a model, or why there is none."""

    reading: Reading | None = None
    reader: DigitReader | None = None
    untrained: bool = False
    message: str | None = None


class DrawPane(Vertical):
    """The canvas, and beside it the model's reading of it."""

    DEFAULT_CSS = Path(__file__).with_name("draw_pane.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Draw pane"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model_source: Callable[[str], tuple] | None = None
        """Called in a worker thread: (session, a copy of its model, whether it is the untrained preview); the
        app sets it (`InsideSource.model`). NotApplicable when there is no model."""
        self._config = None
        self.running = False
        self.busy = False
        self.generation = 0
        """Counts the changes of the model: a reader made for an earlier one is made again."""
        self.shown: tuple[int, int] | None = None
        """(canvas version, model generation) of the reading shown."""
        self.readings = 0
        """Readings shown so far (tests wait on it)."""
        self.reading: Reading | None = None
        """The reading shown (None before the first, or when there is no model to read with)."""
        self._reader: tuple[int, DigitReader | None, bool, str | None] | None = None   # the worker's cache
        self._requests = 0
        self._last_refresh = 0.0
        self._mode: tuple | None = None   # the pen's state as the line under the canvas shows it
        self._answer_shown: Answer | None = None   # drawn again when the pane's size changes

    def compose(self) -> ComposeResult:
        yield Static(id="draw-title")
        with Horizontal(id="draw-body"):
            yield DrawCanvas(id="draw-canvas")
            yield Static(id="draw-seen")
            yield Static(id="draw-answer")
        yield Static(id="draw-mode")

    def on_mount(self) -> None:
        self._show_mode()
        self.query_one("#draw-title", Static).update(Text("Draw a digit: the model reads it as you draw.", "bold"))
        self.set_interval(REFRESH / 4, self._tick, name="draw-tick")

    @property
    def canvas(self) -> DrawCanvas:
        return self.query_one(DrawCanvas)

    @property
    def focus_target(self) -> DrawCanvas:
        """What 9 puts the focus on (`StudioApp._focus_pane`)."""
        return self.canvas

    # ------------------------------------------------------------------ fed by the app
    @property
    def config(self):
        return self._config

    @config.setter
    def config(self, config) -> None:
        """The studio's configuration (`StudioApp._push_config`): another one may be another model."""
        if config != self._config:
            self._config = config
            self.new_model()

    def new_model(self) -> None:
        """The model changed (a new session, a load, new weights): read the canvas again with it."""
        self.generation += 1
        self._kick()

    def show_history(self, history: list[dict], *_args) -> None:
        """A run put back or cleared (a load, a resume, a re-initialisation): another model."""
        self.new_model()

    def set_running(self, status: Status) -> None:
        """The run's status: while it trains, the model is copied again every REFRESH seconds; a change of
        status (paused, finished, stopped) brings the weights as they are then."""
        self.running = status in (Status.RUNNING, Status.STEPPING)
        self.new_model()

    def on_session_event(self, event) -> None:
        """An epoch's end (a step while paused) or the run's end: new weights."""
        if isinstance(event, (events.EpochEnd, events.Finished, events.Stopped)) and not self.running:
            self.new_model()

    def on_show(self) -> None:
        self._kick()

    def on_resize(self) -> None:
        """The bars are drawn to the answer's width and the picture's size follows the pane's: once the new
        layout is made, the reading shown is drawn again to fit it."""
        if self._answer_shown is not None:
            self.call_after_refresh(lambda: self._answer_shown and self._show(self._answer_shown))

    def _tick(self) -> None:
        """While training and in view: a fresh copy of the model every REFRESH seconds."""
        if self.running and self.is_on_screen and time.monotonic() - self._last_refresh >= REFRESH:
            self._last_refresh = time.monotonic()
            self.new_model()

    # ------------------------------------------------------------------ reading the canvas
    @on(DrawCanvas.Changed)
    def _canvas_changed(self, message: DrawCanvas.Changed) -> None:
        self._show_mode()
        self._kick()

    def _kick(self) -> None:
        """Read the canvas as it is now, unless a reading is under way (its end reads the latest) or the
        reading shown is of this very canvas and model."""
        if self.busy or self.model_source is None or not self.is_mounted or not self.is_on_screen:
            return
        version, pixels = self.canvas.snapshot()
        if self.shown == (version, self.generation):
            return
        self.busy = True
        self._requests += 1
        if self.shown is None:   # the first reading may wait for the untrained model to be prepared
            self.set_timer(SLOW, lambda n=self._requests: self._say_slow(n))
        self._read_in_thread(version, pixels, self.generation)

    def _say_slow(self, request: int) -> None:
        if self.busy and self._requests == request and self.shown is None:
            self._answer(Text("Preparing the model (its data set is loaded once)…", "italic"))

    # (a description, or Textual writes the repr of the 784 pixels for every reading: 4 ms)
    @work(thread=True, group="draw", exit_on_error=False, description="reading the canvas")
    def _read_in_thread(self, version: int, pixels: np.ndarray, generation: int) -> None:
        try:
            answer = self._reading(pixels, generation)
        except TimeoutError:
            answer = None   # the training loop did not reach a batch's end in time: the next tick tries again
        except Exception as error:   # a reading must never take the studio down: say what went wrong
            answer = Answer(message=f"Could not read the drawing: {type(error).__name__}: {error}")
        try:
            self.app.call_from_thread(self._read, version, generation, answer)
        except RuntimeError:   # the app is closing
            pass

    def _reading(self, pixels: np.ndarray, generation: int) -> Answer:
        """The canvas read by the model of `generation` (in the worker: the model is copied once per generation)."""
        if self._reader is None or self._reader[0] != generation:
            try:
                session, model, untrained = self.model_source("read your drawing")
                self._reader = (generation, DigitReader.of_session(session, model, 0 if untrained else None),
                                untrained, None)
            except NotDrawable as problem:
                self._reader = (generation, None, False, f"{str(problem)[0].upper()}{str(problem)[1:]}. {HOW}")
            except NotApplicable as reason:
                self._reader = (generation, None, False, str(reason))
        _, reader, untrained, message = self._reader
        if reader is None:
            return Answer(message=message)
        return Answer(reading=reader.read(pixels), reader=reader, untrained=untrained)

    def _read(self, version: int, generation: int, answer: Answer | None) -> None:
        self.busy = False
        if answer is None:
            self.set_timer(REFRESH / 2, self._kick)
            return
        self.shown, self.reading = (version, generation), answer.reading
        self._show(answer)
        self.readings += 1
        self._kick()   # the canvas or the model changed meanwhile: read the latest

    # ------------------------------------------------------------------ showing it
    def _show(self, answer: Answer) -> None:
        """Show a reading. The parts keep their sizes (the pane's styles fix them), so no layout pass is asked
        for, but when the picture the model sees changes its size or comes back."""
        self._answer_shown = answer
        title = self.query_one("#draw-title", Static)
        if answer.message is not None:
            title.update(Text("Draw a digit", "bold"), layout=False)
            self.query_one("#draw-seen", Static).display = False
            self._answer(Text(answer.message))
            return
        reading, reader = answer.reading, answer.reader
        title.update(self._title(reading, reader, answer.untrained), layout=False)
        seen, full = self.query_one("#draw-seen", Static), self.size.width >= WIDE
        width = 28 + 2 if full else 14 + 2   # (+ padding)
        moved = not seen.display or seen.styles.width is None or seen.styles.width.value != width
        if moved:
            seen.display, seen.styles.width = True, width
        seen.update(self._picture(reading.seen, "as the model", "sees it", full=full), layout=moved)
        if moved:   # the answer beside it changes its width too: its bars are drawn once that is laid out
            self.call_after_refresh(lambda: self._answer_shown is answer and self._show(answer))
        if reading.empty:
            self._answer(Text("Draw a digit on the canvas: the arrows move the cursor, space paints (or use the "
                              "mouse).", "dim"))
        elif reading.reconstruction is not None:
            error = reading.reconstruction_error
            self._answer(self._picture(reading.reconstruction, "what it makes of it", f"(mse {error:.4f})",
                                       full=True))
        else:
            space = self.query_one("#draw-answer", Static).content_size
            width, height = max(space.width, 20), max(space.height, 3)
            bars = probability_bars(reading.class_names, reading.probabilities, width, rows=height)
            self._answer(Text("\n").join(bars))

    def _title(self, reading: Reading, reader: DigitReader, untrained: bool) -> Text:
        """"mnist, trained 3 epochs: reads 7 (93%)", and what is special (untrained, training)."""
        text = Text(f"{reader.dataset}, ", style="bold")
        if untrained:
            text.append("untrained", style="bold yellow")
            text.append(" (it guesses: escape, then space trains it)")
        elif self.running:
            text.append(f"training (epoch {reader.epochs + 1})")   # (the weights of a moment ago: README)
        else:
            text.append(f"trained {reader.epochs} epoch{'s' if reader.epochs != 1 else ''}")
        if reading.best is not None and not untrained:
            name, probability = reading.best
            text.append(" · reads ")
            text.append(name, style="bold")
            text.append(f" ({probability:.0%})")
        return text

    def _picture(self, image: np.ndarray, *caption: str, full: bool) -> Picture | Text:
        """A 28x28 picture as half-blocks (halved unless `full`), captioned; an ASCII ramp without colour."""
        picture = np.asarray(image, np.float32)
        if not full:
            picture = shrink(picture, 14, 14)
        if getattr(self.app, "no_color", False):
            lines = [Text(line) for line in digit_lines(picture, "ascii")]
            return Text("\n").join(lines + [Text(line, "dim") for line in caption])
        rows = halfblock_rows(picture, remember=False)   # (a drawing is seen once: not for the probe's cache)
        return Picture(rows + [[Segment(line, Style(dim=True))] for line in caption])

    def _answer(self, content) -> None:
        self.query_one("#draw-answer", Static).update(content, layout=False)   # (its size is fixed)

    def _show_mode(self) -> None:
        """The pen's state and the keys, under the canvas (drawn again only when the pen changes)."""
        canvas = self.canvas
        mode = (canvas.pen_down, canvas.eraser, canvas.brush)
        if mode == self._mode:
            return
        self._mode = mode
        text = Text()
        text.append("pen down" if canvas.pen_down else "pen up", style="bold")
        text.append(" · ")
        text.append("eraser" if canvas.eraser else "paints", style="bold")
        text.append(f" · brush {canvas.brush} of {max(BRUSHES)}")
        text.append(" · shift+arrows erase · escape: the run keys\n", style="dim")
        text.append("arrows move · space dabs · p pen down/up · e eraser · c clear · +/- brush", style="dim")
        self.query_one("#draw-mode", Static).update(text, layout=False)   # (two lines, always)
