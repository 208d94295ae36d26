"""Drawing for people in a terminal, shared by the command line and the studio: digits as characters, sizes.

    digit_lines(image)                  -> 14 lines of 28 characters from a 28x28 image (grey ramp)
    digit_lines(image, mode="blocks")   -> the same with half blocks (twice the vertical detail)
    side_by_side([lines + [caption], ...], width=80)  -> the drawings in rows that fit the width

A terminal cell is about twice as tall as it is wide, so two pixel rows go into one line of
characters and a digit keeps its shape. "ascii" averages the two rows onto a ten-step grey
ramp that any terminal shows; "blocks" keeps both rows (upper half, lower half or full block
where the ink is dark enough), which reads better but needs a Unicode terminal.

    size_text(12_345)                   -> "12.3 kB" (file sizes, alike in every command and pane)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from rich.console import Console
from rich.text import Text

GREY_RAMP = " .:-=+*#%@"
"""Characters from blank to full ink, for drawing digits in a terminal."""

#: (top inked, bottom inked) -> the half block that shows it
HALF_BLOCKS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
#: ink above this (in [0, 1]) counts as drawn in "blocks" mode; MNIST strokes are far darker
INK_THRESHOLD = 0.35
MODES = ("ascii", "blocks")


def ink(image: np.ndarray) -> np.ndarray:
    """The image as a 2-D float array of ink in [0, 1], whatever its type.

    uint8 (and other integer) pixels are divided by 255; floats already in [0, 1] are kept;
    other floats (standardised data) are stretched from their minimum to their maximum.
    A flat square image (784 values) or a single-channel image (1, H, W) is reshaped.
    """
    pixels = np.asarray(image)
    if pixels.ndim == 1:
        side = int(round(np.sqrt(pixels.size)))
        if side * side != pixels.size:
            raise ValueError(f"a flat image must have a square number of pixels, got {pixels.size}")
        pixels = pixels.reshape(side, side)
    elif pixels.ndim == 3 and pixels.shape[0] == 1:
        pixels = pixels[0]
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D image (or a flat square one), got shape {pixels.shape}")
    if np.issubdtype(pixels.dtype, np.integer) or pixels.dtype == np.bool_:
        return pixels.astype(np.float32) / (1 if pixels.dtype == np.bool_ else 255)
    values = np.nan_to_num(pixels.astype(np.float32))
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0:
        return values
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def digit_lines(image: np.ndarray, mode: str = "ascii") -> list[str]:
    """A 28x28 image as 14 lines of 28 characters (two pixel rows per line keep the aspect)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    values = np.clip(ink(image), 0.0, 1.0)
    if len(values) % 2:  # an odd height gets a blank last row, so every line has two
        values = np.vstack([values, np.zeros((1, values.shape[1]), values.dtype)])
    top, bottom = values[0::2], values[1::2]
    if mode == "blocks":
        return ["".join(HALF_BLOCKS[bool(t > INK_THRESHOLD), bool(b > INK_THRESHOLD)] for t, b in zip(upper, lower))
                for upper, lower in zip(top, bottom)]
    levels = np.minimum(((top + bottom) / 2 * len(GREY_RAMP)).astype(int), len(GREY_RAMP) - 1)
    return ["".join(GREY_RAMP[v] for v in row) for row in levels]


def unicode_console(console: Console) -> bool:
    """Whether `console` writes a Unicode encoding (UTF-8, utf8...): block and box characters can be used."""
    return console.encoding.lower().replace("-", "").startswith("utf")


def default_mode(console: Console) -> str:
    """"blocks" on a colour-capable Unicode terminal; "ascii" for pipes, files, NO_COLOR and dumb terminals."""
    unicode = unicode_console(console)
    fancy = console.is_terminal and not console.is_dumb_terminal and not console.no_color
    return "blocks" if fancy and unicode else "ascii"


def side_by_side(cells: Sequence[Sequence[str | Text]], width: int, gap: int = 2) -> Text:
    """Cells (each a list of lines: a drawing, then its caption) in rows as wide as `width` allows.

    Every cell in a row is padded to the widest line of all cells, so the columns line up from
    row to row; rows are separated by a blank line. Lines may be rich `Text` (a styled caption).
    At least one cell goes in a row, however narrow `width` is.
    """
    if not cells:
        return Text()
    lines = [[line if isinstance(line, Text) else Text(line) for line in cell] for cell in cells]
    cell_width = max(line.cell_len for cell in lines for line in cell)
    height = max(len(cell) for cell in lines)
    per_row = max(1, (width + gap) // (cell_width + gap))
    out = Text()
    for first in range(0, len(lines), per_row):
        if first:
            out.append("\n\n")
        row = lines[first:first + per_row]
        for number in range(height):
            line = Text()
            for cell in row:
                part = cell[number] if number < len(cell) else Text()
                line.append_text(part)
                line.append(" " * (cell_width - part.cell_len + gap))
            line.rstrip()
            out.append_text(line)
            if number < height - 1:
                out.append("\n")
    return out


def caption(text: str | Text, width: int = 28) -> Text:
    """A caption cut to the drawing's width (an ellipsis shows it was cut)."""
    line = text.copy() if isinstance(text, Text) else Text(text)
    line.truncate(width, overflow="ellipsis")
    return line


def size_text(size: int) -> str:
    """Bytes for people (SI units, as file managers show them): 830 -> "830 B", 12_345 -> "12.3 kB",
    4_200_000 -> "4.2 MB"."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
