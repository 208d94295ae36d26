"""Fields of numbers as terminal cells: one character per cell, chosen so the picture reads without colour
(NO_COLOR, a pipe), with a 16-colour style added on top when colour is wanted.

    sequential(values)            -> [0, 1] values as the grey ramp " .:-=+*#%@"
    diverging(values)             -> [-1, 1] values: positive as blocks " ░▒▓█", negative as " ·∘○●"
    field_lines(grid, ramp, mono) -> Rich Text lines, one per row of `grid`
    shrink(image, cols, rows)     -> an image averaged down to cols x rows cells (a cell is twice as tall as wide)
    class_mark(k) / CLASS_COLOURS -> how class k is written and coloured in every view

The ramps are also the legends: a view prints the ramp beside what it maps, so a reader without
colour can tell a strong negative weight from a weak positive one.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from rich.style import Style
from rich.text import Text

#: blank to full ink (the digits' ramp: tui.render.GREY_RAMP)
SEQUENTIAL = " .:-=+*#%@"
#: 16-colour styles for the sequential ramp's levels, dark to bright
SEQUENTIAL_COLOURS = ("default", "bright_black", "blue", "blue", "cyan", "cyan", "green", "yellow", "bright_yellow",
                      "bright_white")
#: positive values, weak to strong
POSITIVE = " ░▒▓█"
#: negative values, weak to strong
NEGATIVE = " ·∘○●"
POSITIVE_COLOURS = ("default", "blue", "blue", "bright_blue", "bright_blue")
NEGATIVE_COLOURS = ("default", "red", "red", "bright_red", "bright_red")
#: class k's colour (regions) and bright colour (points, labels); classes past the list cycle it
CLASS_COLOURS = (("blue", "bright_blue"), ("yellow", "bright_yellow"), ("green", "bright_green"),
                 ("magenta", "bright_magenta"), ("cyan", "bright_cyan"), ("red", "bright_red"),
                 ("white", "bright_white"), ("bright_black", "default"))
#: class k's mark: its number, then letters (a class is named by its mark in every legend)
MARKS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: a class region's fill without colour, (unsure, sure) per class
FILLS = ((".", ":"), ("-", "="), ("'", '"'), ("~", "≈"), (",", ";"), ("`", "^"), ("_", "≡"), ("°", "*"))


def class_mark(k: int) -> str:
    return MARKS[k % len(MARKS)]


def class_colour(k: int, bright: bool = False) -> str:
    return CLASS_COLOURS[k % len(CLASS_COLOURS)][1 if bright else 0]


def levels(values: np.ndarray, count: int) -> np.ndarray:
    """[0, 1] values (NaN as 0) as integer levels 0 .. count - 1."""
    clean = np.nan_to_num(np.clip(values, 0.0, 1.0), nan=0.0)
    return np.minimum((clean * count).astype(np.int64), count - 1)


def sequential(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(characters, colour names) of [0, 1] values on the grey ramp."""
    index = levels(values, len(SEQUENTIAL))
    return np.array(list(SEQUENTIAL))[index], np.array(SEQUENTIAL_COLOURS)[index]


def diverging(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(characters, colour names) of [-1, 1] values: the sign picks the ramp, the size the step on it."""
    size = levels(np.abs(values) * (1 - 1e-9) + 0.0, len(POSITIVE))
    size = np.where(np.abs(np.nan_to_num(values)) < 0.5 / len(POSITIVE), 0, np.maximum(size, 1))
    negative = np.nan_to_num(values) < 0
    chars = np.where(negative, np.array(list(NEGATIVE))[size], np.array(list(POSITIVE))[size])
    colours = np.where(negative, np.array(NEGATIVE_COLOURS)[size], np.array(POSITIVE_COLOURS)[size])
    return chars, colours


def normalised(values: np.ndarray, signed: bool) -> np.ndarray:
    """Values scaled for a ramp: by their largest size to [-1, 1] (signed), or from their range to [0, 1]."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return np.zeros_like(values, dtype=float)
    if signed:
        top = float(np.abs(finite).max())
        return values / top if top > 0 else np.zeros_like(values, dtype=float)
    low, high = float(finite.min()), float(finite.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values, dtype=float)


def field_lines(grid: np.ndarray, ramp: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                mono: bool) -> list[Text]:
    """One Text per row of `grid`, each cell its ramp character (coloured unless `mono`)."""
    chars, colours = ramp(grid)
    lines = []
    for row_chars, row_colours in zip(chars, colours):
        line = Text("".join(row_chars))
        if not mono:
            _colour_runs(line, row_colours)
        lines.append(line)
    return lines


def _colour_runs(line: Text, colours: np.ndarray) -> None:
    """Style runs of equal colour at once (a span per run, not per cell)."""
    edges = np.flatnonzero(colours[1:] != colours[:-1]) + 1
    starts, ends = np.concatenate([[0], edges]).tolist(), np.concatenate([edges, [len(colours)]]).tolist()
    for start, end in zip(starts, ends):
        colour = str(colours[start])
        if colour != "default":
            line.stylize(_STYLES.get(colour) or _STYLES.setdefault(colour, Style(color=colour)), start, end)


#: one Style per colour name, made once
_STYLES: dict[str, Style] = {}


def shrink(image: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """`image` (height, width) averaged into rows x cols blocks (nearest block edges; never grows a dimension
    past the image's own size, and repeats pixels when asked for more cells than it has)."""
    height, width = image.shape
    row_edges = np.linspace(0, height, rows + 1)
    col_edges = np.linspace(0, width, cols + 1)
    ri = np.minimum(np.floor(row_edges[:-1]).astype(int), height - 1)
    rj = np.maximum(np.ceil(row_edges[1:]).astype(int), ri + 1)
    ci = np.minimum(np.floor(col_edges[:-1]).astype(int), width - 1)
    cj = np.maximum(np.ceil(col_edges[1:]).astype(int), ci + 1)
    # summed-area table: each block's mean in O(1), whatever the block sizes
    table = np.zeros((height + 1, width + 1))
    table[1:, 1:] = np.nan_to_num(image.astype(float)).cumsum(0).cumsum(1)
    total = table[rj][:, cj] - table[ri][:, cj] - table[rj][:, ci] + table[ri][:, ci]
    area = (rj - ri)[:, None] * (cj - ci)[None, :]
    return total / area


def picture_size(height: int, width: int, scale: int) -> tuple[int, int]:
    """(cols, rows) of an image drawn at `scale` pixels per column (two rows of cells per column's height)."""
    cols = max(1, -(-width // scale))
    return cols, max(1, -(-height // (2 * scale)))


#: how to get another part of a view: a studio key, or a flag of `nnstudio inspect` ({page} filled in)
HINTS = {
    "studio": {"test": "t: test points", "train": "t: training points", "layer": "[ ] layer",
               "page": "pgup/pgdn", "cell": "arrows choose a cell", "again": "k: check again",
               "walk": "t: the walk", "scatter": "t: the scatter"},
    "cli": {"test": "--test: test points", "train": "training points without --test", "layer": "--layer N",
            "page": "--page N", "cell": "--cell TRUE,PREDICTED", "again": "",
            "walk": "--walk: the walk", "scatter": "the scatter without --walk"},
}


def hint(keys: str, name: str, **values) -> str:
    """" · " and how to reach the part `name` of a view with `keys` ("studio" or "cli"); "" when there is none."""
    text = HINTS[keys][name].format(**values)
    return f" · {text}" if text else ""


def after_activation(activation: str | None) -> str:
    """", after relu" in a layer's title, or ", no activation" for a layer whose outputs go on as they are."""
    return f", after {activation}" if activation else ", no activation"


def clip(text: Text | str, width: int) -> Text:
    """A line cut to `width` cells, with "…" where it was cut."""
    line = text if isinstance(text, Text) else Text(text)
    if line.cell_len <= width:
        return line
    cut = line[: max(width - 1, 0)]
    cut.append("…")
    return cut


class Canvas:
    """A grid of characters with a style each, drawn as Rich Text a row at a time, one span per run of equal
    style: a picture of thousands of cells costs a few dozen spans a row, not a segment a cell."""

    def __init__(self, rows: int, cols: int) -> None:
        self.chars = np.full((rows, cols), " ", dtype="<U1")
        self.style_ids = np.zeros((rows, cols), dtype=np.int64)
        self.styles: list[Style | None] = [None]
        self._ids: dict[Style, int] = {}

    def copy(self) -> "Canvas":
        """An independent canvas with the same cells (a background drawn once, written over each frame)."""
        other = Canvas.__new__(Canvas)
        other.chars, other.style_ids = self.chars.copy(), self.style_ids.copy()
        other.styles, other._ids = list(self.styles), dict(self._ids)
        return other

    def style_id(self, style: Style | None) -> int:
        if style is None:
            return 0
        if style not in self._ids:
            self._ids[style] = len(self.styles)
            self.styles.append(style)
        return self._ids[style]

    def put(self, rows: np.ndarray, cols: np.ndarray, chars, style: Style | None = None) -> None:
        """Write `chars` (one, or one per cell) at the cells (rows[i], cols[i]), all in `style`."""
        self.chars[rows, cols] = chars
        self.style_ids[rows, cols] = self.style_id(style)

    def lines(self) -> list[Text]:
        found = []
        for chars, ids in zip(self.chars, self.style_ids):
            line = Text("".join(chars.tolist()))
            edges = np.flatnonzero(np.diff(ids)) + 1
            starts, ends = np.concatenate([[0], edges]), np.concatenate([edges, [len(ids)]])
            for start, end in zip(starts.tolist(), ends.tolist()):
                style = self.styles[ids[start]]
                if style is not None:
                    line.stylize(style, start, end)
            found.append(line)
        return found
