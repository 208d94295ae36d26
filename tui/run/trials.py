"""One trial of a sweep: a plain function of a config, run in whatever process an executor gives it.

    result = run_trial(TrialTask(number=1, config=config.to_dict(), label="lr 0.01"))
    result.status, result.run, result.best          # "finished", "mnist-mlp-20261203-...", 0.973

A trial is an ordinary run (a `Session`, its run folder under the config's saves folder, its
history and checkpoints), so every trial can be listed, compared, resumed and forked like any
other. It trains with one BLAS thread (trials run side by side, one per core), and a stop
signal (Ctrl+C in the terminal reaches every process of the sweep) stops it as it stops
`nnstudio train`: at the batch boundary, with a checkpoint to resume it from. A trial that
diverges or fails is a result like any other, said in `status` and `why`: the sweep goes on.

A trial sent to another machine (`ship=True`, a Dask worker) trains in a folder of its own and
sends its run folder's files back with its result (`files`), so that its run joins the local
runs folder as if it had trained here (`saves.unpack_run`).
"""

from __future__ import annotations

import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nnstudio import saves

from .baseline_run import kernel_ridge_run
from .blas import limit_blas_threads
from .config import ConfigError, RunConfig
from .history import read_history
from .origins import trial_origin
from .reports import SessionError
from .runs import best_of
from .session import Session
from .signals import GracefulStop
from .status import Status

#: a trial's outcome when it could not train at all (the config or the data set was refused)
FAILED = Status.FAILED.value


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one trial: plain data, so that it can be sent to another process."""

    number: int
    config: dict
    label: str = ""
    resume: str | None = None   # the run folder of this trial cut off before: continued, not begun again
    ship: bool = False          # train in a folder of its own and send the run folder's files back
    baseline: dict | None = None   # fit this baseline (`baseline_run`) on the config's data instead of training
    sent: dict[str, bytes] | None = None   # sent to another machine to continue `resume`: that run's files
    sweep: str = ""             # the sweep it is a trial of (its run's origin names it: `origins.trial_origin`)


@dataclass
class TrialResult:
    """How a trial ended: its run folder's name, its status and why, and its figures."""

    number: int
    status: str
    why: str = ""
    run: str | None = None
    epochs: int = 0
    best: float | None = None
    metric: str = "val_acc"
    final: dict = field(default_factory=dict)
    seconds: float = 0.0
    files: dict[str, bytes] | None = None

    @property
    def ended_well(self) -> bool:
        return self.status in (Status.FINISHED.value, Status.EARLY_STOPPED.value)


def run_trial(task: TrialTask, *, on_event: Callable[[Any], None] | None = None,
              on_run: Callable[[str], None] | None = None) -> TrialResult:
    """Train one trial to its end (blocking); never raises for what the run itself reports. `on_event` gets the
    session's events; `on_run` the run folder's name once it exists."""
    limit_blas_threads()
    started = time.monotonic()
    try:
        config = RunConfig.from_dict(task.config)
    except ConfigError as error:
        return TrialResult(task.number, FAILED, f"its settings were refused: {error}")
    if not task.ship:
        return _train(task, config, started, on_event, on_run)
    with tempfile.TemporaryDirectory(prefix="nnstudio-trial-") as folder:
        result = _train(task, config.replace(**{"checkpoints.folder": folder}), started, on_event, on_run)
        if result.run is not None:
            result.files = saves.pack_run(Path(folder) / "runs" / result.run)
        return result


def _train(task: TrialTask, config: RunConfig, started: float, on_event, on_run) -> TrialResult:
    told: list[str] = []
    made: list[Session] = []   # (a session opened from a checkpoint has news before it is returned)

    def news(event: Any) -> None:
        run_dir = made[0].run_dir if made else None
        if on_run is not None and not told and run_dir is not None:
            told.append(run_dir.name)
            on_run(run_dir.name)
        if on_event is not None:
            on_event(event)

    if task.baseline is not None:
        return _fit_baseline(task, config, started, on_run)
    try:
        if task.resume is not None:
            session = Session.open_checkpoint(task.resume, on_event=news, folder=config.checkpoints.folder)
        else:
            session = Session(config, on_event=news)
            if task.sweep:
                session.origin = trial_origin(task.sweep, task.number, task.label)
        made.append(session)
        with GracefulStop(lambda: session.stop("stopped: the sweep was stopped")).installed():
            status = session.run(config.training.epochs if task.resume is not None else None)
    except SessionError as error:
        return TrialResult(task.number, FAILED, str(error), seconds=time.monotonic() - started)
    except Exception as error:   # a bug, not the run's doing: said in full, the sweep goes on
        why = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=-3)}"
        return TrialResult(task.number, FAILED, why, seconds=time.monotonic() - started)
    return result_of(task.number, session, status, time.monotonic() - started)


def _fit_baseline(task: TrialTask, config: RunConfig, started: float, on_run) -> TrialResult:
    """A baseline trial: one fit kept as a run of one epoch, ranked by the same figure as the networks."""
    try:
        fitted = kernel_ridge_run(config, task.baseline, on_run=on_run,
                                  origin=trial_origin(task.sweep, task.number, task.label) if task.sweep else None)
    except SessionError as error:
        return TrialResult(task.number, FAILED, str(error), seconds=time.monotonic() - started)
    metric = "val_acc" if fitted.epoch.get("val_acc") is not None else "val_loss"
    final = {k: v for k, v in fitted.epoch.items() if k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")}
    return TrialResult(task.number, Status.FINISHED.value, "", fitted.run, 1, fitted.epoch.get(metric), metric, final,
                       time.monotonic() - started)


#: how a run ends for good: a trial whose run ended so (outside the sweep, too) is done
RUN_ENDED = (Status.FINISHED.value, Status.EARLY_STOPPED.value, Status.DIVERGED.value)


def result_of(number: int, session: Session, status: Status, seconds: float) -> TrialResult:
    """A trained session as a trial's result: the best validation accuracy (or the lowest validation loss when
    there are no classes) over its epochs."""
    best, metric, final = _figures(session.history, bool(session.classes))
    run, why = None, ""
    if session.run_dir is not None:
        run = session.run_dir.name
        end = read_history(session.run_dir, batches=False).end or {}
        why = str(end.get("why") or "")
    return TrialResult(number, status.value, why, run, session.epochs_done, best, metric, final, seconds)


def result_of_run(number: int, run_dir: Path) -> TrialResult | None:
    """The result of a trial whose run has ended (finished, early-stopped, diverged) as `result_of` reports it,
    read from the run's history: a run trained to its end outside the sweep (resumed in the studio, or trained on
    by its worker after the sweep's process died). None if the run has not ended (it is continued instead)."""
    try:
        history = read_history(run_dir, batches=False)
    except saves.SaveError:
        return None
    end = history.end or {}
    if end.get("status") not in RUN_ENDED:
        return None
    task = history.runs[0].get("task") if history.runs else None
    classes = task == "classification" if task else any(isinstance(e.get("val_acc"), (int, float))
                                                         for e in history.epochs)
    best, metric, final = _figures(history.epochs, classes)
    return TrialResult(number, str(end["status"]), str(end.get("why") or ""), Path(run_dir).name,
                       len(history.epochs), best, metric, final)


def _figures(epochs: list[dict], classes: bool) -> tuple[float | None, str, dict]:
    """The best validation figure over `epochs` (by `runs.best_of`, the one rule for a run's best), its name, and
    the last epoch's figures."""
    metric = "val_acc" if classes else "val_loss"
    record = best_of(epochs, metric)
    best = record[metric] if record is not None else None
    final = {k: v for k, v in (epochs[-1] if epochs else {}).items()
             if k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr")}
    return best, metric, final
