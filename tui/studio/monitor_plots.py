"""What each of the monitor's four plots draws, alone or comparing runs.

Alone, the plots show the current run: the per-batch loss (smoothed) with each epoch's train and
validation loss, train and validation accuracy, per-layer gradient norms, the learning rate; a
series (`plots.SERIES`) has one look in every plot.

Comparing (runs marked in the Runs pane), each run is one look (`plots.RUN_LOOKS`) in every plot and
one series per plot: its training loss (per batch, smoothed; per epoch for a run without batches), or
with `View.validation` its validation loss per epoch; its validation accuracy (validation loss for runs
without accuracy), its learning rate, and how its gradients reach its first layer: the first layer's gradient
norm over the last's (`RunCurves.grad_ratio`; vanishing gradients drop it by decades). The runs are named
once, above the plots (`overlay.py`).

X is in epochs or in examples seen (`View.axis`); with `View.log_loss` the losses and the learning rate
are drawn as log10 of their values on a linear axis labelled with the values (plotext 5.3 raises when a
log-scale figure is built twice, and the monitor rebuilds its figures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..run.curves import RunCurves
from .plots import SeriesLook, log_tick_labels, log_ticks, look
from .series import DEFAULT_SMOOTHING, binned, ema, smoothed

#: (widget id, title) of the four plots, in reading order
PLOTS = (("plot-loss", "loss"), ("plot-accuracy", "accuracy %"), ("plot-grad", "gradient norm (log)"),
         ("plot-lr", "learning rate"))
#: the loss plot's title for a model without accuracy (it then spans the accuracy plot's place too)
NO_ACCURACY_TITLES = {"reconstruction": "reconstruction error (MSE; no accuracy)",
                      "regression": "loss (MSE; regression: no accuracy)"}
#: what the x axis counts: its key in `View.axis` and its label
AXES = {"epoch": "epoch", "examples": "examples seen"}

#: draws one series: (xs, ys, look, label[, kept]); downsamples and records the legend entry. `kept`: a series that
#: stays the same from one redraw to the next (a compared run's), drawn before the others (`_drawing_order`)
Line = Callable[..., None]


@dataclass
class View:
    """How the curves are drawn: against epochs or examples seen, the per-batch loss's smoothing, a log loss."""

    axis: str = "epoch"
    smoothing: float = DEFAULT_SMOOTHING
    log_loss: bool = False
    """The losses (and the learning rate) on a log scale."""
    validation: bool = False
    """Comparing: the loss plot shows each run's validation loss per epoch instead of its training loss."""

    @property
    def counts(self) -> bool:
        return self.axis == "examples"


@dataclass
class Shown:
    """A run as an overlay draws it: its curves, its look and what names it in the legend."""

    curves: RunCurves
    look: SeriesLook
    label: str


@dataclass
class Scene:
    """Everything the plots are drawn from: the current run (None when it has nothing to show), the runs
    compared with it (the current one among them, first), whether the current run has an accuracy."""

    current: RunCurves | None
    compared: list[Shown]
    view: View
    has_accuracy: bool
    task: str | None = None
    kept: dict | None = None
    """Binned, smoothed per-batch curves of runs that no longer change (the compared ones), by how they were
    drawn: redrawn as the current run trains, they are not binned again (the monitor keeps this dict)."""

    @property
    def comparing(self) -> bool:
        return bool(self.compared)


def title(plot_id: str, scene: Scene) -> str:
    """A plot's title: what it shows, as drawn now (smoothing and log scale said on the loss)."""
    view = scene.view
    log = " (log)" if view.log_loss else ""
    # the smoothing is said once it is not the usual one (80 columns leave a plot's legend 37 cells)
    smoothing = "" if view.smoothing == DEFAULT_SMOOTHING else \
        f" · smoothing {view.smoothing:g}" if view.smoothing else " · unsmoothed"
    if plot_id == "plot-loss":
        if scene.comparing:
            return f"validation loss{log}" if view.validation and scene.has_accuracy else \
                f"training loss{log}{smoothing}"
        if not scene.has_accuracy:
            return NO_ACCURACY_TITLES.get(scene.task or "", "loss (no accuracy)") + log
        return f"loss{log}{smoothing}"
    if plot_id == "plot-accuracy" and scene.comparing:
        return "validation accuracy %" if scene.has_accuracy else f"validation loss{log}"
    if plot_id == "plot-grad" and scene.comparing:
        return "gradient: first layer ÷ last (log)"
    if plot_id == "plot-lr":
        return f"learning rate{log}"
    return dict(PLOTS)[plot_id]


def paint(plot_id: str, plt, line: Line, scene: Scene, bins: int) -> tuple[tuple[float, float] | None, bool]:
    """Draw one plot's series through `line`; the y range drawn, and whether it is log10 of the figures."""
    painter = {"plot-loss": _loss, "plot-accuracy": _accuracy, "plot-grad": _grad, "plot-lr": _lr}[plot_id]
    return painter(plt, line, scene, bins)


def _drawing_order(scene: Scene) -> list[Shown]:
    """The runs compared, the one drawn last on top: the current run (so it stays in sight as it trains), and
    the first marked over the later ones."""
    current = [s for s in scene.compared if s.curves is scene.current]
    return [s for s in reversed(scene.compared) if s.curves is not scene.current] + current


def _x(curves: RunCurves, view: View, per_batch: bool = False) -> np.ndarray:
    if per_batch:
        return curves.batch_n if view.counts else curves.batch_x
    return curves.n if view.counts else curves.epoch


def _points(xs: np.ndarray, ys: np.ndarray, log: bool = False) -> tuple[list[float], list[float]]:
    """The finite points of a series (and positive ones, as log10, for a log scale)."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    keep = np.isfinite(xs) & np.isfinite(ys) & ((ys > 0) if log else True)
    ys = np.log10(ys[keep]) if log else ys[keep]
    return xs[keep].tolist(), ys.tolist()


def _span(series: list[list[float]]) -> tuple[float, float] | None:
    values = [v for ys in series for v in ys]
    return (min(values), max(values)) if values else None


def _batch_curve(curves: RunCurves, scene: Scene, bins: int) -> tuple[list[float], list[float]]:
    """A run's per-batch loss, binned to the plot's width and smoothed as the view says. A run other than the
    current one (`Scene.kept`) is binned once per x axis and width, and its curve kept per view: another
    smoothing or the log scale only smooths its bins again."""
    view, losses = scene.view, curves.batch_loss
    kept = scene.kept if scene.kept is not None and curves is not scene.current else None
    if kept is None:
        xs, ys = smoothed(_x(curves, view, per_batch=True), losses, bins, view.smoothing)
        return _points(np.array(xs), np.array(ys), view.log_loss)
    key, bins_key = (view.axis, view.smoothing, view.log_loss, bins, id(losses)), (view.axis, bins, id(losses))
    if key in kept and kept[key][0] is losses:
        return kept[key][1]
    if bins_key not in kept or kept[bins_key][0] is not losses:
        kept[bins_key] = (losses, binned(_x(curves, view, per_batch=True), losses, bins))
    xs, ys = ema(kept[bins_key][1], view.smoothing)
    curve = _points(np.array(xs), np.array(ys), view.log_loss)
    kept[key] = (losses, curve)
    return curve


def _loss(plt, line: Line, scene: Scene, bins: int):
    log, drawn = scene.view.log_loss, []
    if scene.comparing and scene.view.validation and scene.has_accuracy:   # (without, the second plot shows it)
        for shown in _drawing_order(scene):
            xs, ys = _points(_x(shown.curves, scene.view), shown.curves.epochs["val_loss"], log)
            if xs:
                line(xs, ys, shown.look, shown.label, shown.curves is not scene.current)
                drawn.append(ys)
        return _span(drawn), log
    if scene.comparing:
        for shown in _drawing_order(scene):
            curves = shown.curves
            if len(curves.batch_loss):
                xs, ys = _batch_curve(curves, scene, bins)
            else:   # a run without batches (older than the history's): its epochs' training loss
                xs, ys = _points(_x(curves, scene.view), curves.epochs["train_loss"], log)
            if xs:
                line(xs, ys, shown.look, shown.label, curves is not scene.current)
                drawn.append(ys)
        return _span(drawn), log
    current = scene.current
    if current is None:
        return None, log
    if len(current.batch_loss):
        xs, ys = _batch_curve(current, scene, bins)
        if xs:
            line(xs, ys, look("batch"), "batch")
            drawn.append(ys)
    for key, series in (("train_loss", "train"), ("val_loss", "validation")):
        xs, ys = _points(_x(current, scene.view), current.epochs[key], log)
        if xs:
            line(xs, ys, look(series), series)
            drawn.append(ys)
    return _span(drawn), log


def _accuracy(plt, line: Line, scene: Scene, bins: int):
    drawn = []
    if scene.comparing:
        key, scale, log = ("val_acc", 100.0, False) if scene.has_accuracy else ("val_loss", 1.0, scene.view.log_loss)
        for shown in _drawing_order(scene):
            xs, ys = _points(_x(shown.curves, scene.view), shown.curves.epochs[key] * scale, log)
            if xs:
                line(xs, ys, shown.look, shown.label, shown.curves is not scene.current)
                drawn.append(ys)
        return _span(drawn), log
    if scene.current is not None:
        for key, series in (("train_acc", "train"), ("val_acc", "validation")):
            xs, ys = _points(_x(scene.current, scene.view), scene.current.epochs[key] * 100)
            if xs:
                line(xs, ys, look(series), series)
                drawn.append(ys)
    return _span(drawn), False


def _grad(plt, line: Line, scene: Scene, bins: int):
    """log10 of each layer's gradient norm of the current run, or comparing, of each run's first layer's over its
    last's; the axis is labelled in round values."""
    if scene.comparing:
        return _grad_ratios(plt, line, scene)
    current = scene.current
    norms = current.grad_norms if current is not None else []
    layers: list[str] = []
    for record in norms:
        layers += [name for name in record if name not in layers]
    low, high = math.inf, -math.inf
    xs_all = _x(current, scene.view).tolist() if current is not None else []
    for n, layer in enumerate(layers):
        pairs = [(x, record[layer]) for x, record in zip(xs_all, norms)
                 if math.isfinite(x) and isinstance(record.get(layer), (int, float)) and record[layer] > 0]
        if not pairs:
            continue
        y = [math.log10(p[1]) for p in pairs]
        low, high = min(low, *y), max(high, *y)
        line([p[0] for p in pairs], y, look("layer", n), f"layer {layer}" if layer.isdigit() else layer)
    if math.isfinite(low):
        ticks = log_ticks(low, high)
        plt.yticks(ticks, log_tick_labels(ticks))
    return None, False


def _grad_ratios(plt, line: Line, scene: Scene):
    drawn = []
    for shown in _drawing_order(scene):
        xs, ys = _points(_x(shown.curves, scene.view), shown.curves.grad_ratio, log=True)
        if xs:
            line(xs, ys, shown.look, shown.label, shown.curves is not scene.current)
            drawn.append(ys)
    span = _span(drawn)
    if span is not None:
        ticks = log_ticks(*span)
        plt.yticks(ticks, log_tick_labels(ticks))
    return None, False


def _lr(plt, line: Line, scene: Scene, bins: int):
    drawn = []
    runs = [(s.curves, s.look, s.label) for s in _drawing_order(scene)] if scene.comparing else \
        [(scene.current, look("lr"), "lr")] if scene.current is not None else []
    log = scene.view.log_loss   # (a schedule's rate spans decades too: the log scale shows its tail)
    for curves, series_look, label in runs:
        xs, ys = _points(_x(curves, scene.view), curves.epochs["lr"], log)
        if xs:
            line(xs, ys, series_look, label, scene.comparing and curves is not scene.current)
            drawn.append(ys)
    return _span(drawn), log
