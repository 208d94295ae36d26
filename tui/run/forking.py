"""Forks: a run continued from one of its epochs with changed settings, as a new run beside it.

    run_dir, epoch = fork_point("mnist-mlp-20261203-101500@5", folder)   # RUN[@EPOCH]; EPOCH: its latest
    session = fork(run_dir, epoch, {"optimizer.lr": 0.01})             # the settings to change
    session.run()                                 # epochs 6, 7, ... in a new run folder
    kept_checkpoints(run_dir)                     # {epoch: file} it can fork from: the last few and the best
    planned_epochs(parent_epochs, epoch)          # its parent's total, or EXTRA_EPOCHS more once that is done

"What if I had lowered the learning rate at epoch 5?" A fork starts from the parent's checkpoint of
that epoch exactly as a resume would (weights, optimizer state, schedule, data order, random
streams), then applies what changed: live settings (learning rate, momentum, weight decay, batch
size) as if typed at that moment; another optimizer, schedule, early stopping or seed start those
parts afresh (a fresh schedule as it would stand at that epoch). The data set and the model stay the
parent's: a different one is a new run (`--from` a save). Its history starts with the parent's up to
that epoch, so overlaying the two shows where they branch, and it records its parent and epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from nnstudio import saves
from nnstudio.datasets.dataset import Dataset
from nnstudio.engine.fields import number_text

from .config import LIVE_SETTINGS, ConfigError, RunConfig, flat_settings
from .history import records_until
from .reopening import config_of, load_save
from .reports import NothingToTrain, SessionError
from .run_names import find_run
from .session import Session

#: the epochs a fork trains when it is not told and its parent had done all its own by the branch point
EXTRA_EPOCHS = 5
#: settings a fork keeps from its parent (the weights must fit them); where the data set's files are may change
FIXED_SECTIONS = ("data", "model")
MOVABLE = ("data.data_dir",)
#: what is started afresh when settings of it change (the rest of the run's state carries over)
FRESH_WHEN_CHANGED = {
    "optimizer": ("optimizer.name", "optimizer.nesterov", "optimizer.beta2", "optimizer.eps", "optimizer.alpha"),
    "scheduler": ("schedule.",),
    "early_stopping": ("training.early_stopping", "training.min_delta"),
    "rng": ("training.seed",),
}


def fork_point(target: str, folder: str | Path | None) -> tuple[Path, int | None]:
    """Where `--fork TARGET` branches: RUN or RUN@EPOCH (RUN a run's name in the runs folder, a part of one that
    only that run has, or a path to its folder), or one of a run's checkpoint files (RUN/epoch-0029.safetensors
    is RUN@29). Its folder and the epoch (None: its latest); SessionError naming the problem."""
    if target.endswith(".safetensors"):
        return _checkpoint_point(target, folder)
    name, at, tail = target.rpartition("@")
    if not at:
        name, tail = target, ""
    elif not name:
        raise SessionError(f"--fork {target}: the run's name is missing before @ (--fork RUN@EPOCH, e.g. "
                           f"--fork {_example(folder)}@{tail or 5}; `nnstudio runs list` lists them)")
    epoch = _epoch(tail, target, name) if at else None
    try:
        run_dir = find_run(name, folder)
    except saves.SaveError as error:
        raise SessionError(f"--fork {target}: {error}") from None
    if not saves.is_run_dir(run_dir):
        raise SessionError(f"--fork {target}: {run_dir} is not a run folder (it has no readable run.json); "
                           f"`nnstudio runs list` lists the runs")
    return run_dir, epoch


def _epoch(text: str, target: str, name: str) -> int:
    """The EPOCH of RUN@EPOCH: 0 (the run's starting weights, while it keeps them) or more."""
    if text.isascii() and text.isdigit():
        return int(text)
    if not text:
        raise SessionError(f"--fork {target}: the epoch after @ is missing, e.g. {name}@5 (or {name} alone for "
                           f"its latest)")
    if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
        raise SessionError(f"--fork {target}: epochs are counted from 0 (the run's starting weights) up to its "
                           f"last, so {text} is none; e.g. {name}@5")
    raise SessionError(f"--fork {target}: the epoch after @ must be a whole number, e.g. {name}@5")


def _example(folder: str | Path | None) -> str:
    """A run's name to show in a message: the newest run's, else RUN."""
    runs = saves.find_runs(folder)
    return runs[0].name if runs else "RUN"


def _checkpoint_point(target: str, folder: str | Path | None) -> tuple[Path, int]:
    """A checkpoint file named for --fork: the epoch of its run it holds (epoch-0029.safetensors: 29)."""
    runs = saves.runs_folder(folder)
    candidates = (Path(target), runs / target)
    path = next((p for p in candidates if p.is_file()), None)
    number = Path(target).name.removeprefix("epoch-").removesuffix(".safetensors")
    if path is None and number.isascii() and number.isdigit():   # (an epoch it no longer keeps: which it keeps)
        run_dir = next((p.parent for p in candidates if saves.is_run_dir(p.parent)), None)
        if run_dir is not None:
            return run_dir, int(number)
    if path is None:
        raise SessionError(f"--fork {target}: no such checkpoint file (name a run and an epoch: --fork RUN@EPOCH; "
                           f"`nnstudio runs show RUN` lists its checkpoints)")
    run_dir = path.parent
    if not saves.is_run_dir(run_dir):
        raise SessionError(f"--fork {target}: a fork branches from a run's checkpoint, and this file is not in a run "
                           f"folder; continue it as a new run with --from {target}")
    if path.name == saves.checkpoints.PARTIAL_FILE:
        raise SessionError(f"--fork {target}: that is where a stopped run stands in the middle of an epoch; a fork "
                           f"starts from an epoch's end (--fork {run_dir.name}@EPOCH), and --resume {run_dir.name} "
                           f"continues it from there")
    epoch = _best_epoch(path) if path.name == saves.checkpoints.BEST_FILE else \
        int(number) if number.isascii() and number.isdigit() else None
    if epoch is None:
        raise SessionError(f"--fork {target}: not a checkpoint of an epoch of {run_dir.name}; fork from one of "
                           f"its epochs: --fork {run_dir.name}@EPOCH")
    return run_dir, epoch


def kept_checkpoints(run_dir: Path) -> dict[int, Path]:
    """The run's checkpoints a fork can start from, by epoch: each epoch-NNNN file, and best.safetensors for its
    epoch when the last few kept no longer hold it."""
    found = dict(saves.checkpoints.epoch_checkpoints(run_dir))
    best = run_dir / saves.checkpoints.BEST_FILE
    epoch = _best_epoch(best) if best.is_file() else None
    if epoch is not None and epoch not in found:
        found[epoch] = best
    return dict(sorted(found.items()))


def _best_epoch(path: Path) -> int | None:
    """The epoch a run's best.safetensors holds (its header says), or None if it does not read."""
    try:
        part = saves.read_metadata(path).checkpoint
    except saves.SaveError:
        return None
    return part["epoch"] if part is not None else None


def fork_checkpoint(run_dir: Path, epoch: int | None) -> tuple[Path, int]:
    """The checkpoint a fork starts from, and its epoch; SessionError if the run keeps none of that epoch."""
    found = kept_checkpoints(run_dir)
    if not found:
        info = saves.read_run(run_dir)
        why = "`nnstudio runs prune` deleted them" if info is not None and info.pruned_at else \
            "it was pruned, or it had checkpoints off"
        raise SessionError(f"{run_dir.name} keeps no checkpoint to fork from ({why}; its history is kept: "
                           f"`nnstudio runs show {run_dir.name}`)")
    if epoch is None:
        epoch = max(found)
    if epoch not in found:
        kept = ", ".join(str(e) for e in sorted(found))
        raise SessionError(f"{run_dir.name} has no checkpoint of epoch {epoch} (it keeps epochs {kept}: the last "
                           f"few and the best); fork from one of those, e.g. {run_dir.name}@{max(found)}")
    return found[epoch], epoch


def retry_hint(run_dir: Path, lr: float | None) -> str | None:
    """After a run diverged, what to try besides starting again: fork it from its last good epoch (its latest
    checkpoint: the epoch that diverged has none) with a tenth of its learning rate. None if it keeps none."""
    kept = kept_checkpoints(run_dir)
    if not kept:
        return None
    epoch = max(kept)
    lower = f" --lr {number_text(lr / 10)}" if isinstance(lr, (int, float)) and lr > 0 else ""
    command = f"nnstudio train --fork {run_dir.name}@{epoch}{lower}"
    if not epoch:
        return f"Or try again from its starting weights with a tenth of the learning rate: {command}"
    return f"Or go on from epoch {epoch}, its last good one, with a tenth of the learning rate: {command}"


def planned_epochs(parent_epochs: int, epoch: int) -> int:
    """The epochs in all a fork from `epoch` plans unless told: its parent's, or EXTRA_EPOCHS more when the
    parent's plan is done by then (a fork must train on)."""
    return parent_epochs if parent_epochs > epoch else epoch + EXTRA_EPOCHS


def parent_config(checkpoint: Path) -> RunConfig:
    """The settings the parent trained with at that checkpoint (a fork's starting settings)."""
    return config_of(load_save(checkpoint))


def changes(parent: RunConfig, config: RunConfig) -> dict[str, Any]:
    """The settings a fork changes: {dotted path: new value}, in the portable settings (not the folders)."""
    before, after = flat_settings(parent.portable_dict()), flat_settings(config.portable_dict())
    return {path: after[path] for path in after if after[path] != before.get(path)}


def fixed_changes(changed: dict[str, Any]) -> list[str]:
    """The changed settings a fork cannot change (its data set and model)."""
    return [path for path in changed if path.split(".", 1)[0] in FIXED_SECTIONS and path not in MOVABLE]


def fork(run_dir: Path, epoch: int | None, overrides: dict[str, Any], *,
         on_event: Callable[[Any], None] | None = None, dataset: Dataset | None = None) -> Session:
    """A new run continuing `run_dir`'s checkpoint of `epoch` (None: its latest) with the parent's settings
    changed by `overrides` ({dotted path: value}); SessionError naming the problem if it cannot."""
    checkpoint, epoch = fork_checkpoint(run_dir, epoch)
    loaded = load_save(checkpoint)
    if loaded.checkpoint is None:
        raise SessionError(f"{checkpoint}: not a checkpoint")
    parent = config_of(loaded)
    try:
        config = parent.replace(**overrides)
    except ConfigError as error:
        raise SessionError(str(error)) from None
    changed = changes(parent, config)
    fixed = fixed_changes(changed)
    if fixed:
        raise SessionError(f"a fork goes on with its parent's data set and model, so {fixed[0]} cannot change; "
                           f"to train another, start from a save: nnstudio train --from SAVE")
    fresh = frozenset(part for part, prefixes in FRESH_WHEN_CHANGED.items()
                      if any(path.startswith(prefix) for path in changed for prefix in prefixes))
    session = Session(config, on_event=on_event, dataset=dataset)
    session.origin = {"kind": "fork", "run": run_dir.name, "path": str(run_dir), "epoch": epoch, "changed": changed}
    session._restore(loaded, fresh=fresh)
    try:
        session.plan(config.training.epochs)   # (a longer plan than the parent's stretches its cosine schedule)
    except NothingToTrain as error:
        raise SessionError(f"the fork starts after epoch {error.done} and plans {error.total} in all; plan "
                           f"{error.done + 1} or more (the total to train up to), e.g. "
                           f"{error.done + EXTRA_EPOCHS}") from None
    for path in LIVE_SETTINGS:
        if path in changed:
            session.set_live(path, config.get(path))   # as if typed at the branch point
    session.inherited = (parent.portable_dict(), records_until(run_dir, epoch))
    return session

