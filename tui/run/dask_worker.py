"""What a sweep's trial does on a Dask worker (`remote_trial`, the task `dask_executor.DaskExecutor` submits):
train in a process of its own, as a local sweep's trial does, pass its news to the sweep through a Dask `Queue`,
stop (with a checkpoint) when the sweep's Dask `Event` is set, and send its run folder's files back with its
result. Workers import it by its name, so it needs only nnstudio (the same version) and `distributed` there.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from nnstudio import saves

from .config import RunConfig
from .executors import LocalExecutor
from .trials import TrialResult, TrialTask

#: how often a running trial asks the scheduler whether the sweep was stopped (seconds)
WATCH_SECONDS = 1.0
#: why a trial whose task came after the sweep was stopped did not train
NOT_BEGUN = "the sweep was stopped before it began"


class _Channel:
    """A trial's news put on the sweep's queue, with its number and where it trains; a queue that fails (the sweep
    has gone) ends the news, never the trial."""

    def __init__(self, queue, number: int, worker: str) -> None:
        self.queue, self.number, self.worker, self.open = queue, number, worker, True

    def say(self, record: dict[str, Any]) -> None:
        if not self.open:
            return
        if record.get("kind") == "started":   # (its run's name there is not the name it gets back here)
            record = {"kind": "started", "worker": self.worker}
        elif record.get("kind") == "retry":
            record = {**record, "worker": self.worker, "why": f"on {self.worker}, {record.get('why', '')}; "
                                                              "trying it once more"}
        try:
            self.queue.put({**record, "number": self.number}, timeout=WATCH_SECONDS * 5)
        except Exception:
            self.open = False


class _Watch:
    """The sweep's stop, asked of the scheduler every WATCH_SECONDS while a trial trains (as a `Stop`)."""

    level = 0

    def __init__(self, event) -> None:
        self.event, self.done = event, threading.Event()

    def __enter__(self) -> _Watch:
        threading.Thread(target=self._watch, name="nnstudio-trial-stop", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()

    def _watch(self) -> None:
        while not self.done.wait(WATCH_SECONDS):
            try:
                if self.event.is_set():
                    self.level = 1
                    return
            except Exception:   # (the scheduler is gone: the trial trains on, as one whose sweep was killed)
                return


def remote_trial(task: TrialTask, channel: str, halt: str) -> TrialResult:
    """One trial on a Dask worker, its run folder's files in its result: its news on the queue `channel`, stopped
    (with a checkpoint) once the event `halt` is set.

    The trial trains in a process of its own (`LocalExecutor`, one trial), as a local sweep's do: not in the
    worker's thread, where it would share the worker's interpreter lock with its event loop and train under the
    worker's allocator settings (Dask's MALLOC_TRIM_THRESHOLD_ gave 4 times the page faults): measured on 2
    cores, a sweep took 1.6 times the processor time that way. A process of its own can also be stopped like a
    local trial (SIGTERM: a checkpoint), and one that dies is tried once more, then failed, as a local one is;
    the worker lives on.
    """
    import distributed

    worker = distributed.get_worker().address
    queue, stopped = distributed.Queue(channel), distributed.Event(halt)
    if stopped.is_set():
        return TrialResult(task.number, "stopped", NOT_BEGUN)
    reporter, ended = _Channel(queue, task.number, worker), []
    with tempfile.TemporaryDirectory(prefix="nnstudio-trial-") as folder:
        runs = saves.runs_folder(folder)
        resume = task.resume
        if resume is not None and task.sent is not None:
            resume = str(saves.unpack_run(Path(resume).name, task.sent, runs))
        elif resume is not None:   # (a run folder the worker sees itself: continued where it is)
            runs = Path(resume).parent
        config = RunConfig.from_dict(task.config).replace(**{"checkpoints.folder": folder})
        here = dataclasses.replace(task, config=config.to_dict(), resume=resume, sent=None)

        def news(number: int, record: dict) -> None:
            (ended.append if record.get("kind") == "result" else reporter.say)(record)

        with _Watch(stopped) as stop:
            LocalExecutor(1, environ=_trial_environ()).run([here], news, stop)
        record = ended[-1] if ended else {"status": "stopped", "why": "it was stopped before it began"}
        fields = {f.name for f in dataclasses.fields(TrialResult)} - {"number", "files"}
        result = TrialResult(task.number, **{k: v for k, v in record.items() if k in fields})
        if result.run is not None and (runs / result.run).is_dir():
            result.files = saves.pack_run(runs / result.run)
        return result


def _trial_environ() -> dict[str, str]:
    """The worker's environment without what Dask's nanny set for the worker's own allocations (its
    MALLOC_TRIM_THRESHOLD_): a trial allocates and frees its batches' arrays all the time."""
    import dask

    nanny = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    return {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") and str(nanny.get(k)) == v)}
