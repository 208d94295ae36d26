"""Drawing an optimizer race (`nnstudio.tui.run.race`): the surface as a shaded map in characters, each
optimizer's path over it, and a legend of where each one stands. For the studio's Optimizers view and
`nnstudio race` alike.

    race_lines(race, width, height, mono)   -> Rich Text lines: a title, the map beside (or above) the legend
    map_lines(race, cols, rows, mono)       -> the map alone, cols x rows cells
    standings(race)                         -> the legend's rows as plain data (mark, name, loss, distance...)

The map is shaded by the logarithm of the function's height above its lowest value in the box, so
that Rosenbrock's valley, a few units deep under walls of thousands, shows. It reads without colour:
a grey ramp of light characters, blank at the bottom (where the paths matter most); each racer's
path in its own lowercase letter with the uppercase one where it stands now, `o` the start and `*`
the minima. Colour adds greys to the ramp and a colour to each racer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rich.style import Style
from rich.text import Text

from .cells import Canvas, clip
from .inside_plane import _to_cells

#: the map's ramp, lowest to highest: light characters, so that the racers' letters stand out on it
RAMP = " .,:;-="
#: the ramp's greys in colour, dark (low) to light
RAMP_GREYS = ("grey15", "grey30", "grey39", "grey46", "grey54", "grey62", "grey70")
#: each racer's colour
COLOURS = {"sgd": "bright_red", "momentum": "bright_yellow", "nesterov": "bright_magenta", "rmsprop": "bright_cyan",
           "adam": "bright_green", "adamw": "bright_blue"}
START, MINIMUM = "o", "*"
#: the legend's width when it stands beside the map, and the narrowest map it leaves room for
LEGEND_WIDTH, SIDE_MAP = 31, 30
#: how the keys are said under the studio's map
STUDIO_KEYS = "f function · arrows start · + - lr · p run/pause · s step · 0 reset"


@dataclass(frozen=True)
class Standing:
    """One racer's line of the legend."""

    name: str
    label: str
    mark: str
    loss: float
    distance: float
    steps: int
    status: str
    point: tuple[float, float]

    def loss_text(self) -> str:
        return "-" if not math.isfinite(self.loss) else f"{self.loss:.3g}" if abs(self.loss) < 1e5 else \
            f"{self.loss:.1e}"

    def distance_text(self) -> str:
        return f"{self.distance:.3g}" if self.distance < 1e4 else f"{self.distance:.1e}"

    def state_text(self) -> str:
        """"diverged at 37" for a racer that stopped, "" for one still racing."""
        return "" if self.status == "racing" else f"{self.status} at {self.steps + 1}"


def standings(race) -> list[Standing]:
    return [Standing(r.name, r.label, r.mark, r.loss, r.distance, r.steps, r.status, r.position)
            for r in race.racers]


@lru_cache(maxsize=16)
def _shading(surface, cols: int, rows: int) -> np.ndarray:
    """The ramp level of every cell: the function at the cell's centre, log-scaled over the box."""
    x_low, x_high, y_low, y_high = surface.box
    xs = x_low + (np.arange(cols) + 0.5) / cols * (x_high - x_low)
    ys = y_high - (np.arange(rows) + 0.5) / rows * (y_high - y_low)
    values = surface.values(*np.meshgrid(xs, ys))
    finite = np.isfinite(values)
    low = values[finite].min() if finite.any() else 0.0
    height = np.log1p(np.where(finite, values - low, 0.0))
    top = height.max()
    scaled = height / top if top > 0 else height
    return np.minimum((scaled * len(RAMP)).astype(np.int64), len(RAMP) - 1)


def _trail_cells(path: np.ndarray, box, cols: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells a path crosses inside the map: each point's cell, and cells between points a step apart."""
    if len(path) > 1:
        c, r, _ = _to_cells(path, box, cols, rows)
        gaps = np.maximum(np.abs(np.diff(c)), np.abs(np.diff(r)))
        gaps = np.minimum(gaps, cols + rows)   # a step far out of the map is drawn only up to its edge, roughly
        wide = np.flatnonzero(gaps > 1)
        if wide.size:   # steps that jump cells: points along them, one per cell crossed
            counts = gaps[wide]
            segment = np.repeat(wide, counts)
            fraction = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) / np.repeat(counts, counts)
            between = path[segment] + (path[segment + 1] - path[segment]) * fraction[:, None]
            path = np.concatenate([path, between])
    c, r, inside = _to_cells(path, box, cols, rows)
    return r[inside], c[inside]


def map_lines(race, cols: int, rows: int, mono: bool) -> list[Text]:
    """The surface shaded over its box, the racers' paths, the start and the minima: `rows` lines of `cols`."""
    cols, rows = max(cols, 4), max(rows, 2)
    box = race.surface.box
    canvas = Canvas(rows, cols)
    level = _shading(race.surface, cols, rows)
    for k in range(len(RAMP)):
        at = np.nonzero(level == k)
        canvas.put(*at, RAMP[k], None if mono else Style(color=RAMP_GREYS[k]))
    for racer in race.racers:   # trails first, then every racer's head on top of all trails
        r, c = _trail_cells(racer.path, box, cols, rows)
        canvas.put(r, c, racer.mark, None if mono else Style(color=COLOURS[racer.name]))
    for point, mark, style in ((p, MINIMUM, Style(color="bright_white", bold=True)) for p in race.surface.minima):
        _put_point(canvas, point, box, mark, None if mono else style)
    _put_point(canvas, race.start, box, START, None if mono else Style(color="bright_white", bold=True))
    for racer in race.racers:
        style = Style(color="black", bgcolor=COLOURS[racer.name], bold=True)
        _put_point(canvas, racer.position, box, racer.mark.upper(), None if mono else style)
    return canvas.lines()


def _put_point(canvas: Canvas, point, box, mark: str, style: Style | None) -> None:
    rows, cols = canvas.chars.shape
    c, r, inside = _to_cells(np.array([point], dtype=float), box, cols, rows)
    if inside[0]:
        canvas.put(r, c, mark, style)


def legend_lines(race, mono: bool, width: int = LEGEND_WIDTH) -> list[Text]:
    """Each racer's mark, name, loss and distance (or "diverged at N"), then the start, the minima and the box."""
    s = race.surface
    lines = [Text(f"    {'optimizer':<9}{'loss':>9} {'dist':>7}", "bold")]
    for st in standings(race):
        line = Text(" ")
        line.append(st.mark.upper(), None if mono else Style(color="black", bgcolor=COLOURS[st.name], bold=True))
        line.append(f"  {st.label:<9}")
        if st.status == "racing":
            line.append(f"{st.loss_text():>9} {st.distance_text():>7}")
        else:
            line.append(f"{st.state_text():>17}", "bold" if mono else "bold bright_red")
        lines.append(line)
    lines.append(Text(f" dist: to {s.target_name}", "dim" if not mono else ""))
    lines.append(Text(f" {START} start ({race.start[0]:.3g}, {race.start[1]:.3g})"))
    if s.minima:
        where = f"({s.minima[0][0]:.3g}, {s.minima[0][1]:.3g})" if len(s.minima) == 1 else f"{len(s.minima)} of them"
        lines.append(Text(f" {MINIMUM} minimum {where}"))
    x_low, x_high, y_low, y_high = s.box
    lines.append(Text(f" x {x_low:g}…{x_high:g}, y {y_low:g}…{y_high:g}"))
    lines.extend(Text(f" {note}", "italic") for note in race.notes())
    return [clip(line, width) for line in lines]


def title_line(race, running: bool | None = None) -> Text:
    """The surface, the step and the learning rate (in the studio, running or paused), then the formula: what
    a narrow line cuts first."""
    s = race.surface
    state = "" if running is None else " · running" if running else " · paused" if race.racing else " · over"
    return Text.assemble((s.title, "bold"), f" · step {race.step_count} · lr {race.lr:.3g}{state} · {s.formula}")


def race_lines(race, width: int, height: int, mono: bool, *, running: bool | None = None,
               keys: str = STUDIO_KEYS) -> list[Text]:
    """The whole view in width x height cells: the title, the map with the legend beside it (below it when
    the space is narrow), and a line of `keys` (none if empty)."""
    width, height = max(width, 20), max(height, 6)
    body = height - 1 - (1 if keys else 0)
    legend = legend_lines(race, mono, min(LEGEND_WIDTH, width))
    if width - LEGEND_WIDTH - 1 >= SIDE_MAP:
        cols = width - LEGEND_WIDTH - 1
        picture = map_lines(race, cols, body, mono)
        rows = [line + Text(" ") + (legend[n] if n < len(legend) else Text()) for n, line in enumerate(picture)]
    else:
        below = legend[: max(body - 3, 0)]
        rows = map_lines(race, width, body - len(below), mono) + below
    lines = [clip(title_line(race, running), width), *rows]
    if keys:
        lines.append(clip(Text(keys, "dim" if not mono else ""), width))
    return lines[:height]
