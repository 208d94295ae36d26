"""What a training session keeps of its run on disk while it trains: the run folder's checkpoints, which make
it resumable, and its history (`history.py`), which records it. Opened when a run starts, written as the
loop's events arrive, marked with how the run ended when it ends.

    folder = RunRecording(session)        # a session whose checkpoints are on
    folder.open()                         # a new run folder (and a checkpoint of where it starts), or its own
    folder.batch(event); folder.epoch(event); folder.setting("optimizer.lr", 0.01)
    folder.stopped()                      # a checkpoint of where a stopped run stands
    folder.close(Status.FINISHED, why)    # the history's end record, the folder's mark, the lock released

A run folder (`nnstudio.saves.checkpoints`) holds `epoch-NNNN.safetensors` for finished epochs
only (from epoch 0, the run's starting point, on), and a partial checkpoint for a run stopped
mid-epoch, which resuming prefers while it is newer than the last epoch's (`saves.resume_point`).
What a checkpoint holds is the session's to say (`Session._checkpoint_parts`); where and when it
is written, and what a failure to write it means for the run, is this module's.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

from nnstudio import saves
from nnstudio.engine import events

from .history import HistoryRecorder
from .reports import CheckpointSaved, Notice, SessionError
from .runs import own_start_of
from .status import Status

if TYPE_CHECKING:
    from .session import Session


class RunRecording:
    """A session's run folder while one `Session.run` trains: its checkpoints and its history."""

    def __init__(self, session: "Session") -> None:
        self.session = session
        self.manager: saves.CheckpointManager | None = None
        self.recorder: HistoryRecorder | None = None
        self.checkpoint_problem: str | None = None
        """Why a checkpoint could not be written, if one could not: the run stopped there, resumable."""
        self.close_problem: str | None = None
        """Why the run folder could not be marked as ended, if it could not (the run's training itself is done)."""

    # ------------------------------------------------------------------ opening
    def open(self) -> None:
        """Open the run folder for writing (the session's, or a new one it names); a new folder starts with a
        checkpoint of where the run starts, so that a stop (or a dropped connection) in its first epoch is
        resumable too. Then the history's run record."""
        session = self.session
        monitor, mode = ("val_acc", "max") if session.classes else ("val_loss", "min")
        fresh = session.run_dir is None
        try:
            if fresh:
                session.run_dir = saves.new_run_dir(session.run_name or self._default_name(),
                                                    session.config.checkpoints.folder)
            self.manager = saves.CheckpointManager(session.run_dir, keep_last=session.config.checkpoints.keep_last,
                                                   monitor=monitor, mode=mode)
            if fresh:
                self.stopped()
        except saves.SaveError as error:
            raise SessionError(f"cannot write checkpoints: {error}") from None
        if not fresh and session.own_from is None:   # (resumed in its folder: its own epochs began where they did)
            session.own_from = own_start_of(session.run_dir)
        self._record_start(fresh)

    def _default_name(self) -> str:
        return f"{self.session.config.data.name}-{self.session.spec.get('name') or 'model'}"

    def _record_start(self, fresh: bool) -> None:
        """The history's run record: where a run starts, or where it goes on from (the lock is held). A fork's
        history starts with its parent's up to the epoch it branches from (`Session.inherited`)."""
        session = self.session
        self.recorder = HistoryRecorder(session.run_dir, train_size=len(session.data.x_train))
        facts = dict(dataset=session.dataset.name, model=session.spec.get("name"), spec=session.spec,
                     task=session.task, blas_threads=session.blas_threads)
        if fresh and session.inherited is not None:
            parent_config, records = session.inherited
            self.recorder.start(config=parent_config, origin=session.origin, **facts)
            self.recorder.inherit(records)
        self.recorder.start(config=session._config_record(), origin=session.origin,
                            at=None if fresh and session.inherited is None else session.position, **facts)
        if self.recorder.problem is not None:
            session.on_event(Notice(self.recorder.problem))

    # ------------------------------------------------------------------ as the run trains
    def batch(self, event: events.BatchEnd) -> None:
        if self.recorder is not None:
            self.recorder.batch(event)

    def epoch(self, event: events.EpochEnd) -> None:
        """An epoch ended: record it (its checkpoint follows once the front ends have the event: `checkpoint_epoch`)."""
        if self.recorder is not None:
            self.recorder.epoch(event)

    def setting(self, path: str, value) -> None:
        """A live setting changed (from any thread), where the run stands now."""
        if self.recorder is not None:
            self.recorder.setting(path, value, at=self.session.position)

    def checkpoint_epoch(self) -> None:
        """The clean checkpoint of the epochs done (epoch-NNNN); a partial one from before is now stale."""
        session = self.session
        if self.manager is None:
            return
        metric = None
        if session.last_epoch is not None:
            metric = session.last_epoch.val_accuracy if session.classes else session.last_epoch.val_loss
            metric = metric if metric is not None and math.isfinite(metric) else None
        with self._writing_checkpoint():
            path = self.manager.save(session.epochs_done, session.model, session.optimizer, metric=metric,
                                     **session._checkpoint_parts())
        session.on_event(CheckpointSaved(path, session.epochs_done))

    def stopped(self) -> None:
        """A checkpoint of where the run stands: the epoch's own at an epoch boundary; mid-epoch, the
        run's partial one, so the clean checkpoint of the last finished epoch is never overwritten."""
        session = self.session
        if self.manager is None:
            return
        if not session.batches_into_epoch:
            self.checkpoint_epoch()
            return
        with self._writing_checkpoint():
            path = self.manager.save_partial(session.epochs_done, session.model, session.optimizer,
                                             **session._checkpoint_parts())
        session.on_event(CheckpointSaved(path, session.epochs_done))

    @contextlib.contextmanager
    def _writing_checkpoint(self):
        """A checkpoint that cannot be written (a full disk, a folder made read-only) ends the run: training on
        with nothing kept would lose what follows. The run stays resumable from its last checkpoint: its
        folder is not marked as failed, and the message (`checkpoint_problem`) says how to go on."""
        try:
            yield
        except saves.SaveError as error:
            run_dir = self.session.run_dir
            last = saves.resume_point(run_dir) if run_dir is not None else None
            where = (f"it resumes from {last.name} once the folder can be written: nnstudio train --resume "
                     f"{run_dir.name}" if last is not None else "no checkpoint of it could be written")
            what = f"{error.path.name}: {error.problem}" if error.path is not None else error.problem
            self.checkpoint_problem = f"could not write a checkpoint ({what}), so the run stopped; {where}"
            raise SessionError(self.checkpoint_problem) from None

    # ------------------------------------------------------------------ closing
    def close(self, outcome: Status, why: str) -> None:
        """Record how the run ended, mark the run folder with it and let it go. A folder that can no longer be
        written (made read-only, a full disk) costs the mark, not the run: the training is done, the last
        checkpoint stays and the folder still reads as cut off, so `--resume` finds it; `close_problem` says
        so (the front ends show it once the run has ended)."""
        manager, self.manager = self.manager, None
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.end(outcome.value, why, at=self.session.position)
            recorder.close()
            if recorder.problem is not None and recorder.problem != self.close_problem:
                self.session.on_event(Notice(recorder.problem))
        if manager is None:
            return
        try:
            if outcome in (Status.FINISHED, Status.EARLY_STOPPED):
                manager.finish("finished")
            elif outcome.ended and self.checkpoint_problem is None:   # (that one stays resumable)
                manager.finish("failed")
        except saves.SaveError as error:
            self.close_problem = (f"could not mark the run folder {manager.run_dir} as ended ({error}); the run is "
                                  f"still resumable from its last checkpoint: nnstudio train --resume "
                                  f"{manager.run_dir.name}")
        finally:
            manager.close()   # (finish closes too; a failed one may not have): the lock is released either way
