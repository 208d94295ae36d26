"""The studio's BLAS thread limit: one thread unless the user chose a number."""

from __future__ import annotations

import os

from threadpoolctl import threadpool_info, threadpool_limits

from nnstudio.tui.run.blas import USER_SETTINGS, limit_blas_threads


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_one_thread_unless_the_user_chose(monkeypatch):
    with threadpool_limits(limits=2, user_api="blas"):  # as NumPy starts on two cores; put back afterwards
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
        assert not limit_blas_threads(1) and blas_threads() <= {2}  # the user's choice stands
        for name in USER_SETTINGS:
            monkeypatch.delenv(name, raising=False)
        assert limit_blas_threads(1) and blas_threads() == {1}


# ---------------------------------------------------------------------------------------- resuming
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

from nnstudio import saves  # noqa: E402
from nnstudio.tui.run import blas  # noqa: E402


@pytest.fixture
def no_users_choice(monkeypatch):
    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)


def test_resuming_uses_the_run_s_thread_count_again(no_users_choice):
    with threadpool_limits(limits=1, user_api="blas"):
        assert blas.continue_with(2) is None and blas.blas_threads() == 2
        assert blas.continue_with(None) is None and blas.blas_threads() == 2   # an older checkpoint: as it is


def test_a_users_other_count_is_kept_and_the_resume_says_it_will_not_be_exact(monkeypatch):
    with threadpool_limits(limits=1, user_api="blas"):
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
        message = blas.continue_with(2)
        assert blas.blas_threads() == 1
        assert message == ("this run trained with 2 BLAS thread(s) and continues with 1 (OPENBLAS_NUM_THREADS=1), "
                           "so its results will not be bit-identical to an uninterrupted run's; set "
                           "OPENBLAS_NUM_THREADS=2 to continue it exactly")
        assert blas.continue_with(1) is None


def _train(tmp_path, *args, threads: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in USER_SETTINGS}
    env.update({"NNSTUDIO_SAVES_DIR": str(tmp_path / "saves"), "NNSTUDIO_OFFLINE": "1",
                "XDG_CACHE_HOME": str(tmp_path / "cache")})
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = threads
    return subprocess.run([sys.executable, "-m", "nnstudio.tui", "train", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def _recorded(run_dir) -> int:
    return saves.read_metadata(saves.read_run(run_dir).resume_point).checkpoint["data_state"]["blas_threads"]


def test_the_command_line_trains_with_one_thread_records_it_and_a_resume_keeps_the_run_s(tmp_path):
    quick = ["--dataset", "blobs", "--batch-size", "16", "--json"]
    first = _train(tmp_path, *quick, "--epochs", "1", threads=None)
    assert first.returncode == 0, first.stderr
    run_dir = json.loads(first.stdout.splitlines()[-1])["run_dir"]
    assert _recorded(run_dir) == 1   # the default, as the studio's

    chosen = _train(tmp_path, *quick, "--epochs", "1", threads="2")
    run_two = json.loads(chosen.stdout.splitlines()[-1])["run_dir"]
    assert _recorded(run_two) == 2   # the user's choice stands, and is recorded

    resumed = _train(tmp_path, "--resume", run_two, "--epochs", "2", "--json", threads=None)
    assert resumed.returncode == 0, resumed.stderr
    assert _recorded(run_two) == 2 and "bit-identical" not in resumed.stderr   # the run's own count again

    other = _train(tmp_path, "--resume", run_two, "--epochs", "3", "--json", threads="1")
    assert other.returncode == 0, other.stderr
    assert ("this run trained with 2 BLAS thread(s) and continues with 1 (OPENBLAS_NUM_THREADS=1), so its "
            "results will not be bit-identical") in other.stderr


async def test_the_studio_resumes_a_run_with_its_thread_count(tmp_path, no_users_choice):
    """The studio sets the count from its interface thread (threadpoolctl ignores any other once one has)."""
    from test_studio_app import blobs as blobs_fixture, config, studio, wait_status, press_while_training
    from nnstudio.engine import events
    from nnstudio.tui.run import Session
    data = blobs_fixture.__wrapped__()
    with threadpool_limits(limits=2, user_api="blas"):
        cut_off = Session(config(tmp_path, **{"training.epochs": 3}), dataset=data)
        cut_off.on_event = lambda event: cut_off.stop() if isinstance(event, events.EpochEnd) else None
        assert cut_off.run() == "stopped" and cut_off.blas_threads == 2
        threadpool_limits(limits=1, user_api="blas")
        app = studio(tmp_path, data, offer_resume=True, **{"training.epochs": 3})
        async with app.run_test() as pilot:
            await pilot.pause()
            await press_while_training(pilot, "y")
            await wait_status(pilot, "paused")
            assert blas.blas_threads() == 2 and not any("bit-identical" in text for text, _ in app.seen_notifications)
