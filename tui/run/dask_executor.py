"""A sweep's trials on a Dask cluster: `nnstudio sweep --executor dask --scheduler tcp://HOST:PORT`.

    executor = DaskExecutor.connect("tcp://10.0.0.5:8786")   # ClusterError: one line, nothing sent
    executor.run(tasks, news, stop)                            # as LocalExecutor.run
    executor.close()

Each trial is one Dask task (`client.submit(remote_trial, task, ..., pure=False, retries=1)`),
sent in order as the cluster has threads free (a trial sent beyond would wait on a busy worker).
On its worker it trains as a local sweep's trial does, in a process of its own (`dask_worker.remote_trial`
says why), in a temporary folder; its run folder's files come back with its result and are
written into the local runs folder (`saves.unpack_run`) under the run's own name, numbered if
taken: that name is the news' "run". A trial that continues a run takes the run's files along
(`TrialTask.sent`) and comes back in its place. The workers need nnstudio (the same version) and
load the data set themselves (a `--data-dir` must name a folder that is there on the workers).

News: a trial says "started" (naming its worker, not its run: the run's name is known here only
when it comes back) and "epoch" through a Dask `Queue` the sweep reads, and "result" when its
task is done. A trial's process that dies is tried once more on its worker, then the trial is
failed. A worker that dies mid-trial: Dask's scheduler runs the trial again elsewhere, as many
times as its `distributed.scheduler.allowed-failures` allows (Dask's default 3; 1 on a scheduler
started for nnstudio's "once"), and the sweep says "retry" when it starts again; when the
scheduler gives up (`KilledWorker`) the trial is failed and the sweep goes on. A task that raises
(a worker without nnstudio) is tried once more (`retries=1`), then failed.

Stopping: `stop.level` 1 sends no more trials and sets a Dask `Event` that every trial watches:
a running one stops at its next batch with a checkpoint (SIGTERM to its process), and its run
comes back here as "stopped" (`--resume` continues it, here or on a cluster); one sent but not
yet begun returns at once, untrained, and says nothing (`--resume` runs it). Level 2 leaves at
once, every task cancelled: a running trial still stops at its next batch on its worker, but its
run there is thrown away, and `--resume` begins it again.

A scheduler lost mid-sweep (it died, or the connection to it closed): Dask cancels every task of
the sweep's at once, whether or not the connection comes back (a scheduler forgets a client it
lost, and a new one never knew its tasks), so the sweep ends there. Each trial that had started
is said "stopped" (its run on the worker is lost: `--resume` begins it again), those not begun say
nothing (`--resume` runs them), and `run` raises `SchedulerLost`, whose one line says what was lost:
not a trial's failure, and the trials are left for `--resume`. From then on Dask's client says
nothing more (it would log its failed reconnecting, an error, and the tracebacks of a close that
interrupts it: the sweep's line says it), and `close` waits for it only briefly.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import socket
import struct
import threading
import uuid
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from nnstudio import saves

from .arguments import UsageError
from .config import RunConfig
from .executors import News, Stop
from .dask_worker import NOT_BEGUN, remote_trial
from .trials import FAILED, TrialResult, TrialTask

#: how long connecting to the scheduler may take before the sweep gives up, before anything runs (seconds)
CONNECT_SECONDS = 5.0
#: how long the sweep waits for news before it looks at its trials' tasks again (seconds)
POLL_SECONDS = 0.2
#: a trial's task that raises is tried this many times more before the trial is failed
RETRIES = 1
#: more than this in the first 8 bytes a server sends: not a Dask scheduler's greeting (a few hundred bytes)
GREETING_BYTES = 1 << 24
#: how long closing a client that lost its scheduler may take (it would wait for its reconnecting to give up)
LOST_CLOSE_SECONDS = 1.0
INSTALL = "pip install 'nnstudio[cluster]'"


class ClusterError(Exception):
    """The cluster cannot be used: Dask is not installed here, or its scheduler cannot be reached."""


class SchedulerLost(ClusterError):
    """The scheduler was lost mid-sweep: the trials it held were said stopped (`--resume` runs them again)."""

    def __init__(self, address: str, lost: list[int]) -> None:
        super().__init__(f"the Dask scheduler at {address} was lost (the connection to it closed, and Dask forgets "
                         "the tasks of a connection it lost)")
        self.address, self.lost = address, lost


def scheduler_address(text: str) -> tuple[str, str, int]:
    """`tcp://HOST:PORT` (or `HOST:PORT`, or `tls://...`) as (address, host, port); UsageError naming the flag."""
    scheme, given, rest = text.partition("://")
    if not given:
        scheme, rest = "tcp", text
    try:
        split = urlsplit(f"//{rest}")
        host, port = split.hostname, split.port
    except ValueError:
        host = port = None
    if scheme not in ("tcp", "tls") or not host or port is None or split.path or split.query:
        raise UsageError(f"--scheduler {text}: give the Dask scheduler's address as tcp://HOST:PORT "
                         "(as `dask scheduler` prints it)")
    return f"{scheme}://{rest}", host, port


def _probe(url: str, host: str, port: int, timeout: float) -> None:
    """ClusterError unless a Dask scheduler seems to answer at the address: said at once for a closed port (Dask's
    connect retries until its timeout) and within `timeout` for a service that is not Dask, such as the dashboard's
    web server (which Dask's own connect would wait on for ever: it waits for a greeting that never comes)."""
    def refuse(why: str) -> ClusterError:
        return ClusterError(f"cannot reach the Dask scheduler at {url}: {why}; start it (`dask scheduler`) or check "
                            "--scheduler; nothing was run")

    try:
        probe = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        raise refuse("nothing listens there") from None
    except TimeoutError:
        raise refuse(f"no answer within {timeout:g} s") from None
    except OSError as error:
        raise refuse(error.strerror or str(error)) from None
    with probe:
        if not url.startswith("tcp://"):
            return   # (TLS speaks only after its own handshake: Dask's connect checks the rest)
        head = b""
        try:   # a Dask scheduler speaks first: the length of its greeting, 8 bytes
            while len(head) < 8 and (chunk := probe.recv(8 - len(head))):
                head += chunk
        except OSError:
            pass
    if len(head) < 8 or not 0 < struct.unpack("<Q", head)[0] < GREETING_BYTES:
        said = f"said nothing within {timeout:g} s" if not head else "does not speak Dask's protocol"
        raise ClusterError(f"{url} is not a Dask scheduler: something listens there but {said} (the dashboard's "
                           "port, 8787 by default, is not the scheduler's, 8786); check --scheduler; nothing was run")


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--executor dask needs Dask's distributed, which is not installed: {INSTALL}") from None
    return distributed


class DaskExecutor:
    """Trials as tasks of a Dask cluster, as many at once as its workers have threads."""

    def __init__(self, client, *, trial: Callable[..., TrialResult] | None = None, address: str | None = None) -> None:
        self.client = client
        self.address = address or getattr(getattr(client, "scheduler", None), "address", None) or "its address"
        self.lost = False
        self.trial = trial or remote_trial   # (tests give a trial whose worker dies)

    @staticmethod
    def check_installed() -> None:
        """ClusterError, saying what to install, unless Dask's distributed can be imported."""
        _distributed()

    @classmethod
    def connect(cls, address: str, *, timeout: float | None = None, **options) -> DaskExecutor:
        """A client of the scheduler at `address`; ClusterError (nothing sent) if Dask is missing or the
        scheduler does not answer within `timeout` (default CONNECT_SECONDS), UsageError for an address that is
        not one."""
        timeout = CONNECT_SECONDS if timeout is None else timeout
        distributed = _distributed()
        url, host, port = scheduler_address(address)
        _probe(url, host, port, timeout)
        try:
            client = distributed.Client(url, timeout=timeout, set_as_default=False)
        except Exception as error:
            raise ClusterError(f"cannot connect to the Dask scheduler at {url} ({type(error).__name__}: {error}); "
                               "nothing was run") from None
        return cls(client, address=url, **options)

    def describe(self) -> str:
        """ "2 workers, 2 threads": how many trials run at once."""
        threads = self.client.nthreads()
        if not threads:
            return "no workers yet (the trials wait for them)"
        total = sum(threads.values())
        return f"{len(threads)} worker{'s' if len(threads) != 1 else ''}, {total} thread{'s' if total != 1 else ''}"

    def connected(self) -> bool:
        """Whether the scheduler is there (False once it was lost: nothing more comes back from it)."""
        return not self.lost and self.client.status == "running"

    def close(self) -> None:
        try:
            self.client.close(**({"timeout": LOST_CLOSE_SECONDS} if self.lost else {}))
        except Exception:   # (a client that lost its scheduler: its loop's thread ends with this process)
            pass

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ================================================================== running
    def run(self, tasks: list[TrialTask], news: News, stop: Stop) -> None:
        """Train the trials in order, as many at once as the cluster has threads, and report as LocalExecutor."""
        distributed = _distributed()
        tag = uuid.uuid4().hex[:12]
        channel = distributed.Queue(f"nnstudio-news-{tag}", client=self.client)
        halt = distributed.Event(f"nnstudio-stop-{tag}", client=self.client)
        trials, pending, futures = _Trials(news), collections.deque(tasks), {}
        ended = threading.Event()
        signalled = 0

        def send() -> None:
            while pending and len(futures) < self._threads():
                try:
                    future = self.client.submit(self.trial, _shipped(pending[0]), channel.name, halt.name,
                                                pure=False, retries=RETRIES,
                                                key=f"nnstudio-trial-{pending[0].number}-{tag}")
                except Exception:
                    if self._lost(futures):
                        return   # (said at the top of the loop; the trial is left for --resume)
                    raise
                future.add_done_callback(lambda future: ended.set())
                futures[future] = pending.popleft()

        try:
            while pending or futures:
                if self._lost(futures):
                    raise self._leave_lost(futures, trials)
                if stop.level > signalled:
                    pending.clear()   # (never started: --resume runs them)
                    try:
                        halt.set()
                    except Exception:   # (the scheduler going: said at the top of the loop; else tried again)
                        ended.wait(POLL_SECONDS)
                        continue
                    signalled = stop.level
                    if stop.level >= 2:
                        self._drop(futures, trials)
                        break
                send()
                ended.wait(POLL_SECONDS)
                ended.clear()
                trials.read(channel)   # (a trial's news before its result)
                if self._lost(futures):
                    continue   # (its tasks cancelled by the lost connection: not their trials' results)
                done = [(future, futures.pop(future)) for future in list(futures) if future.done()]
                if done and stop.level == 0:
                    send()   # (the next trials start while the runs of those done come back)
                for future, task in done:
                    try:
                        said = None if future.status == "finished" and future.result().why == NOT_BEGUN else \
                            _result(future, task)   # (None: it never began, the sweep stopped first: --resume)
                    except Exception:
                        if not self._lost({}):
                            raise
                        futures[future] = task   # (its run lost with the scheduler, before it came back)
                        continue
                    if said is not None:
                        news(task.number, said)
                    with contextlib.suppress(Exception):   # (the scheduler gone: it forgot the task itself)
                        future.release()
        finally:
            for future in futures:
                with contextlib.suppress(Exception):   # (the scheduler gone: the task with it)
                    future.cancel()
            # the stop stays set while a trial left behind may still look at it (Dask cannot interrupt it)
            for close in (channel.close, *(() if futures or signalled >= 2 else (halt.clear,))):
                try:
                    close()
                except Exception:   # (the scheduler is gone: nothing of the sweep's is left there)
                    pass

    def _lost(self, futures: dict) -> bool:
        """Whether the scheduler was lost: the client is no longer connected, or a task was cancelled for it (Dask
        cancels them all when the connection closes, even one it then opens again)."""
        if self.client.status not in ("running", "newly-created"):
            return True
        return any(future.status == "cancelled" and _cancelled_for(future) == "scheduler-connection-lost"
                   for future in futures)

    def _leave_lost(self, futures: dict, trials: _Trials) -> SchedulerLost:
        """The trials that started said stopped (their runs on the workers are lost), Dask's client quiet."""
        self.lost = True
        logging.getLogger("distributed.client").addFilter(_quiet)
        lost = []
        for future, task in list(futures.items()):
            del futures[future]
            lost.append(task.number)
            if task.number in trials.workers:
                trials.news(task.number, {"kind": "result", "number": task.number, "status": "stopped",
                                          "why": f"the Dask scheduler at {self.address} was lost while it trained on "
                                                 f"{trials.workers[task.number][-1]}: its run there is lost, "
                                                 "--resume begins it again"})
        return SchedulerLost(self.address, lost)

    def _threads(self) -> int:
        """The cluster's worker threads now (at least 1: a trial sent to a cluster without workers waits for one).

        No more trials are sent than can train: one sent beyond would wait on a busy worker, counted as killed
        with it if that worker died, and one run there cannot be stopped before it begins."""
        try:
            return max(sum(self.client.nthreads().values()), 1)
        except Exception:   # (the scheduler is gone: the trials sent say so)
            return 1

    @staticmethod
    def _drop(futures: dict, trials: _Trials) -> None:
        """Leave at once: every trial's task cancelled; those that began are said stopped, their runs lost."""
        for future, task in list(futures.items()):
            with contextlib.suppress(Exception):   # (the scheduler gone: the task with it)
                future.cancel()
            del futures[future]
            if task.number in trials.workers:
                trials.news(task.number, {"kind": "result", "number": task.number, "status": "stopped",
                                          "why": f"left on its worker {trials.workers[task.number][-1]} without "
                                                 "waiting for it: its run there is lost, --resume begins it again"})


class _Trials:
    """The news of the trials' tasks, read from the sweep's queue: who started where, and a retry when a trial
    starts again after its worker died (its process dying under a worker that lives says so itself)."""

    def __init__(self, news: News) -> None:
        self.news = news
        self.workers: dict[int, list[str]] = {}
        self.retried: set[int] = set()

    def read(self, channel) -> None:
        """The news waiting in the queue (the scheduler answers at once: a queue waited on with a timeout would
        log an error there each time)."""
        try:
            items = channel.get(batch=True)
        except Exception:   # (the scheduler gone: the trials' tasks say so)
            return
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("number"), int):
                self._take(item.pop("number"), item)

    def _take(self, number: int, record: dict) -> None:
        if record.get("kind") == "retry":
            self.retried.add(number)
        elif record.get("kind") == "started":
            before = self.workers.setdefault(number, [])
            if before and number not in self.retried:
                self.news(number, {"kind": "retry", "worker": record.get("worker"),
                                   "why": f"its worker {before[-1]} died or left the cluster before the trial "
                                          f"ended; Dask runs it again on {record.get('worker')}"})
            self.retried.discard(number)
            before.append(str(record.get("worker")))
        self.news(number, record)


def _shipped(task: TrialTask) -> TrialTask:
    """The task as it travels: with the files of the run it continues."""
    return dataclasses.replace(task, sent=saves.pack_run(task.resume) if task.resume else None)


def _result(future, task: TrialTask) -> dict[str, Any]:
    """A finished task as the trial's result news, its run written into the local runs folder."""
    if future.status != "finished":
        return {"kind": "result", "number": task.number, "status": FAILED, "why": _why(future)}
    result: TrialResult = future.result()
    record = {"kind": "result", **dataclasses.asdict(dataclasses.replace(result, files=None))}
    record.pop("files")
    if result.run is not None and result.files is not None:
        runs = saves.runs_folder(RunConfig.from_dict(task.config).checkpoints.folder)
        again = task.resume is not None and Path(task.resume).name == result.run
        try:
            record["run"] = saves.unpack_run(result.run, result.files, runs, replace=again).name
        except (saves.SaveError, OSError) as error:
            record.update(status=FAILED, run=None, why=f"it ended {result.status} on its worker, but its run could "
                                                       f"not be written into {runs}: {error}")
    return record


def _quiet(record: logging.LogRecord) -> bool:
    """(A filter for Dask's client once its scheduler was lost: what it would log is the loss, said by the sweep.)"""
    return False


def _cancelled_for(future) -> str | None:
    """Why Dask cancelled a future ("scheduler-connection-lost", ...): read without asking the scheduler, which may
    be gone (`Future.result` would)."""
    return getattr(getattr(getattr(future, "_state", None), "exception", None), "reason", None)


def _why(future) -> str:
    """Why a trial's task ended without a result, said for a person."""
    try:
        error = future.exception(timeout=CONNECT_SECONDS)
    except Exception as lost:   # (cancelled, or the scheduler forgot it)
        return f"the cluster lost its task ({type(lost).__name__}: {lost})"
    name = type(error).__name__
    if name == "KilledWorker":
        return f"its worker died every time it trained it (Dask gave up: {error})"
    if isinstance(error, ImportError) and "nnstudio" in str(error):
        return f"the worker cannot import nnstudio ({error}): install nnstudio, the same version, on the workers"
    return f"its task failed on the cluster: {name}: {error}"
