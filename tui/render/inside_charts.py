"""Drawing the views of a layer's numbers: the first layer's weights as images, distributions over epochs,
gradient flow, the confusion drill-down and the gradient check. Rich Text lines that fit width x height.
"""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text

from .cells import (NEGATIVE, POSITIVE, SEQUENTIAL, after_activation, clip, field_lines, hint, normalised, picture_size,
                    sequential, shrink)
from .inside_plane import thumbnails

#: the current histogram's bars, low to high
SPARKS = " ▁▂▃▄▅▆▇█"
#: an update-to-weight ratio's zone (its bound on the left), as a mark and a colour
RATIO_ZONES = ((0.0, "·", "bright_black", "far too small"), (1e-5, "-", "blue", "too small"),
               (1e-4, "=", "green", "healthy"), (1e-2, "#", "yellow", "too large"), (1e-1, "@", "red", "far too large"))
KIND_NAMES = {"weight": "weights", "bias": "biases", "activation": "activations", "gradient": "gradients"}


# ====================================================================== weights as images
def weights_lines(view, width: int, height: int, mono: bool, page: int = 0, keys: str = "studio") -> list[Text]:
    """A page of the first layer's units as pictures, each on its own signed scale."""
    units, img_h, img_w = view.images.shape
    body = max(height - 2, 3)
    scale = _weights_scale(img_h, img_w, units, width, body, view.filters)
    if view.filters:   # a filter is a few pixels: each pixel two columns wide, one row tall
        cols, rows = img_w * 2, img_h
    else:
        cols, rows = picture_size(img_h, img_w, scale)
    per_page = max(1, (width + 1) // (cols + 1)) * max(1, body // (rows + 1))
    pages = max(1, -(-units // per_page))
    page %= pages
    first = page * per_page
    if view.filters:
        shown = [np.repeat(normalised(f, signed=True), 2, axis=1) for f in view.images[first:first + per_page]]
    else:   # only the page shown is shrunk: 128 units of 784 weights cost ten times what one page does
        shown = [normalised(shrink(img, cols, rows), signed=True) for img in view.images[first:first + per_page]]
    lines, count = thumbnails(shown, [str(first + i + 1) for i in range(len(shown))], width, body, mono, signed=True)
    what = "filters" if view.filters else "units"
    title = Text.assemble(("Weights", "bold"), f" · layer 1 {view.layer.shape_text} · {what} "
                          f"{first + 1}-{first + count} of {units}, page {page + 1}/{pages}{hint(keys, 'page')}")
    legend = Text(f"each on its own scale: negative [{NEGATIVE[::-1].strip()}] 0 [{POSITIVE.strip()}] positive")
    return [clip(title, width), *lines[:body], clip(legend, width)]


def _weights_scale(height: int, width: int, units: int, space_w: int, space_h: int, filters: bool) -> int:
    """Pixels per column: full detail when at least eight pictures fit, else half, else a quarter."""
    if filters:
        return 1
    for scale in (1, 2, 4):
        cols, rows = picture_size(height, width, scale)
        if max(1, (space_w + 1) // (cols + 1)) * max(1, space_h // (rows + 1)) >= min(units, 8):
            return scale
    return 4


# ====================================================================== distributions
def _heat_from_quantiles(rows_of_quantiles: list[list[float]], lows: np.ndarray, highs: np.ndarray,
                         height: int) -> np.ndarray:
    """(height, epochs) densities rebuilt from each epoch's quantile bands, epoch e drawn from lows[e] (bottom
    row) to highs[e] (top row); values past the ends are drawn on the end rows."""
    from nnstudio.engine.inside import QUANTILES
    shares = np.diff(np.asarray(QUANTILES)) / 100.0
    heat = np.zeros((height, len(rows_of_quantiles)))
    for e, q in enumerate(rows_of_quantiles):
        if len(q) != len(QUANTILES):
            continue
        low, high = float(lows[e]), float(highs[e])
        edges = high - np.arange(height + 1) * (high - low) / height   # row r covers edges[r + 1] .. edges[r]
        edges[0], edges[-1] = np.inf, -np.inf
        cumulative = np.interp(edges, np.asarray(q, dtype=float), np.cumsum(np.concatenate([[0.0], shares])),
                               left=0.0, right=1.0)
        mass = cumulative[:-1] - cumulative[1:]   # the share of values in each row (top row first)
        top = mass.max()
        heat[:, e] = mass / top if top > 0 else 0.0
    return heat


def _columns(count: int, width: int) -> np.ndarray:
    """Which of `count` epochs to draw in `width` columns: all, or evenly spread ones ending at the last."""
    if count <= width:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, width).round().astype(int))


def distributions_lines(view, width: int, height: int, mono: bool, keys: str = "studio") -> list[Text]:
    """For each kind of number: the histogram now (a row of bars), and its quantile bands over the epochs."""
    kinds = [k for k in ("weight", "bias", "activation", "gradient") if k in view.now]
    body = max(height - 2, len(kinds) * 2)
    heat_rows = max(0, body // max(len(kinds), 1) - 1) if view.epochs else 0
    label_w = 13
    lines: list[Text] = []
    for kind in kinds:
        hist = view.now[kind]
        counts, edges = np.asarray(hist["counts"]), hist["edges"]
        bars = "".join(SPARKS[min(int(math.ceil(c / counts.max() * (len(SPARKS) - 1))), len(SPARKS) - 1)]
                       if counts.max() else " " for c in counts)
        line = Text.assemble((f"{KIND_NAMES[kind]:<{label_w}}", "bold"), f"now {edges[0]:>9.3g} ",
                             (bars, "" if mono else "cyan"), f" {edges[-1]:<9.3g}")
        lines.append(clip(line, width))
        rows = view.over_epochs.get(kind) or []
        if rows and any(rows) and heat_rows < 3:   # no room for bands: how wide the middle 87% is, per epoch
            picked = _columns(len(rows), max(width - label_w - 10, 8))
            spreads = np.array([rows[i][7] - rows[i][1] if len(rows[i]) == 9 else np.nan for i in picked])
            top = np.nanmax(spreads) if np.isfinite(spreads).any() else 0.0
            sparks = "".join(SPARKS[int(round(v / top * (len(SPARKS) - 1)))] if top > 0 and np.isfinite(v) else " "
                             for v in spreads)
            lines.append(clip(Text(f"{'  spread':<{label_w}}") + Text(sparks, style="" if mono else "cyan") +
                              Text(f" up to {top:.3g}"), width))
        elif heat_rows and rows and any(rows):
            picked = _columns(len(rows), max(width - label_w - 10, 8))
            chosen = [rows[i] for i in picked]
            lows, highs, own = _band_ranges(chosen)
            heat = _heat_from_quantiles(chosen, lows, highs, heat_rows)
            heat = np.repeat(heat, max(1, min(4, max(width - label_w - 10, 8) // len(picked))), axis=1)
            top_label = "own scale" if own else f"{highs[-1]:.3g}"
            bottom_label = "each epoch" if own else f"{lows[-1]:.3g}"
            for r, heat_line in enumerate(field_lines(heat, sequential, mono)):
                label = f"{top_label:>{label_w - 1}} " if r == 0 else f"{bottom_label:>{label_w - 1}} " \
                    if r == heat_rows - 1 else ' ' * label_w
                lines.append(clip(Text(label) + heat_line, width))
    epochs = (f"epochs {view.epochs[0]}-{view.epochs[-1]} →" if view.epochs else "no epochs recorded yet")
    title = Text.assemble(("Distributions", "bold"), f" · layer {view.layer.number}/{view.layers} "
                          f"{view.layer.shape_text}{after_activation(view.activation)}"
                          f"{_health(view)}{hint(keys, 'layer')}")
    spread = any(line.plain.startswith("  spread") for line in lines)
    own = any(line.plain.strip().startswith("own scale") for line in lines)
    legend = Text(f"{epochs}; " + ("spread: how wide the middle 87% of values is" if spread else
                                   f"share of values [{SEQUENTIAL}] most; the rest on the end rows"
                                   + ("; own scale: each epoch between its own ends" if own else "")))
    return [clip(title, width), *lines[:body], clip(legend, width)]


#: when the middle of a kind's values spreads this many times wider in one epoch than in another (gradients
#: shrinking as a run settles), one shared scale would flatten most epochs to a line: each gets its own
OWN_SCALE_RATIO = 30.0


def _band_ranges(rows: list[list[float]]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Each epoch's drawn range: one shared range around the values' middle 87% (a far outlier of an early
    epoch would squeeze all the rest), or each epoch's own when their spreads differ by OWN_SCALE_RATIO."""
    inner = np.array([(q[1], q[7]) if len(q) == 9 else (np.nan, np.nan) for q in rows], dtype=float)
    outer = np.array([(q[0], q[8]) if len(q) == 9 else (np.nan, np.nan) for q in rows], dtype=float)
    spread = inner[:, 1] - inner[:, 0]
    pad = 0.25 * np.nan_to_num(spread)
    lows = np.fmax(inner[:, 0] - pad, outer[:, 0])     # never past the values themselves (a ReLU's are >= 0)
    highs = np.fmin(inner[:, 1] + pad, outer[:, 1])
    finite = np.isfinite(spread) & (spread > 0)
    own = bool(finite.any() and spread[finite].max() > OWN_SCALE_RATIO * spread[finite].min())
    if not own:
        lows = np.full(len(rows), np.nanmin(lows) if np.isfinite(lows).any() else -0.5)
        highs = np.full(len(rows), np.nanmax(highs) if np.isfinite(highs).any() else 0.5)
    same = ~(highs > lows)
    lows, highs = np.where(same, lows - 0.5, lows), np.where(same, highs + 0.5, highs)
    return np.nan_to_num(lows), np.nan_to_num(highs), own


def _health(view) -> str:
    notes = []
    if view.dead is not None:
        notes.append(f"dead ReLUs {view.dead:.0%}")
    if view.saturated is not None:
        notes.append(f"saturated units {view.saturated:.0%}")
    return f" · {', '.join(notes)}" if notes else ""


# ====================================================================== gradient flow
def _zone(ratio: float) -> tuple[str, str, str]:
    found = RATIO_ZONES[0]
    for zone in RATIO_ZONES:
        if ratio >= zone[0]:
            found = zone
    return found[1], found[2], found[3]


def _log_bar(value: float, low: float, high: float, cells: int, marks: tuple[float, ...] = ()) -> str:
    """A bar on a log scale from `low` to `high`, with "|" at each of `marks`."""
    if not (value > 0 and math.isfinite(value)):
        filled = 0
    else:
        filled = math.ceil((math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low)) * cells)
    bar = ["█" if i < filled else " " for i in range(cells)]
    for mark in marks:
        at = int(round((math.log10(mark) - math.log10(low)) / (math.log10(high) - math.log10(low)) * cells))
        if 0 <= at < cells:
            bar[at] = "|" if bar[at] == " " else "┃"
    return "".join(bar)


def gradient_flow_lines(view, width: int, height: int, mono: bool) -> list[Text]:
    """Bars per layer for the latest epoch, then the update ratio's zone per layer and epoch."""
    label_w = min(max(len(label) for label in view.labels) + 1, 22)
    bar_w = max(8, min(16, (width - label_w - 40) // 2))
    grads, ratios = view.latest(view.grad_norms), view.latest(view.update_ratios)
    lines = [Text.assemble((f"{'layer':<{label_w}}", "bold"), (f"{'gradient norm':<{bar_w + 10}}", "bold"),
                           ("update/weight (| at 1e-4, 1e-2)", "bold"))]
    for label, grad, ratio, verdict in zip(view.labels, grads, ratios, view.verdicts()):
        mark, colour, _ = _zone(ratio) if math.isfinite(ratio) else (" ", "default", "")
        line = Text(f"{label[:label_w - 1]:<{label_w}}")
        line.append(_log_bar(grad, 1e-6, 1e2, bar_w), None if mono else "cyan")
        line.append(f" {grad:<8.2g} ")
        line.append(_log_bar(ratio, 1e-7, 1.0, bar_w, (1e-4, 1e-2)), None if mono else colour)
        line.append(f" {ratio:<8.2g} {verdict}")
        lines.append(clip(line, width))
    space = max(height - 2 - len(lines) - 1, 0)
    if space >= len(view.labels) and view.epochs:
        picked = _columns(len(view.epochs), max(width - label_w, 8))
        lines.append(Text.assemble(("update/weight by epoch", "bold"),
                                   f" · epochs {view.epochs[picked[0]]}-{view.epochs[picked[-1]]} →"))
        for label, row in zip(view.labels, view.update_ratios):
            line = Text(f"{label[:label_w - 1]:<{label_w}}")
            for e in picked:
                ratio = row[e]
                mark, colour, _ = _zone(ratio) if math.isfinite(ratio) else (" ", "default", "")
                line.append(mark, None if mono else Style(color=colour))
            lines.append(clip(line, width))
    title = Text.assemble(("Gradient flow", "bold"), f" · epoch {view.epochs[-1]} · a healthy update/weight "
                          f"is 1e-4 … 1e-2")
    legend = Text("  ".join(f"{mark} {name}" for _, mark, _, name in RATIO_ZONES))
    return [clip(title, width), *lines[: max(height - 2, 1)], clip(legend, width)]


# ====================================================================== confusion drill-down
def confusion_lines(view, width: int, height: int, mono: bool, keys: str = "studio") -> list[Text]:
    """The matrix with the chosen cell marked, and beside it (or below) the examples of that cell."""
    classes = len(view.class_names)
    cell_w = len(str(int(view.matrix.max()))) + 2   # a space, the count, room for the marked cell's brackets
    true, guess = view.cell
    labels = [name if name == str(i) else f"{name[:8]} {i}" for i, name in enumerate(view.class_names)]
    label_w = max(max(len(label) for label in labels), len("true↓")) + 1
    lines = [Text.assemble((f"{'true↓':>{label_w}}", "bold"), *[(f"{j:>{cell_w}}", "bold") for j in range(classes)])]
    for i in range(classes):
        line = Text(f"{labels[i]:>{label_w}}")
        for j in range(classes):
            count = int(view.matrix[i, j])
            if (i, j) == (true, guess):
                line.append(f"[{count}]".rjust(cell_w), Style(reverse=True, bold=True))
            else:
                style = None if mono else ("green" if i == j else "red" if count else "bright_black")
                line.append(f"{count:>{cell_w - 1}} ", style)
        lines.append(line)
    matrix_w = label_w + cell_w * classes + 1
    room = max(height - 3, 0)   # a title, the predicted-class header's line, the caption
    pictures, shown = _cell_examples(view, width - matrix_w - 1, room, mono)
    if shown:
        body = [a + Text(" ") + b for a, b in _zip_longest(lines, pictures, matrix_w)]
    else:
        pictures, shown = _cell_examples(view, width, max(room - len(lines) + 1, 0), mono)
        body = lines + pictures
    total = int(view.matrix[true, guess])
    caption = Text(f"true {view.class_names[true]} read as {view.class_names[guess]}: {total} test example"
                   f"{'s' if total != 1 else ''}" + (f" ({shown} shown)" if 0 < shown < total else ""))
    title = Text.assemble(("Confusion", "bold"), f" · test accuracy {view.accuracy:.1%} · predicted →"
                          f"{hint(keys, 'cell')}")
    return [clip(title, width), *[clip(line, width) for line in body[: max(height - 2, 1)]], clip(caption, width)]


def _zip_longest(left: list[Text], right: list[Text], left_width: int) -> list[tuple[Text, Text]]:
    pairs = []
    for i in range(max(len(left), len(right))):
        a = left[i].copy() if i < len(left) else Text()
        a.pad_right(max(left_width - a.cell_len, 0))
        pairs.append((a, right[i] if i < len(right) else Text()))
    return pairs


def _cell_examples(view, width: int, height: int, mono: bool) -> tuple[list[Text], int]:
    """The cell's examples in width x height: small pictures with the model's confidence, else their feature
    rows, else just their numbers in the test split; and how many are shown."""
    if width < 10 or height < 1:
        return [], 0
    if not len(view.examples):
        return [Text("(no test example is in this cell)")], 0
    if view.pictures is not None:
        for cols, rows in ((14, 7), (10, 5)):
            if height >= rows + 1 and width >= cols:
                pictures = [normalised(shrink(p, cols, rows), signed=False) for p in view.pictures]
                captions = [f"#{int(i)} {p:.0%}" for i, p in zip(view.examples, view.confidence)]
                return thumbnails(pictures, captions, width, height, mono, signed=False)
    if view.rows is not None:
        listed = [Text(f"#{int(i)}: " + ", ".join(f"{v:.2f}" for v in row[:6]) + f"  ({p:.0%} sure)")
                  for i, row, p in zip(view.examples, view.rows, view.confidence)][:height]
        return listed, len(listed)
    entries = [f"#{int(i)} {p:.0%}" for i, p in zip(view.examples, view.confidence)]   # no room for pictures
    lines, line = [], "examples (test index, sure):"
    for entry in entries:
        if len(line) + 1 + len(entry) > width:
            if len(lines) + 1 >= height:
                break
            lines.append(line)
            line = entry
        else:
            line = f"{line} {entry}"
    lines.append(line)
    shown = sum(len(l.split(" #")) - 1 for l in lines) + sum(1 for l in lines[1:] if l.startswith("#"))
    return [Text(l) for l in lines], min(shown, len(entries))


# ====================================================================== gradient check
def gradcheck_lines(view, width: int, height: int, mono: bool, keys: str = "studio") -> list[Text]:
    """Per layer the largest relative error, and the verdict."""
    label_w = min(max(len(label) for label in view.labels.values()) + 2, 26)
    lines = [Text.assemble((f"{'layer':<{label_w}}", "bold"), ("largest relative error", "bold"))]
    for name, error in view.errors.items():
        ok = error <= view.tolerance
        line = Text(f"{view.labels[name][:label_w - 1]:<{label_w}}{error:<24.3g}")
        line.append("pass" if ok else "FAIL", None if mono else ("green" if ok else "bold red"))
        lines.append(line)
    verdict = ("passed: the backward pass agrees with central differences" if view.passed else
               f"FAILED in {', '.join(view.labels[n] for n in view.failing())}: the backward pass is wrong there")
    title = Text.assemble(("Gradient check", "bold"), f" · {view.samples} training examples, {view.per_tensor} "
                          f"elements per parameter, float64{hint(keys, 'again')}")
    return [clip(title, width), *[clip(line, width) for line in lines[: max(height - 3, 1)]],
            clip(Text(verdict, style=None if mono else ("green" if view.passed else "bold red")), width),
            clip(Text(f"pass when every error ≤ {view.tolerance:g}"), width)]
