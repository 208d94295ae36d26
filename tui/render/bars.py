"""A model's class probabilities as one bar per class, for the studio's Draw pane and `nnstudio predict --image`.

    probability_bars(("0", "1", ...), probabilities, width=40)   -> one Text line per class:
        "   7 ███████████████████▌  93%"   (the likeliest bold; eighth blocks, or '#' without Unicode)

The bar's length is the probability (the whole width is 100%), so the bars of two classes compare
at a glance; the percentage is written beside it, so the figure survives a terminal without colour.
With more classes than `rows`, the likeliest are shown, in class order, and a last line counts the rest.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from rich.cells import cell_len
from rich.text import Text

#: partial blocks, from an eighth to a whole
EIGHTHS = " ▏▎▍▌▋▊▉█"
#: the widest class name drawn whole (Fashion-MNIST's "T-shirt/top" is 11)
NAME_WIDTH = 12


def bar(fraction: float, width: int, unicode: bool = True) -> str:
    """A bar of `width` cells filled to `fraction` (eighths of a cell with Unicode, '#' cells without)."""
    fraction = min(max(float(np.nan_to_num(fraction)), 0.0), 1.0)
    if not unicode:
        return ("#" * int(round(fraction * width))).ljust(width)
    eighths = int(round(fraction * width * 8))
    whole, part = divmod(eighths, 8)
    return ("█" * whole + (EIGHTHS[part] if part else "")).ljust(width)


def probability_bars(names: Sequence[str], probabilities: np.ndarray, width: int, *, rows: int | None = None,
                     unicode: bool = True, colour: str = "green") -> list[Text]:
    """One line per class, `width` cells each: its name, its bar, its percentage; the likeliest in bold colour."""
    p = np.nan_to_num(np.asarray(probabilities, dtype=np.float64).reshape(-1))
    shown = np.arange(len(p))
    if rows is not None and len(p) > max(rows, 1):
        keep = max(rows - 1, 1)
        shown = np.sort(np.argsort(-p, kind="stable")[:keep])
    name_width = min(max((cell_len(str(names[k])) for k in shown), default=1), NAME_WIDTH)
    bar_width = max(width - name_width - 6, 1)
    best = int(np.argmax(p)) if len(p) else -1
    lines = []
    for k in shown:
        name = str(names[k])
        if cell_len(name) > name_width:
            name = name[:name_width - 1] + ("…" if unicode else "~")
        style = f"bold {colour}" if k == best else ""
        line = Text(name.rjust(name_width) + " ", style="bold" if k == best else "")
        line.append(bar(p[k], bar_width, unicode), style=style)
        line.append(f" {p[k]:4.0%}", style="bold" if k == best else "")
        lines.append(line)
    if len(shown) < len(p):
        rest = float(p.sum() - p[shown].sum())
        lines.append(Text(f"{len(p) - len(shown)} more classes, {rest:.0%} in all", style="dim"))
    return lines
