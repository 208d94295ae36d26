"""Optimizers racing on a surface: the engine's own optimizers, each on its own point, from one start, in step.

    race = Race(SURFACES["rosenbrock"], settings=RaceSettings.of(config))
    race.step(10)            # every optimizer still in the race takes ten steps
    race.set_lr(race.lr * 2) # live: the optimizers' lr changes in place, the paths stay
    race.restart(start=(0.5, 2.0))
    [(r.name, r.loss, r.distance, r.status) for r in race.racers]

Each racer is a real `engine.optim` optimizer on a (2,) float64 parameter, and each step is the
training step a model takes (`zero_grad`, `loss.backward()`, `step()`), so what the race shows is
what trains a network. One that overflows or leaves far beyond the drawn box stops, marked
"diverged" (or "escaped" on a surface without a minimum, where leaving is the point): never an
exception, never a NaN in its path.

The hyperparameters are the settings pane's (`RaceSettings.of(config)`): `momentum` is the
momentum of the momentum and Nesterov racers and Adam's beta1, as the settings describe it;
`beta2`, `eps`, `alpha` and `weight_decay` are used as they are (weight decay by every racer,
decoupled in AdamW). RMSprop races without momentum, so that it shows what dividing by the
running RMS does alone. The learning rate is the race's own, shared by all: it starts at the
surface's suggestion (a network's learning rate means nothing on Rosenbrock), because one lr for
all is the fair race, and it shows what the adaptive methods' scale-free steps buy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnstudio.engine import optim
from nnstudio.engine.surfaces import SURFACES, Surface
from nnstudio.engine.tensor import Tensor

from .config import RunConfig
from .factory import optimizer_of
from .settings import OptimizerSettings

#: the racers, in the order they are listed: name -> (label, mark)
OPTIMIZERS: dict[str, tuple[str, str]] = {
    "sgd": ("SGD", "s"), "momentum": ("Momentum", "m"), "nesterov": ("Nesterov", "n"),
    "rmsprop": ("RMSprop", "r"), "adam": ("Adam", "a"), "adamw": ("AdamW", "w"),
}
#: a racer further than this many box widths (or heights) from the box's centre has diverged (on a surface
#: without a minimum, one off the map has escaped)
FAR = 10.0
#: the most steps a race keeps (then it stops by itself): a path of this length is still cheap to draw
MAX_STEPS = 20_000
#: the learning rate's bounds (the studio's x2 and /2 stop there)
LR_RANGE = (1e-6, 10.0)


@dataclass(frozen=True)
class RaceSettings:
    """The optimizers' hyperparameters besides the learning rate: the settings pane's optimizer section."""

    momentum: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    alpha: float = 0.99
    weight_decay: float = 0.0

    @classmethod
    def of(cls, config: RunConfig) -> RaceSettings:
        o = config.optimizer
        return cls(momentum=o.momentum, beta2=o.beta2, eps=o.eps, alpha=o.alpha, weight_decay=o.weight_decay)

    def left_out(self, name: str) -> str | None:
        """Why racer `name` cannot race with these settings (None if it can)."""
        if name in ("momentum", "nesterov") and self.momentum == 0:
            return f"{name} left out: momentum is 0 in the settings"
        return None

    def make(self, name: str, params: list[Tensor], lr: float) -> optim.Optimizer:
        """The engine optimizer of racer `name` with these settings, made as a run makes its own."""
        kind, momentum, nesterov = {
            "sgd": ("sgd", 0.0, False), "momentum": ("sgd", self.momentum, False),
            "nesterov": ("sgd", self.momentum, True), "rmsprop": ("rmsprop", 0.0, False),   # (RMSprop alone)
            "adam": ("adam", self.momentum, False), "adamw": ("adamw", self.momentum, False)}[name]
        return optimizer_of(OptimizerSettings(name=kind, lr=lr, momentum=momentum, nesterov=nesterov,
                                              weight_decay=self.weight_decay, beta2=self.beta2, eps=self.eps,
                                              alpha=self.alpha), params)


@dataclass
class Racer:
    """One optimizer on its own point: its path, its loss and gradient where it stands, its status."""

    name: str
    optimizer: optim.Optimizer
    point: Tensor
    surface: Surface
    loss: float = math.nan
    status: str = "racing"              # "racing", "diverged" or "escaped" (stopped either way)
    _points: np.ndarray = field(default_factory=lambda: np.empty((64, 2)), repr=False)
    _count: int = 0

    def __post_init__(self) -> None:
        self._add(*(float(v) for v in self.point.data))

    @property
    def path(self) -> np.ndarray:
        """Every point it stood on, the start first: an (n, 2) array (a view: do not write to it)."""
        return self._points[:self._count]

    def _add(self, x: float, y: float) -> None:
        if self._count == len(self._points):   # grown by doubling: a step costs O(1), however long the race
            self._points = np.concatenate([self._points, np.empty_like(self._points)])
        self._points[self._count] = (x, y)
        self._count += 1

    @property
    def steps(self) -> int:
        """Steps taken: every point of its path but the start."""
        return self._count - 1

    @property
    def label(self) -> str:
        return OPTIMIZERS[self.name][0]

    @property
    def mark(self) -> str:
        return OPTIMIZERS[self.name][1]

    @property
    def racing(self) -> bool:
        return self.status == "racing"

    @property
    def position(self) -> tuple[float, float]:
        """Where it stands: the last point of its path (the last finite one, for a racer that diverged)."""
        x, y = self._points[self._count - 1]
        return float(x), float(y)

    @property
    def distance(self) -> float:
        return self.surface.distance(self.position)

    def evaluate(self) -> bool:
        """The loss and gradient where it stands (the next step's gradient); False if either is not finite."""
        self.optimizer.zero_grad()
        with np.errstate(all="ignore"):
            loss = self.surface.loss(self.point)
            loss.backward()
        self.loss = float(loss.data)
        return math.isfinite(self.loss) and bool(np.all(np.isfinite(self.point.grad)))

    def step(self) -> None:
        """One optimizer step, then the loss and gradient at the new point; out of the race if it blew up."""
        with np.errstate(all="ignore"):
            self.optimizer.step()
        x, y = (float(v) for v in self.point.data)
        if not (math.isfinite(x) and math.isfinite(y)) or self._far(x, y):
            self._stop()
            return
        self._add(x, y)
        if not self.evaluate():
            self._stop()

    def _far(self, x: float, y: float) -> bool:
        """Far beyond the box; or, on a surface without a minimum (where leaving is the point), off the map."""
        x_low, x_high, y_low, y_high = self.surface.box
        limit = FAR if self.surface.minima else 0.5
        return (abs(x - (x_low + x_high) / 2) > limit * (x_high - x_low)
                or abs(y - (y_low + y_high) / 2) > limit * (y_high - y_low))

    def _stop(self) -> None:
        self.status = "diverged" if self.surface.minima else "escaped"
        x, y = self.position
        with np.errstate(all="ignore"):
            self.loss = float(self.surface.values(np.array(x), np.array(y)))


class Race:
    """Every chosen optimizer on `surface` from one start, stepped together."""

    def __init__(self, surface: Surface | str, *, start: tuple[float, float] | None = None, lr: float | None = None,
                 settings: RaceSettings | None = None, names: tuple[str, ...] | None = None) -> None:
        self.surface = SURFACES[surface] if isinstance(surface, str) else surface
        self.settings = settings or RaceSettings()
        self.names = tuple(names or OPTIMIZERS)
        unknown = [n for n in self.names if n not in OPTIMIZERS]
        if unknown:
            raise ValueError(f"unknown optimizer {unknown[0]!r}; the racers are {', '.join(OPTIMIZERS)}")
        self.lr = float(self.surface.lr if lr is None else lr)
        self.start = tuple(map(float, start)) if start is not None else self.surface.start
        self.restart()

    def restart(self, *, surface: Surface | str | None = None, start: tuple[float, float] | None = None,
                lr: float | None = None, settings: RaceSettings | None = None) -> None:
        """Every racer back at the start (a new one, on a new surface, with a new lr or settings, if given): step 0."""
        if lr is not None:
            self.lr = float(lr)
        if surface is not None:
            self.surface = SURFACES[surface] if isinstance(surface, str) else surface
        if start is not None:
            self.start = (float(start[0]), float(start[1]))
        if settings is not None:
            self.settings = settings
        self.step_count = 0
        self.racers: list[Racer] = []
        self.left_out = []
        for name in self.names:
            if (why := self.settings.left_out(name)) is not None:
                self.left_out.append(why)
                continue
            point = Tensor(np.array(self.start, dtype=np.float64), requires_grad=True)
            racer = Racer(name, self.settings.make(name, [point], self.lr), point, self.surface)
            if not racer.evaluate():
                racer._stop()
            self.racers.append(racer)

    def notes(self) -> list[str]:
        """What a reader of the standings should know: racers left out, and why two paths are one."""
        names = {r.name for r in self.racers}
        same = {"adam", "adamw"} <= names and self.settings.weight_decay == 0
        return [*self.left_out, *(["AdamW = Adam: weight decay 0"] if same else [])]

    @property
    def racing(self) -> bool:
        """Whether any racer can still step (and the race is under its length limit)."""
        return self.step_count < MAX_STEPS and any(r.racing for r in self.racers)

    @property
    def why_over(self) -> str | None:
        """Why the race cannot go on, in words (None while it can)."""
        if not any(r.racing for r in self.racers):
            return "every optimizer has stopped"
        return f"it has run {MAX_STEPS:,} steps" if self.step_count >= MAX_STEPS else None

    def step(self, count: int = 1) -> int:
        """Every racer still in the race takes `count` steps (fewer past MAX_STEPS); the race steps taken."""
        done = 0
        for _ in range(count):
            if not self.racing:
                break
            for racer in self.racers:
                if racer.racing:
                    racer.step()
            self.step_count += 1
            done += 1
        return done

    def set_lr(self, lr: float) -> float:
        """A new learning rate for every racer from its next step (in place: the paths and states stay)."""
        low, high = LR_RANGE
        self.lr = min(max(float(lr), low), high)
        for racer in self.racers:
            racer.optimizer.lr = self.lr
        return self.lr

    def move_start(self, dx: float, dy: float, settings: RaceSettings | None = None) -> tuple[float, float]:
        """The start moved by (dx, dy), kept inside the box; the race restarts there (with `settings`, if given)."""
        x_low, x_high, y_low, y_high = self.surface.box
        x = min(max(self.start[0] + dx, x_low), x_high)
        y = min(max(self.start[1] + dy, y_low), y_high)
        self.restart(start=(round(x, 10), round(y, 10)), settings=settings)
        return self.start

    def to_json(self) -> dict[str, Any]:
        """The race as plain data: the surface, the settings, and each racer's standing and path."""
        s = self.surface
        return {
            "function": s.name, "formula": s.formula, "box": list(s.box), "minima": [list(m) for m in s.minima],
            "distance_to": s.target_name, "start": list(self.start), "lr": self.lr, "steps": self.step_count,
            "settings": vars(self.settings).copy(), "left_out": list(self.left_out),
            "optimizers": [{
                "name": r.name, "label": r.label, "status": r.status, "steps": r.steps,
                "loss": r.loss if math.isfinite(r.loss) else None, "distance": r.distance,
                "point": list(r.position), "path": r.path.tolist(),
            } for r in self.racers],
        }
