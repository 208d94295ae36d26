"""The Inside pane's Optimizers view: the engine's optimizers racing on a 2-D test function, animated.

The race itself (`nnstudio.tui.run.race`) and its drawing (`nnstudio.tui.render.race`) know nothing of
Textual; this widget holds one race, steps it from a timer while it runs and is on screen (FPS frames
a second, a few optimizer steps a frame, so a race plays out in about RACE_SECONDS, then pauses at the
function's own length, where `nnstudio race` stops; p goes on), and draws it after
every change. A frame is a few milliseconds on the interface thread (about 3 ms of stepping six optimizers
ten steps on Rosenbrock, 1-2 ms of drawing at 160x45: some 7% of it at 15 frames a second, a third of that
while a model trains); nothing here touches the model the studio trains.

The keys are the pane's (`RACE_BINDINGS`, included in `InsidePane.BINDINGS`, which greys them in the
other views and says why), and land in `act`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from rich.console import Group
from rich.text import Text
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Static

from nnstudio.engine.surfaces import SURFACES

from ..render.race import race_lines
from ..run.race import LR_RANGE, Race, RaceSettings

#: frames a second while the race runs
FPS = 15
#: about how long a race of the surface's suggested length takes to play
RACE_SECONDS = 20
#: while a model trains, the race takes a frame on one tick in this many (training comes first)
TRAINING_PACE = 3
#: an arrow moves the start by this share of the box's width (or height)
MOVE = 1 / 20

RACE_BINDINGS = [
    Binding("f", "race('function', 1)", "Function", id="inside.race-function",
            tooltip="The next test function (Rosenbrock, Beale, Himmelblau, saddle, ill-conditioned quadratic)"),
    Binding("F,shift+f", "race('function', -1)", "Function", show=False, id="inside.race-function-back",
            tooltip="The previous test function"),
    Binding("plus,equals_sign", "race('lr', 2.0)", "lr ×2", key_display="+", show=False, id="inside.race-lr-up",
            tooltip="Double the learning rate, live (the paths stay)"),
    Binding("minus", "race('lr', 0.5)", "lr ÷2", key_display="-", show=False, id="inside.race-lr-down",
            tooltip="Halve the learning rate, live (the paths stay)"),
    Binding("p", "race('run')", "Run race", id="inside.race-run", tooltip="Run or pause the race"),
    Binding("s", "race('step')", "Race step", id="inside.race-step", tooltip="Every optimizer takes one step"),
    Binding("0,home", "race('reset')", "Reset", key_display="0", show=False, id="inside.race-reset",
            tooltip="Back to the start, step 0 (the settings pane's hyperparameters read again)"),
    *(Binding(key, f"race_move({dx}, {dy})", key.title(), show=False, id=f"inside.race-{key}",
              tooltip="Move the race's start (the race starts again from there)")
      for key, dx, dy in (("up", 0, 1), ("down", 0, -1), ("left", -1, 0), ("right", 1, 0))),
]


class RaceView(Static):
    """Optimizers racing on a surface, drawn with characters and stepped from a timer."""

    DEFAULT_CSS = Path(__file__).with_name("race_view.tcss").read_text(encoding="utf-8")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.settings_source: Callable[[], Any] | None = None
        """Called at each (re)start: the studio's run config, whose optimizer section the racers use."""
        self.race: Race | None = None    # made when first shown, with the settings of that moment
        self.running = False
        self.training = False
        """A model trains meanwhile (the pane says so): the race goes at a TRAINING_PACE'th of its pace."""
        self._ticks = 0
        self.frames = 0                  # frames stepped so far (tests wait on it)
        self.draws = 0
        self.drawn: list[Text] = []      # the lines shown
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        self._timer = self.set_interval(1 / FPS, self.frame, pause=True, name="race-frame")

    # ------------------------------------------------------------------ the race
    def _settings(self) -> RaceSettings:
        config = self.settings_source() if self.settings_source is not None else None
        return RaceSettings() if config is None else RaceSettings.of(config)

    def ensure_race(self) -> Race:
        if self.race is None:
            self.race = Race("rosenbrock", settings=self._settings())
        return self.race

    @property
    def steps_per_frame(self) -> int:
        race = self.ensure_race()
        return max(1, math.ceil(race.surface.steps / (FPS * RACE_SECONDS)))

    def frame(self) -> None:
        """One frame of a running race: a few steps of every optimizer, then the drawing (only while shown)."""
        if not self.running:
            return
        if not self.is_on_screen:   # out of view: no stepping, no drawing, until it is shown again
            self._set_timer(False)
            return
        self._ticks += 1
        if self.training and self._ticks % TRAINING_PACE:
            return
        race = self.ensure_race()
        steps, length = self.steps_per_frame, race.surface.steps
        if race.step_count < length:   # the race pauses at the function's own length (as `nnstudio race` stops)
            steps = min(steps, length - race.step_count)
        race.step(steps)
        self.frames += 1
        if not race.racing or race.step_count == length:
            self.running = False
            self._set_timer(False)
        self.redraw()

    def _set_timer(self, on: bool) -> None:
        if self._timer is not None:
            self._timer.resume() if on else self._timer.pause()

    def on_show(self) -> None:
        self.ensure_race()
        if self.running:
            self._set_timer(True)
        self.redraw()

    def on_hide(self) -> None:
        self._set_timer(False)

    def on_resize(self) -> None:
        self.redraw()

    # ------------------------------------------------------------------ keys (the pane's bindings land here)
    def act(self, what: str, *args) -> str | None:
        """Do what a key of the race asks; a message to show when it changed something worth saying."""
        race = self.ensure_race()
        said = None
        if what == "function":
            names = list(SURFACES)
            surface = SURFACES[names[(names.index(race.surface.name) + args[0]) % len(names)]]
            race.restart(surface=surface, start=surface.start, lr=surface.lr, settings=self._settings())
        elif what == "lr":
            before = race.lr
            after = race.set_lr(race.lr * args[0])
            if after == before:
                said = f"The learning rate stays at {after:g}: the race's range is {LR_RANGE[0]:g} to {LR_RANGE[1]:g}."
        elif what in ("run", "step") and not race.racing:
            said = f"The race is over ({race.why_over}): 0 starts it again."
        elif what == "run":
            self.running = not self.running
            self._set_timer(self.running)
        elif what == "step":
            race.step(1)
        elif what == "reset":
            race.restart(settings=self._settings())
        elif what == "move":
            x_low, x_high, y_low, y_high = race.surface.box
            race.move_start(args[0] * MOVE * (x_high - x_low), args[1] * MOVE * (y_high - y_low), self._settings())
        self.redraw()
        return said

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        if self.race is None or not self.size.width:
            return
        mono = bool(getattr(self.app, "no_color", False))
        running = ("slowed: a model trains" if self.training else True) if self.running else False
        self.drawn = race_lines(self.race, self.size.width, self.size.height, mono, running=running)
        self.update(Group(*self.drawn), layout=False)
        self.draws += 1
