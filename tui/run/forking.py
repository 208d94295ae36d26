"""Forks: a run continued from one of its epochs with changed settings, as a new run beside it.

    run_dir, epoch = fork_point("mnist-mlp-20261203-101500@5", folder)   # RUN[@EPOCH]; EPOCH: its latest
    session = fork(run_dir, epoch, {"optimizer.lr": 0.01})             # the settings to change
    session.run()                                 # epochs 6, 7, ... in a new run folder

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

from .config import LIVE_SETTINGS, ConfigError, RunConfig, flat_settings
from .history import records_until
from .reopening import config_of, load_save
from .reports import NothingToTrain, SessionError
from .session import Session

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
    """RUN or RUN@EPOCH (a run's name in the runs folder, or a path): its folder and the epoch (None: latest).
    SessionError naming the problem if there is no such run."""
    name, epoch = target, None
    head, at, tail = target.rpartition("@")
    if at and head:
        if not tail.isascii() or not tail.isdigit():
            raise SessionError(f"--fork {target}: the epoch after @ must be a whole number, e.g. {head}@5")
        name, epoch = head, int(tail)
    runs = saves.runs_folder(folder)
    for candidate in (Path(name), runs / name):
        if saves.is_run_dir(candidate):
            return candidate, epoch
    raise SessionError(f"--fork {target}: no run folder {name} (runs are in {runs}; `nnstudio runs list` lists them)")


def fork_checkpoint(run_dir: Path, epoch: int | None) -> tuple[Path, int]:
    """The checkpoint a fork starts from, and its epoch; SessionError if the run keeps none of that epoch."""
    found = dict(saves.checkpoints.epoch_checkpoints(run_dir))
    if not found:
        raise SessionError(f"{run_dir.name} keeps no checkpoint to fork from (it was pruned, or it had checkpoints off)")
    if epoch is None:
        epoch = max(found)
    if epoch not in found:
        kept = ", ".join(str(e) for e in sorted(found))
        raise SessionError(f"{run_dir.name} has no checkpoint of epoch {epoch} (it keeps epochs {kept}: the last "
                           f"few and the best); fork from one of those, e.g. {run_dir.name}@{max(found)}")
    return found[epoch], epoch


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
        raise SessionError(f"the fork starts after epoch {error.done} and plans {error.total} in all; give it more "
                           f"epochs, e.g. --epochs {error.done + 5}") from None
    for path in LIVE_SETTINGS:
        if path in changed:
            session.set_live(path, config.get(path))   # as if typed at the branch point
    session.inherited = (parent.portable_dict(), records_until(run_dir, epoch))
    return session

