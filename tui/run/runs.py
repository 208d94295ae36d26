"""Every run kept, summarised and compared: what `nnstudio runs` and the studio's Runs pane show.

    for run in list_runs():                     # newest first
        print(run.name, run.dataset, run.model, run.optimizer, run.lr, run.status, run.best)
    differences(runs)                           # {"optimizer.lr": [0.01, 0.1], ...}: what tells them apart
    compare(runs)                               # Comparison: the settings that differ, the metrics that compare
    prune_plan(runs, keep_last=3)               # which runs' checkpoints `runs prune` deletes, and why not others'

A run's summary comes from its run folder: the marker (`saves.read_run`: status, checkpoints) and
the history (`history.py`: settings, epochs, how it ended). A run older than the history file is
still listed, from what its marker says. Deleting runs and checkpoints is the saves layer's
(`saves.run_folders`); which ones to delete is decided here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nnstudio import saves
from nnstudio.saves import folder_size  # noqa: F401 (a run's size, as `RunSummary.size` counts it)
from nnstudio.saves.schema import parse_time

from .config import SETTINGS, ConfigError, flat_settings, setting_at, setting_in
from .history import HISTORY_FILE, RunHistory, read_history
from .origins import Fork, describe_origin, fork_of  # noqa: F401 (describe_origin: where a run came from, in words)

#: how a run's status reads: the marker's, told apart by the history's last end and the lock
STATUSES = ("running", "interrupted", "finished", "early-stopped", "stopped", "diverged", "failed")
#: the statuses of a run that has ended: `runs prune` deletes their checkpoints (a stopped run's too: stopping
#: was asked for); an interrupted one only when asked, a running one never
ENDED = ("finished", "early-stopped", "stopped", "diverged", "failed")


@dataclass
class RunSummary:
    """One run as a list or a comparison shows it."""

    info: saves.RunInfo
    history: RunHistory | None
    size: int                                # bytes on disk
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def config(self) -> dict:
        return self.history.config if self.history is not None else {}

    def setting(self, path: str):
        """A setting of the run's config by its dotted path ("optimizer.lr"), or None."""
        return setting_in(self.config, path)

    @property
    def dataset(self) -> str | None:
        return (self.history.runs[0].get("dataset") if self.history and self.history.runs else None) \
            or self.setting("data.name")

    @property
    def model(self) -> str | None:
        if self.history and self.history.runs and self.history.runs[0].get("model"):
            return self.history.runs[0]["model"]
        return self.setting("model.preset")

    @property
    def spec(self) -> dict | None:
        """The model spec the run trains (a preset's as built for its data set): its history's record, else its
        config's own spec, else a checkpoint's header; None when none says."""
        recorded = self.history.runs[-1].get("spec") if self.history is not None and self.history.runs else None
        if isinstance(recorded, dict):
            return recorded
        if isinstance(self.setting("model.spec"), dict):
            return self.setting("model.spec")
        for checkpoint in (self.info.best, self.info.latest, self.info.resume_point):
            if checkpoint is not None:
                try:
                    return saves.read_metadata(checkpoint).spec
                except saves.SaveError:
                    continue
        return None

    @property
    def settings(self) -> dict:
        """The run's settings as {"section.name": value}, with `model.spec` the spec it trains: a preset's
        None would tell a run from its fork, whose spec is pinned to the one its weights fit."""
        flat = flat_settings(self.config)
        if flat:
            flat["model.spec"] = self.spec
        return flat

    @property
    def optimizer(self) -> str | None:
        return self.setting("optimizer.name")

    @property
    def paused(self) -> bool:
        """A running run its process holds paused (`runs pause`, or the studio that follows it)."""
        return self.status == "running" and self.history is not None and self.history.moved_to == "paused"

    @property
    def shown_status(self) -> str:
        """Its status as a listing shows it: "paused" for a running run held paused."""
        return "paused" if self.paused else self.status

    @property
    def lr(self) -> float | None:
        """The learning rate it trains with now: a live change (`runs set --lr`, the studio) is its latest."""
        changed = [c for c in (self.history.settings if self.history is not None else []) if c.get("path") == "optimizer.lr"]
        return changed[-1].get("value") if changed else self.setting("optimizer.lr")

    @property
    def task(self) -> str | None:
        return self.history.runs[0].get("task") if self.history and self.history.runs else None

    @property
    def epochs_done(self) -> int:
        if self.history is not None and self.history.epochs:
            return int(self.history.epochs[-1].get("epoch", 0))
        return self.info.last_epoch or 0

    @property
    def epochs_planned(self) -> int | None:
        return self.setting("training.epochs")

    @property
    def status(self) -> str:
        """running (a process trains it, `paused` or not), how it ended (its history's end: a stopped run's marker
        stays "running", as it may be resumed), or interrupted (cut off with no end said: resumable, or pruned)."""
        if self.info.status == "running" and self.info.active:
            return "running"
        end = self.history.end if self.history is not None else None
        if end is not None and end.get("status") in ENDED:
            return end["status"]
        if self.info.status == "running":
            return "interrupted" if self.info.resume_point or self.pruned else "failed"
        return self.info.status

    @property
    def why(self) -> str:
        """Why it ended, as the run said ("" when it did not)."""
        end = self.history.end if self.history is not None else None
        return str(end.get("why") or "") if end is not None and self.status in ENDED else ""

    @property
    def pruned(self) -> bool:
        """Its checkpoints were deleted by `runs prune`: it can be listed and compared, not resumed."""
        return self.info.pruned_at is not None

    @property
    def updated(self) -> datetime | None:
        return self.info.updated

    @property
    def started(self) -> datetime | None:
        return parse_time(self.info.started_at) if self.info.started_at else None

    @property
    def pruned_time(self) -> datetime | None:
        return parse_time(self.info.pruned_at) if self.info.pruned_at else None

    @property
    def best_metric(self) -> str:
        """What `best` is: "val_acc" (the highest, for classification) or "val_loss" (the lowest)."""
        return "val_acc" if self.task in (None, "classification") else "val_loss"

    @property
    def own_epochs(self) -> list[dict]:
        """The epochs the run trained itself: a fork's history starts with its parent's epochs up to the branch
        point, which are not its own (a run continued from a save records only its own)."""
        epochs = self.history.epochs if self.history is not None else []
        return [e for e in epochs if e.get("epoch", 0) > (own_start(self.origin, epochs) or 0)]

    @property
    def best(self) -> float | None:
        """The best validation accuracy (classification) or the lowest validation loss among the epochs the run
        trained itself (`best_of`: what its best.safetensors holds), or None."""
        record = best_of(self.own_epochs, self.best_metric)
        if record is not None:
            return record[self.best_metric]
        return self.info.best_value if self.best_metric == "val_acc" else None

    @property
    def best_epoch(self) -> int | None:
        """The epoch of `best` (from the history; None without one)."""
        record = best_of(self.own_epochs, self.best_metric)
        return record.get("epoch") if record is not None else None

    @property
    def final(self) -> dict:
        """The last epoch's figures."""
        return dict(self.history.epochs[-1]) if self.history is not None and self.history.epochs else {}

    @property
    def resumable(self) -> bool:
        return self.info.resume_point is not None

    @property
    def origin(self) -> dict:
        return self.history.origin if self.history is not None else {}

    @property
    def parent_config(self) -> dict | None:
        """A fork's parent's config where it branched (the first run record of the fork's history), else None."""
        runs = self.history.runs if self.history is not None else []
        return runs[0].get("config") if len(runs) > 1 and self.origin.get("kind") == "fork" else None

    @property
    def fork(self) -> Fork | None:
        """Where the run branched from its parent, if it is a fork: the parent, the epoch, what changed."""
        return fork_of(self.origin, self.parent_config)

    def origin_text(self) -> str:
        """Where the run came from, in words (`origins.describe_origin`)."""
        return describe_origin(self.origin, self.parent_config)

    def as_record(self) -> dict:
        """The run as plain data (what `runs list --json` prints; NaN is the caller's to turn into null)."""
        return {"name": self.name, "path": str(self.path), "dataset": self.dataset, "task": self.task,
                "model": self.model, "optimizer": self.optimizer, "lr": self.lr, "epochs_done": self.epochs_done,
                "epochs_planned": self.epochs_planned, "best": self.best, "best_metric": self.best_metric,
                "status": self.status, "paused": self.paused, "why": self.why, "pruned": self.pruned,
                "resumable": self.resumable,
                "size": self.size, "started_at": self.info.started_at, "updated_at": self.info.updated_at,
                "origin": self.origin, "fork_of": self.fork.as_record() if self.fork else None,
                "notes": list(self.notes)}


def best_of(epochs: list[dict], metric: str, after: int = 0) -> dict | None:
    """The epoch record with the best `metric` ("val_acc": the highest; "val_loss": the lowest) among those after
    epoch `after`, the first of equals, as a run's checkpoints keep `best.safetensors`; None if none has it.

    One rule for every figure named "best" of a run (`runs list` and `show`, the studio's Runs pane, the end of
    `nnstudio train`): a run's best is among the epochs it trained itself, never those of the run it forked
    from or of the save it continued, so that it is always the epoch its best.safetensors holds."""
    pick = max if metric == "val_acc" else min
    scored = [e for e in epochs if e.get("epoch", 0) > after and isinstance(e.get(metric), (int, float))
              and not isinstance(e.get(metric), bool) and math.isfinite(e[metric])]
    return pick(scored, key=lambda e: e[metric]) if scored else None


def own_start(origin: dict, epochs: list[dict]) -> int | None:
    """The epochs done before a run's own, as its history holds them: a fork's branch epoch (its history starts
    with its parent's epochs up to there), else the epoch before the first it records (a run continued from a
    save, or from a checkpoint in a new folder, records only its own); None before it records one."""
    fork = fork_of(origin)
    if fork is not None and fork.epoch is not None:
        return fork.epoch
    first = next((e.get("epoch") for e in epochs if type(e.get("epoch")) is int), None)
    return first - 1 if first is not None else None


def own_start_of(run_dir: Path) -> int | None:
    """`own_start` of a run folder's history (None if it has none that reads): where a run resumed in its folder
    began its own epochs."""
    try:
        history = read_history(run_dir, batches=False)
    except saves.SaveError:
        return None
    return own_start(history.origin, history.epochs)


def summarize(info: saves.RunInfo, *, batches: bool = True) -> RunSummary:
    """A run folder's summary; a history that cannot be read leaves a note, not an error. `batches=False`: its
    history without the batch records (`read_history`), all a listing shows, read many times faster."""
    history, notes = None, []
    if (info.path / HISTORY_FILE).is_file():
        try:
            history = read_history(info.path, batches=batches)
            notes = list(history.notes)
        except saves.SaveError as error:
            notes = [str(error)]
    return RunSummary(info, history, saves.folder_size(info.path), notes)


def list_runs(folder: str | Path | None = None, *, batches: bool = True) -> list[RunSummary]:
    """Every run in the saves folder's runs/, most recently updated first."""
    return [summarize(info, batches=batches) for info in saves.find_runs(folder)]


def run_summary(path: str | Path) -> RunSummary:
    """The summary of one run folder; SaveError if it is not one."""
    info = saves.read_run(path)
    if info is None:
        why = "no such folder" if not Path(path).is_dir() else "not a run folder (it has no readable run.json)"
        raise saves.SaveError(why, path)
    return summarize(info)


def differences(runs: list[RunSummary]) -> dict[str, list]:
    """The settings whose values are not the same in every run: {dotted path: [value per run]}."""
    flats = [run.settings for run in runs]
    paths = sorted(set().union(*flats)) if flats else []
    return {path: [flat.get(path) for flat in flats] for path in paths
            if len({repr(flat.get(path)) for flat in flats}) > 1}


# ---------------------------------------------------------------------------------------- comparing
#: the final figures a comparison puts side by side, in order (accuracies only where every run has classes)
LOSSES = ("train_loss", "val_loss")
ACCURACIES = ("train_acc", "val_acc")
#: a setting's value in a run where it does not apply (momentum with adam)
NOT_APPLICABLE = object()


@dataclass
class Comparison:
    """Runs side by side: the settings that tell them apart, the final metrics that mean the same in every
    one, and what cannot be compared (runs of different data sets or tasks, runs with no history)."""

    runs: list[RunSummary]
    settings: dict[str, list]        # dotted path -> the value per run (NOT_APPLICABLE, or None when unknown)
    metrics: tuple[str, ...]         # the final metrics compared (LOSSES, ACCURACIES), and "best" if they are
    problems: list[str]              # what is not compared, and why


def _applies(run: RunSummary, path: str) -> bool:
    """Whether a setting matters in the run (as `RunConfig.applies` says, read from the config as recorded, which
    another version may have written): momentum with adam does, Nesterov momentum does not."""
    try:
        only_with = setting_at(path).only_with
    except ConfigError:   # (a setting of a newer version, or a part of a model spec)
        return True
    return only_with is None or run.setting(only_with.path) in only_with.values


def compare(runs: list[RunSummary]) -> Comparison:
    """What tells `runs` apart and how they ended: settings that differ among the runs they apply to (momentum
    is hidden when every run uses adam), and the final metrics, unless the runs learn different things."""
    known = [run for run in runs if run.config]
    problems = [f"the settings and figures of {run.name}: it has no history (it is older than run histories)"
                for run in runs if not run.config]
    settings = {}
    order = {path: number for number, path in enumerate(SETTINGS)}   # (a section's choice first, as configs list)
    found = differences(known)
    for path in sorted(found, key=lambda path: (order.get(path, len(order)), path)):
        values = found[path]
        shown = [value if _applies(run, path) else NOT_APPLICABLE for run, value in zip(known, values)]
        if any(value is not NOT_APPLICABLE for value in shown) and len({repr(v) for v in shown}) > 1:
            by_run = dict(zip((run.name for run in known), shown))
            settings[path] = [by_run.get(run.name) for run in runs]
    metrics: tuple[str, ...] = ()
    tasks = {run.task or "unknown" for run in known}
    datasets = {run.dataset or "unknown" for run in known}
    if len(tasks) > 1:
        problems.append("the final metrics, as the runs do different tasks (" + _grouped(known, "task") + "): a "
                        "classification loss is a cross-entropy and a regression loss a squared error, and only "
                        "classification has an accuracy; compare runs of one task")
    elif len(datasets) > 1:
        problems.append("the final metrics, as the runs learn different data sets (" + _grouped(known, "dataset")
                        + "); compare runs of one data set")
    elif known:
        metrics = LOSSES + (ACCURACIES if tasks == {"classification"} else ()) + ("best",)
    return Comparison(runs, settings, metrics, problems)


def _grouped(runs: list[RunSummary], attribute: str) -> str:
    """"blobs: a, b; spirals: c"."""
    groups: dict[str, list[str]] = {}
    for run in runs:
        groups.setdefault(getattr(run, attribute) or "unknown", []).append(run.name)
    return "; ".join(f"{key}: {', '.join(names)}" for key, names in groups.items())


# ---------------------------------------------------------------------------------------- pruning
@dataclass
class PrunePlan:
    """What `runs prune` does: the runs whose checkpoints go, why each other run keeps its own, and the
    ended runs whose stale lock file goes."""

    prune: list[RunSummary]
    kept: list[tuple[RunSummary, str]]
    locks: list[RunSummary]

    @property
    def size(self) -> int:
        """The bytes the pruned checkpoints take."""
        return saves.disk_usage([f for run in self.prune for f in saves.checkpoint_files(run.path)])


def prune_plan(runs: list[RunSummary], *, keep_last: int = 0, older_than: timedelta | None = None,
               now: datetime | None = None, interrupted: bool = False) -> PrunePlan:
    """Which of `runs` (newest first, as `list_runs` gives them) lose their checkpoints.

    Ended runs do, except the `keep_last` newest of them and, with `older_than`, those updated more
    recently than that before `now`. A running run never does; an interrupted one (cut off, resumable)
    only with `interrupted`.
    """
    plan = PrunePlan([], [], [])
    now = now if now is not None else datetime.now(timezone.utc)
    candidates = []
    for run in runs:
        status = run.status
        try:
            saves.run_folder_in(run.path, run.path.parent)
        except saves.SaveError as error:   # (a symbolic link among the runs: what it points to is not ours)
            plan.kept.append((run, error.problem))
            continue
        if status in ENDED and (run.path / saves.checkpoints.LOCK_FILE).is_file():
            plan.locks.append(run)
        if not saves.checkpoint_files(run.path):
            if not run.pruned:
                plan.kept.append((run, "it has no checkpoints"))
        elif status == "running":
            plan.kept.append((run, "a live process is training it"))
        elif status == "interrupted" and not interrupted:
            plan.kept.append((run, "interrupted: it can be resumed (--interrupted prunes it too)"))
        else:
            candidates.append(run)
    for number, run in enumerate(candidates):
        if number < keep_last:
            plan.kept.append((run, f"among the {keep_last} newest (--keep-last)"))
        elif older_than is not None and (run.updated is None or now - run.updated < older_than):
            plan.kept.append((run, "updated more recently than --older-than"))
        else:
            plan.prune.append(run)
    return plan
