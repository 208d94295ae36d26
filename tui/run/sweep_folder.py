"""A sweep kept on disk: what it plans and what each trial did, so that a sweep cut off finishes with --resume.

    sweep = Sweep.create(plan, folder)         # <saves>/sweeps/<name>/sweep.json: the base settings and the trials
    sweep.record(3, {"kind": "started", "run": "mnist-mlp-..."})   # appended to trials.jsonl as it happens
    sweep.tasks()                              # the trials still to run (a stopped one continues its own run)
    sweep.ranked()                             # (trial, result) best first
    sweep = Sweep.open("spirals-lr-20261203-101500", folder)       # a sweep again, as it was left

`sweep.json` is written once, atomically; `trials.jsonl` is an append-only journal (the run
history's: a torn last line is skipped with a note), one line per trial start, retry and result.
A trial is done once it has a result that ended it (finished, early-stopped, diverged, failed);
a stopped or cut-off trial is continued from its run's checkpoint, or begun again if it has none.
A trial whose run was trained to its end outside the sweep (the studio resumed it; its worker
trained on after the sweep's process died) is not trained again: `settle` records the result its
run's history gives. `sweep.json` also keeps `--workers`, which `--resume` uses again.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nnstudio import saves
from nnstudio.saves.atomic import write_json
from nnstudio.saves.journal import Journal, read_journal

from .config import ConfigError, RunConfig
from .reports import SessionError
from .settings import SHORT_NAMES
from .sweeps import Axis, SweepPlan, Trial
from .trials import RUN_ENDED, TrialTask, result_of_run

SWEEPS_FOLDER = "sweeps"
PLAN_FILE, TRIALS_FILE = "sweep.json", "trials.jsonl"
FORMAT_VERSION = 1
#: results that end a trial (a stopped one, or one cut off, is continued by --resume)
ENDED = (*RUN_ENDED, "failed")


def sweeps_folder(folder: str | Path | None) -> Path:
    return saves.folder_or_default(folder) / SWEEPS_FOLDER


@dataclass
class Sweep:
    """A sweep's folder, its plan, and what its trials have done so far."""

    path: Path
    plan: SweepPlan
    runs: dict[int, str] = field(default_factory=dict)        # trial number -> its run folder's name
    results: dict[int, dict] = field(default_factory=dict)    # trial number -> its last result
    notes: list[str] = field(default_factory=list)
    workers: int | None = None   # the trials trained at once when it was made (--workers): --resume uses it again
    _journal: Journal | None = None

    @property
    def name(self) -> str:
        return self.path.name

    # ================================================================== making, opening
    @classmethod
    def create(cls, plan: SweepPlan, folder: str | Path | None, name: str | None = None, *,
               workers: int | None = None) -> Sweep:
        """A new sweep folder for `plan` (named after the data set and what varies, or the experiment, and when;
        numbered if taken)."""
        parent = sweeps_folder(folder)
        parent.mkdir(parents=True, exist_ok=True)
        what = [plan.experiment] if plan.experiment else \
            [plan.base.data.name, *(SHORT_NAMES.get(p, p.split(".")[-1]) for p in plan.varied)]
        base = name or "-".join([*what, datetime.now().strftime("%Y%m%d-%H%M%S")])
        path, n = parent / saves.sanitize_name(base), 1
        while True:
            try:
                path.mkdir()
                break
            except FileExistsError:
                if name is not None:
                    raise SessionError(_taken(name, folder, parent)) from None
                n += 1
                path = parent / f"{saves.sanitize_name(base)}-{n}"
        write_json(path / PLAN_FILE, {
            "format_version": FORMAT_VERSION, "name": path.name, "created_at": datetime.now().astimezone().isoformat(),
            "base": plan.base.to_dict(), "axes": [{"option": a.option, "texts": list(a.texts)} for a in plan.axes],
            "trials": [{"number": t.number, "overrides": t.overrides, "texts": t.texts,
                        **({"baseline": t.baseline} if t.baseline is not None else {}),
                        **({"name": t.name} if t.name else {})} for t in plan.trials],
            **({"experiment": plan.experiment} if plan.experiment else {}),
            **({"workers": workers} if workers is not None else {})})
        return cls(path, plan, workers=workers)

    @classmethod
    def open(cls, name: str, folder: str | Path | None) -> Sweep:
        """A sweep by name (in the saves folder's sweeps/) or path, with its trials' records; SessionError naming
        what is wrong."""
        parent = sweeps_folder(folder)
        path = next((p for p in (Path(name), parent / name) if (p / PLAN_FILE).is_file()), None)
        if path is None:
            known = sorted(p.name for p in parent.iterdir() if (p / PLAN_FILE).is_file()) if parent.is_dir() else []
            listed = f" (there: {', '.join(known[-5:])})" if known else ""
            raise SessionError(f"no sweep {name} in {parent}{listed}")
        try:
            document = json.loads((path / PLAN_FILE).read_text(encoding="utf-8"))
            if document.get("format_version", 0) > FORMAT_VERSION:
                raise SessionError(f"{path / PLAN_FILE} was written by a newer nnstudio (format "
                                   f"{document['format_version']}); update nnstudio to resume it")
            base = RunConfig.from_dict(document["base"])
            axes = [Axis(a["option"], (), tuple(a["texts"])) for a in document["axes"]]
            trials = [Trial(int(t["number"]), dict(t["overrides"]), dict(t["texts"]),
                            dict(t["baseline"]) if t.get("baseline") is not None else None, str(t.get("name") or ""))
                      for t in document["trials"]]
            experiment = document.get("experiment")
            workers = document.get("workers")
        except (OSError, ValueError, KeyError, TypeError, ConfigError) as error:
            raise SessionError(f"{path / PLAN_FILE} is damaged ({error}); the sweep's runs are still listed by "
                               "`nnstudio runs list`") from None
        sweep = cls(path, SweepPlan(base, axes, trials, experiment if isinstance(experiment, str) else None),
                    workers=workers if isinstance(workers, int) and not isinstance(workers, bool) and workers > 0
                    else None)
        read = read_journal(path / TRIALS_FILE) if (path / TRIALS_FILE).exists() else None
        for record in (read.records if read is not None else []):
            sweep._take(record)
        sweep.notes = list(read.notes) if read is not None else []
        return sweep

    # ================================================================== what happens
    def record(self, number: int, news: dict[str, Any]) -> None:
        """A trial's news, kept (started, retry, result; epochs are its run's history, not the sweep's)."""
        if news.get("kind") not in ("started", "retry", "result"):
            return
        record = {**news, "trial": number}
        self._take(record)
        if self._journal is None:
            self._journal = Journal(self.path / TRIALS_FILE)
        self._journal.append(record)
        self._journal.flush()

    def run(self, executor, on_news, stop) -> None:
        """Run the trials still to run (`tasks`) on `executor`, keeping each one's news and passing it on."""
        def news(number: int, record: dict) -> None:
            self.record(number, record)
            on_news(number, record)

        try:
            self.settle(on_news)
            executor.run(self.tasks(), news, stop)
        finally:
            self.close()

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def _take(self, record: dict) -> None:
        number = record.get("trial")
        if not isinstance(number, int):
            return
        if record.get("kind") == "started" and isinstance(record.get("run"), str):
            self.runs[number] = record["run"]
        elif record.get("kind") == "result":
            self.results[number] = record
            if isinstance(record.get("run"), str):
                self.runs[number] = record["run"]

    # ================================================================== what is left, how it went
    def done(self, trial: Trial) -> bool:
        return self.results.get(trial.number, {}).get("status") in ENDED

    def ended_outside(self) -> dict[int, dict]:
        """The results of trials not done here whose run has ended all the same (finished, early-stopped,
        diverged): trained to its end outside the sweep (the studio resumed it, or its worker trained on after the
        sweep's process died). Read from each run's history, as a trial's own result reports it."""
        runs = saves.runs_folder(self.plan.base.checkpoints.folder)
        found = {}
        for trial in self.plan.trials:
            if not self.done(trial) and trial.number in self.runs:
                result = result_of_run(trial.number, runs / self.runs[trial.number])
                if result is not None:
                    found[trial.number] = {"kind": "result", **{k: v for k, v in asdict(result).items()
                                                                if k not in ("files", "number")}, "outside": True}
        return found

    def settle(self, on_news=None) -> list[int]:
        """Record the results of the trials whose run ended outside the sweep (`ended_outside`), without training
        them; the trials' numbers. `on_news(number, record)` hears each, as a result."""
        found = self.ended_outside()
        for number, record in found.items():
            self.record(number, record)
            if on_news is not None:
                on_news(number, record)
        return list(found)

    def tasks(self) -> list[TrialTask]:
        """The trials still to run, in order: a stopped or cut-off one continues its run (if it can); one whose
        run ended outside the sweep is not among them (`settle` records its result)."""
        runs = saves.runs_folder(self.plan.base.checkpoints.folder)
        outside = self.ended_outside()
        tasks = []
        for trial in self.plan.trials:
            if self.done(trial) or trial.number in outside:
                continue
            resume = None
            if trial.number in self.runs:
                run = saves.read_run(runs / self.runs[trial.number])
                if run is not None and run.resume_point is not None:
                    resume = str(run.path)
            tasks.append(TrialTask(trial.number, self.plan.config(trial).to_dict(), trial.label, resume,
                                   baseline=trial.baseline, sweep=self.name))
        return tasks

    def ranked(self) -> list[tuple[Trial, dict | None]]:
        """Every trial with its result, the best first (highest validation accuracy, or lowest validation loss);
        those without a score last, in order."""
        def key(item: tuple[Trial, dict | None]):
            result = item[1] or {}
            best = result.get("best")
            if not isinstance(best, (int, float)) or not math.isfinite(best):
                return (1, 0.0, item[0].number)
            return (0, -best if result.get("metric", "val_acc") == "val_acc" else best, item[0].number)
        return sorted(((t, self.results.get(t.number)) for t in self.plan.trials), key=key)


def _taken(name: str, folder: str | Path | None, parent: Path) -> str:
    """Why --name NAME cannot be made: a sweep of that name exists; finish it if it has trials left."""
    try:
        left = len(Sweep.open(name, folder).tasks())
    except SessionError:
        left = None
    if left == 0:
        return (f"a sweep named {name} exists in {parent} and has run all its trials (see them ranked: nnstudio sweep "
                f"--resume {name}): give another --name")
    return f"a sweep named {name} exists in {parent}: give another --name, or finish it with --resume {name}"
