"""Drawing the views of the plane: the decision boundary (or a regression's fit), each unit's map, and an
autoencoder's latent space. Every function returns Rich Text lines that fit `width` x `height` cells.

Without colour (`mono`), a class region is filled with its own pair of marks (unsure, sure: FILLS)
and a point is written as its class's mark (0, 1, 2...), so a point in a region of another fill is a
mistake; with colour, regions are coloured by class (brighter where the model is sure) and points
drawn as dots in their class's bright colour.
"""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text

from .cells import (FILLS, SEQUENTIAL, Canvas, after_activation, class_colour, hint, class_mark, clip, diverging, field_lines, normalised,
                    sequential, shrink)

#: a cell is "sure" when its class's probability is at least this far from a tie, as a share of the way to 1
SURE = 0.6
#: the smallest unit map that still shows a shape
THUMB_COLS, THUMB_ROWS = 10, 5


def plane_size(width: int, height: int) -> tuple[int, int]:
    """(cols, rows) of the boundary's grid in a space of width x height cells (a title and a legend line)."""
    return max(width, 8), max(height - 2, 3)


def to_cells(points: np.ndarray, box, cols: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (n, 2) to (col, row) cells of the grid over `box`, and which fall inside it."""
    x_low, x_high, y_low, y_high = box
    c = np.floor((points[:, 0] - x_low) / (x_high - x_low) * cols).astype(int)
    r = np.floor((y_high - points[:, 1]) / (y_high - y_low) * rows).astype(int)
    inside = (c >= 0) & (c < cols) & (r >= 0) & (r < rows)
    return c, r, inside


def boundary_lines(view, width: int, height: int, mono: bool, test: bool = False, keys: str = "studio") -> list[Text]:
    """A classifier's regions over the plane with the training (or test) points over them."""
    rows, cols, classes = view.probabilities.shape
    predicted, confidence = view.predicted, view.confidence
    sure = (confidence - 1 / classes) / (1 - 1 / classes) >= SURE
    canvas = Canvas(rows, cols)
    for k in np.unique(predicted).tolist():
        for is_sure in (False, True):
            at = np.nonzero((predicted == k) & (sure == is_sure))
            if mono:
                canvas.put(*at, FILLS[k % len(FILLS)][int(is_sure)])
            elif is_sure:   # a solid field of the class's colour
                canvas.put(*at, " ", Style(bgcolor=class_colour(k)))
            else:           # a light texture of it: 16 colours have no paler shade
                canvas.put(*at, "░", Style(color=class_colour(k)))
    points, labels = view.test if test else view.train
    c, r, inside = to_cells(points, view.box, cols, rows)
    c, r, labels = c[inside], r[inside], np.asarray(labels)[inside].astype(int)
    for k in np.unique(labels).tolist():   # a point is its class's mark; in colour, on its class's colour too
        mine = labels == k
        canvas.put(r[mine], c[mine], class_mark(k), None if mono else _point_style(k))
    which = "test" if test else "training"
    accuracy = view.test_accuracy if test else view.train_accuracy
    title = Text.assemble(("Decision boundary", "bold"), f" · {which} points {accuracy:.1%} right"
                          f"{hint(keys, 'train' if test else 'test')}")
    return [clip(title, width), *canvas.lines()[: max(height - 2, 0)],
            clip(_class_legend(view.class_names, mono), width)]


def _class_legend(names: tuple[str, ...], mono: bool) -> Text:
    legend = Text()
    for k, name in enumerate(names):
        if mono:
            unsure, sure = FILLS[k % len(FILLS)]
            named = "" if name == class_mark(k) else f" {name}"
            legend.append(f"{class_mark(k)}{named}: {sure} sure, {unsure} unsure   ")
        else:
            legend.append(class_mark(k), _point_style(k))
            legend.append("" if name == class_mark(k) else f" {name}")
            legend.append("  ")
    if not mono:
        legend.append("(regions: solid where sure, ░ where unsure)")
    return legend


def _point_style(k: int) -> Style:
    """A point of class k: its mark in black on the class's colour (a theme may draw a colour and its bright
    version alike, so a coloured dot could vanish on its own region; a dark mark never does)."""
    return Style(color="black", bgcolor=class_colour(k), bold=True)


def fit_lines(view, width: int, height: int, mono: bool, test: bool = False, keys: str = "studio") -> list[Text]:
    """A regression's fit: the curve over its data (one feature), or the surface as a heat map (two)."""
    which = "test" if test else "training"
    points, targets = view.test if test else view.train
    title = Text.assemble(("Fit", "bold"), f" · {which} points · test MSE {view.test_mse:.4g}"
                          f"{hint(keys, 'train' if test else 'test')}")
    rows = max(height - 2, 3)
    if view.surface:   # the fit as a heat map; the points as "o" (their targets are the surface's height)
        surface_rows, surface_cols = view.values.shape
        chars, colours = sequential(normalised(view.values, signed=False))
        canvas = Canvas(surface_rows, surface_cols)
        canvas.chars[:] = chars
        for colour in np.unique(colours).tolist():
            at = np.nonzero(colours == colour)
            canvas.style_ids[at] = canvas.style_id(None if mono or colour == "default" else Style(color=colour))
        c, r, inside = to_cells(points, view.box, surface_cols, surface_rows)
        canvas.put(r[inside], c[inside], "o", None if mono else Style(color="bright_white", bold=True))
        low, high = float(np.nanmin(view.values)), float(np.nanmax(view.values))
        legend = Text(f"fit {low:.3g} [{SEQUENTIAL}] {high:.3g}   o {which} points")
        return [clip(title, width), *canvas.lines()[:rows], clip(legend, width)]
    cols = len(view.values)
    canvas = Canvas(rows, cols)
    c, r, inside = to_cells(np.stack([points[:, 0], targets], axis=1), view.box, cols, rows)
    canvas.put(r[inside], c[inside], "·", None if mono else Style(color="bright_black"))
    x_low, x_high, y_low, y_high = view.box
    fitted_rows = np.floor((y_high - view.values) / (y_high - y_low) * rows).astype(int)
    on = (fitted_rows >= 0) & (fitted_rows < rows)
    canvas.put(fitted_rows[on], np.arange(cols)[on], "*" if mono else "●",
               None if mono else Style(color="bright_yellow", bold=True))
    legend = Text(f"* the fit   · {which} data   x {x_low:.2f} … {x_high:.2f}, y {y_low:.2f} … {y_high:.2f}")
    return [clip(title, width), *canvas.lines(), clip(legend, width)]


def thumbnails(maps: list[np.ndarray], captions: list[str], width: int, height: int, mono: bool,
               signed: bool, per_row: int | None = None) -> tuple[list[Text], int]:
    """Small maps side by side in rows that fit (at most `per_row` a row); returns the lines and how many
    maps were drawn."""
    if not maps:
        return [], 0
    map_rows, map_cols = maps[0].shape
    fits = max(1, (width + 1) // (map_cols + 1))
    per_row = min(per_row, fits) if per_row else fits
    fit_rows = max(1, height // (map_rows + 1))
    shown = min(len(maps), per_row * fit_rows)
    ramp = diverging if signed else sequential
    lines: list[Text] = []
    for start in range(0, shown, per_row):
        group = range(start, min(start + per_row, shown))
        drawn = [field_lines(maps[i], ramp, mono) for i in group]
        for r in range(map_rows):   # (a space between maps, none after the last: a row is exactly as wide as fits)
            line = Text()
            for k, d in enumerate(drawn):
                line.append(" " if k else "")
                line.append_text(d[r])
            lines.append(line)
        lines.append(Text(" ".join(captions[i][:map_cols].ljust(map_cols) for i in group).rstrip()))
    return lines, shown


def neurons_lines(view, width: int, height: int, mono: bool, page: int = 0, keys: str = "studio") -> list[Text]:
    """Each unit of the chosen layer over the plane, a page of them, each on its own scale."""
    units = view.maps.shape[0]
    signed = bool(np.nanmin(view.maps) < 0)
    scaled = [normalised(m, signed) if signed else _over_own_top(m) for m in view.maps]
    dead = [not np.any(np.abs(m) > 0) for m in view.maps]
    captions = [f"{i + 1}{' dead' if dead[i] else ''}" for i in range(units)]
    body_height = max(height - 2, THUMB_ROWS + 1)
    per_page = _per_page(view.maps.shape[1:], width, body_height)
    pages = max(1, -(-units // per_page))
    page = page % pages
    first = page * per_page
    lines, shown = thumbnails(scaled[first:first + per_page], captions[first:first + per_page], width,
                              body_height, mono, signed)
    title = Text.assemble(("Neurons", "bold"), f" · layer {view.layer.number}/{view.layers} {view.layer.shape_text}"
                          f"{after_activation(view.activation)} · units "
                          f"{first + 1}-{first + shown} of {units}, page {page + 1}/{pages}"
                          f"{hint(keys, 'layer')}{hint(keys, 'page')}")
    ramp = "negative ● … 0 … █ positive" if signed else f"0 [{SEQUENTIAL}] its highest"
    return [clip(title, width), *lines[:body_height], clip(Text(f"each map on its own scale: {ramp}"), width)]


def _over_own_top(values: np.ndarray) -> np.ndarray:
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def _per_page(shape: tuple[int, int], width: int, height: int) -> int:
    rows, cols = shape
    return max(1, (width + 1) // (cols + 1)) * max(1, height // (rows + 1))


def neuron_grid(width: int, height: int) -> tuple[int, int]:
    """(cols, rows) of each unit's map: small enough for a page of several at this size."""
    cols = THUMB_COLS if width < 120 else 14
    rows = THUMB_ROWS if height < 40 else 7
    return cols, rows


def latent_lines(view, width: int, height: int, mono: bool, walk: bool = False, keys: str = "studio") -> list[Text]:
    """The codes of test examples as their labels' marks (the most frequent label of each cell), or the walk."""
    body = max(height - 2, 3)
    if walk:
        return _walk_lines(view, width, body, mono, keys)
    cols, rows = max(width, 8), body
    x_low, x_high, y_low, y_high = _box_of(view.codes)
    counts = np.zeros((rows, cols, max(len(view.class_names), 1)), dtype=int)
    c, r, inside = to_cells(view.codes, (x_low, x_high, y_low, y_high), cols, rows)
    labels = view.labels if len(view.labels) else np.zeros(len(view.codes), int)
    np.add.at(counts, (r[inside], c[inside], labels[inside]), 1)
    canvas = Canvas(rows, cols)
    filled = counts.sum(axis=-1) > 0
    most = counts.argmax(axis=-1)
    for k in np.unique(most[filled]).tolist():
        at = np.nonzero(filled & (most == k))
        canvas.put(*at, class_mark(k) if len(view.labels) else "•",
                   None if mono else Style(color=class_colour(k, bright=True), bold=True))
    title = Text.assemble(("Latent space", "bold"), f" · {len(view.codes)} test examples at their 2-D codes, "
                          f"by label{hint(keys, 'walk')}")
    legend = Text(f"code 1 {x_low:.2f} … {x_high:.2f} →, code 2 {y_low:.2f} … {y_high:.2f} ↑")
    return [clip(title, width), *canvas.lines(), clip(legend, width)]


def _box_of(codes: np.ndarray) -> tuple[float, float, float, float]:
    low, high = codes.min(axis=0), codes.max(axis=0)
    span = np.maximum(high - low, 1e-6)
    low, high = low - 0.05 * span, high + 0.05 * span
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def walk_steps(width: int, height: int) -> int:
    """How many decoded pictures a side of the walk fits (pictures at least 8 columns wide)."""
    return int(max(3, min(9, (width + 1) // 9, (height - 2) // 5)))


def _walk_lines(view, width: int, body: int, mono: bool, keys: str) -> list[Text]:
    steps = view.walk.shape[0]
    image_h, image_w = view.walk.shape[2:]
    rows = max(2, min(body // steps - 1, image_h // 2))          # a caption line under each row of pictures
    cols = max(4, min((width + 1) // steps - 1, 2 * rows * image_w // max(image_h, 1)))   # cells are twice as tall
    pictures = [normalised(shrink(view.walk[i, j], cols, rows), signed=False)
                for i in range(steps) for j in range(steps)]
    lines, _ = thumbnails(pictures, [""] * len(pictures), width, body, mono, signed=False, per_row=steps)
    x_low, x_high, y_low, y_high = view.walk_box
    title = Text.assemble(("Latent walk", "bold"), f" · {steps}x{steps} codes decoded, code 1 {x_low:.2f} … "
                          f"{x_high:.2f} →, code 2 {y_high:.2f} … {y_low:.2f} ↓{hint(keys, 'scatter')}")
    return [clip(title, width), *lines[:body], clip(Text(f"ink [{SEQUENTIAL}]"), width)]
