"""A plot's figure kept as the plotext calls that draw it, and built in two layers: the series that stay the same
(the runs compared) once, and the ones that move (the current run) over them at every build.

    figure = FigureCalls()
    figure.plot(xs, ys, color=13, marker="braille"); figure.keep()   # the series so far stay the same
    figure.plot(xs2, ys2, color=14, marker="braille")                 # the current run's, drawn again and again
    figure.xlim(0, 50); figure.ylim(0.0, 2.4)                         # axes fixed: both layers share them
    text = LayeredBuild().build(figure, width, height, theme)

plotext builds a whole figure from scratch, every series at every build: with ten runs compared, each
redraw of the loss plot as the current run trained drew eleven curves to move one (about 1.2 ms a curve
at 100x25, most of a build). Here the kept series are built alone (with the axes, frame and ticks) and
that matrix is kept while they and the axes stay the same; the other series are built alone over the
same axes, and wherever they draw nothing in the canvas the kept layer's cell shows. plotext draws a
later series over an earlier one in a cell they share, and the kept series are drawn first, so this is
the very figure one build of them all draws (tests/test_studio_figure.py checks it cell for cell).
Both layers need the same axes: without an x and a y range set, the figure is built in one go.
"""

from __future__ import annotations

from plotext._utility import colors_to_ansi
from rich.style import Style
from rich.text import Span, Text
from textual_plotext.plot import Plot

#: the plotext calls a figure is drawn with (anything else is set up by the widget when it builds)
AXIS_CALLS = ("xlabel", "xticks", "yticks", "xlim", "ylim")


class FigureCalls:
    """The calls that draw a figure (plotext's names and arguments), kept in order to be replayed when the plot is
    built; the first `kept` of its series stay the same from one figure to the next (`keep`)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.series = 0
        """Series drawn (`plot` calls)."""
        self.kept = 0
        """How many of the first series are kept: built once while they and the axes stay the same."""

    def clear_figure(self) -> None:
        """A new figure: nothing drawn."""
        self.calls, self.series, self.kept = [], 0, 0

    def plot(self, *args, **style) -> None:
        self.calls.append(("plot", args, style))
        self.series += 1

    def keep(self) -> None:
        """The series drawn so far stay the same from one figure to the next (the runs compared): build them once."""
        self.kept = self.series

    def xlabel(self, *args, **kwargs) -> None:
        self.calls.append(("xlabel", args, kwargs))

    def xticks(self, *args, **kwargs) -> None:
        self.calls.append(("xticks", args, kwargs))

    def yticks(self, *args, **kwargs) -> None:
        self.calls.append(("yticks", args, kwargs))

    def xlim(self, *args, **kwargs) -> None:
        self.calls.append(("xlim", args, kwargs))

    def ylim(self, *args, **kwargs) -> None:
        self.calls.append(("ylim", args, kwargs))

    @property
    def layered(self) -> bool:
        """Whether it is built in two layers: some series kept and some not, on axes whose ranges are set."""
        named = {name for name, _, _ in self.calls}
        return 0 < self.kept < self.series and {"xlim", "ylim"} <= named

    def layer(self, kept: bool | None) -> list[tuple[str, tuple, dict]]:
        """The calls of the kept layer (True), of the other (False) or of the whole figure (None): the axes in
        each."""
        out, n = [], 0
        for call in self.calls:
            if call[0] == "plot":
                n += 1
                if kept is not None and (n <= self.kept) != kept:
                    continue
            out.append(call)
        return out


def replay(calls: list[tuple[str, tuple, dict]], figure: Plot) -> None:
    for name, args, kwargs in calls:
        getattr(figure, name)(*args, **kwargs)


def signature(calls: list[tuple[str, tuple, dict]]) -> tuple:
    """What a layer draws, comparable with ==: its calls, lists as tuples."""
    def frozen(value):
        return tuple(frozen(v) for v in value) if isinstance(value, (list, tuple)) else value
    return tuple((name, frozen(args), tuple(sorted(kwargs.items()))) for name, args, kwargs in calls)


def prepare(figure: Plot, width: int, height: int, theme: str) -> None:
    """Size and theme, as textual-plotext sets them before a build (twice the size: see its issue 5)."""
    figure.plotsize(width, height)
    figure._set_size(width, height)
    figure.theme(theme)


def matrix_of(figure: Plot):
    """The figure built into plotext's matrix of cells (markers and colours), not yet written out."""
    figure._set_sizes()
    figure._build_matrix()
    return figure.monitor.matrix


def overlay(front, back) -> None:
    """Where `front` draws nothing in the canvas, `back`'s cell (its marker and colours)."""
    for row in front.Rows_canvas:
        markers, kept = front.marker[row], back.marker[row]
        for col in front.Cols_canvas:
            if markers[col] == " " and kept[col] != " ":
                markers[col] = kept[col]
                front.fullground[row][col] = back.fullground[row][col]
                front.background[row][col] = back.background[row][col]
                front.style[row][col] = back.style[row][col]


def text_of(matrix) -> Text:
    """The built matrix as Rich text, cell runs of one colour each a span: what `Text.from_ansi` makes of the
    string plotext would write (`set_canvas`), without writing and parsing thousands of escape codes."""
    plain, spans, at = [], [], 0
    for row in reversed(matrix.Rows):
        markers, colours = matrix.marker[row], list(zip(matrix.fullground[row], matrix.style[row],
                                                        matrix.background[row]))
        start = 0
        for col in range(1, len(markers) + 1):
            if col == len(markers) or colours[col] != colours[start]:
                style = _style(colours[start])
                if style is not None:
                    spans.append(Span(at + start, at + col, style))
                start = col
        line = "".join(markers)
        plain.append(line)
        at += len(line) + 1
    return Text("\n".join(plain) + "\n", spans=spans, end="\n")


#: (foreground, style, background) -> the Rich style of plotext's escape codes for them (None: none)
_STYLES: dict[tuple, Style | None] = {}


def _style(colours: tuple) -> Style | None:
    if colours not in _STYLES:
        sample = Text.from_ansi(colors_to_ansi(*colours) + "x")
        _STYLES[colours] = sample.spans[0].style if sample.spans else None
    return _STYLES[colours]


class LayeredBuild:
    """Builds a plot's figures, keeping the matrix of the kept layer while what it draws stays the same."""

    def __init__(self) -> None:
        self.figure = Plot()
        self._kept: tuple[tuple, object] | None = None
        self.kept_builds = 0
        """How many times the kept layer was built (tests count them)."""

    def build(self, figure: FigureCalls, width: int, height: int, theme: str) -> Text:
        front = self.figure
        front.clear_figure()
        if not figure.layered:
            replay(figure.layer(None), front)
            prepare(front, width, height, theme)
            return text_of(matrix_of(front))
        kept = figure.layer(True)
        key = (width, height, theme, signature(kept))
        if self._kept is None or self._kept[0] != key:
            back = Plot()
            replay(kept, back)
            prepare(back, width, height, theme)
            self._kept = (key, matrix_of(back))
            self.kept_builds += 1
        replay(figure.layer(False), front)
        prepare(front, width, height, theme)
        matrix = matrix_of(front)
        overlay(matrix, self._kept[1])
        return text_of(matrix)
