"""Runs' curves side by side: what the studio's monitor overlays, and a run's per-batch loss brought back.

    curves = read_curves(run_dir)            # RunCurves: per-epoch figures and per-batch loss, as arrays
    cache = CurveCache(); cache.get(run_dir) # read again only when its history.jsonl changed
    labels([config, config])                 # ["lr 0.01", "lr 0.1"]: what tells runs apart, not their ids
    restore_batches(history, folder, run_dir=..., position=...)   # an opened run's batches, from its runs

Every position is kept twice: in epochs (1.5 = half-way through the second) and in examples seen
since the run's start (`n` in the history), so runs with different batch sizes compare fairly.
A run continued from a save numbers its epochs and examples after the save's.

A save holds its epochs but not its batches; they are in the history of the run that trained it
(and of the runs before, for a save of a continued save). `restore_batches` finds them by the
epoch records themselves: each epoch a save holds is the very record its run's history wrote
(figures down to the last bit, and the time it ended), so no save needs to name its run.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnstudio import saves

from .config import setting_in
from .settings import NAMED_BY_VALUE, SHORT_NAMES, shown_value
from .history import HISTORY_FILE, Batches, RunHistory, read_history

#: the per-epoch figures a comparison plots, by their names in an epoch record
EPOCH_FIGURES = ("train_loss", "val_loss", "train_acc", "val_acc", "lr")
#: settings that never tell runs apart in a label (the planned epochs: a run's curve shows how far it went;
#: where checkpoints and data files are kept)
UNLABELLED = ("training.epochs", "checkpoints.", "data.data_dir")
#: differing settings a label names at most (the rest are in the runs pane's detail line)
LABEL_PARTS = 3


def _column(records: list[dict], key: str) -> np.ndarray:
    return np.array([_finite(r.get(key)) for r in records], dtype=np.float64)


def _finite(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value) else math.nan


@dataclass
class RunCurves:
    """One run's curves as arrays: per epoch (`epochs[figure]`, at `epoch` and `n`) and per batch (`batch_x` in
    epochs, `batch_n` in examples, `batch_loss` raw). NaN where a figure is missing or not finite."""

    name: str
    path: Path | None = None
    dataset: str | None = None
    task: str | None = None
    train_size: int | None = None
    config: dict = field(default_factory=dict)
    started: str | None = None
    epoch: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n: np.ndarray = field(default_factory=lambda: np.zeros(0))
    epochs: dict[str, np.ndarray] = field(default_factory=dict)
    batch_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    batch_n: np.ndarray = field(default_factory=lambda: np.zeros(0))
    batch_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grad_norms: list[dict] = field(default_factory=list)   # per epoch: layer -> gradient norm
    notes: list[str] = field(default_factory=list)
    origin: dict = field(default_factory=dict)   # where it came from (`RunHistory.origin`): a fork names its parent

    @property
    def fork(self) -> tuple[str, int] | None:
        """(parent run's name, epoch it branched at) for a fork; None for any other run."""
        origin = self.origin
        if origin.get("kind") == "fork" and isinstance(origin.get("run"), str) and \
                isinstance(origin.get("epoch"), int) and not isinstance(origin.get("epoch"), bool):
            return origin["run"], origin["epoch"]
        return None

    @classmethod
    def of(cls, name: str, epochs: list[dict], *, train_size: int | None = None, batches: Batches | None = None,
           **facts) -> "RunCurves":
        """From epoch records (a history's, or a session's `history`: then `n` comes from `train_size`) and
        batches (`Batches`, whose `examples` place them in epochs by `train_size`)."""
        epoch = _column(epochs, "epoch")
        epoch = np.where(np.isnan(epoch), np.arange(1, len(epochs) + 1), epoch)   # (an older save's: by its place)
        n = _column(epochs, "n")
        if train_size:
            n = np.where(np.isnan(n), epoch * train_size, n)
        curves = cls(name, train_size=train_size, epoch=epoch, n=n,
                     epochs={key: _column(epochs, key) for key in EPOCH_FIGURES},
                     grad_norms=[r.get("grad_norms") if isinstance(r.get("grad_norms"), dict) else {} for r in epochs],
                     **facts)
        if batches is not None and len(batches) and train_size:
            curves.batch_n = batches.examples.astype(np.float64)
            curves.batch_x = curves.batch_n / train_size
            curves.batch_loss = batches.loss.astype(np.float64)
        return curves

    @property
    def grad_ratio(self) -> np.ndarray:
        """Per epoch, the first layer's gradient norm over the last's (`first_and_last`): about 1 when gradients
        reach every layer alike, tiny when they vanish on the way down; NaN where it is not known."""
        return np.array([_ratio(first_and_last(norms)) for norms in self.grad_norms], dtype=np.float64)

    @property
    def has_accuracy(self) -> bool:
        """Whether the run classifies: its task says so, else its history has an accuracy."""
        if self.task is not None:
            return self.task == "classification"
        return bool(np.isfinite(self.epochs.get("val_acc", np.zeros(0))).any())

    @property
    def kind(self) -> tuple[str | None, str | None]:
        """(data set, task): runs compare only with runs of the same kind."""
        return self.dataset, self.task


def first_and_last(norms: dict) -> tuple[float, float] | None:
    """An epoch's gradient norms (layer -> norm, in the model's order) of its first and last layer with weights."""
    values = [float(v) for v in norms.values() if isinstance(v, (int, float)) and not isinstance(v, bool)] \
        if isinstance(norms, dict) else []
    return (values[0], values[-1]) if values else None


def _ratio(pair: tuple[float, float] | None) -> float:
    if pair is None or not all(math.isfinite(v) and v > 0 for v in pair):
        return math.nan
    return pair[0] / pair[1]


def curves_of(history: RunHistory, name: str, path: Path | None = None) -> RunCurves:
    """A run's curves from its history (read with its batches)."""
    first = history.runs[0] if history.runs else {}
    size = first.get("train_size")
    return RunCurves.of(name, history.epochs, train_size=size if isinstance(size, int) and size > 0 else None,
                        batches=history.batches, path=path, dataset=first.get("dataset") or setting_in(history.config, "data.name"),
                        task=first.get("task"), config=history.config, started=first.get("time"),
                        notes=list(history.notes), origin=history.origin if isinstance(history.origin, dict) else {})


def origin_of(run_dir: str | Path) -> dict:
    """Where a run came from, from the first record of its history alone (the run record every history starts
    with): {} while it has none, or none that reads. For a run being trained, whose file grows."""
    try:
        with open(Path(run_dir) / HISTORY_FILE, "rb") as file:
            first = json.loads(file.readline())
    except (OSError, ValueError):
        return {}
    origin = first.get("origin") if isinstance(first, dict) and first.get("kind") == "run" else None
    return origin if isinstance(origin, dict) else {}


def read_curves(run_dir: str | Path) -> RunCurves:
    """The curves of a run folder; SaveError if its history cannot be read."""
    run_dir = Path(run_dir)
    return curves_of(read_history(run_dir), run_dir.name, run_dir)


class CurveCache:
    """Runs' curves, read again only when their history file changed (a run still training grows it).
    Safe to share between threads (one reads at a time)."""

    def __init__(self) -> None:
        self._curves: dict[Path, tuple[tuple[int, int], RunCurves]] = {}
        self._lock = threading.Lock()

    def get(self, run_dir: str | Path) -> RunCurves:
        with self._lock:
            return self._get(Path(run_dir))

    def _get(self, run_dir: Path) -> RunCurves:
        try:
            stat = os.stat(run_dir / HISTORY_FILE)
        except OSError as error:
            raise saves.SaveError(f"cannot read the history: {error.strerror or error}", run_dir / HISTORY_FILE) \
                from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        kept = self._curves.get(run_dir)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        curves = read_curves(run_dir)
        self._curves[run_dir] = (stamp, curves)
        return curves


# ====================================================================== labels
def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path != "model.spec":   # a custom model is one setting
            out.update(_flat(value, f"{path}."))
        elif not path.startswith(UNLABELLED):
            out[path] = value
    return out


def _value_text(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return "-" if value is None else str(value)


def labels(configs: list[dict], fallbacks: list[str] | None = None) -> list[str]:
    """For each run (its config), what tells it apart from the others: "lr 0.01", "sgd · lr 0.1".

    The settings that differ, in a fixed order (the optimizer's first), at most LABEL_PARTS of them; custom
    models read "model 1", "model 2" (a preset's run and one that records its preset's model, as a fork
    does, are told apart by their presets, if at all). Runs that differ in nothing named are told apart by
    `fallbacks` (e.g. when each started), else numbered.
    """
    flats = [_flat(config) for config in configs]
    paths = sorted(set().union(*flats), key=_label_order) if flats else []
    differing = [path for path in paths if len({repr(flat.get(path)) for flat in flats}) > 1
                 and not (path == "model.spec" and not all(isinstance(flat.get(path), dict) for flat in flats))]
    out = []
    for i, flat in enumerate(flats):
        parts = []
        for path in differing[:LABEL_PARTS]:
            value = flat.get(path)
            if isinstance(value, (dict, list)):
                distinct = list(dict.fromkeys(repr(f.get(path)) for f in flats))
                parts.append(f"model {distinct.index(repr(value)) + 1}")
                continue
            name = "" if path in NAMED_BY_VALUE else SHORT_NAMES.get(path, path.rsplit(".", 1)[-1])
            parts.append(f"{name} {_value_text(shown_value(path, value))}".strip())
        if not parts:
            parts.append(fallbacks[i] if fallbacks and fallbacks[i] else f"run {i + 1}")
        out.append(" · ".join(dict.fromkeys(parts)))
    named = list(out)
    for i, label in enumerate(named):   # alike in what is named (they differ in the unlabelled): by the fallback
        if named.count(label) > 1 and fallbacks and fallbacks[i] and fallbacks[i] not in label:
            out[i] = f"{label} · {fallbacks[i]}"
    return out


def _label_order(path: str) -> tuple[int, str]:
    """Data and model first, then the optimizer's settings, the schedule, training, the rest."""
    for rank, prefix in enumerate(("data.name", "model.", "optimizer.name", "optimizer.", "schedule.", "training.")):
        if path.startswith(prefix):
            return rank, path
    return 9, path


# ====================================================================== an opened run's batches
def _epoch_key(record: dict) -> tuple | None:
    """What identifies an epoch record wherever it is kept: its number, figures and the time it ended."""
    if not isinstance(record, dict) or not isinstance(record.get("epoch"), int):
        return None
    return tuple(repr(record.get(key)) for key in ("epoch", "train_loss", "val_loss", "elapsed"))


def restore_batches(epochs: list[dict], folder: str | Path | None, *, run_dir: str | Path | None = None,
                    position: tuple[int, int] | None = None) -> tuple[Batches, int | None]:
    """The per-batch history behind an opened run's epochs (a save's, or a checkpoint's), and its train size.

    `run_dir` (a resumed run's own folder) gives its batches up to `position` (epochs done, batches into the
    next): the file may hold batches past the checkpoint, trained again now. Epochs it does not hold (those
    of a save the run continued, or all of a save's) are looked for in the other runs of `folder` by their
    records (`_epoch_key`). Whatever is not found is missing from the curve; never an error.
    """
    pieces: list[Batches] = []
    train_size = None
    wanted = {key: int(record["epoch"]) for record in epochs if (key := _epoch_key(record)) is not None}
    covered: set[int] = set()
    own = Path(run_dir).resolve() if run_dir is not None else None
    if own is not None:
        try:
            history = read_history(own)
        except saves.SaveError:
            history = None
        if history is not None:
            b = history.batches
            keep = np.ones(len(b), bool)
            if position is not None:
                done, into = position
                keep = (b.epoch <= done) | ((b.epoch == done + 1) & (b.batch <= into))
            pieces.append(_rows(b, keep))
            covered |= set(b.epoch[keep].tolist())
            train_size = _train_size(history)
    missing = {key: e for key, e in wanted.items() if e not in covered}
    if missing:
        for info in saves.find_runs(folder):
            if not missing:
                break
            if own is not None and info.path.resolve() == own:
                continue
            try:
                light = read_history(info.path, batches=False)
            except saves.SaveError:
                continue
            found = {missing[key] for record in light.epochs if (key := _epoch_key(record)) in missing}
            if not found:
                continue
            try:
                history = read_history(info.path)
            except saves.SaveError:
                continue
            b = history.batches
            keep = np.isin(b.epoch, sorted(found))
            pieces.append(_rows(b, keep))
            train_size = train_size or _train_size(history)
            missing = {key: e for key, e in missing.items() if e not in found}
    if not pieces:
        return Batches.of([]), train_size
    merged = Batches(*(np.concatenate([getattr(p, name) for p in pieces])
                       for name in ("epoch", "batch", "examples", "loss", "accuracy")))
    order = np.argsort(merged.examples, kind="stable")
    return Batches(*(getattr(merged, name)[order] for name in ("epoch", "batch", "examples", "loss", "accuracy"))), \
        train_size


def _rows(b: Batches, keep: np.ndarray) -> Batches:
    return Batches(b.epoch[keep], b.batch[keep], b.examples[keep], b.loss[keep], b.accuracy[keep])


def _train_size(history: RunHistory) -> int | None:
    size = history.runs[0].get("train_size") if history.runs else None
    return size if isinstance(size, int) and size > 0 else None
