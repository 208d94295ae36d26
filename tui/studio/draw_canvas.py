"""The Draw pane's canvas: 28x28 pixels of ink drawn with half-blocks, two pixel rows to a terminal row.

Drawn with the mouse where the terminal sends mouse events (the left button paints, the right
button, or the left with shift, ctrl or alt, erases; a drag draws the line between the points
it passes), and from the keyboard alone: the arrows move a cursor, space paints under it
(the canvas takes space while it has the focus: escape gives the focus back to the tab bar,
where space trains), backspace erases under it, shift+arrows move erasing, `p` lowers or
lifts the pen (lowered, every move draws), `e` turns the pen into an eraser and back, `c`
clears, `+` and `-` change the brush (1 to 3). Every change posts `Changed`.

A stroke is its distance field: a pixel's ink is how far inside the brush's radius the stroke's
segment passes its centre (soft at the edge, as MNIST's anti-aliased strokes are), computed for
all 784 pixels at once. Each cell shows its two pixels as the upper half-block's foreground and
background grey; without colour (NO_COLOR) a block character by a threshold, the cursor in reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from ..render import digit_lines

#: pixels across and down
SIDE = 28
#: brush size -> its radius in pixels (2: a stroke about as wide as MNIST's)
BRUSHES = {1: 0.6, 2: 1.1, 3: 1.6}
DEFAULT_BRUSH = 2
#: grey levels drawn (32 look like 256 on a terminal, and the styles cache well)
_LEVELS = 32
#: the cursor's colour while painting and while erasing; the brush's footprint is tinted half-way to it
PAINT_COLOUR, ERASE_COLOUR = (255, 150, 0), (0, 170, 255)
_MOVES = (("up", -1, 0), ("down", 1, 0), ("left", 0, -1), ("right", 0, 1))


def stroke_ink(start: tuple[float, float], end: tuple[float, float], radius: float, side: int = SIDE) -> np.ndarray:
    """(side, side) ink of a stroke from `start` to `end` ((row, column) in pixel units, pixel i spanning
    [i, i+1)): 1 within `radius` of the segment, fading to 0 over the next pixel."""
    centres = np.arange(side, dtype=np.float64) + 0.5
    py, px = centres[:, None], centres[None, :]
    (ay, ax), (by, bx) = start, end
    dy, dx = by - ay, bx - ax
    length = dy * dy + dx * dx
    t = np.clip(((py - ay) * dy + (px - ax) * dx) / length, 0.0, 1.0) if length else 0.0
    distance = np.hypot(py - (ay + t * dy), px - (ax + t * dx))
    return np.clip(radius + 0.5 - distance, 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=4096)
def _cell_style(top: int, top_tint: int, bottom: int, bottom_tint: int, erasing: bool) -> Style:
    """A "▀" cell: the upper pixel's grey as the foreground, the lower's as the background; tint 1 (under
    the brush) mixes in half the cursor's colour, tint 2 (the cursor) is that colour."""
    colour = ERASE_COLOUR if erasing else PAINT_COLOUR

    def rgb(level: int, tint: int) -> Color:
        grey = level * 255 // (_LEVELS - 1)
        if tint == 2:
            return Color.from_rgb(*colour)
        if tint == 1:
            return Color.from_rgb(*((grey + c) // 2 for c in colour))
        return Color.from_rgb(grey, grey, grey)

    return Style(color=rgb(top, top_tint), bgcolor=rgb(bottom, bottom_tint))


class DrawCanvas(Widget, can_focus=True):
    """28x28 pixels to draw a digit on, with a keyboard cursor and the mouse."""

    DEFAULT_CSS = """
    DrawCanvas {
        width: 30;
        height: 16;
        border: round $secondary;
    }
    DrawCanvas:focus {
        border: round $accent;
    }
    """
    HELP_TITLE = "Canvas"
    BINDINGS = [
        *(Binding(key, f"move({dr}, {dc})", key.title(), show=False, id=f"draw.move-{key}",
                  tooltip="Move the cursor (drawing as it goes while the pen is down)") for key, dr, dc in _MOVES),
        *(Binding(f"shift+{key}", f"move({dr}, {dc}, True)", f"Erase {key}", show=False, id=f"draw.erase-{key}",
                  tooltip="Move the cursor, erasing as it goes") for key, dr, dc in _MOVES),
        Binding("space", "dab", "Paint", id="draw.dab",
                tooltip="Paint under the cursor (erase, with the eraser). The canvas has space while it has the "
                        "focus: escape, then space trains"),
        Binding("backspace,delete", "dab(True)", "Erase", show=False, id="draw.erase",
                tooltip="Erase under the cursor"),
        Binding("p", "pen", "Pen", id="draw.pen", tooltip="Lower the pen (every move draws) or lift it"),
        Binding("e", "eraser", "Eraser", id="draw.eraser", tooltip="Turn the pen into an eraser, or back"),
        Binding("plus,equals_sign", "bigger", "Brush+", key_display="+", id="draw.brush-up",
                tooltip="A larger brush (sizes 1 to 3)"),
        Binding("minus", "smaller", "Brush-", key_display="-", id="draw.brush-down",
                tooltip="A smaller brush (sizes 1 to 3)"),
        Binding("c", "clear", "Clear", id="draw.clear", tooltip="Clear the canvas"),
    ]

    @dataclass
    class Changed(Message):
        """The canvas changed: its pixels, its cursor or its pen (`version` counts the pixels' changes)."""

        canvas: "DrawCanvas"
        version: int

        @property
        def control(self) -> "DrawCanvas":
            return self.canvas

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pixels = np.zeros((SIDE, SIDE), np.float32)
        """The ink, in [0, 1] (read it on the interface thread; `snapshot` for a copy)."""
        self.version = 0
        """Counts the changes of the pixels."""
        self.cursor = (SIDE // 2, SIDE // 2)
        self.brush = DEFAULT_BRUSH
        self.pen_down = False
        self.eraser = False
        self._drag: tuple[tuple[float, float], bool] | None = None   # the mouse's last point, and whether it erases
        self._strips: list[Strip] | None = None
        self._blank = True

    # ------------------------------------------------------------------ drawing on it
    def snapshot(self) -> tuple[int, np.ndarray]:
        """(version, a copy of the pixels)."""
        return self.version, self.pixels.copy()

    def draw(self, start: tuple[float, float], end: tuple[float, float] | None = None, erase: bool = False,
             radius: float | None = None) -> None:
        """Paint (or erase) a stroke from `start` to `end` (a dab at `start` without one), in pixel units."""
        ink = stroke_ink(start, start if end is None else end, BRUSHES[self.brush] if radius is None else radius)
        if erase:
            np.minimum(self.pixels, 1.0 - ink, out=self.pixels)
        else:
            np.maximum(self.pixels, ink, out=self.pixels)
        self._changed(pixels=True)

    def clear(self) -> None:
        self.pixels[...] = 0.0
        self._changed(pixels=True)

    def _changed(self, pixels: bool = False) -> None:
        if pixels:
            self.version += 1
            if self._blank != (blank := not self.pixels.any()):   # `c` is greyed on an empty canvas
                self._blank = blank
                self.refresh_bindings()
        self._strips = None
        self.refresh()
        self.post_message(self.Changed(self, self.version))

    def _centre(self, cell: tuple[int, int] | None = None) -> tuple[float, float]:
        row, col = self.cursor if cell is None else cell
        return row + 0.5, col + 0.5

    # ------------------------------------------------------------------ keys
    def action_move(self, rows: int, cols: int, erase: bool = False) -> None:
        """Move the cursor a pixel; with the pen down (or erasing) draw the way from where it was."""
        before = self.cursor
        self.cursor = (min(max(before[0] + rows, 0), SIDE - 1), min(max(before[1] + cols, 0), SIDE - 1))
        if erase or self.pen_down:
            self.draw(self._centre(before), self._centre(), erase=erase or self.eraser)
        else:
            self._changed()

    def action_dab(self, erase: bool = False) -> None:
        """Paint under the cursor (or erase: with the eraser, or asked to)."""
        self.draw(self._centre(), erase=erase or self.eraser)

    def action_pen(self) -> None:
        """Lower the pen (it draws where it is, then wherever it moves) or lift it."""
        self.pen_down = not self.pen_down
        if self.pen_down:
            self.action_dab()
        else:
            self._changed()
        self.refresh_bindings()

    def action_eraser(self) -> None:
        self.eraser = not self.eraser
        self._changed()
        self.refresh_bindings()

    def action_bigger(self) -> None:
        self._resize_brush(1)

    def action_smaller(self) -> None:
        self._resize_brush(-1)

    def _resize_brush(self, step: int) -> None:
        self.brush = min(max(self.brush + step, min(BRUSHES)), max(BRUSHES))
        self._changed()
        self.refresh_bindings()

    def action_clear(self) -> None:
        self.clear()

    def refusal(self, action: str) -> str | None:
        """Why a key of the canvas cannot act now (None if it can): greyed in the footer, said when pressed."""
        if action == "clear" and not self.pixels.any():
            return "The canvas is empty already: there is nothing to clear."
        if action == "bigger" and self.brush == max(BRUSHES):
            return f"The brush is at its largest ({self.brush}): - makes it smaller."
        if action == "smaller" and self.brush == min(BRUSHES):
            return f"The brush is at its smallest ({self.brush}): + makes it larger."
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if self.refusal(action) is not None else True

    # ------------------------------------------------------------------ the mouse
    def _point(self, event: events.MouseEvent) -> tuple[float, float]:
        """The event's place in pixel units: a cell's centre, or the exact point where the terminal reports
        pixels (two pixel rows to a cell)."""
        x, y = event.pointer_x - self.gutter.left, event.pointer_y - self.gutter.top
        if float(x).is_integer() and float(y).is_integer():
            x, y = x + 0.5, y + 0.5
        return min(max(y * 2, 0.0), float(SIDE)), min(max(x, 0.0), float(SIDE))

    def _follow(self, point: tuple[float, float]) -> None:
        self.cursor = (min(int(point[0]), SIDE - 1), min(int(point[1]), SIDE - 1))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button not in (1, 3):
            return
        erase = event.button == 3 or event.shift or event.ctrl or event.meta or self.eraser
        point = self._point(event)
        self._drag = (point, erase)
        self.capture_mouse()
        self._follow(point)
        self.draw(point, erase=erase)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag is None:
            return
        (last, erase), point = self._drag, self._point(event)
        if point != last:
            self._drag = (point, erase)
            self._follow(point)
            self.draw(last, point, erase=erase)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag is not None:
            self._drag = None
            self.release_mouse()

    def on_blur(self) -> None:
        self._drag = None

    # ------------------------------------------------------------------ showing it
    def render_line(self, y: int) -> Strip:
        if self._strips is None:
            self._strips = self._draw_strips()
        return self._strips[y] if 0 <= y < len(self._strips) else Strip.blank(self.size.width, self.rich_style)

    def _draw_strips(self) -> list[Strip]:
        row, col = self.cursor
        if getattr(self.app, "no_color", False):   # ink or none, as `predict` draws digits; the cursor reversed
            base, strips = self.rich_style, []
            for line, text in enumerate(digit_lines(self.pixels, "blocks")):
                segments = [Segment(text, base)] if line != row // 2 else \
                    [Segment(text[:col], base), Segment(text[col], base + Style(reverse=True)),
                     Segment(text[col + 1:], base)]
                strips.append(Strip(segments, SIDE))
            return strips
        footprint = stroke_ink(self._centre(), self._centre(), BRUSHES[self.brush]) >= 0.5
        tint = footprint.astype(np.int8)
        tint[row, col] = 2
        levels = np.rint(np.clip(self.pixels, 0.0, 1.0) * (_LEVELS - 1)).astype(int).tolist()
        tints, strips = tint.tolist(), []
        for line in range(SIDE // 2):
            top, bottom = 2 * line, 2 * line + 1
            segments = [Segment("▀", _cell_style(levels[top][x], tints[top][x], levels[bottom][x], tints[bottom][x],
                                                 self.eraser)) for x in range(SIDE)]
            strips.append(Strip(Segment.simplify(segments), SIDE))
        return strips
