"""Test digits drawn as characters, each captioned with its true label, prediction and confidence
(or, for an autoencoder, beside its reconstruction, drawn alike, captioned with its error).

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
#: gap between an input and its reconstruction, in cells
PAIR_GAP = 1


@lru_cache(maxsize=_LEVELS * _LEVELS)
def _cell_style(top: int, bottom: int) -> Style:
    """Upper pixel as the foreground, lower pixel as the background of one "▀" cell."""
    def grey(level: int) -> Color:
        value = level * 255 // (_LEVELS - 1)
        return Color.from_rgb(value, value, value)
    return Style(color=grey(top), bgcolor=grey(bottom))


def halfblock_rows(image: np.ndarray, remember: bool = True) -> list[list[Segment]]:
    """An (H, W) image as ceil(H/2) rows of W "▀" cells, each showing two pixels' grey levels.

    Neighbouring cells of the same greys share one segment (a digit is mostly background),
    so a terminal line of digits is a few dozen segments, not hundreds. The same pixels give
    the same rows: the probe's images come back every epoch, so their rows are remembered
    (unless not `remember`: a picture that is seen once, such as a drawing, would push them out).
    """
    if not remember:
        return _halfblock_rows(np.asarray(image))
    pixels = np.ascontiguousarray(image)
    key = (pixels.shape, pixels.dtype.str, pixels.tobytes())
    rows = _drawn_images.get(key)
    if rows is None:
        rows = _halfblock_rows(pixels)
        if len(_drawn_images) >= _DRAWN_IMAGES:
            _drawn_images.pop(next(iter(_drawn_images)))
        _drawn_images[key] = rows
    return rows


#: images whose half-block rows are remembered (a probe set and a few pages of reconstructions)
_DRAWN_IMAGES = 1024
_drawn_images: dict[tuple, list[list[Segment]]] = {}


def _halfblock_rows(image: np.ndarray) -> list[list[Segment]]:
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
    """One probe image and what the model made of it (`predicted` None before any prediction), or, for a
    model that reconstructs its input, that reconstruction (a grey image in [0, 1]) and its error."""

    image: np.ndarray
    true_label: str
    predicted: str | None = None
    confidence: float | None = None
    reconstruction: np.ndarray | None = None
    error: float | None = None

    @property
    def correct(self) -> bool | None:
        return None if self.predicted is None else self.predicted == self.true_label

    @property
    def width(self) -> int:
        """Cells across: the image's width, or twice it (and a gap) with the reconstruction beside it."""
        width = self.image.shape[1]
        return width * 2 + PAIR_GAP if self.reconstruction is not None else width

    def caption(self, width: int) -> Text:
        """"✓ 7 → 7  98%" in green, "✗ 3 → 5  61%" in bold reverse red, "7 · input → output · MSE 0.0123"
        under a reconstruction, or "label 7" before predictions; exactly `width` cells."""
        text = Text()
        if self.reconstruction is not None:
            text.append(f"{self.true_label} · input → output · ", style="dim")
            text.append(f"MSE {self.error:.4f}", style="bold")
        elif self.predicted is None:
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
    width, each line made a Strip only when it is first shown: a page of digits is thousands
    of cells, too many to push through rich Text spans on every repaint, and a small terminal
    shows a few of its lines.
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
        self._rows: list[list[Segment]] = []
        self._strips: dict[int, Strip] = {}  # line number -> its strip, made when first shown
        self._drawn_for: tuple | None = None  # (width, ascii, base style) the rows were drawn for

    def on_mount(self) -> None:
        """Follow the app's colour mode: Textual reads NO_COLOR when the app starts."""
        self.ascii = self.ascii or bool(getattr(self.app, "no_color", False))

    @property
    def cards(self) -> list[DigitCard]:
        return list(self._cards)

    def show(self, cards: list[DigitCard]) -> None:
        """Replace the cards and redraw (the only way cards change, so the drawing is cached until then).
        The screen is laid out again only if the cards take another height or width."""
        shape = (len(self._cards), self.card_width, self._card_height())
        self._cards = list(cards)
        self._drawn_for = None
        self.refresh(layout=shape != (len(self._cards), self.card_width, self._card_height()))

    def watch_ascii(self) -> None:
        """Called when ascii is updated: every card is drawn again in the other style."""
        self._drawn_for = None
        self.refresh()

    # ------------------------------------------------------------------ layout
    @property
    def card_width(self) -> int:
        """Cells across one card (the widest shown)."""
        return max((card.width for card in self._cards), default=28)

    def _card_height(self) -> int:
        return max(((card.image.shape[0] + 1) // 2 for card in self._cards), default=14) + 2  # caption + space

    def _columns(self, width: int) -> int:
        return max(1, (width + GAP) // (self.card_width + GAP))

    def get_content_height(self, container, viewport, width: int) -> int:
        rows = -(-len(self._cards) // self._columns(width)) if self._cards else 1
        return rows * self._card_height()

    # ------------------------------------------------------------------ drawing
    def lines(self, width: int) -> list[list[Segment]]:
        """The drawing as rows of segments, for `width` cells (what `render_line` shows, before padding)."""
        base = self.rich_style
        if not self._cards:
            return [list(Text("No test images to show yet.", style="dim").render(self.app.console))]
        card_width, columns = self.card_width, self._columns(width)
        gap = Segment(" " * GAP, base)
        rows: list[list[Segment]] = []
        for start in range(0, len(self._cards), columns):
            cards = self._cards[start:start + columns]
            drawn = [self._card_rows(card, base) for card in cards]
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

    def _card_rows(self, card: DigitCard, base: Style) -> list[list[Segment]]:
        """The card's image, and its reconstruction beside it if it has one, drawn alike."""
        rows = self._image_rows(card.image, base)
        if card.reconstruction is None:
            return rows
        gap = Segment(" " * PAIR_GAP, base)
        return [left + [gap] + right for left, right in zip(rows, self._image_rows(card.reconstruction, base))]

    def _image_rows(self, image: np.ndarray, base: Style) -> list[list[Segment]]:
        if self.ascii:
            return [[Segment(line, base)] for line in digit_lines(image, mode="ascii")]
        return halfblock_rows(image)

    def render_line(self, y: int) -> Strip:
        width = self.size.width or 80
        key = (width, self.ascii, self.rich_style)
        if self._drawn_for != key:
            self._rows, self._strips, self._drawn_for = self.lines(width), {}, key
        strip = self._strips.get(y)
        if strip is None:
            if y >= len(self._rows):
                return Strip.blank(width, self.rich_style)
            strip = self._strips[y] = Strip(self._rows[y]).extend_cell_length(width, self.rich_style).crop(0, width)
        return strip
