"""Test digits drawn as characters, each captioned with its true label, prediction and confidence.

A 28x28 image becomes 28x14 cells of "▀": the upper half-block's foreground is the upper
pixel's grey, its background the lower pixel's, so every pixel is shown and nothing needs a
graphics protocol, which an SSH session rarely has. Monochrome terminals (and NO_COLOR, where
Textual strips colour) cannot show greys that way, so there each cell is a character of an
ASCII ramp chosen by the two pixels' mean brightness.

Right and wrong are told apart twice, by colour and by a ✓/✗ mark, so they survive a
terminal without colour. The ASCII drawing and the reading of pixels are the command line's
(`nnstudio.tui.render`), so `nnstudio predict` and the studio draw a digit alike; the grey
half-blocks are the studio's own, since they need colours (styles), which plain text has not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..render import digit_lines, ink


#: grey levels kept for half-blocks: 32 is indistinguishable from 256 on a terminal, and caches well
_LEVELS = 32
#: gap between two cards, in cells
GAP = 2


@lru_cache(maxsize=_LEVELS * _LEVELS)
def _cell_style(top: int, bottom: int) -> Style:
    """Upper pixel as the foreground, lower pixel as the background of one "▀" cell."""
    def grey(level: int) -> Color:
        value = level * 255 // (_LEVELS - 1)
        return Color.from_rgb(value, value, value)
    return Style(color=grey(top), bgcolor=grey(bottom))


def halfblock_rows(image: np.ndarray) -> list[list[Segment]]:
    """An (H, W) image as ceil(H/2) rows of W "▀" cells, each showing two pixels' grey levels.

    Neighbouring cells of the same greys share one segment (a digit is mostly background),
    so a terminal line of digits is a few dozen segments, not hundreds.
    """
    grey = np.clip(ink(image), 0.0, 1.0)
    if grey.shape[0] % 2:
        grey = np.vstack([grey, np.zeros((1, grey.shape[1]), dtype=grey.dtype)])
    levels = np.rint(grey * (_LEVELS - 1)).astype(int)
    rows = []
    for top_row, bottom_row in zip(levels[0::2], levels[1::2]):
        segments: list[Segment] = []
        run, style = 0, None
        for top, bottom in zip(top_row.tolist(), bottom_row.tolist()):
            cell = _cell_style(top, bottom)
            if cell is not style and run:
                segments.append(Segment("▀" * run, style))
                run = 0
            run, style = run + 1, cell
        segments.append(Segment("▀" * run, style))
        rows.append(segments)
    return rows


@dataclass(frozen=True)
class DigitCard:
    """One probe image and what the model made of it (`predicted` None before any prediction)."""

    image: np.ndarray
    true_label: str
    predicted: str | None = None
    confidence: float | None = None

    @property
    def correct(self) -> bool | None:
        return None if self.predicted is None else self.predicted == self.true_label

    def caption(self, width: int) -> Text:
        """"✓ 7 → 7  98%" in green, "✗ 3 → 5  61%" in bold reverse red, or "label 7" before predictions;
        exactly `width` cells."""
        text = Text()
        if self.predicted is None:
            text.append(f"label {self.true_label}", style="dim")
        elif self.correct:
            text.append(f"✓ {self.true_label} → {self.predicted}  {self.confidence:.0%}", style="bold green")
        else:
            text.append(f"✗ {self.true_label} → {self.predicted}  {self.confidence:.0%}", style="bold red reverse")
        text.truncate(width, overflow="ellipsis", pad=True)
        return text


class DigitGrid(Widget):
    """As many digit cards per row as the width allows, each `image width` cells wide.

    Drawn with the line API (`render_line`) from segments built once per set of cards and
    width: a page of digits is thousands of cells, too many to push through rich Text spans
    on every repaint.
    """

    DEFAULT_CSS = """
    DigitGrid {
        height: auto;
    }
    """

    ascii: reactive[bool] = reactive(False)
    """Draw with the ASCII ramp instead of grey half-blocks (monochrome terminals, NO_COLOR)."""

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._cards: list[DigitCard] = []
        self._strips: list[Strip] = []
        self._drawn_for: tuple | None = None  # (width, ascii, base style) the strips were drawn for

    def on_mount(self) -> None:
        """Follow the app's colour mode: Textual reads NO_COLOR when the app starts."""
        self.ascii = self.ascii or bool(getattr(self.app, "no_color", False))

    @property
    def cards(self) -> list[DigitCard]:
        return list(self._cards)

    def show(self, cards: list[DigitCard]) -> None:
        """Replace the cards and redraw (the only way cards change, so the drawing is cached until then)."""
        self._cards = list(cards)
        self._drawn_for = None
        self.refresh(layout=True)

    def watch_ascii(self) -> None:
        """Called when ascii is updated: every card is drawn again in the other style."""
        self._drawn_for = None
        self.refresh()

    # ------------------------------------------------------------------ layout
    def _card_width(self) -> int:
        return max((card.image.shape[1] for card in self._cards), default=28)

    def _card_height(self) -> int:
        return max(((card.image.shape[0] + 1) // 2 for card in self._cards), default=14) + 2  # caption + space

    def _columns(self, width: int) -> int:
        return max(1, (width + GAP) // (self._card_width() + GAP))

    def get_content_height(self, container, viewport, width: int) -> int:
        rows = -(-len(self._cards) // self._columns(width)) if self._cards else 1
        return rows * self._card_height()

    # ------------------------------------------------------------------ drawing
    def lines(self, width: int) -> list[list[Segment]]:
        """The drawing as rows of segments, for `width` cells (what `render_line` shows, before padding)."""
        base = self.rich_style
        if not self._cards:
            return [list(Text("No test images to show yet.", style="dim").render(self.app.console))]
        card_width, columns = self._card_width(), self._columns(width)
        gap = Segment(" " * GAP, base)
        rows: list[list[Segment]] = []
        for start in range(0, len(self._cards), columns):
            cards = self._cards[start:start + columns]
            drawn = [self._image_rows(card.image, base) for card in cards]
            for i in range(max(len(d) for d in drawn)):
                line: list[Segment] = []
                for j, d in enumerate(drawn):
                    line += ([gap] if j else []) + (d[i] if i < len(d) else [Segment(" " * card_width, base)])
                rows.append(line)
            caption: list[Segment] = []
            for j, card in enumerate(cards):
                caption += ([gap] if j else []) + list(Segment.apply_style(
                    card.caption(card_width).render(self.app.console), base))
            rows += [caption, []]
        return rows

    def _image_rows(self, image: np.ndarray, base: Style) -> list[list[Segment]]:
        if self.ascii:
            return [[Segment(line, base)] for line in digit_lines(image, mode="ascii")]
        return halfblock_rows(image)

    def render_line(self, y: int) -> Strip:
        width = self.size.width or 80
        key = (width, self.ascii, self.rich_style)
        if self._drawn_for != key:
            self._strips = [Strip(row).extend_cell_length(width, self.rich_style).crop(0, width)
                            for row in self.lines(width)]
            self._drawn_for = key
        return self._strips[y] if y < len(self._strips) else Strip.blank(width, self.rich_style)
