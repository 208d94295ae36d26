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

from .cells import Canvas, clip, levels, normalised
from .inside_plane import to_cells

#: the map's ramp, lowest to highest: light characters, so that the racers' letters stand out on it
RAMP = " .,:;-="
#: the ramp's greys in colour, dark (low) to light
RAMP_GREYS = ("grey15", "grey30", "grey39", "grey46", "grey54", "grey62", "grey70")
#: each racer's colour
COLOURS = {"sgd": "bright_red", "momentum": "bright_yellow", "nesterov": "bright_magenta", "rmsprop": "bright_cyan",
           "adam": "bright_green", "adamw": "bright_blue"}
START, MINIMUM = "o", "*"
#: styles made once: a racer's trail, where it stands, and the start and minima
TRAIL_STYLES = {name: Style(color=colour) for name, colour in COLOURS.items()}
HEAD_STYLES = {name: Style(color="black", bgcolor=colour, bold=True) for name, colour in COLOURS.items()}
MARK_STYLE = Style(color="bright_white", bold=True)
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
def _background(surface, cols: int, rows: int, mono: bool) -> Canvas:
    """The map without the racers: each cell the ramp's character for the function at its centre, log-scaled
    over the box (made once per surface and size; each frame writes over a copy)."""
    x_low, x_high, y_low, y_high = surface.box
    xs = x_low + (np.arange(cols) + 0.5) / cols * (x_high - x_low)
    ys = y_high - (np.arange(rows) + 0.5) / rows * (y_high - y_low)
    values = surface.values(*np.meshgrid(xs, ys))
    finite = np.isfinite(values)
    low = values[finite].min() if finite.any() else 0.0
    level = levels(normalised(np.log1p(np.where(finite, values - low, 0.0)), signed=False), len(RAMP))
    canvas = Canvas(rows, cols)
    for k in range(len(RAMP)):
        canvas.put(*np.nonzero(level == k), RAMP[k], None if mono else Style(color=RAMP_GREYS[k]))
    return canvas   # (the minima and the start are put over the trails, each frame: `map_lines`)


def _point_cell(points, box, cols: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells (rows, columns) of the points that fall inside the map."""
    c, r, inside = to_cells(np.array(points, dtype=float).reshape(-1, 2), box, cols, rows)
    return r[inside], c[inside]


def _trail_cells(path: np.ndarray, box, cols: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells a path crosses inside the map, each once: each point's cell, and cells between points a step
    apart."""
    c, r, _ = to_cells(path, box, cols, rows)
    moved = np.concatenate([[True], (np.diff(c) != 0) | (np.diff(r) != 0)])   # a point per new cell
    path, c, r = path[moved], c[moved], r[moved]
    if len(path) > 1:
        gaps = np.maximum(np.abs(np.diff(c)), np.abs(np.diff(r)))
        gaps = np.minimum(gaps, cols + rows)   # a step far out of the map is drawn only up to its edge, roughly
        wide = np.flatnonzero(gaps > 1)
        if wide.size:   # steps that jump cells: points along them, one per cell crossed
            counts = gaps[wide]
            segment = np.repeat(wide, counts)
            fraction = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) / np.repeat(counts, counts)
            between = path[segment] + (path[segment + 1] - path[segment]) * fraction[:, None]
            bc, br, _ = to_cells(between, box, cols, rows)
            c, r = np.concatenate([c, bc]), np.concatenate([r, br])
    inside = (c >= 0) & (c < cols) & (r >= 0) & (r < rows)
    crossed = np.zeros((rows, cols), dtype=bool)
    crossed[r[inside], c[inside]] = True
    return np.nonzero(crossed)


def map_lines(race, cols: int, rows: int, mono: bool) -> list[Text]:
    """The surface shaded over its box, the racers' paths, the start and the minima: `rows` lines of `cols`."""
    cols, rows = max(cols, 4), max(rows, 2)
    box = race.surface.box
    canvas = _background(race.surface, cols, rows, mono).copy()
    for racer in race.racers:   # trails first, then every racer's head on top of all trails
        canvas.put(*_trail_cells(racer.path, box, cols, rows), racer.mark, None if mono else TRAIL_STYLES[racer.name])
    for point, mark, style in [(p, MINIMUM, MARK_STYLE) for p in race.surface.minima] + [(race.start, START, MARK_STYLE)]:
        canvas.put(*_point_cell(point, box, cols, rows), mark, None if mono else style)
    for racer in race.racers:
        canvas.put(*_point_cell(racer.position, box, cols, rows), racer.mark.upper(),
                   None if mono else HEAD_STYLES[racer.name])
    return canvas.lines()


def legend_lines(race, mono: bool, width: int = LEGEND_WIDTH) -> list[Text]:
    """Each racer's mark, name, loss and distance (or "diverged at N"), then the start, the minima and the box."""
    s = race.surface
    lines = [Text(f"    {'optimizer':<9}{'loss':>9} {'dist':>7}", "bold")]
    for st in standings(race):
        line = Text(" ")
        line.append(st.mark.upper(), None if mono else HEAD_STYLES[st.name])
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


def title_line(race, running: bool | str | None = None) -> Text:
    """The surface, the step and the learning rate (in the studio, running or paused; `running` may say how),
    then the formula: what a narrow line cuts first."""
    s = race.surface
    how = f" ({running})" if isinstance(running, str) else ""
    at_length = " at its length: p goes on" if race.step_count == race.surface.steps else ""
    state = "" if running is None else f" · running{how}" if running else \
        f" · paused{at_length}" if race.racing else " · over"
    return Text.assemble((s.title, "bold"), f" · step {race.step_count} · lr {race.lr:.3g}{state} · {s.formula}")


def race_lines(race, width: int, height: int, mono: bool, *, running: bool | str | None = None,
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
