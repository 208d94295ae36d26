"""A confusion matrix drawn for the predictions pane: counts, per-class accuracy, and which examples it counts.

Drawn as styled text in fixed-width columns, not as a rich Table: a table is laid out again
for every measure and repaint of the widget showing it (milliseconds each), and the pane is
repainted whenever it is shown, while the interface thread shares the interpreter with training.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from rich.text import Text

#: a class name over a column is cut to this many characters
COLUMN_NAME = 5
#: named columns are used while the cells take at most this many characters; else the columns are numbered
NAMED_COLUMNS_WIDTH = 48


def confusion_view(matrix: np.ndarray | None, names: Sequence[str], source: str,
                   expected: bool = True) -> tuple[Text, int]:
    """The matrix under a title naming its examples ("confusion · validation set (6,000)"), and the width
    it needs; a line saying it comes after the first epoch (if `expected`) when there is none.

    Rows are the true classes, columns the predicted ones, then each class's accuracy; right
    answers in green, confusions in red, empty cells as dots.
    """
    if matrix is None:
        text = "Confusion matrix: after the first epoch." if expected else ""
        return Text(text, style="dim"), len(text)
    matrix = np.asarray(matrix)
    classes = matrix.shape[0]
    names = [names[i] if i < len(names) else str(i) for i in range(classes)]
    counts = max(len(str(int(matrix.max()))), len(str(classes - 1)))
    columns = [name[:COLUMN_NAME] for name in names]   # the classes' names over the columns, when they fit
    cell = max(counts, *(len(name) for name in columns)) + 1
    if any(name != str(i) for i, name in enumerate(names)) and classes * cell > NAMED_COLUMNS_WIDTH:
        columns, cell = [str(j) for j in range(classes)], counts + 1   # else numbers, which the rows then name
        labels = [f"{name[:8]} {i}" if name != str(i) else name for i, name in enumerate(names)]
    else:
        labels = [name[:8] for name in names]
    label_width = max(len(name) for name in labels)
    title = f"confusion · {source} ({int(matrix.sum()):,})"
    caption = "rows: true · columns: predicted"
    text = Text(title, style="bold")
    text.append("\n" + " " * label_width + "".join(name.rjust(cell) for name in columns) + "  acc", style="bold")
    for i in range(classes):
        text.append("\n")
        text.append(labels[i].rjust(label_width), style="bold")
        for j in range(classes):
            value = int(matrix[i, j])
            style = "bold green" if i == j else ("red" if value else "dim")
            text.append((str(value) if value or i == j else "·").rjust(cell), style=style)
        total = int(matrix[i].sum())
        text.append((f"{matrix[i, i] / total:.0%}" if total else "-").rjust(5), style="bold")
    text.append("\n" + caption, style="dim")
    return text, max(label_width + classes * cell + 5, len(title), len(caption))
