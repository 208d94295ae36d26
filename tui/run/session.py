"""The training session: one object that owns a run, driven alike by the command line and the studio.

    session = Session(config, on_event=print)
    session.prepare()            # data set, split, model, optimizer, schedule (errors: SessionError)
    session.run()                # blocking: run it in a worker thread; events arrive through on_event
    session.pause() / resume() / step_batch() / step_epoch() / stop() / set_live("optimizer.lr", 0.01)
    session.status               # Status.RUNNING, ... (a StatusChanged event says when it changes)
    session.evaluate_test()      # test-split figures of the model as it is

It wires a `RunConfig` to a data set (`nnstudio.datasets`), a model and optimizer (the engine)
and the engine's `Trainer`, passes the loop's events on and keeps the history. It holds no
training logic of its own: the loop is the engine's. Its parts, one module each: `controls`
(its status and the commands that move it, from any thread), `recording` (its run folder as it
trains: checkpoints and history), `continuing` (sessions that go on from a checkpoint or a save),
`scoring` (what the model makes of the test split).

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
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nnstudio import saves
from nnstudio.datasets import BatchIterator, Standardizer
from nnstudio.datasets.dataset import Dataset
from nnstudio.engine import divergence, events, manual_seed
from nnstudio.engine.nn import Module
from nnstudio.engine.optim import CosineAnnealingLR
from nnstudio.engine.spec import build_model, is_autoencoder
from nnstudio.engine.trainer import Trainer

from . import continuing, scoring
from .blas import blas_threads, continue_with
from .config import LIVE_SETTINGS, ConfigError, RunConfig
from .controls import RunControls
from .factory import fit_spec, make_early_stopping, make_loss, make_optimizer, make_scheduler
from .recording import RunRecording
from .reports import NothingToTrain, Prepared, SessionError
from .runs import best_of
from .status import OUTCOMES, Status, after_event
from .training_data import SPLIT_RULE, load_run_dataset, prepare_run_data

#: test images whose predictions are reported every epoch (the studio's digit grid draws from them)
PROBE_SIZE = 500
#: why a stopped run ended, as its history says, when the stop gave no reason (`RunControls.stop`)
STOPPED_ON_REQUEST = "stopped on request"
#: how long `save` waits for a paused run to finish the batch it is in
SAVE_WAIT_SECONDS = 5.0


class Session(RunControls):
    """One training run: configuration, data, model, optimizer, history and checkpoints. Its status and the
    commands that move it (pause, resume, step_batch, step_epoch, stop) are `RunControls`'."""

    def __init__(self, config: RunConfig, *, on_event: Callable[[Any], None] | None = None,
                 dataset: Dataset | None = None, checkpoints: bool = True, run_name: str | None = None) -> None:
        super().__init__(on_event)
        self.config = config
        self.history: list[dict] = []
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
        self.origin: dict = {"kind": "new"}
        """Where the run came from, as its history records it (`history.py`): new, a save, a checkpoint, a fork."""
        self._folder: RunRecording | None = None   # the run folder a run writes while it trains (checkpoints on)
        self.inherited: tuple[dict, list[dict]] | None = None   # a fork's: its parent's config and history records
        self.split_rule = SPLIT_RULE
        """How the validation rows are counted (`preprocess.SPLIT_RULES`): a run going on from a file uses its rule."""
        self.standardizer: Standardizer | None = None
        """Standardisation statistics to use rather than measure: a run going on from a file uses those it trained
        with, so its inputs are scaled as they were (`training_data.saved_standardizer`)."""
        self.own_from: int | None = None
        """The epochs done before this run's own (a fork's parent's, a continued save's): its best is among those
        after (`runs.best_of`). Set when it first trains; a run resumed in its folder takes its history's."""
        self._ending = ""   # why the run ended, as the loop's last event said

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
        self.data = prepare_run_data(config, dataset, layout, self.split_rule, self.standardizer)
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
            if self.checkpoints_enabled:   # (a continued run marks its folder afresh)
                self._folder = RunRecording(self)
                self._folder.open()
            if self.own_from is None:
                self.own_from = self.epochs_done
        except BaseException as error:
            self._failed(error)
            raise
        outcome = OUTCOMES[self.trainer.run()]
        if self._folder is not None:
            self._folder.quiet()   # (a pause sent through the run folder now would outlive the loop)
        self.controller.reset()   # a command the loop no longer obeyed (x in the last validation) ends with it
        self.stop_reason = ""
        try:
            if self._folder is not None:
                self._folder.close(outcome, self._ending)
        except BaseException as error:
            self._failed(error)
            raise
        self._move(lambda status: outcome)   # last: a run shown as ended has its run folder marked
        return outcome

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
            if self._folder is not None:
                self._folder.batch(event)
            self.on_event(event)
            return
        if isinstance(event, events.EpochEnd):
            event = self._numbered(event)
            self.history.append(event.as_dict())
            if self._folder is not None:
                self._folder.epoch(event)
            self.last_epoch = event
            self.on_event(event)
            if self._folder is not None:
                self._folder.checkpoint_epoch()
            return
        event = self._numbered(event)
        if isinstance(event, events.Failed) and self.checkpoint_problem is not None:
            event = events.Failed(self.checkpoint_problem)   # (not "SessionError: ..." and a traceback)
        if isinstance(event, (events.Finished, events.Diverged, events.Failed)):
            self._ending = event.message or getattr(event, "reason", "")
        elif isinstance(event, events.Stopped):
            self._ending = self.stop_reason or STOPPED_ON_REQUEST
        self._move(lambda status: after_event(status, event))
        self.on_event(event)
        if isinstance(event, events.Stopped) and self._folder is not None:
            self._folder.stopped()

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

    # ------------------------------------------------------------------ live settings (any thread)
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
        if self._folder is not None:
            self._folder.setting(path, typed)
        return typed

    def match_blas_threads(self) -> str | None:
        """Before a continued checkpoint trains: use the BLAS thread count it trained with (`blas.continue_with`),
        so that it goes on bit-identically. Call it from the program's main thread: threadpoolctl lets only the
        thread that first set the count change it. Returns what to tell the user if the count differs all the same."""
        return continue_with(self.recorded_blas_threads)

    @property
    def position(self) -> tuple[int, int]:
        """Where the run stands: (epochs done, batches done in the next epoch), as the history numbers them."""
        return self.epochs_done, self.batches_into_epoch

    @property
    def checkpoint_problem(self) -> str | None:
        """Why a checkpoint could not be written, if one could not: the run stopped there, resumable."""
        return self._folder.checkpoint_problem if self._folder is not None else None

    @property
    def close_problem(self) -> str | None:
        """Why the run folder could not be marked as ended, if it could not (the run's training itself is done)."""
        return self._folder.close_problem if self._folder is not None else None

    # ================================================================== what checkpoints and saves hold
    def _checkpoint_parts(self) -> dict:
        """What a checkpoint holds besides weights and optimizer: schedule, position, records."""
        return dict(spec=self.spec, scheduler=self.scheduler, early_stopping=self.early_stopping,
                    data_state={"batches": self.batches.get_state(), "trainer": self.trainer.state_dict(),
                                "epoch_offset": self.epoch_offset, "epochs_planned": self.epochs_planned,
                                "blas_threads": self.blas_threads},
                    config=self._config_record(), dataset=self._dataset_record(), history=self.history,
                    metrics=self.metrics())

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
        best = self.best_epoch
        if best is not None and best.get("val_acc") is not None:
            out["best_val_acc"] = best["val_acc"]
        return out

    @property
    def best_epoch(self) -> dict | None:
        """The epoch record of the run's best (`runs.best_of`: among the epochs it trained itself, what its
        best.safetensors holds: the highest validation accuracy, or the lowest validation loss), or None."""
        after = self.own_from if self.own_from is not None else self.epochs_done
        return best_of(self.history, "val_acc" if getattr(self, "classes", None) else "val_loss", after)

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

    # ================================================================== the test split (scoring.py)
    def predict_test(self, index: np.ndarray | None = None) -> np.ndarray:
        """Model outputs (class probabilities for classification) for test images (all, or `index`)."""
        return scoring.test_outputs(self, index)

    def evaluate_test(self, model: Module | None = None) -> dict[str, Any]:
        """The model's (or a copy's: `test_evaluation`) figures on the test split (`scoring.test_figures`)."""
        return scoring.test_figures(self, model)

    def test_evaluation(self) -> Callable[[], dict[str, Any]]:
        """`evaluate_test` of the weights as they are now, to call later from any thread, while training goes
        on or not: it evaluates a copy taken here. So call this while the weights are still (`Status.still`:
        not while a batch is running)."""
        snapshot = copy.deepcopy(self.model)
        return lambda: self.evaluate_test(snapshot)

    def model_copy(self, timeout: float = 5.0) -> Module:
        """A copy of the model (weights and last gradients) as it is at a batch boundary, taken while training
        goes on or not, for looking inside it from another thread (`Controller.between_batches`).
        TimeoutError if a running loop does not reach a boundary within `timeout` seconds."""
        model = self.model
        return self.controller.between_batches(lambda: copy.deepcopy(model), timeout)

    # ================================================================== going on from a file (continuing.py)
    @classmethod
    def open_checkpoint(cls, path: str | Path, *, on_event: Callable[[Any], None] | None = None,
                        dataset: Dataset | None = None, folder: str | Path | None = None) -> "Session":
        """A session continuing a checkpoint (or a run folder's resume point) exactly where it stopped."""
        return continuing.open_checkpoint(cls, path, on_event=on_event, dataset=dataset, folder=folder)

    @classmethod
    def from_save(cls, path: str | Path, *, config: RunConfig | None = None, reinitialise: bool = False,
                  on_event: Callable[[Any], None] | None = None, dataset: Dataset | None = None) -> "Session":
        """A new run that continues from a save's weights (or, with `reinitialise`, repeats its config from scratch)."""
        return continuing.from_save(cls, path, config=config, reinitialise=reinitialise, on_event=on_event,
                                    dataset=dataset)

    def _restore(self, loaded: saves.Loaded, fresh: frozenset[str] = frozenset()) -> None:
        """Prepare, then put back a checkpoint's state but the parts named in `fresh` (`continuing.restore`)."""
        continuing.restore(self, loaded, fresh)
