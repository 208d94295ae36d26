"""The training session: one object that owns a run, driven alike by the command line and the studio.

    session = Session(config, on_event=print)
    session.prepare()            # data set, split, model, optimizer, schedule (errors: SessionError)
    session.run()                # blocking: run it in a worker thread; events arrive through on_event
    session.pause() / resume() / step_batch() / step_epoch() / stop() / set_live("optimizer.lr", 0.01)
    session.status               # Status.RUNNING, ... (a StatusChanged event says when it changes)
    session.evaluate_test()      # test-split figures of the model as it is

It wires a `RunConfig` to a data set (`nnstudio.datasets`), a model and optimizer (the engine),
the engine's `Trainer` and per-epoch checkpoints (`nnstudio.saves`), and keeps the history.
It holds no training logic of its own: the loop is the engine's. It owns the run's `Status`:
commands move it at once to what was asked, the loop's events to what happened (`status.py`).
Checkpoints make a run that a dropped SSH connection or Ctrl+C cut off resumable exactly
(`Session.open_checkpoint`).

A run folder (`nnstudio.saves.checkpoints`) holds `epoch-NNNN.safetensors` for finished epochs
only (from epoch 0, the run's starting point, on), and a partial checkpoint for a run stopped
mid-epoch, which resuming prefers while it is newer than the last epoch's (`saves.resume_point`).

Epochs are numbered across a save and its continuations (`--from`): a save trained for 3 epochs
continues with epoch 4, in the history, the checkpoints, the saved config and the events alike;
`epoch_offset` is that shift. `training.epochs` counts in that numbering: it is the total the run
trains up to, the save's epochs included (as Keras' `epochs` with `initial_epoch`), so a save of
3 epochs continued with `training.epochs` 5 trains 2 more, and a resumed run keeps its total. The
session owns the numbering: the `BatchEnd` and `EpochEnd` events it passes on count epochs as its
history does (the trainer counts only its own, `training.epochs - epoch_offset`), and `plan` is
the one check of a planned total.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nnstudio import saves
from nnstudio.datasets import BatchIterator, DatasetError
from nnstudio.datasets.dataset import Dataset
from nnstudio.engine import divergence, events, manual_seed
from nnstudio.engine.control import Controller
from nnstudio.engine.evaluation import evaluate, predict
from nnstudio.engine.metrics import softmax
from nnstudio.engine.nn import Module
from nnstudio.engine.optim import CosineAnnealingLR
from nnstudio.engine.spec import build_model, is_autoencoder
from nnstudio.engine.trainer import Trainer

from .blas import blas_threads, continue_with
from .config import LIVE_SETTINGS, ConfigError, RunConfig
from .history import HistoryRecorder
from .training_data import load_run_dataset, prepare_run_data
from .factory import fit_spec, make_early_stopping, make_loss, make_optimizer, make_scheduler
from .reports import CheckpointSaved, Notice, NothingToTrain, Prepared, SessionError
from .reopening import config_of, load_save, run_folder_to_continue
from .status import OUTCOMES, Status, StatusChanged, after_event

#: test images whose predictions are reported every epoch (the studio's digit grid draws from them)
PROBE_SIZE = 500
#: how long `save` waits for a paused run to finish the batch it is in
SAVE_WAIT_SECONDS = 5.0


class Session:
    """One training run: configuration, data, model, optimizer, history and checkpoints."""

    def __init__(self, config: RunConfig, *, on_event: Callable[[Any], None] | None = None,
                 dataset: Dataset | None = None, checkpoints: bool = True, run_name: str | None = None) -> None:
        self.config = config
        self.on_event = on_event or (lambda event: None)
        self.controller = Controller()
        self.history: list[dict] = []
        self._status = Status.IDLE
        # commands (any thread, a signal handler too: reentrant) and the loop's events both move it
        self._status_lock = threading.RLock()
        self.dataset = dataset
        self.checkpoints_enabled = checkpoints and config.checkpoints.every_epoch
        self.run_name = run_name
        self.run_dir: Path | None = None
        self.resumed_from: Path | None = None   # the checkpoint file `open_checkpoint` continues
        self.last_epoch: events.EpochEnd | None = None
        self.trainer: Trainer | None = None
        self.epoch_offset = 0  # epochs of the save this run continues, before its trainer's first
        self.blas_threads: int | None = None  # BLAS threads the run trains with (`blas.py`: resuming uses them again)
        self.recorded_blas_threads: int | None = None  # those of the checkpoint it continues (`match_blas_threads`)
        self._manager: saves.CheckpointManager | None = None
        self.origin: dict = {"kind": "new"}
        """Where the run came from, as its history records it (`history.py`): new, a save, a checkpoint, a fork."""
        self._recorder: HistoryRecorder | None = None
        self.inherited: tuple[dict, list[dict]] | None = None   # a fork's: its parent's config and history records
        self._ending = ""   # why the run ended, as the loop's last event said
        self.close_problem: str | None = None
        """Why the run folder could not be marked as ended, if it could not (the run's training itself is done)."""
        self.checkpoint_problem: str | None = None
        """Why a checkpoint could not be written, if one could not: the run stopped there, resumable."""

    # ================================================================== status
    @property
    def status(self) -> Status:
        """What the run is doing now (see `nnstudio.tui.run.status`)."""
        return self._status

    def _move(self, rule: Callable[[Status], Status]) -> None:
        """Set the status to `rule(current status)`, atomically; report a change as `StatusChanged`."""
        with self._status_lock:
            before, self._status = self._status, rule(self._status)
            after = self._status
        if after is not before:
            self.on_event(StatusChanged(after))

    # ================================================================== building the run
    def prepare(self) -> None:
        """Load and split the data, build the model, optimizer, schedule and trainer from the config.

        The status is "preparing" meanwhile, then "idle" (ready), or "failed" if it cannot be done.
        """
        self._move(lambda status: Status.PREPARING)
        try:
            self._build()
        except BaseException:
            self._move(lambda status: Status.FAILED)
            raise
        self._move(lambda status: Status.IDLE)
        self.on_event(Prepared(self))

    def _build(self) -> None:
        config = self.config
        if self.dataset is None:
            self.dataset = load_run_dataset(config, self.on_event)
        dataset = self.dataset
        self.spec = fit_spec(config, dataset)
        self.reconstruct = is_autoencoder(self.spec)
        self.classes = dataset.num_classes if dataset.task == "classification" and not self.reconstruct else None
        layout = "image" if len(self.spec["input_shape"]) == 3 else "flat"
        self.data = prepare_run_data(config, dataset, layout)
        manual_seed(config.training.seed)
        self.model = build_model(self.spec)
        self._build_training_objects()

    def _build_training_objects(self) -> None:
        config, data = self.config, self.data
        self.optimizer = make_optimizer(config, self.model.parameters())
        self.scheduler = make_scheduler(config, self.optimizer, epochs=self._trainer_epochs())
        self.early_stopping = make_early_stopping(config)
        self.loss_fn = make_loss(self.dataset.task, self.reconstruct, config)
        y_train = data.x_train if self.reconstruct else data.y_train
        y_val = data.x_val if self.reconstruct else data.y_val
        self.batches = BatchIterator(data.x_train, y_train, config.training.batch_size, seed=config.training.seed)
        probe_rng = np.random.default_rng(config.training.seed)
        self.probe_index = np.sort(probe_rng.permutation(len(data.x_test))[:PROBE_SIZE])
        self.trainer = Trainer(
            self.model, self.optimizer, self.loss_fn, self.batches, epochs=self._trainer_epochs(),
            val_data=(data.x_val, y_val), classes=self.classes, scheduler=self.scheduler,
            clip_norm=config.training.clip_norm or None, early_stopping=self.early_stopping,
            probe=data.x_test[self.probe_index], on_event=self._handle, controller=self.controller,
            chance_loss=divergence.chance_loss(y_train, self.classes))

    def _trainer_epochs(self) -> int:
        """The trainer's own share of the plan: the epochs after those of the save this run continues."""
        return max(self.config.training.epochs - self.epoch_offset, 0)

    def _continue_after(self, offset: int) -> None:
        """Number this run's epochs after `offset` epochs of a save (the trainer keeps the planned total)."""
        self.epoch_offset = offset
        if self.trainer is not None:
            self.trainer.epochs = self._trainer_epochs()

    @property
    def task(self) -> str:
        """What the prepared model does: "classification", "regression" or "reconstruction" (an autoencoder)."""
        return "classification" if self.classes else "reconstruction" if self.reconstruct else "regression"

    # ================================================================== running
    @property
    def epochs_done(self) -> int:
        """Epochs trained in all, the continued save's included: the number the history shows last."""
        return self.epoch_offset + (self.trainer.epoch if self.trainer is not None else 0)

    @property
    def epochs_planned(self) -> int:
        """The history's epoch number at which the run is planned to end: `training.epochs`."""
        return self.config.training.epochs

    @property
    def epochs_left(self) -> int:
        """Epochs still to train before the plan is done (0: nothing left; `plan` a larger total to go on)."""
        return max(self.epochs_planned - self.epochs_done, 0)

    @property
    def batches_into_epoch(self) -> int:
        """Batches done in the epoch under way (0 at an epoch boundary)."""
        return self.trainer.state_dict()["tally"]["batches"] if self.trainer is not None else 0

    def run(self, epochs: int | None = None) -> Status:
        """Train (blocking) until the planned epochs are done or the run stops; returns the final status.

        `epochs` sets a new planned total (as `training.epochs` counts: the epochs already done
        included), e.g. more to continue a finished run: `plan(epochs)`.
        """
        try:
            if self.trainer is None:
                self._move(lambda status: Status.PREPARING)
                self._build()
                self.on_event(Prepared(self))
            if epochs is not None:
                self.plan(epochs)
            self._move(self._under_way)
            self.blas_threads = blas_threads()   # recorded in its checkpoints: a resume uses the same (blas.py)
            if self.checkpoints_enabled and self._manager is None:
                self._open_checkpoints()
        except BaseException as error:
            self._failed(error)
            raise
        self.close_problem = self.checkpoint_problem = None   # (a continued run marks its folder afresh)
        outcome = OUTCOMES[self.trainer.run()]
        self.controller.reset()   # a command the loop no longer obeyed (x in the last validation) ends with it
        if self._recorder is not None:
            self._recorder.end(outcome.value, self._ending, at=self.position)
        try:
            self._close_checkpoints(outcome)
        except BaseException as error:
            self._failed(error)
            raise
        self._move(lambda status: outcome)   # last: a run shown as ended has its run folder marked
        return outcome

    def _failed(self, error: BaseException) -> None:
        """A run that could not start or go on: say why first (a `Failed` event, as the loop's own), then the status."""
        if isinstance(error, Exception):
            expected = isinstance(error, SessionError)
            self.on_event(events.Failed(str(error) if expected else f"{type(error).__name__}: {error}",
                                        "" if expected else traceback.format_exc()))
        self._move(lambda status: Status.FAILED)

    def _under_way(self, status: Status) -> Status:
        """The status of a run whose loop is starting: running, unless a pause or step was asked first."""
        if self.controller.stop_requested:
            return Status.STOPPING
        if self.controller.paused:
            return Status.STEPPING if self.controller.stepping else Status.PAUSING
        return Status.RUNNING

    def starting(self) -> None:
        """Say that `run` is about to start in another thread, from the thread that starts it: the status moves
        at once to what `run` shows first ("preparing", "running", or "stepping" after a step asked for), so the
        run counts as under way, keys that need it still are refused, and it is never started twice."""
        self._move(lambda status: Status.PREPARING if self.trainer is None else self._under_way(status))

    def plan(self, total: int | None = None) -> None:
        """Plan this session's run to end at epoch `total` of the history's numbering (None: keep the plan).

        The one check of a plan: NothingToTrain unless it leaves at least one epoch to train.
        The config says so too (`training.epochs`), so a checkpoint resumes the same plan.
        Needs a prepared session.
        """
        done = self.epochs_done
        planned = self.epochs_planned if total is None else total
        if planned <= done:
            raise NothingToTrain(planned, done)
        if total is None:
            return
        try:
            self.config = self.config.replace(**{"training.epochs": total})
        except ConfigError as error:
            raise SessionError(str(error)) from None
        self.trainer.epochs = self._trainer_epochs()
        span = max(self.trainer.epochs - getattr(self.scheduler, "warmup_epochs", 0), 1)
        if isinstance(self.scheduler, CosineAnnealingLR) and span != self.scheduler.T_max:
            self.scheduler.stretch(span)   # the curve spans the plan, as `make_scheduler` made it

    def _handle(self, event) -> None:
        """Events from the trainer (training thread): number, record, checkpoint, follow the status, pass on."""
        if isinstance(event, events.BatchEnd):
            event = self._numbered(event)
            if self._recorder is not None:
                self._recorder.batch(event)
            self.on_event(event)
            return
        if isinstance(event, events.EpochEnd):
            event = self._numbered(event)
            self.history.append(event.as_dict())
            if self._recorder is not None:
                self._recorder.epoch(event)
            self.last_epoch = event
            self.on_event(event)
            self._checkpoint_epoch()
            return
        event = self._numbered(event)
        if isinstance(event, events.Failed) and self.checkpoint_problem is not None:
            event = events.Failed(self.checkpoint_problem)   # (not "SessionError: ..." and a traceback)
        if isinstance(event, (events.Finished, events.Diverged, events.Failed)):
            self._ending = event.message or getattr(event, "reason", "")
        elif isinstance(event, events.Stopped):
            self._ending = ""
        self._move(lambda status: after_event(status, event))
        self.on_event(event)
        if isinstance(event, events.Stopped):
            self._checkpoint_position()

    def _numbered(self, event):
        """A trainer's BatchEnd, EpochEnd or Diverged numbered as the history is: after the epochs of the save
        this run continues (`epoch`, an EpochEnd's planned `epochs` and the epoch a Diverged restored, shifted
        by `epoch_offset`; the Diverged's message follows its fields)."""
        offset = self.epoch_offset
        if not offset:
            return event
        if isinstance(event, events.EpochEnd):
            return dataclasses.replace(event, epoch=offset + event.epoch, epochs=offset + event.epochs)
        if isinstance(event, events.Diverged):
            return dataclasses.replace(event, epoch=offset + event.epoch, restored_epoch=offset + event.restored_epoch)
        if isinstance(event, events.BatchEnd):
            return dataclasses.replace(event, epoch=offset + event.epoch)
        return event

    # ------------------------------------------------------------------ commands (any thread)
    def pause(self) -> None:
        """Pause after the batch under way ("pausing", then "paused")."""
        self.controller.pause()
        self._move(lambda s: Status.PAUSING if s in (Status.RUNNING, Status.STEPPING) else s)

    def resume(self) -> None:
        self.controller.resume()
        self._move(lambda s: Status.RUNNING if s in (Status.PAUSED, Status.PAUSING) else s)

    def step_batch(self) -> None:
        """While paused: train one batch, then pause again."""
        self.controller.step_batch()
        self._move(lambda s: Status.STEPPING if s is Status.PAUSED else s)

    def step_epoch(self) -> None:
        """While paused: train to the end of the epoch, then pause again."""
        self.controller.step_epoch()
        self._move(lambda s: Status.STEPPING if s is Status.PAUSED else s)

    def stop(self) -> None:
        """Stop at the next batch boundary (a paused run too); the run writes a checkpoint and stays resumable."""
        self.controller.stop()
        self._move(lambda s: Status.STOPPING if s.busy else s)

    def set_live(self, path: str, value: Any) -> Any:
        """Change a live setting (optimizer.lr, optimizer.momentum, optimizer.weight_decay, training.batch_size).

        `value` is typed (parse what a user typed at the edge: `parse_value`); it is checked
        against the config's rules (ConfigError names the problem, nothing is applied), and a
        running trainer picks it up before its next batch. Returns the value as the config holds it.
        """
        if path not in LIVE_SETTINGS:
            raise ConfigError(path, f"cannot change during training (live settings: {', '.join(LIVE_SETTINGS)})")
        self.config = self.config.replace(**{path: value})
        typed = self.config.get(path)
        self.controller.set(**{path.split(".", 1)[1]: typed})
        if self._recorder is not None:
            self._recorder.setting(path, typed, at=self.position)
        return typed

    def match_blas_threads(self) -> str | None:
        """Before a continued checkpoint trains: use the BLAS thread count it trained with (`blas.continue_with`),
        so that it goes on bit-identically. Call it from the program's main thread: threadpoolctl lets only the
        thread that first set the count change it. Returns what to tell the user if the count differs all the same."""
        return continue_with(self.recorded_blas_threads)

    # ================================================================== checkpoints and saves
    def _open_checkpoints(self) -> None:
        """Open the run folder for writing; a new folder starts with a checkpoint of where the run starts,
        so that a stop (or a dropped connection) in its first epoch is resumable too."""
        folder = self.config.checkpoints.folder
        monitor, mode = ("val_acc", "max") if self.classes else ("val_loss", "min")
        fresh = self.run_dir is None
        try:
            if fresh:
                self.run_dir = saves.new_run_dir(self.run_name or self._default_run_name(), folder)
            self._manager = saves.CheckpointManager(self.run_dir, keep_last=self.config.checkpoints.keep_last,
                                                    monitor=monitor, mode=mode)
            if fresh:
                self._checkpoint_position()
        except saves.SaveError as error:
            raise SessionError(f"cannot write checkpoints: {error}") from None
        self._record_start(fresh)

    def _record_start(self, fresh: bool) -> None:
        """The history's run record: where a run starts, or where it goes on from (the lock is held). A fork's
        history starts with its parent's up to the epoch it branches from (`inherited`)."""
        self._recorder = HistoryRecorder(self.run_dir, train_size=len(self.data.x_train))
        facts = dict(dataset=self.dataset.name, model=self.spec.get("name"), spec=self.spec, task=self.task,
                     blas_threads=self.blas_threads)
        if fresh and self.inherited is not None:
            parent_config, records = self.inherited
            self._recorder.start(config=parent_config, origin=self.origin, **facts)
            self._recorder.inherit(records)
        self._recorder.start(config=self._config_record(), origin=self.origin,
                             at=None if fresh and self.inherited is None else self.position, **facts)
        if self._recorder.problem is not None:
            self.on_event(Notice(self._recorder.problem))

    @property
    def position(self) -> tuple[int, int]:
        """Where the run stands: (epochs done, batches done in the next epoch), as the history numbers them."""
        return self.epochs_done, self.batches_into_epoch

    def _default_run_name(self) -> str:
        return f"{self.config.data.name}-{self.spec.get('name') or 'model'}"

    def _checkpoint_epoch(self) -> None:
        """The clean checkpoint of the epochs done (epoch-NNNN); a partial one from before is now stale."""
        if self._manager is None:
            return
        metric = None
        if self.last_epoch is not None:
            metric = self.last_epoch.val_accuracy if self.classes else self.last_epoch.val_loss
            metric = metric if metric is not None and math.isfinite(metric) else None
        with self._writing_checkpoint():
            path = self._manager.save(self.epochs_done, self.model, self.optimizer, metric=metric,
                                      **self._checkpoint_parts())
        self.on_event(CheckpointSaved(path, self.epochs_done))

    def _checkpoint_position(self) -> None:
        """A checkpoint of where the run stands: the epoch's own at an epoch boundary; mid-epoch, the
        run's partial one, so the clean checkpoint of the last finished epoch is never overwritten."""
        if self._manager is None:
            return
        if not self.batches_into_epoch:
            self._checkpoint_epoch()
            return
        with self._writing_checkpoint():
            path = self._manager.save_partial(self.epochs_done, self.model, self.optimizer,
                                              **self._checkpoint_parts())
        self.on_event(CheckpointSaved(path, self.epochs_done))

    @contextlib.contextmanager
    def _writing_checkpoint(self):
        """A checkpoint that cannot be written (a full disk, a folder made read-only) ends the run: training on
        with nothing kept would lose what follows. The run stays resumable from its last checkpoint: its
        folder is not marked as failed, and the message (`checkpoint_problem`) says how to go on."""
        try:
            yield
        except saves.SaveError as error:
            last = saves.resume_point(self.run_dir) if self.run_dir is not None else None
            where = (f"it resumes from {last.name} once the folder can be written: nnstudio train --resume "
                     f"{self.run_dir.name}" if last is not None else "no checkpoint of it could be written")
            what = f"{error.path.name}: {error.problem}" if error.path is not None else error.problem
            self.checkpoint_problem = f"could not write a checkpoint ({what}), so the run stopped; {where}"
            raise SessionError(self.checkpoint_problem) from None

    def _checkpoint_parts(self) -> dict:
        """What a checkpoint holds besides weights and optimizer: schedule, position, records."""
        return dict(spec=self.spec, scheduler=self.scheduler, early_stopping=self.early_stopping,
                    data_state={"batches": self.batches.get_state(), "trainer": self.trainer.state_dict(),
                                "epoch_offset": self.epoch_offset, "epochs_planned": self.epochs_planned,
                                "blas_threads": self.blas_threads},
                    config=self._config_record(), dataset=self._dataset_record(), history=self.history,
                    metrics=self.metrics())

    def _close_checkpoints(self, outcome: Status) -> None:
        """Mark the run folder with how the run ended and let it go. A folder that can no longer be written (made
        read-only, a full disk) costs the mark, not the run: the training is done, the last checkpoint stays
        and the folder still reads as cut off, so `--resume` finds it; `close_problem` says so (the front
        ends show it once the run has ended)."""
        manager, self._manager = self._manager, None
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.close()
            if recorder.problem is not None and recorder.problem != self.close_problem:
                self.on_event(Notice(recorder.problem))
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

    def _config_record(self) -> dict:
        """The config as a save records it: every setting but those of this machine (`config_from_metadata` reads it)."""
        return self.config.portable_dict()

    def _dataset_record(self) -> dict:
        return {"name": self.dataset.name, "source": str(self.dataset.source), "task": self.dataset.task,
                "class_names": list(self.dataset.class_names), "normalisation": self.data.normalisation}

    def metrics(self) -> dict:
        """The latest epoch's figures, as a save records them."""
        if not self.history:
            return {}
        last = self.history[-1]
        out = {key: last[key] for key in ("train_loss", "train_acc", "val_loss", "val_acc") if last.get(key) is not None}
        accuracies = [h["val_acc"] for h in self.history if h.get("val_acc") is not None]
        if accuracies:
            out["best_val_acc"] = max(accuracies)
        return out

    def save(self, name: str, *, folder: str | Path | None = None, overwrite: bool = False) -> Path:
        """Save the trained model under `name` in the saves folder, never while a batch is running.

        A pause only asks the loop to stop after its batch, so while a run is live the save
        waits (up to SAVE_WAIT_SECONDS) for the loop to wait at the batch boundary and holds
        it there until the file is written: a resume pressed meanwhile waits for the save.
        """
        if not self._status.busy:
            return self._write_save(name, folder, overwrite)
        if not self.controller.paused:
            raise SessionError("pause or stop training before saving")
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.controller.hold(SAVE_WAIT_SECONDS))
            except TimeoutError:
                raise SessionError("training has not finished its batch yet; save again in a moment") from None
            return self._write_save(name, folder, overwrite)

    def _write_save(self, name: str, folder: str | Path | None, overwrite: bool) -> Path:
        try:
            path = saves.save_path(name, folder if folder is not None else self.config.checkpoints.folder)
            return saves.save_model(path, self.model, spec=self.spec, config=self._config_record(),
                                    dataset=self._dataset_record(), history=self.history, metrics=self.metrics(),
                                    overwrite=overwrite)
        except saves.SaveError as error:
            raise SessionError(str(error)) from None

    # ================================================================== predictions
    def predict_test(self, index: np.ndarray | None = None) -> np.ndarray:
        """Model outputs (class probabilities for classification) for test images (all, or `index`)."""
        x = self.data.x_test if index is None else self.data.x_test[index]
        out = predict(self.model, x)
        return softmax(out) if self.classes else out

    def evaluate_test(self, model: Module | None = None) -> dict[str, Any]:
        """The model's (or a copy's: `test_evaluation`) figures on the test split, JSON-able: for classes the
        loss, accuracy, per-class accuracy and confusion matrix (rows = truth); otherwise the mean squared
        error (the loss of regression and reconstruction, `factory.make_loss`)."""
        data = self.data
        target = data.x_test if self.reconstruct else data.y_test
        result = evaluate(model or self.model, self.loss_fn, data.x_test, target, classes=self.classes)
        record: dict[str, Any] = {"dataset": self.dataset.name, "test_size": int(len(data.x_test))}
        if not self.classes:
            return {**record, "task": self.task, "test_mse": result.loss}
        confusion = result.confusion
        totals = confusion.sum(axis=1)
        per_class = [float(confusion[c, c] / totals[c]) if totals[c] else None for c in range(self.classes)]
        return {**record, "task": "classification", "test_loss": result.loss, "test_acc": result.accuracy,
                "class_names": list(self.dataset.class_names), "per_class_acc": per_class,
                "confusion": confusion.tolist()}

    def test_evaluation(self) -> Callable[[], dict[str, Any]]:
        """`evaluate_test` of the weights as they are now, to call later from any thread, while training goes
        on or not: it evaluates a copy taken here. So call this while the weights are still (`Status.still`:
        not while a batch is running)."""
        snapshot = copy.deepcopy(self.model)
        return lambda: self.evaluate_test(snapshot)

    # ================================================================== resuming
    @classmethod
    def open_checkpoint(cls, path: str | Path, *, on_event: Callable[[Any], None] | None = None,
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
        session._restore(loaded)
        return session

    @classmethod
    def from_save(cls, path: str | Path, *, config: RunConfig | None = None, reinitialise: bool = False,
                  on_event: Callable[[Any], None] | None = None, dataset: Dataset | None = None) -> "Session":
        """A new run that continues from a save's weights (or, with `reinitialise`, repeats its config from scratch)."""
        loaded = load_save(Path(path))
        session = cls(config or config_of(loaded), on_event=on_event, dataset=dataset)
        session.origin = {"kind": "save", "path": str(Path(path).resolve()), "reinitialised": reinitialise,
                          "epochs": 0 if reinitialise else len(loaded.metadata.history)}
        if not reinitialise:   # before the trainer and schedule are built: they span the epochs still to train
            session.epoch_offset = len(loaded.metadata.history)
        session.prepare()
        if not reinitialise:
            session.model.load_state_dict(loaded.model.state_dict())
            session.history = list(loaded.metadata.history)
            if loaded.metadata.dataset_name == session.dataset.name:   # (another data set's losses do not compare)
                session.trainer.best_loss = divergence.best_loss(h.get("train_loss") for h in session.history)
        return session

    def _restore(self, loaded: saves.Loaded, fresh: frozenset[str] = frozenset()) -> None:
        """Prepare as usual, then put back weights, optimizer, schedule, early stopping, random streams and position.

        The parts named in `fresh` ("optimizer", "scheduler", "early_stopping", "rng") are not put back: a
        fork that changed their settings starts them afresh (a fresh schedule at the epoch it forks from).
        """
        self.prepare()
        resume = loaded.checkpoint
        recorded = (resume.data_state or {}).get("blas_threads")
        self.recorded_blas_threads = recorded if type(recorded) is int and recorded >= 1 else None
        try:
            self.model.load_state_dict(loaded.model.state_dict())
            resume.restore(None if "optimizer" in fresh else self.optimizer,
                           None if "scheduler" in fresh else self.scheduler,
                           None if "early_stopping" in fresh else self.early_stopping, rng="rng" not in fresh)
            state = resume.data_state or {}
            self.batches.set_state(state["batches"])
            self.trainer.load_state_dict(state["trainer"])
            if "scheduler" in fresh and self.scheduler is not None:
                self.scheduler.load_state_dict({**self.scheduler.state_dict(), "last_epoch": self.trainer.epoch})
            self.history = list(loaded.metadata.history)
            # older checkpoints do not record the offset: their history holds it
            offset = state.get("epoch_offset", max(len(self.history) - self.trainer.epoch, 0))
        except (saves.SaveError, DatasetError, KeyError, TypeError, ValueError) as error:
            raise SessionError(f"cannot resume from {loaded.path}: {error}") from None
        if type(offset) is not int or offset < 0:
            raise SessionError(f"cannot resume from {loaded.path}: its epoch_offset must be a whole number >= 0, "
                               f"got {offset!r:.40}")
        if "epochs_planned" not in state and offset:   # older checkpoints counted training.epochs after the offset
            try:
                self.config = self.config.replace(**{"training.epochs": offset + self.config.training.epochs})
            except ConfigError as error:
                raise SessionError(f"cannot resume from {loaded.path}: {error}") from None
        self._continue_after(offset)
