"""Run folders and their hygiene: fresh folders created atomically, cleaning only a run's own stale temp files,
a lock probe that disturbs nobody, durable pruning, and copies that fail as SaveError."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from nnstudio import saves
from nnstudio.engine import build_model, manual_seed, optim
from nnstudio.saves import SaveError, atomic, checkpoints
from nnstudio.saves.atomic import link_or_copy, temp_target

fcntl = pytest.importorskip("fcntl")

TINY = {"input_shape": [4], "layers": [{"type": "linear", "out": 2}]}


def tiny():
    manual_seed(0)
    model = build_model(TINY)
    return model, optim.SGD(model.parameters(), lr=0.1)


class FrozenClock(datetime):
    """Every run starts in the same second, as two terminals might."""

    @classmethod
    def now(cls, tz=None):
        return datetime(2025, 1, 31, 12, 0, 0)


# ====================================================================== new run folders
def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "datetime", FrozenClock)
    first = saves.new_run_dir("mnist", tmp_path)
    second = saves.new_run_dir("mnist", tmp_path)
    assert first.name == "mnist-20250131-120000" and second.name == "mnist-20250131-120000-2"
    assert first.is_dir() and second.is_dir()  # created, not merely named: nobody else can take them


def test_concurrent_runs_never_share_a_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "datetime", FrozenClock)
    start, made = threading.Barrier(8), []

    def start_a_run():
        start.wait()
        made.append(saves.new_run_dir("mnist", tmp_path))

    threads = [threading.Thread(target=start_a_run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 8 and all(path.is_dir() for path in made)


def test_a_run_folder_that_cannot_be_created_is_a_save_error(tmp_path):
    (tmp_path / "runs").write_text("a file where the runs folder should be")
    with pytest.raises(SaveError, match="cannot create a run folder") as caught:
        saves.new_run_dir("x", tmp_path)
    assert caught.value.path == tmp_path / "runs"


def test_is_run_dir_tells_a_run_from_any_other_folder(tmp_path):
    model, optimizer = tiny()
    run_dir = saves.new_run_dir("toy", tmp_path)
    assert not saves.is_run_dir(run_dir)          # no marker yet: nothing has claimed it
    with saves.CheckpointManager(run_dir) as manager:
        manager.save(1, model, optimizer)
    assert saves.is_run_dir(run_dir)
    saves.save_checkpoint(tmp_path / "loose.safetensors", model, optimizer, epoch=1)
    assert not saves.is_run_dir(tmp_path)         # the saves folder holding a checkpoint is not a run
    assert not saves.is_run_dir(tmp_path / "missing")
    assert not saves.is_run_dir(run_dir / "run.json")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "run.json").write_text("{broken")
    assert not saves.is_run_dir(tmp_path / "junk")


# ====================================================================== temp files
def _aged(path: Path, seconds: float) -> Path:
    os.utime(path, (time.time() - seconds, time.time() - seconds))
    return path


def _write_aged(path: Path, seconds: float = 3600) -> Path:
    path.write_bytes(b"partial")
    return _aged(path, seconds)


def test_a_run_cleans_only_its_own_temp_files_however_fresh(tmp_path):
    """The lock proves no other writer: a run resumed a minute after a kill keeps none of its leftovers."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    leftovers = [_write_aged(run_dir / name, seconds) for name, seconds in
                 ((".epoch-0003.safetensors.0a1b2c3d.tmp", 3600), (".best.safetensors.00ff00ff.tmp", 3600),
                  (".run.json.12345678.tmp", 3600), (".epoch-0002.safetensors.deadbeef.tmp", 1))]
    kept = [
        _write_aged(run_dir / ".notes.safetensors.0a1b2c3d.tmp"),          # another writer's, however old
        _write_aged(run_dir / ".cache.tmp"),                               # not one of our temp names at all
    ]
    saves.CheckpointManager(run_dir).close()
    assert not any(path.exists() for path in leftovers)
    assert all(path.exists() for path in kept)


@pytest.mark.parametrize("end", ["finish", "close"])
def test_a_run_leaves_none_of_its_temp_files_when_it_ends(tmp_path, end):
    """A write cut short during the run (a full disk) leaves a temp file; the run's end removes it."""
    manager = saves.CheckpointManager(tmp_path / "run")
    leftover = _write_aged(tmp_path / "run" / ".epoch-0001.safetensors.0a1b2c3d.tmp", 0)
    getattr(manager, end)()
    assert not leftover.exists()
    assert saves.CheckpointManager(tmp_path / "run").status == "running"   # the lock was released too


def test_without_a_lock_only_stale_temp_files_go(tmp_path, monkeypatch):
    """Where no lock can prove that no one else writes the run, a fresh temp file may be a live writer's."""
    monkeypatch.setattr("nnstudio.saves.checkpoints.fcntl", None)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    old = _write_aged(run_dir / ".epoch-0003.safetensors.0a1b2c3d.tmp", 3600)
    fresh = _write_aged(run_dir / ".epoch-0004.safetensors.deadbeef.tmp", 1)
    saves.CheckpointManager(run_dir).close()
    assert not old.exists() and fresh.exists()


def test_temp_names_are_recognised_exactly():
    assert temp_target(".epoch-0001.safetensors.0a1b2c3d.tmp") == "epoch-0001.safetensors"
    assert temp_target(".a.b.safetensors.ffffffff.tmp") == "a.b.safetensors"
    for name in (".x.tmp", "x.0a1b2c3d.tmp", ".x.0A1B2C3D.tmp", ".x.0a1b2c3.tmp", ".x.0a1b2c3d.tmpx"):
        assert temp_target(name) is None, name


def test_remove_stale_temp_files_with_an_owner_filter(tmp_path):
    ours = _write_aged(tmp_path / ".m.safetensors.0a1b2c3d.tmp")
    theirs = _write_aged(tmp_path / ".n.safetensors.0a1b2c3d.tmp")
    assert saves.remove_stale_temp_files(tmp_path, older_than=60, owned=lambda name: name == "m.safetensors") == [ours]
    assert theirs.exists()


def test_a_run_cleans_its_partial_checkpoint_s_stale_temp_file(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stale = _write_aged(run_dir / f".{saves.PARTIAL_FILE}.0a1b2c3d.tmp")  # a writer killed during a stop
    saves.CheckpointManager(run_dir).close()
    assert not stale.exists()


# ====================================================================== the partial checkpoint
def test_a_partial_checkpoint_is_the_run_s_resume_point_until_the_next_epoch(tmp_path):
    model, optimizer = tiny()
    run_dir = tmp_path / "runs" / "toy"
    manager = saves.CheckpointManager(run_dir)
    manager.save(1, model, optimizer)
    partial = manager.save_partial(1, model, optimizer)  # stopped in epoch 2
    assert partial == run_dir / saves.PARTIAL_FILE and saves.load(partial).checkpoint.epoch == 1
    manager.close()
    run = saves.read_run(run_dir)
    assert (run.latest.name, run.resume_point, run.last_epoch) == ("epoch-0001.safetensors", partial, 1)
    assert saves.resume_point(run_dir) == partial and run.interrupted
    assert json.loads((run_dir / "run.json").read_text())["last_checkpoint"] == saves.PARTIAL_FILE
    assert saves.latest_interrupted_run(tmp_path).resume_point == partial

    manager = saves.CheckpointManager(run_dir)  # resumed from it: the next epoch's checkpoint supersedes it
    manager.save(2, model, optimizer)
    assert not partial.exists() and saves.resume_point(run_dir) == run_dir / "epoch-0002.safetensors"
    assert json.loads((run_dir / "run.json").read_text())["last_checkpoint"] == "epoch-0002.safetensors"
    manager.finish()
    with pytest.raises(SaveError, match="closed"):
        manager.save_partial(2, model, optimizer)


def test_a_partial_checkpoint_behind_the_newest_epoch_or_damaged_is_passed_over(tmp_path):
    model, optimizer = tiny()
    with saves.CheckpointManager(tmp_path / "run") as manager:
        manager.save(2, model, optimizer)
        saves.save_checkpoint(tmp_path / "run" / saves.PARTIAL_FILE, model, optimizer, epoch=1)  # left from before
        assert manager.resume_point() == tmp_path / "run" / "epoch-0002.safetensors"
        (tmp_path / "run" / saves.PARTIAL_FILE).write_bytes(b"damaged")
        assert saves.read_run(tmp_path / "run").resume_point == tmp_path / "run" / "epoch-0002.safetensors"


# ====================================================================== the lock
def _hold_shared(lock_file: Path) -> int:
    """Take a shared lock on a run's lock file, as another terminal's `find_runs` probe does for an instant."""
    fd = os.open(lock_file, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    return fd


def test_two_probes_at_once_do_not_see_each_other_as_a_writer(tmp_path):
    manager = saves.CheckpointManager(tmp_path / "run")
    manager.close()  # interrupted: nobody writes it
    fd = _hold_shared(tmp_path / "run" / ".lock")
    try:
        assert saves.read_run(tmp_path / "run").active is False
    finally:
        os.close(fd)


def test_a_writer_starting_during_a_probe_waits_for_it(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "LOCK_WAIT_SECONDS", 30.0)  # a slow machine must not fail the test
    saves.CheckpointManager(tmp_path / "run").close()
    fd = _hold_shared(tmp_path / "run" / ".lock")
    releaser = threading.Timer(0.05, os.close, (fd,))
    releaser.start()
    try:
        manager = saves.CheckpointManager(tmp_path / "run")  # not "another process is writing this run"
    finally:
        releaser.join()
    assert saves.read_run(tmp_path / "run").active
    manager.finish()


def test_a_real_writer_is_still_seen(tmp_path):
    manager = saves.CheckpointManager(tmp_path / "run")
    assert saves.read_run(tmp_path / "run").active
    with pytest.raises(SaveError, match="another nnstudio process is writing this run"):
        saves.CheckpointManager(tmp_path / "run")
    manager.finish()
    assert not saves.read_run(tmp_path / "run").active


# ====================================================================== pruning and copies
def test_pruned_checkpoints_are_deleted_durably(tmp_path, monkeypatch):
    model, optimizer = tiny()
    synced = []
    real_fsync_dir = checkpoints.fsync_dir
    monkeypatch.setattr(checkpoints, "fsync_dir",
                        lambda folder: synced.append((Path(folder), sorted(p.name for p in Path(folder).iterdir())))
                        or real_fsync_dir(folder))
    manager = saves.CheckpointManager(tmp_path / "run", keep_last=1)
    manager.save(1, model, optimizer)
    assert synced == []  # nothing pruned, nothing to sync
    manager.save(2, model, optimizer)
    manager.finish()
    assert [folder for folder, _ in synced] == [tmp_path / "run"]
    assert "epoch-0001.safetensors" not in synced[0][1] and "epoch-0002.safetensors" in synced[0][1]


def test_link_or_copy_failures_are_save_errors_naming_both_files(tmp_path):
    with pytest.raises(SaveError) as caught:
        link_or_copy(tmp_path / "missing.safetensors", tmp_path / "best.safetensors")
    assert "missing.safetensors" in str(caught.value) and "best.safetensors" in str(caught.value)
    source = tmp_path / "epoch-0001.safetensors"
    source.write_bytes(b"weights")
    (tmp_path / "folder").mkdir()
    with pytest.raises(SaveError) as caught:
        link_or_copy(source, tmp_path / "folder")
    assert caught.value.path == tmp_path / "folder" and "epoch-0001.safetensors" in caught.value.problem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001.safetensors", "folder"]  # no temp file left


def test_link_or_copy_copies_where_links_are_refused(tmp_path, monkeypatch):
    source = tmp_path / "epoch-0001.safetensors"
    source.write_bytes(b"weights")

    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    link_or_copy(source, tmp_path / "best.safetensors")
    assert (tmp_path / "best.safetensors").read_bytes() == b"weights"
    def refused_open(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic, "open", refused_open, raising=False)  # the source cannot be read
    with pytest.raises(SaveError, match="cannot copy .*epoch-0001.safetensors here: Permission denied"):
        link_or_copy(source, tmp_path / "best.safetensors")


def test_an_ended_run_keeps_no_lock_file_and_a_new_writer_locks_afresh(tmp_path):
    manager = saves.CheckpointManager(tmp_path / "run")
    assert (tmp_path / "run" / ".lock").exists()
    manager.finish()
    assert not (tmp_path / "run" / ".lock").exists() and not saves.read_run(tmp_path / "run").active
    again = saves.CheckpointManager(tmp_path / "run")
    assert saves.read_run(tmp_path / "run").active
    again.close()    # (a close that is not an end keeps the file: the run may be resumed)
    assert (tmp_path / "run" / ".lock").exists()


def test_a_writer_that_waited_on_a_removed_lock_file_locks_the_folder_s_own(tmp_path, monkeypatch):
    """An ended run's holder removes its lock file (finish, prune): a process that opened that file just before
    and waited for it must not take a lock no one else can see, but lock the file the folder holds."""
    run = tmp_path / "run"
    run.mkdir()
    lock = run / checkpoints.LOCK_FILE
    holder = checkpoints.take_lock(run)
    opened, go = threading.Event(), threading.Event()
    real_flock = checkpoints.fcntl.flock
    calls = []

    def flock(fd, operation):
        calls.append(fd)
        if len(calls) == 1:          # the waiter has opened the old file: let the holder remove it and let go
            opened.set()
            go.wait(30)
        return real_flock(fd, operation)

    monkeypatch.setattr(checkpoints.fcntl, "flock", flock)
    got = []
    waiter = threading.Thread(target=lambda: got.append(checkpoints.take_lock(run)))
    waiter.start()
    assert opened.wait(30)
    lock.unlink()
    os.close(holder)
    go.set()
    waiter.join(30)
    monkeypatch.setattr(checkpoints.fcntl, "flock", real_flock)
    assert got and checkpoints._same_file(got[0], lock)     # the lock taken is the one a probe sees
    assert saves.read_run(run) is None or saves.read_run(run).active
    assert checkpoints._is_locked(run)
    os.close(got[0])
