"""Sessions that go on from a file: a checkpoint resumed exactly where it stopped, a save's weights continued
as a new run, and the restore a fork builds on (`forking.py`). `Session.open_checkpoint`, `Session.from_save`
and `Session._restore` are these.

Checkpoints make a run that a dropped SSH connection or Ctrl+C cut off resumable exactly: weights,
optimizer state, schedule, early stopping, data order, random streams and the position in the
epoch all come back. A save holds weights and history only: continuing one is a new run, numbered
after the save's epochs (`Session.epoch_offset`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from nnstudio import saves
from nnstudio.datasets import DatasetError
from nnstudio.datasets.dataset import Dataset
from nnstudio.engine import divergence

from .config import ConfigError, RunConfig
from .reopening import config_of, load_save, run_folder_to_continue
from .reports import SessionError
from .training_data import saved_standardizer, split_rule_of

if TYPE_CHECKING:
    from .session import Session


def open_checkpoint(cls: type["Session"], path: str | Path, *, on_event: Callable[[Any], None] | None = None,
                    dataset: Dataset | None = None, folder: str | Path | None = None) -> "Session":
    """A session continuing a checkpoint exactly where it stopped: a checkpoint file, or a run folder
    (its `saves.resume_point`).

    It goes on writing in the checkpoint's run folder only if the file is that run's resume
    point. A checkpoint anywhere else (copied into the saves folder, an older epoch of a run)
    continues in a fresh run folder under `folder`'s runs/ (default: the config's saves
    folder): the folder it lies in is never taken over or pruned.
    """
    path = Path(path)
    if path.is_dir():
        if not saves.is_run_dir(path):
            raise SessionError(f"{path}: not a run folder (it has no run.json); name a run folder or a checkpoint")
        checkpoint, run_dir = saves.resume_point(path), path
        if checkpoint is None:
            raise SessionError(f"{path}: no checkpoint to resume in this run folder")
    else:
        checkpoint, run_dir = path, run_folder_to_continue(path)
    if run_dir is not None:
        not_held(run_dir)
    loaded = load_save(checkpoint)
    if loaded.checkpoint is None:
        raise SessionError(f"{checkpoint}: a model save, not a checkpoint; continue it with --from")
    config = config_of(loaded)
    if folder is not None:
        config = config.replace(**{"checkpoints.folder": str(folder)})
    session = cls(config, on_event=on_event, dataset=dataset)
    session.run_dir, session.resumed_from = run_dir, checkpoint
    if run_dir is None:   # (a run folder's own resume point keeps the origin its history holds)
        session.origin = {"kind": "checkpoint", "path": str(checkpoint)}
    restore(session, loaded)
    return session


def not_held(run_dir: Path) -> None:
    """SessionError if another process trains the run now (it holds the run's lock): two processes never train
    one run; the message says which process, and how to follow or stop it."""
    info = saves.read_run(run_dir)
    if info is not None and info.active:
        raise SessionError(f"{info.name} is being trained by another process ({info.holder}, which holds its lock): "
                           f"follow it in the studio's Runs pane (o), or stop it first (nnstudio runs stop "
                           f"{info.name})")


def from_save(cls: type["Session"], path: str | Path, *, config: RunConfig | None = None, reinitialise: bool = False,
              on_event: Callable[[Any], None] | None = None, dataset: Dataset | None = None) -> "Session":
    """A new run that continues from a save's weights (or, with `reinitialise`, repeats its config from scratch)."""
    loaded = load_save(Path(path))
    session = cls(config or config_of(loaded), on_event=on_event, dataset=dataset)
    session.origin = {"kind": "save", "path": str(Path(path).resolve()), "reinitialised": reinitialise,
                      "epochs": 0 if reinitialise else len(loaded.metadata.history)}
    if not reinitialise:   # before the trainer and schedule are built: they span the epochs still to train
        session.epoch_offset = len(loaded.metadata.history)
    session.split_rule = split_rule_of(loaded.metadata)   # (validated on the rows it was: it never trained on them)
    if not reinitialise:
        session.standardizer = saved_standardizer(loaded.metadata)   # (its inputs scaled as when it trained)
    session.prepare()
    if not reinitialise:
        session.model.load_state_dict(loaded.model.state_dict())
        session.history = list(loaded.metadata.history)
        if loaded.metadata.dataset_name == session.dataset.name:   # (another data set's losses do not compare)
            session.trainer.best_loss = divergence.best_loss(h.get("train_loss") for h in session.history)
    return session


def restore(session: "Session", loaded: saves.Loaded, fresh: frozenset[str] = frozenset()) -> None:
    """Prepare the session as usual, then put back weights, optimizer, schedule, early stopping, random streams
    and position.

    The parts named in `fresh` ("optimizer", "scheduler", "early_stopping", "rng") are not put back: a
    fork that changed their settings starts them afresh (a fresh schedule at the epoch it forks from).
    """
    session.split_rule = split_rule_of(loaded.metadata)   # (the same rows, as it trained: bit-identical)
    session.standardizer = saved_standardizer(loaded.metadata)
    session.prepare()
    resume = loaded.checkpoint
    recorded = (resume.data_state or {}).get("blas_threads")
    session.recorded_blas_threads = recorded if type(recorded) is int and recorded >= 1 else None
    try:
        session.model.load_state_dict(loaded.model.state_dict())
        resume.restore(None if "optimizer" in fresh else session.optimizer,
                       None if "scheduler" in fresh else session.scheduler,
                       None if "early_stopping" in fresh else session.early_stopping, rng="rng" not in fresh)
        state = resume.data_state or {}
        session.batches.set_state(state["batches"])
        session.trainer.load_state_dict(state["trainer"])
        if "scheduler" in fresh and session.scheduler is not None:
            session.scheduler.load_state_dict({**session.scheduler.state_dict(), "last_epoch": session.trainer.epoch})
        session.history = list(loaded.metadata.history)
        # older checkpoints do not record the offset: their history holds it
        offset = state.get("epoch_offset", max(len(session.history) - session.trainer.epoch, 0))
    except (saves.SaveError, DatasetError, KeyError, TypeError, ValueError) as error:
        raise SessionError(f"cannot resume from {loaded.path}: {error}") from None
    if type(offset) is not int or offset < 0:
        raise SessionError(f"cannot resume from {loaded.path}: its epoch_offset must be a whole number >= 0, "
                           f"got {offset!r:.40}")
    if "epochs_planned" not in state and offset:   # older checkpoints counted training.epochs after the offset
        try:
            session.config = session.config.replace(**{"training.epochs": offset + session.config.training.epochs})
        except ConfigError as error:
            raise SessionError(f"cannot resume from {loaded.path}: {error}") from None
    session._continue_after(offset)
