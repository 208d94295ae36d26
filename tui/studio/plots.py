"""The monitor's plots: one look per series, round axis ticks, and a plot widget that builds only when its data changed.

A series looks the same in every plot and every terminal: `SERIES` gives each one colour
(one of the 16 ANSI colours, so 16-colour, 256-colour and true-colour terminals agree) and one
marker character, drawn instead of the colour's braille dots in monochrome (NO_COLOR). The
legend above a plot draws its key with the very same colour or marker.

Axis ticks fall on round values (1, 2 or 5 times a power of ten) and every y label of every
plot is written alike and padded to TICK_WIDTH, so the four plot frames line up at any size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual_plotext import PlotextPlot

from .figure import FigureCalls, LayeredBuild

#: characters every y tick label is padded to, so that plot frames line up
TICK_WIDTH = 6


@dataclass(frozen=True)
class SeriesLook:
    """How one series is drawn: one of the 16 ANSI colours (its number) and a marker for monochrome."""

    colour: int
    marker: str

    def plot_style(self, mono: bool) -> dict:
        """plotext keyword arguments: the colour with braille dots (2x4 per cell), or the marker alone in the
        terminal's own colour (which plotext would otherwise pick by the series' place among the figure's, and
        NO_COLOR shows none of)."""
        return {"marker": self.marker, "color": "default"} if mono else {"color": self.colour, "marker": "braille"}

    def legend_key(self, mono: bool) -> Text:
        """The legend's sample of the series: "━" in its colour, or its marker twice in monochrome."""
        if mono:
            return Text(self.marker * 2)
        return Text("━", style=Style(color=Color.from_ansi(self.colour), bold=True))


#: the ANSI colour numbers (16-colour terminals have them all; 256-colour and true-colour ones show them alike)
RED, GREEN, YELLOW, BLUE, MAGENTA, CYAN, WHITE = range(1, 8)
BRIGHT = 8  # added to a colour: its bright version

#: series name -> its look, the same in every plot
SERIES: dict[str, SeriesLook] = {
    "batch": SeriesLook(WHITE, "·"),  # light grey: the noisy curve behind the epoch points
    "train": SeriesLook(BRIGHT + CYAN, "*"),
    "validation": SeriesLook(BRIGHT + MAGENTA, "o"),
    "lr": SeriesLook(BRIGHT + GREEN, "+"),
}
#: looks of the per-layer series (gradient norms), in layer order; none is a colour or marker of SERIES
LAYER_LOOKS = (SeriesLook(BRIGHT + YELLOW, "#"), SeriesLook(BRIGHT + BLUE, "%"), SeriesLook(BRIGHT + RED, "@"),
               SeriesLook(GREEN, "="), SeriesLook(BRIGHT + WHITE, "&"), SeriesLook(YELLOW, "$"), SeriesLook(BLUE, "~"),
               SeriesLook(RED, "^"))


#: looks of the runs compared in an overlay: the current run's first (as its training curve looks alone), then
#: each marked run's in the order it was marked; as many as runs can be told apart (`MAX_COMPARED`). Their
#: markers are not the first layers' (the gradient plot, the current run's, stays beside them)
RUN_LOOKS = (SeriesLook(BRIGHT + CYAN, "*"), SeriesLook(BRIGHT + MAGENTA, "o"), SeriesLook(BRIGHT + YELLOW, "x"),
             SeriesLook(BRIGHT + GREEN, "+"), SeriesLook(BRIGHT + BLUE, "v"), SeriesLook(BRIGHT + RED, "<"),
             SeriesLook(GREEN, ">"), SeriesLook(YELLOW, "!"), SeriesLook(BLUE, "?"), SeriesLook(RED, ":"),
             SeriesLook(MAGENTA, "&"), SeriesLook(CYAN, "="))
#: marked runs an overlay draws at most (beside the current run): one look each
MAX_COMPARED = len(RUN_LOOKS) - 1


def look(series: str, layer: int | None = None) -> SeriesLook:
    """The look of a named series, or of the `layer`-th layer's."""
    return LAYER_LOOKS[layer % len(LAYER_LOOKS)] if layer is not None else SERIES[series]


# ====================================================================== data and ticks
def downsample(xs: list[float], ys: list[float], points: int) -> tuple[list[float], list[float]]:
    """At most `points` points: means of consecutive runs (keeps the shape, unlike striding), the first runs one
    longer when they do not divide evenly (as `np.array_split`)."""
    if len(xs) <= points or points < 2:
        return list(xs), list(ys)
    size, extra = divmod(len(xs), points)
    counts = np.full(points, size)
    counts[:extra] += 1
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    x, y = ((np.add.reduceat(np.asarray(values, dtype=float), starts) / counts).tolist() for values in (xs, ys))
    return x, y


def nice_ticks(low: float, high: float, most: int = 5, outward: bool = True) -> list[float]:
    """Round values 1, 2 or 5 times a power of ten apart: the finest such step that needs at most
    `most` ticks. `outward`: from at or below `low` to at or above `high` (the axis is widened to
    them); else only those inside [low, high] (at least two if the range holds two round values).
    A single value gets itself."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [low]
    most = max(most, 2)
    power = 10.0 ** math.floor(math.log10((high - low) / (most - 1 if outward else most)))
    ticks: list[float] = []
    for mantissa in (1, 2, 5, 10, 20, 50):
        step = mantissa * power
        if outward:
            first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
        else:
            first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        candidate = [round(k * step, 12) for k in range(first, last + 1)]
        if len(candidate) <= most:
            return candidate if len(candidate) >= 2 or not ticks else ticks
        ticks = candidate[::-(-len(candidate) // most)]
    return ticks


def number_label(value: float, step: float | None = None, scientific: bool | None = None) -> str:
    """A tick value as people write it: with as many decimals as `step` (the gap to the next tick)
    needs ("0.25", "95"), or as a short power of ten ("1.5e-4") when that would take more than four
    decimals or the value is 100,000 or more (`scientific` forces either)."""
    size = abs(value)
    step = abs(step) if step else (size or 1.0)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if scientific is None:
        scientific = decimals > 4 or size >= 1e5
    if not scientific or not size:
        return f"{value:.{decimals}f}" if not scientific else "0"
    digits = max(0, min(3, math.floor(math.log10(size) + 1e-9) - math.floor(math.log10(step) + 1e-9)))
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def tick_labels(ticks: list[float]) -> list[str]:
    """Labels for equally spaced ticks, all written alike (the step's decimals, or all as powers of
    ten) and right-aligned to TICK_WIDTH."""
    step = min((b - a for a, b in zip(ticks, ticks[1:])), default=None)
    step = step or (max((abs(t) for t in ticks), default=0.0) or 1.0)
    scientific = -math.floor(math.log10(step) + 1e-9) > 4 or max(abs(t) for t in ticks) >= 1e5
    return [number_label(t, step, scientific).rjust(TICK_WIDTH) for t in ticks]


def count_labels(ticks: list[float]) -> list[str]:
    """Labels for an axis of counts (examples seen): "0", "500", "20k", "1.5M"."""
    def label(value: float) -> str:
        for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= size:
                return f"{value / size:.3g}{suffix}"
        return f"{value:.3g}"
    return [label(t) for t in ticks]


def log_ticks(low: float, high: float) -> list[float]:
    """Where to put y ticks on a log10 axis spanning [low, high]: round values, 1 times powers of
    ten on a wide range, 1, 2 and 5 times them on a narrower one, every digit times them on a
    range of a decade or less; the coarsest that gives three ticks (else two), at most five.
    A range too tiny for two round values gets its two ends."""
    candidates = []
    for mantissas in ((1,), (1, 2, 5), tuple(range(1, 10))):
        ticks = [math.log10(m) + k for k in range(math.floor(low), math.ceil(high) + 1) for m in mantissas]
        candidates.append([t for t in ticks if low - 1e-9 <= t <= high + 1e-9])
    ticks = next((c for c in candidates if len(c) >= 3), None) or next((c for c in candidates if len(c) >= 2), [])
    if not ticks:
        return [low, high] if high > low else [low]
    return ticks[::-(-len(ticks) // 5)]


def log_tick_labels(ticks: list[float]) -> list[str]:
    """Labels for ticks on a log10 axis: each value with the digits it needs, all as powers of ten if one
    needs it, right-aligned to TICK_WIDTH."""
    scientific = bool(ticks) and (min(ticks) < -3 - 1e-9 or max(ticks) >= 5)
    return [number_label(10 ** t, 10 ** math.floor(t + 1e-9), scientific).rjust(TICK_WIDTH) for t in ticks]


# ====================================================================== the widget
class MetricPlot(PlotextPlot):
    """A plotext plot that is only rebuilt when the monitor asks (and counts it, for the redraw budget).

    plotext builds a whole figure from scratch (milliseconds per plot) and textual-plotext does
    so on every render, which Textual asks for whenever the plot is shown again or the screen
    around it is laid out. This one keeps the figure it built until its data (`changed`), its
    size or the theme change. Its title and legend are a line of text above it, not plotext's
    own: a legend inside a plot a few rows high covers the very points it names.

    `plt` keeps the figure's calls (`figure.FigureCalls`), built when the plot is rendered; series marked
    kept (the runs compared) are built once and drawn under the others while they stay the same.
    """

    def __init__(self, title: str, *, id: str) -> None:
        super().__init__(id=id)
        self.title = title
        self.redraws = 0
        self.builds = 0
        self.drawn_size: Size | None = None  # the size the figure was last drawn for (set by whoever draws it)
        self._version = 0
        self._built: tuple[tuple, Text] | None = None
        self._calls = FigureCalls()
        self.builder = LayeredBuild()

    @property
    def plt(self) -> FigureCalls:
        """The figure to draw into (plotext's calls: `plot`, `xlabel`, `xticks`, `yticks`, `xlim`, `ylim`)."""
        return self._calls

    def changed(self) -> None:
        """The figure was drawn again (plt calls): the next render builds it."""
        self._version += 1
        self.redraws += 1
        self.refresh()

    def render(self) -> Text:
        key = (self.size, self._version, self.app.theme, self.theme)
        if self._built is None or self._built[0] != key:
            theme = self._get_plotext_theme_name(self.app.theme)
            self._built = (key, self.builder.build(self._calls, self.size.width, self.size.height, theme))
            self.builds += 1
        return self._built[1]


def steady_range(low: float, high: float, rows: int) -> tuple[float, float]:
    """[low, high] widened to multiples of a round step (1, 2 or 5 times a power of ten) of at most half a row of
    `rows`: invisible, and the same range for a while as a curve moves within it."""
    if not high > low:
        return low, high
    fine = (high - low) / (2 * max(rows, 1))
    power = 10.0 ** math.floor(math.log10(fine))
    step = max(m * power for m in (1, 2, 5) if m * power <= fine * (1 + 1e-9))
    return round(math.floor(low / step + 1e-9) * step, 12), round(math.ceil(high / step - 1e-9) * step, 12)


def set_ticks(plot: MetricPlot, xs: list[float], ys: tuple[float, float] | None, *, counts: bool = False,
              log: bool = False, steady: bool = False) -> None:
    """Round ticks on the x axis (epochs, or with `counts` examples seen: from a round value to a round value)
    and, given the y range drawn, on the y axis (inside it), as many as the plot's size leaves room for; every
    y label written and padded alike (`tick_labels`). `log`: the y values drawn are log10 of the figures, and
    are labelled with the figures (`log_ticks`). `steady`: the y range is set, widened by at most half a row
    (`steady_range`; the ticks stay those of the range drawn), so that the axes stay the same while the series
    move a little (a figure of kept series, the runs compared, is then built once: `figure.LayeredBuild`)."""
    plt = plot.plt
    if xs:
        ticks = nice_ticks(min(xs), max(xs), max(2, min(6, plot.size.width // 9)))
        if len(ticks) > 1:
            plt.xlim(ticks[0], ticks[-1])
        plt.xticks(ticks, count_labels(ticks) if counts else [label.strip() for label in tick_labels(ticks)])
    if ys is None or not all(math.isfinite(v) for v in ys):
        return
    low, high = ys
    if steady:   # (the ticks are those of the range drawn, as without)
        bottom, top = steady_range(low, high, plot.size.height - 2)
        if top > bottom:
            plt.ylim(bottom, top)
    if log:
        ticks = log_ticks(low, high)
        if len(ticks) == 1:  # one value (a constant learning rate): in the middle, a decade high
            plt.ylim(ticks[0] - 0.5, ticks[0] + 0.5)
        plt.yticks(ticks, log_tick_labels(ticks))
        return
    ticks = nice_ticks(low, high, max(2, min(5, (plot.size.height - 2) // 2)), outward=False)
    if len(ticks) == 1:  # one value (a constant learning rate): it sits in the middle
        spread = abs(ticks[0]) / 2 or 1.0
        plt.ylim(ticks[0] - spread, ticks[0] + spread)
    plt.yticks(ticks, tick_labels(ticks))


def legend_text(title: str, labels: list[tuple[SeriesLook, str]], width: int, mono: bool) -> Text:
    """"loss  ━ batch  ━ train  ━ validation": the title, then each (look, label) with its key drawn as the
    series is; an entry that does not fit in `width` cells starts the next line, whole."""
    text, column = Text(title, style="bold"), len(title)
    for series_look, label in labels:
        entry = series_look.legend_key(mono)
        entry.append(f" {label}")
        if column + 2 + len(entry) > width:
            text.append("\n")
            column = 0
        else:
            text.append("  ")
            column += 2
        text.append_text(entry)
        column += len(entry)
    return text
