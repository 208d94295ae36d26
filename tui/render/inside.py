"""Drawing any inside view (`nnstudio.tui.run.inside`) in width x height terminal cells, for the studio's
Inside pane and `nnstudio inspect` alike.

    grid_for(view, width, height)            -> the `look` options that fit the space (the plane's grid, the walk)
    draw(result, width, height, mono=False)  -> Rich Text lines, at most `height`, none wider than `width`

`mono` draws for NO_COLOR and pipes: every picture then reads from its characters alone.
"""

from __future__ import annotations

from rich.text import Text

from .cells import clip
from .inside_charts import confusion_lines, distributions_lines, gradcheck_lines, gradient_flow_lines, weights_lines
from .inside_plane import (boundary_lines, fit_lines, latent_lines, neuron_grid, neurons_lines, plane_size,
                           walk_steps)


def grid_for(view: str, width: int, height: int) -> dict:
    """The options of `look` that make a view fit `width` x `height` cells."""
    if view == "boundary":
        cols, rows = plane_size(width, height)
        return {"cols": cols, "rows": rows}
    if view == "neurons":
        cols, rows = neuron_grid(width, height)
        return {"cols": cols, "rows": rows}
    if view == "latent":
        return {"steps": walk_steps(width, height)}
    return {}


#: each character the views draw outside ASCII, and the ASCII one that stands for it (one for one, so styles
#: keep their places): a terminal or a pipe that cannot encode Unicode would print "?" for all of them
ASCII = str.maketrans({"░": "-", "▒": "=", "▓": "+", "█": "#", "·": ".", "∘": ":", "○": "o", "●": "@",
                       "▁": "_", "▂": "_", "▃": ".", "▄": "-", "▅": "=", "▆": "=", "▇": "*", "≈": "~",
                       "≡": "=", "°": "o", "→": ">", "↑": "^", "↓": "v", "…": "~", "×": "x", "┃": "|",
                       "─": "-", "σ": "s"})


def draw(result, width: int, height: int, mono: bool = False, *, other: bool = False, page: int = 0,
         keys: str = "studio", ascii_only: bool = False) -> list[Text]:
    """`result` of `look` as lines; `other` shows the other half of a view (test points, the latent walk),
    `page` the page of a view of many pictures; titles say how to see more with `keys`, "studio" or "cli";
    `ascii_only` for a terminal that cannot show anything else."""
    width, height = max(width, 10), max(height, 3)
    view = result.view
    if view == "boundary":
        lines = (fit_lines if hasattr(result, "values") else boundary_lines)(result, width, height, mono, other, keys)
    elif view == "neurons":
        lines = neurons_lines(result, width, height, mono, page, keys)
    elif view == "weights":
        lines = weights_lines(result, width, height, mono, page, keys)
    elif view == "distributions":
        lines = distributions_lines(result, width, height, mono, keys)
    elif view == "gradient-flow":
        lines = gradient_flow_lines(result, width, height, mono)
    elif view == "latent":
        lines = latent_lines(result, width, height, mono, other, keys)
    elif view == "confusion":
        lines = confusion_lines(result, width, height, mono, keys)
    elif view == "gradcheck":
        lines = gradcheck_lines(result, width, height, mono, keys)
    else:
        lines = [Text(f"no drawing for the view {view!r}")]
    lines = [clip(line, width) for line in lines[:height]]
    return [in_ascii(line) for line in lines] if ascii_only else lines


def in_ascii(line: Text) -> Text:
    """The same line with every character outside ASCII replaced by its stand-in (ASCII), styles kept."""
    plain = line.plain.translate(ASCII).encode("ascii", "replace").decode("ascii")
    return Text(plain, style=line.style, spans=list(line.spans), end=line.end)


def message_lines(text: str, width: int) -> list[Text]:
    """A one-line message (why a view does not apply), wrapped to the width."""
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(Text(line))
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(Text(line))
    return [clip(line, width) for line in lines]
