"""Where a sweep's trials run: here, a process for each (`LocalExecutor`), or on a Dask cluster (`dask_executor`).

    executor = LocalExecutor(workers=2)
    executor.run(tasks, news, stop)   # blocking; news(number, record) for each trial's news, in order

Both take the same `TrialTask`s and report the same news: {"kind": "started", "run": NAME} when a
trial's run folder exists, {"kind": "epoch", ...} per epoch where the executor can say, and one
{"kind": "result", ...} per trial (`TrialResult`'s fields). A trial never takes another down: a
worker that dies is retried once, then its trial is reported failed, and the sweep goes on.

Locally each trial is a fresh `python -m nnstudio.tui.run.trial_worker` in a session of its own
(the terminal's Ctrl+C reaches only the sweep), reading its task on stdin and writing its news on
stdout. `stop.level` going to 1 passes a SIGTERM to every trial (each stops at its batch boundary
with a checkpoint) and starts no more; going to 2 passes another (they quit at once).

A trial's process asks for no transparent huge pages (NUMPY_MADVISE_HUGEPAGE=0, unless the user
set it): NumPy asks for them on every large array, and where the kernel compacts memory to find
them on demand (`defrag` "madvise", a common default) a trial that allocates its data set's few
hundred MB spent 0.6-0.8 s of system time doing so, more when two trials allocate at once (2-core
machine, full MNIST: 0.2 s without them, the same user time).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Protocol

from .trials import FAILED, TrialTask

#: how often the sweep looks at its trials when none has news (seconds)
POLL_SECONDS = 0.2
#: lines of a dead worker's error output kept to say why it died
STDERR_LINES = 12
#: a worker that dies is tried again this many times before its trial is failed
RETRIES = 1

News = Callable[[int, dict], None]


class Stop(Protocol):
    """How far the sweep has been asked to stop: 0 not, 1 gently (checkpoints), 2 at once."""

    level: int


@dataclass
class _Worker:
    task: TrialTask
    process: subprocess.Popen
    attempt: int
    result: dict | None = None
    stderr: collections.deque = dataclasses.field(default_factory=lambda: collections.deque(maxlen=STDERR_LINES))
    signalled: int = 0
    readers: list[threading.Thread] = dataclasses.field(default_factory=list)


class LocalExecutor:
    """Trials in processes of their own on this machine, `workers` at a time."""

    def __init__(self, workers: int = 1, *, python: str = sys.executable, environ: dict[str, str] | None = None) -> None:
        self.workers, self.python = max(1, int(workers)), python
        self.environ = environ   # the trials' environment (None: this process's)

    def run(self, tasks: list[TrialTask], news: News, stop: Stop) -> None:
        pending = collections.deque((task, 0) for task in tasks)
        running: list[_Worker] = []
        inbox: queue.Queue = queue.Queue()
        while pending or running:
            # (a trial that reported its result is only exiting: the next one starts beside it)
            while pending and sum(w.result is None for w in running) < self.workers and stop.level == 0:
                task, attempt = pending.popleft()
                running.append(self._start(task, attempt, inbox))
            for worker in running:
                if worker.signalled < stop.level and worker.process.poll() is None:
                    worker.signalled = stop.level
                    _signal(worker.process, signal.SIGTERM)
            if stop.level and pending:
                pending.clear()   # (never started: --resume runs them)
            try:
                worker, record = inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                worker = record = None
            if worker is not None:
                if record.get("kind") == "result":
                    worker.result = record
                news(worker.task.number, record)
            for done in [w for w in running if w.process.poll() is not None and not any(r.is_alive() for r in w.readers)]:
                running.remove(done)
                self._drain(done, inbox, news)
                if done.result is not None:
                    continue
                if done.attempt < RETRIES and stop.level == 0:
                    news(done.task.number, {"kind": "retry", "why": _death(done)})
                    pending.appendleft((done.task, done.attempt + 1))
                else:
                    news(done.task.number, {"kind": "result", "number": done.task.number, "status": FAILED
                                            if stop.level == 0 else "stopped", "why": _death(done)})

    def _start(self, task: TrialTask, attempt: int, inbox: queue.Queue) -> _Worker:
        process = subprocess.Popen([self.python, "-m", "nnstudio.tui.run.trial_worker"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                   env={"NUMPY_MADVISE_HUGEPAGE": "0", **(self.environ or os.environ)})
        worker = _Worker(task, process, attempt)
        worker.readers = [threading.Thread(target=_read_news, args=(worker, inbox), daemon=True),
                          threading.Thread(target=_read_errors, args=(worker,), daemon=True)]
        for reader in worker.readers:
            reader.start()
        try:
            process.stdin.write(json.dumps(dataclasses.asdict(task)).encode())
            process.stdin.close()
        except OSError:   # it died at once: said when it is found dead
            pass
        return worker

    @staticmethod
    def _drain(worker: _Worker, inbox: queue.Queue, news: News) -> None:
        """News of a worker that ended, still in the inbox (its result among them)."""
        kept = []
        while True:
            try:
                item = inbox.get_nowait()
            except queue.Empty:
                break
            if item[0] is worker:
                if item[1].get("kind") == "result":
                    worker.result = item[1]
                news(worker.task.number, item[1])
            else:
                kept.append(item)
        for item in kept:
            inbox.put(item)


def _read_news(worker: _Worker, inbox: queue.Queue) -> None:
    for line in worker.process.stdout:
        try:
            record = json.loads(line)
        except ValueError:
            continue   # (a library printed on stdout: not news)
        if isinstance(record, dict):
            inbox.put((worker, record))


def _read_errors(worker: _Worker) -> None:
    for line in worker.process.stderr:
        text = line.decode("utf-8", "replace").rstrip()
        if text:
            worker.stderr.append(text)


def _signal(process: subprocess.Popen, signum: int) -> None:
    try:
        process.send_signal(signum)
    except (ProcessLookupError, OSError):
        pass


def _death(worker: _Worker) -> str:
    """Why a worker ended without a result: its exit status or signal, and the last of what it wrote."""
    code = worker.process.returncode
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
    said = f": {worker.stderr[-1]}" if worker.stderr else ""
    return f"its worker process {how} before it reported{said}"

