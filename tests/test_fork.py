"""Forks: a run continued from one of its epochs with changed settings, as a new run whose history starts
with its parent's up to that epoch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nnstudio.engine import events
from nnstudio.tui.run import Session, SessionError
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.forking import fork, fork_point
from nnstudio.tui.run.history import read_history


def _config(tmp_path, **overrides) -> RunConfig:
    config = RunConfig.from_dict({
        "data": {"name": "moons", "size": 300}, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
        "schedule": {"name": "none"}, "training": {"epochs": 4, "batch_size": 16, "seed": 5},
        "checkpoints": {"folder": str(tmp_path), "keep_last": 10}})
    return config.with_overrides(overrides) if overrides else config


@pytest.fixture
def parent(tmp_path):
    session = Session(_config(tmp_path))
    assert session.run() == "finished"
    return session


def test_a_fork_with_nothing_changed_retraces_its_parent_exactly(parent, tmp_path):
    child = fork(parent.run_dir, 2, {})
    assert child.run() == "finished" and child.run_dir != parent.run_dir
    assert [h["train_loss"] for h in child.history] == [h["train_loss"] for h in parent.history]


def test_a_fork_changes_its_settings_from_the_epoch_it_branches_at(parent, tmp_path):
    child = fork(parent.run_dir, 2, {"optimizer.lr": 0.005})
    assert child.run() == "finished"
    assert [h["lr"] for h in child.history] == [0.05, 0.05, 0.005, 0.005]
    assert child.history[:2] == parent.history[:2] and child.history[2] != parent.history[2]

    history = read_history(child.run_dir)
    assert history.origin == {"kind": "fork", "run": parent.run_dir.name, "path": str(parent.run_dir), "epoch": 2,
                              "changed": {"optimizer.lr": 0.005}}
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3, 4] and history.notes == []
    assert history.runs[0]["config"]["optimizer"]["lr"] == 0.05 and history.config["optimizer"]["lr"] == 0.005
    parent_batches = read_history(parent.run_dir).batches
    inherited = int((parent_batches.epoch <= 2).sum())
    assert history.batches.loss[:inherited].tolist() == parent_batches.loss[:inherited].tolist()
    assert len(history.batches) == len(parent_batches)


def test_another_optimizer_starts_afresh_and_the_data_and_model_stay(parent, tmp_path):
    child = fork(parent.run_dir, 3, {"optimizer.name": "adam", "optimizer.lr": 0.01})
    assert child.run() == "finished" and [h["epoch"] for h in child.history] == [1, 2, 3, 4]
    with pytest.raises(SessionError, match="a fork goes on with its parent's data set and model, so data.noise"):
        fork(parent.run_dir, 2, {"data.noise": 0.3})


def test_fork_points_name_a_run_and_an_epoch_it_keeps(parent, tmp_path):
    name = parent.run_dir.name
    assert fork_point(f"{name}@2", tmp_path) == (parent.run_dir, 2)
    assert fork_point(name, tmp_path) == (parent.run_dir, None)
    with pytest.raises(SessionError, match="the epoch after @ must be a whole number"):
        fork_point(f"{name}@two", tmp_path)
    with pytest.raises(SessionError, match="no run named 'nope' in"):
        fork_point("nope@2", tmp_path)
    (parent.run_dir / "epoch-0001.safetensors").unlink()
    with pytest.raises(SessionError, match=f"{name} has no checkpoint of epoch 1 \\(it keeps epochs 0, 2, 3, 4"):
        fork(parent.run_dir, 1, {})
    with pytest.raises(SessionError, match="the fork starts after epoch 4 and plans 4 in all"):
        fork(parent.run_dir, None, {})


# ---------------------------------------------------------------------------------------- nnstudio train --fork
from test_cli_train import json_lines, run_cli  # noqa: E402


def test_train_fork_branches_a_run_with_the_flags_settings(parent, tmp_path, capsys):
    name = parent.run_dir.name
    assert run_cli("train", "--fork", f"{name}@2", "--lr", "0.01", "--saves-dir", str(tmp_path), "--json") == 0
    captured = capsys.readouterr()
    records = json_lines(captured.out)
    assert [r["epoch"] for r in records[:-1]] == [3, 4] and {r["lr"] for r in records[:-1]} == {0.01}
    assert f"forked from {name}@2 (lr 0.05 → 0.01), 2 more" in captured.err
    history = read_history(records[-1]["run_dir"])
    assert history.origin["kind"] == "fork" and history.origin["changed"] == {"optimizer.lr": 0.01}
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3, 4]


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "spirals"], "--fork goes on with the parent's data set and model, so data.name cannot change"),
    (["--epochs", "2"], "it starts after epoch 2 and would end at epoch 2; pass --epochs 3 or more (the total to "
                        "train up to, e.g. --epochs 7)"),
    (["--no-checkpoints"], "--fork cannot be combined with --no-checkpoints: a fork is kept as a run beside its "
                           "parent"),
    (["--from", "x"], "--fork cannot be combined with --from"),
    (["--resume"], "--fork cannot be combined with --resume"),
])
def test_train_fork_refuses_what_it_cannot_do_in_one_line(parent, tmp_path, capsys, flags, message):
    before = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert run_cli("train", "--fork", f"{parent.run_dir.name}@2", *flags, "--saves-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == before   # nothing started


def test_a_fork_planned_longer_than_its_parent_stretches_its_cosine_schedule(tmp_path):
    """Forked at epoch 3 of 4 with 6 epochs: epochs 5 and 6 trained at lr 0 (the parent's curve had ended)."""
    parent = Session(_config(tmp_path, **{"schedule.name": "cosine"}))
    assert parent.run() == "finished"
    child = fork(parent.run_dir, 3, {"training.epochs": 6})
    assert child.run() == "finished"
    assert [h["epoch"] for h in child.history] == [1, 2, 3, 4, 5, 6] and min(h["lr"] for h in child.history[3:]) > 0


def test_a_forks_origin_in_words_names_its_branch_point_and_each_change():
    from nnstudio.tui.run.origins import describe_origin, fork_of
    origin = {"kind": "fork", "run": "a-run", "epoch": 5, "changed": {
        "optimizer.lr": 0.01, "optimizer.name": "sgd", "optimizer.nesterov": True, "training.new_thing": 2,
        "checkpoints.folder": "/elsewhere"}}
    parent = {"optimizer": {"name": "adam", "lr": 0.1, "nesterov": False}}
    fork = fork_of(origin, parent)
    assert str(fork) == "fork of a-run@5 (lr 0.1 → 0.01, adam → sgd, nesterov false → true, training.new_thing - → 2)"
    assert describe_origin(origin, parent).startswith("forked from a-run@5 (lr 0.1 → 0.01,")
    assert str(fork_of({**origin, "changed": {}})) == "fork of a-run@5 (no setting changed)"
    assert fork_of({"kind": "new"}) is None and fork_of({"kind": "fork", "epoch": "x"}).point == "?"


def test_train_fork_and_resume_take_a_part_of_a_run_s_name(parent, tmp_path, capsys):
    name = parent.run_dir.name                               # moons-mlp-<date>-<time>
    assert run_cli("train", "--fork", f"{name[-6:]}@2", "--lr", "0.01", "--saves-dir", str(tmp_path), "--json") == 0
    assert f"forked from {name}@2 (lr 0.05 → 0.01)" in capsys.readouterr().err
    assert run_cli("train", "--fork", "moons@2", "--saves-dir", str(tmp_path)) == 2   # the parent and its fork
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--fork moons@2: 'moons' could be any of 2 runs in " in err[0] and name in err[0]
    assert run_cli("train", "--fork", "nope@2", "--saves-dir", str(tmp_path)) == 2
    assert "`nnstudio runs list` shows them" in capsys.readouterr().err
    assert run_cli("train", "--fork", f"{name[-6:]}@two", "--saves-dir", str(tmp_path)) == 2
    assert f"--fork {name[-6:]}@two: the epoch after @ must be a whole number" in capsys.readouterr().err
    assert run_cli("train", "--resume", name[-6:], "--saves-dir", str(tmp_path)) == 2   # found: it has all its epochs
    assert "this run has done all its 4 epochs; pass --epochs 5 or more" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- a run's best is its own
def test_a_fork_s_best_is_among_the_epochs_it_trained_not_those_it_inherited(parent, tmp_path, capsys):
    """The parent scores 100% at epoch 2; forked at 3 with a high lr, the fork's own epoch 4 scores less. Its best
    (list, show, --json, the summary) is epoch 4's, the one its best.safetensors holds, not the inherited 100%."""
    from nnstudio import saves
    from nnstudio.tui.run.runs import list_runs, run_summary
    name = parent.run_dir.name
    assert max(h["val_acc"] for h in parent.history[:3]) == 1.0
    assert run_cli("train", "--fork", f"{name}@3", "--lr", "0.7", "--saves-dir", str(tmp_path), "--json") == 0
    out, err = capsys.readouterr()
    final = json_lines(out)[-1]
    marker = saves.read_run(final["run_dir"])
    own = read_history(final["run_dir"]).epochs[-1]
    assert own["epoch"] == 4 and own["val_acc"] < 1.0 and marker.best_value == own["val_acc"]
    assert final["metrics"]["best_val_acc"] == own["val_acc"] and final["best_epoch"] == 4
    assert f"best val acc {100 * own['val_acc']:.2f}% (epoch 4)" in err
    summary = run_summary(final["run_dir"])
    assert (summary.best, summary.best_epoch) == (own["val_acc"], 4)
    assert {run.name: run.best for run in list_runs(tmp_path)}[summary.name] == own["val_acc"]
    assert run_cli("runs", "show", final["run_dir"]) == 0
    assert f"best val acc: {100 * own['val_acc']:.2f}% (epoch 4)" in capsys.readouterr().out


def test_a_run_continued_from_a_save_does_not_count_the_save_s_epochs_as_its_best(parent, tmp_path, capsys):
    parent.save("parent", folder=tmp_path)
    assert run_cli("train", "--from", "parent", "--epochs", "5", "--lr", "0.7", "--saves-dir", str(tmp_path),
                   "--json") == 0
    final = json_lines(capsys.readouterr().out)[-1]
    marker = json.loads((Path(final["run_dir"]) / "run.json").read_text())
    assert (final["best_epoch"], final["metrics"]["best_val_acc"]) == (marker["best"]["epoch"], marker["best"]["value"])
    assert final["best_epoch"] == 5   # (the save's epochs 1-4 include a 100% it does not hold)


def test_a_fork_resumed_in_its_folder_keeps_its_best_among_its_own_epochs(parent, tmp_path):
    """Resumed after its first own epoch, the fork still counts that epoch (not only those after the resume) and
    still not its parent's: its best is the epoch run.json names."""
    child = fork(parent.run_dir, 2, {"optimizer.lr": 1e-6})   # (it scores its parent's 100% again: ties)

    def stop_after_epoch_3(event):
        if isinstance(event, events.EpochEnd) and event.epoch == 2:
            child.stop()
    child.on_event = stop_after_epoch_3
    assert child.run() == "stopped"
    resumed = Session.open_checkpoint(child.run_dir)
    assert resumed.run() == "finished"
    marker = json.loads((child.run_dir / "run.json").read_text())
    assert marker["best"]["epoch"] == 3 and resumed.best_epoch["epoch"] == 3
    assert resumed.metrics()["best_val_acc"] == marker["best"]["value"]


# ---------------------------------------------------------------------------------------- what --fork takes
def test_a_fork_of_a_run_whose_plan_is_done_trains_five_more_and_says_so(parent, tmp_path, capsys):
    """No --epochs on a finished run: as the studio's fork dialog, EXTRA_EPOCHS more, said on the training line."""
    from nnstudio.tui.run.forking import EXTRA_EPOCHS, planned_epochs
    assert (planned_epochs(4, 4), planned_epochs(4, 2)) == (4 + EXTRA_EPOCHS, 4)
    name = parent.run_dir.name
    assert run_cli("train", "--fork", name, "--lr", "0.01", "--saves-dir", str(tmp_path), "--json") == 0
    out, err = capsys.readouterr()
    assert [r["epoch"] for r in json_lines(out)[:-1]] == [5, 6, 7, 8, 9]
    assert (f"forked from {name}@4 (lr 0.05 → 0.01, epochs 4 → 9), 5 more (its parent had done all its 4 epochs by "
            f"then, so it trains 5 more unless --epochs says another total)") in err.replace("\n", "")
    assert run_cli("train", "--fork", f"{name}@2", "--lr", "0.01", "--saves-dir", str(tmp_path), "--json") == 0
    out, err = capsys.readouterr()   # (its parent's plan goes on past epoch 2: the fork keeps it, says nothing)
    assert [r["epoch"] for r in json_lines(out)[:-1]] == [3, 4] and "unless --epochs" not in err


def test_fork_targets_are_understood_or_told_what_is_wrong(parent, tmp_path):
    name = parent.run_dir.name
    folder = parent.run_dir
    assert fork_point(str(folder / "epoch-0003.safetensors"), tmp_path) == (folder, 3)   # a checkpoint file: RUN@3
    assert fork_point(f"{name}/epoch-0002.safetensors", tmp_path) == (folder, 2)        # (in the runs folder)
    assert fork_point(f"{name}/best.safetensors", tmp_path) == (folder, 2)              # (its best: 100% at 2)
    assert fork_point(f"{name[-6:]}@0", tmp_path) == (folder, 0)                          # (its starting weights)
    for target, message in [
            ("@3", f"--fork @3: the run's name is missing before @ (--fork RUN@EPOCH, e.g. --fork {name}@3;"),
            (f"{name}@", f"the epoch after @ is missing, e.g. {name}@5 (or {name} alone for its latest)"),
            (f"{name}@-1", "epochs are counted from 0 (the run's starting weights) up to its last, so -1 is none"),
            (f"{name}/partial.safetensors", "no such checkpoint file"),
            (str(tmp_path / "elsewhere.safetensors"), "no such checkpoint file")]:
        with pytest.raises(SessionError) as raised:
            fork_point(target, tmp_path)
        assert message in str(raised.value)
    shutil.copy(folder / "epoch-0003.safetensors", folder / "partial.safetensors")
    with pytest.raises(SessionError, match=f"that is where a stopped run stands in the middle of an epoch; a fork "
                                           f"starts from an epoch's end \\(--fork {name}@EPOCH\\), and --resume"):
        fork_point(f"{name}/partial.safetensors", tmp_path)


def test_a_fork_starts_from_the_best_checkpoint_when_the_last_few_no_longer_hold_it(tmp_path):
    """A run keeps its last checkpoints and its best: the best's epoch is offered and forked from best.safetensors."""
    from nnstudio.tui.run.forking import fork_checkpoint, kept_checkpoints
    parent = Session(_config(tmp_path, **{"checkpoints.keep_last": 1}))
    assert parent.run() == "finished"
    best = json.loads((parent.run_dir / "run.json").read_text())["best"]["epoch"]
    assert best == 2 and sorted(kept_checkpoints(parent.run_dir)) == [2, 4]
    assert fork_checkpoint(parent.run_dir, 2) == (parent.run_dir / "best.safetensors", 2)
    child = fork(parent.run_dir, 2, {})
    assert child.run() == "finished" and [h["train_loss"] for h in child.history] == \
        [h["train_loss"] for h in parent.history]
