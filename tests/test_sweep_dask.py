"""A sweep's trials on a Dask cluster: a `distributed.LocalCluster` of this machine (2 worker processes of 1 thread,
on 127.0.0.1), started once for the module. The trials train there and their runs come back into the local runs
folder; a worker that dies is retried once, then its trial fails and the sweep goes on; a stop brings the running
trials' runs back with checkpoints and --resume continues them; a scheduler that cannot be used is one line."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")   # (installed with the test extra: `pip install -e '.[test]'`)

import cloudpickle  # noqa: E402
import dask  # noqa: E402

from nnstudio import saves  # noqa: E402
from nnstudio.tui.run import dask_executor, dask_worker  # noqa: E402
from nnstudio.tui.run.arguments import UsageError  # noqa: E402
from nnstudio.tui.run.config import RunConfig  # noqa: E402
from nnstudio.tui.run.dask_executor import DaskExecutor, scheduler_address  # noqa: E402
from nnstudio.tui.run.dask_worker import remote_trial  # noqa: E402
from nnstudio.tui.run.executors import LocalExecutor  # noqa: E402
from nnstudio.tui.run.history import read_history  # noqa: E402
from nnstudio.tui.run.sweep_folder import Sweep  # noqa: E402
from nnstudio.tui.run.sweeps import axis, plan_sweep  # noqa: E402
from nnstudio.tui.run.trials import TrialTask  # noqa: E402
from test_cli_train import child_env, json_lines, run_cli  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])   # (the workers cannot import this file: sent whole)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two worker processes of one thread each. The scheduler is set as nnstudio's README suggests for sweeps: a
    task whose worker dies is run again once (allowed-failures 1; Dask's default is 3)."""
    home = tmp_path_factory.mktemp("workers")
    env = {"XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data"), "NNSTUDIO_OFFLINE": "1"}
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0",
                                      env=env) as local:   # (every port on 127.0.0.1, none fixed)
            yield local


@pytest.fixture
def executor(cluster):
    with DaskExecutor.connect(cluster.scheduler_address) as made:
        yield made


class Level:
    level = 0


def _spirals(folder: Path, **overrides) -> RunConfig:
    return RunConfig().replace(**{"data.name": "spirals", "data.size": 300, "training.epochs": 2,
                                  "training.batch_size": 32, "checkpoints.folder": str(folder), **overrides})


def _tasks(folder: Path, count: int, **overrides) -> list[TrialTask]:
    plan = plan_sweep(_spirals(folder, **overrides), [axis("--lr", ",".join(str(0.01 * (n + 1)) for n in range(count)))])
    return [TrialTask(t.number, plan.config(t).to_dict(), t.label) for t in plan.trials]


def _kinds(said: list, number: int) -> list[str]:
    return [r["kind"] for n, r in said if n == number and r["kind"] != "epoch"]


# ====================================================================== trials on the cluster
def test_trials_train_on_the_workers_and_their_runs_come_back_here(executor, tmp_path):
    said = []
    executor.run(_tasks(tmp_path, 3), lambda n, r: said.append((n, r)), Level())
    results = {n: r for n, r in said if r["kind"] == "result"}
    assert sorted(results) == [1, 2, 3] and all(r["status"] == "finished" for r in results.values())
    assert all(_kinds(said, n) == ["started", "result"] for n in results)
    assert {r["worker"] for n, r in said if r["kind"] == "started"} <= set(executor.client.nthreads())
    assert all(sum(1 for m, r in said if m == n and r["kind"] == "epoch") == 2 for n in results)
    runs = saves.runs_folder(tmp_path)
    assert sorted(p.name for p in runs.iterdir()) == sorted(r["run"] for r in results.values())   # (nothing else)
    for result in results.values():
        history = read_history(runs / result["run"])
        assert len(history.epochs) == 2 and history.end["status"] == "finished"
        assert saves.read_run(runs / result["run"]).resume_point is not None


def _dies(task: TrialTask, channel: str, halt: str):
    """Trial 1's worker dies once, trial 2's every time, each after saying it started; the others train."""
    marker = Path(RunConfig.from_dict(task.config).checkpoints.folder) / f"died-{task.number}"
    if task.number == 2 or (task.number == 1 and not marker.exists()):
        marker.touch()
        worker = distributed.get_worker().address
        distributed.Queue(channel).put({"number": task.number, "kind": "started", "worker": worker})
        os.kill(os.getpid(), signal.SIGKILL)
    return remote_trial(task, channel, halt)


def test_a_worker_that_dies_is_retried_once_then_its_trial_fails_and_the_sweep_goes_on(cluster, tmp_path):
    """(Two sweeps, so that no trial is waiting on the worker that another trial kills: Dask counts that worker's
    death against it too.)"""
    said = []
    tasks = _tasks(tmp_path, 4)
    with DaskExecutor.connect(cluster.scheduler_address, trial=_dies) as executor:
        executor.run([tasks[0], tasks[2]], lambda n, r: said.append((n, r)), Level())
        executor.run([tasks[1], tasks[3]], lambda n, r: said.append((n, r)), Level())
    assert _kinds(said, 1) == ["started", "retry", "started", "result"]
    assert _kinds(said, 2) == ["started", "retry", "started", "result"]
    results = {n: r for n, r in said if r["kind"] == "result"}
    assert [results[n]["status"] for n in (1, 2, 3, 4)] == ["finished", "failed", "finished", "finished"]
    assert "its worker died every time" in results[2]["why"]
    retry = next(r for n, r in said if n == 1 and r["kind"] == "retry")
    assert "died or left the cluster" in retry["why"] and "Dask runs it again on tcp://127.0.0.1:" in retry["why"]
    assert sorted(p.name for p in saves.runs_folder(tmp_path).iterdir()) == \
        sorted(results[n]["run"] for n in (1, 3, 4))


def test_a_stop_brings_the_running_trials_back_with_checkpoints_and_resume_continues_their_runs(executor, tmp_path):
    plan = plan_sweep(_spirals(tmp_path, **{"training.epochs": 5000}), [axis("--lr", "0.01,0.02,0.03")])
    sweep = Sweep.create(plan, tmp_path, "long")
    stop = Level()
    trained: dict[int, int] = {}

    def news(number: int, record: dict, beyond: dict[int, int]) -> None:
        if record["kind"] == "epoch":
            trained[number] = record["epoch"]
            if all(trained.get(n, 0) > beyond.get(n, 0) + 1 for n in (1, 2)):
                stop.level = 1   # (as Ctrl+C does, once both workers' trials trained 2 epochs more)

    sweep.run(executor, lambda n, r: news(n, r, {}), stop)
    stopped = Sweep.open("long", tmp_path)
    assert sorted(stopped.results) == [1, 2] and {r["status"] for r in stopped.results.values()} == {"stopped"}
    tasks = stopped.tasks()   # trial 3 never started: cancelled, and run by --resume
    runs = saves.runs_folder(tmp_path)
    assert [t.number for t in tasks] == [1, 2, 3] and [t.resume for t in tasks] == [
        str(runs / stopped.runs[1]), str(runs / stopped.runs[2]), None]
    before = {n: len(read_history(runs / stopped.runs[n]).epochs) for n in (1, 2)}

    stop.level, trained = 0, {}
    stopped.run(executor, lambda n, r: news(n, r, before), stop)
    again = Sweep.open("long", tmp_path)
    assert {n: again.runs[n] for n in (1, 2)} == {n: stopped.runs[n] for n in (1, 2)}   # the same runs, continued
    for number in (1, 2):
        history = read_history(runs / again.runs[number])
        assert len(history.epochs) > before[number] and [e["epoch"] for e in history.epochs] == \
            list(range(1, len(history.epochs) + 1))
    assert sorted(p.name for p in runs.iterdir()) == sorted(again.runs.values())   # nothing left aside


def test_leaving_at_once_says_the_running_trials_work_is_lost(executor, tmp_path):
    said, stop = [], Level()

    def news(number: int, record: dict) -> None:
        said.append((number, record))
        if record["kind"] == "epoch":
            stop.level = 2
    executor.run(_tasks(tmp_path, 3, **{"training.epochs": 5000}), news, stop)
    results = [r for n, r in said if r["kind"] == "result"]
    assert results and all(r["status"] == "stopped" and "lost" in r["why"] for r in results)
    assert not saves.runs_folder(tmp_path).exists()


# ====================================================================== nnstudio sweep --executor dask
def test_sweep_on_the_cluster_one_json_object_per_trial_runs_here(cluster, tmp_path, capsys):
    assert run_cli("sweep", "--dataset", "spirals", "--epochs", "2", "--lr", "0.01,0.3", "--executor", "dask",
                   "--scheduler", cluster.scheduler_address, "--saves-dir", str(tmp_path), "--json") == 0
    out, err = capsys.readouterr()
    *trials, summary = json_lines(out)   # (one object per trial, then the summary)
    assert sorted(t["trial"] for t in trials) == [1, 2] and all(t["status"] == "finished" for t in trials)
    assert summary["kind"] == "summary" and summary["done"] == 2
    assert f"on the Dask cluster at {cluster.scheduler_address} (2 workers, 2 threads)" in err
    assert "started (on tcp://127.0.0.1:" in err and "best first" in err
    assert sorted(p.name for p in saves.runs_folder(tmp_path).iterdir()) == sorted(t["run"] for t in trials)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sweep_on(scheduler: str, folder: Path) -> int:
    return run_cli("sweep", "--dataset", "spirals", "--lr", "0.01,0.1", "--executor", "dask", "--scheduler",
                   scheduler, "--saves-dir", str(folder))


def test_a_scheduler_that_cannot_be_reached_is_one_line_before_anything_is_written(tmp_path, capsys):
    assert _sweep_on(f"tcp://127.0.0.1:{_closed_port()}", tmp_path) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and "nothing listens there" in err
    assert len(err.strip().splitlines()) == 1 and not tmp_path.joinpath("sweeps").exists()


def test_a_service_that_is_not_a_dask_scheduler_is_one_line_too(tmp_path, capsys, monkeypatch):
    """(Dask's own connect would wait for ever on a server that says nothing, as the dashboard's does.)"""
    monkeypatch.setattr(dask_executor, "CONNECT_SECONDS", 0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        assert _sweep_on(f"tcp://127.0.0.1:{silent.getsockname()[1]}", tmp_path) == 1
    err = capsys.readouterr().err
    assert "is not a Dask scheduler" in err and "said nothing" in err and len(err.strip().splitlines()) == 1
    assert not tmp_path.joinpath("sweeps").exists()


def test_without_distributed_it_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)   # (import distributed: ImportError)
    assert _sweep_on("tcp://127.0.0.1:8786", tmp_path) == 2
    err = capsys.readouterr().err
    assert "pip install 'nnstudio[cluster]'" in err and len(err.strip().splitlines()) == 1
    assert not tmp_path.joinpath("sweeps").exists()


@pytest.mark.parametrize("args, said", [
    (["--executor", "dask"], "--executor dask needs --scheduler"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler goes with --executor dask"),
    (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"], "--workers is for"),
    (["--executor", "dask", "--scheduler", "127.0.0.1"], "--scheduler 127.0.0.1: give"),
    (["--executor", "dask", "--scheduler", "http://127.0.0.1:8786"], "tcp://HOST:PORT"),
    (["--executor", "slurm"], "--executor"),
])
def test_the_executor_flags_are_checked_before_anything_runs(tmp_path, capsys, args, said):
    assert run_cli("sweep", "--dataset", "spirals", "--lr", "0.01,0.1", *args, "--saves-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1 and not tmp_path.joinpath("sweeps").exists()


@pytest.mark.parametrize("text, address", [
    ("tcp://10.0.0.5:8786", ("tcp://10.0.0.5:8786", "10.0.0.5", 8786)),
    ("node7:8786", ("tcp://node7:8786", "node7", 8786)),
    ("tcp://[::1]:8786", ("tcp://[::1]:8786", "::1", 8786)),
    ("tls://head.example:8786", ("tls://head.example:8786", "head.example", 8786)),
])
def test_a_scheduler_address_reads_as_dask_writes_it(text, address):
    assert scheduler_address(text) == address


@pytest.mark.parametrize("text", ["tcp://host", "tcp://host:99999", "ws://host:1", "tcp://host:1/x", ""])
def test_a_scheduler_address_that_is_not_one_is_refused(text):
    with pytest.raises(UsageError, match="--scheduler"):
        scheduler_address(text)


# ====================================================================== a run sent back
def test_a_run_continued_elsewhere_takes_its_own_place_and_another_is_numbered(tmp_path):
    runs = tmp_path / "runs"
    first = saves.unpack_run("r", {"run.json": b"{}", "history.jsonl": b"1\n"}, runs)
    other = saves.unpack_run("r", {"run.json": b"{}"}, runs)
    continued = saves.unpack_run("r", {"run.json": b"{}", "history.jsonl": b"1\n2\n"}, runs, replace=True)
    assert (first, other, continued) == (runs / "r", runs / "r-2", runs / "r")
    assert (runs / "r" / "history.jsonl").read_bytes() == b"1\n2\n" and sorted(os.listdir(runs)) == ["r", "r-2"]
    with pytest.raises(saves.SaveError, match="plain file name"):
        saves.unpack_run("r", {"../x": b""}, runs, replace=True)


# ====================================================================== a trial's process
def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("given, seen", [(None, "0"), ("1", "1")])
def test_a_trial_s_process_asks_for_no_huge_pages_unless_the_user_chose(tmp_path, monkeypatch, given, seen):
    """(Where the kernel compacts memory for them on demand, a trial spent up to 0.8 s of system time on them.)"""
    if given is None:
        monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    else:
        monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", given)
    said = []
    python = _fake_python(tmp_path, 'echo "huge pages: $NUMPY_MADVISE_HUGEPAGE" >&2; exit 3')
    LocalExecutor(1, python=python).run(_tasks(tmp_path, 1), lambda n, r: said.append(r), Level())
    assert f"huge pages: {seen}" in said[-1]["why"]


def test_a_trial_on_a_worker_trains_without_the_nanny_s_allocator_setting(monkeypatch):
    """(Dask's MALLOC_TRIM_THRESHOLD_ for its workers gave a trial 4 times the page faults.)"""
    nanny = dask.config.get("distributed.nanny.pre-spawn-environ")["MALLOC_TRIM_THRESHOLD_"]
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", str(nanny))
    assert "MALLOC_TRIM_THRESHOLD_" not in dask_worker._trial_environ()
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "999")   # (the user's own: kept)
    assert dask_worker._trial_environ()["MALLOC_TRIM_THRESHOLD_"] == "999"


# ====================================================================== the scheduler lost mid-sweep
@pytest.mark.parametrize("interrupt", [False, True])
def test_a_scheduler_lost_mid_sweep_ends_it_in_one_line_and_leaves_its_trials_for_resume(tmp_path, interrupt):
    """A cluster of its own (one worker), closed under the real command line once its first trial started: the
    sweep ends by itself, exit status 1, one line (not a trial's failure, no traceback, none of Dask's error logs),
    and every trial is left for --resume, begun again. Ctrl+C (twice) once the cluster is gone changes nothing of
    that but the exit status."""
    psutil = pytest.importorskip("psutil")   # (Dask's own dependency)
    env = child_env(tmp_path)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        local = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                         dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0",
                                         env={k: env[k] for k in ("XDG_CACHE_HOME", "NNSTUDIO_OFFLINE")})
    trials = []
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "nnstudio.tui", "sweep", "--dataset", "spirals", "--epochs", "5000", "--lr",
             "0.01,0.02,0.03", "--executor", "dask", "--scheduler", local.scheduler_address, "--saves-dir",
             str(tmp_path), "--name", "lost"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        for line in child.stdout:   # (its first trial trains on the worker: its run folder made there)
            if "started" in line:
                break
        worker = psutil.Process(next(iter(local.workers.values())).process.pid)
        trials = worker.children(recursive=True)   # (its trial's process: left on, unread, when the worker dies)
        local.close()
        if interrupt:
            child.send_signal(signal.SIGINT)
            child.send_signal(signal.SIGINT)
        try:
            out, err = child.communicate(timeout=120)   # (a safety net only: it ends by itself)
        except subprocess.TimeoutExpired:
            child.kill()
            pytest.fail(f"the sweep did not end once its scheduler was lost: {child.communicate()}")
    finally:
        local.close()
        for process in trials:
            with contextlib.suppress(psutil.Error):
                process.kill()
    assert "Traceback" not in err and "ERROR" not in err, err
    if not interrupt:
        assert child.returncode == 1
        said = [line for line in err.splitlines() if line.startswith("nnstudio sweep: error:")]
        assert len(said) == 1 and f"the Dask scheduler at {local.scheduler_address} was lost" in said[0]
        assert "3 trials not finished" in said[0] and "nnstudio sweep --resume lost" in said[0]
        assert "failed" not in out and "best first" in out   # (the ranking of what finished: nothing, here)
    else:
        assert child.returncode in (1, 130)
    sweep = Sweep.open("lost", tmp_path)
    assert [(t.number, t.resume) for t in sweep.tasks()] == [(1, None), (2, None), (3, None)]
    assert all(r["status"] == "stopped" and "was lost" in r["why"] for r in sweep.results.values())
