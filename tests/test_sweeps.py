"""Sweeps: values and ranges read by their flags' rules, grids and seeded random draws, the sweep kept on disk,
trials in processes of their own (a dead worker retried once, then failed), and `nnstudio sweep` end to end,
stopped with Ctrl+C and finished with --resume."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from nnstudio import saves
from nnstudio.tui.run.arguments import UsageError
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.executors import LocalExecutor
from nnstudio.tui.run.history import read_history
from nnstudio.tui.run.origins import SweepTrial, trial_of
from nnstudio.tui.run.sweep_folder import Sweep, sweeps_folder
from nnstudio.tui.run.sweeps import axis, plan_sweep
from nnstudio.tui.run.trials import TrialTask, run_trial
from test_cli_train import child_env, json_lines, run_cli


# ====================================================================== values and ranges
def test_a_list_is_read_by_the_flag_s_own_rules():
    lr = axis("--lr", "1e-3, 0.01,0.1")
    assert [v["optimizer.lr"] for v in lr.values] == [0.001, 0.01, 0.1] and lr.texts == ("0.001", "0.01", "0.1")
    assert [v["optimizer.name"] for v in axis("--optimizer", "sgd,adam").values] == ["sgd", "adam"]
    assert [v["model.preset"] for v in axis("--model", "logreg,mlp").values] == ["logreg", "mlp"]


def test_a_range_is_log_spaced_from_above_zero_and_even_from_zero():
    assert axis("--lr", "1e-4..1e-1:4").texts == ("0.0001", "0.001", "0.01", "0.1")
    assert axis("--batch-size", "16..256:5").texts == ("16", "32", "64", "128", "256")
    assert axis("--weight-decay", "0..0.002:3").texts == ("0", "0.001", "0.002")


@pytest.mark.parametrize("option, text, said", [
    ("--lr", "1e-3,abc", "--lr"),
    ("--lr", "1e-3,,1e-2", "an empty value"),
    ("--lr", "0.1,0.1", "0.1 is given twice"),
    ("--lr", "-1,0.1", "--lr"),
    ("--optimizer", "sgd,adamm", "--optimizer"),
    ("--optimizer", "a..b:3", "takes numbers"),
    ("--lr", "1e-1..1e-4:3", "from the smaller value to the larger"),
    ("--lr", "1e-4..1e-1:1", "2 or more"),
    ("--lr", "1e-4..1e-1,0.5", "stands alone"),
    ("--data-dir", "a,b", "names a place"),
    ("--lr", "1..", "--lr 1..: a range needs both ends, e.g. --lr 1e-4..1e-1:4"),
    ("--lr", "..1:3", "a range needs both ends"),
    ("--epochs", "1..10:9", "only 7 different values (1, 2, 3, 4, 6, 7, 10); list the values to try instead, e.g. "
                            "--epochs 1,2,3,4,6,7,10"),
])
def test_a_bad_value_is_one_line_naming_the_flag(option, text, said):
    with pytest.raises(UsageError) as raised:
        axis(option, text)
    assert said in str(raised.value) and "\n" not in str(raised.value)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=1e-6, max_value=10, allow_nan=False), min_size=1, max_size=6, unique=True))
def test_any_list_of_learning_rates_reads_back_as_typed(rates):
    texts = list(dict.fromkeys(f"{r:g}" for r in rates))
    read = axis("--lr", ",".join(texts))
    assert list(read.texts) == texts and [v["optimizer.lr"] for v in read.values] == [float(t) for t in texts]


# ====================================================================== planning
def test_the_grid_is_every_combination_each_labelled_by_what_sets_it_apart():
    plan = plan_sweep(RunConfig(), [axis("--lr", "0.01,0.1"), axis("--optimizer", "sgd,adam,rmsprop")])
    assert len(plan.trials) == 6 and plan.trials[1].label == "lr 0.01 · optimizer adam"
    assert plan.config(plan.trials[5]).optimizer.name == "rmsprop" and plan.config(plan.trials[5]).optimizer.lr == 0.1


def test_a_random_sweep_is_drawn_by_its_seed_and_from_a_range_log_uniformly():
    axes = [axis("--lr", "1e-5..1e-1"), axis("--batch-size", "32,64")]
    one, again = (plan_sweep(RunConfig(), axes, trials=40, seed=3) for _ in range(2))
    other = plan_sweep(RunConfig(), axes, trials=40, seed=4)
    rates = [t.overrides["optimizer.lr"] for t in one.trials]
    assert rates == [t.overrides["optimizer.lr"] for t in again.trials] != [t.overrides["optimizer.lr"] for t in other.trials]
    assert all(1e-5 <= r <= 1e-1 for r in rates)
    assert sum(r < 1e-3 for r in rates) >= 10   # (a uniform draw would put 1% of them there)


def test_a_trial_whose_settings_clash_is_refused_before_anything_trains():
    base = RunConfig().replace(**{"schedule.name": "cosine", "schedule.warmup_epochs": 4})
    with pytest.raises(UsageError, match=r"trial 1 \(epochs 3\): .*warmup"):
        plan_sweep(base, [axis("--epochs", "3,10")])
    with pytest.raises(UsageError, match="nothing to sweep"):
        plan_sweep(base, [])
    with pytest.raises(UsageError, match="--trials N"):
        plan_sweep(base, [axis("--lr", "1e-4..1e-1")])


# ====================================================================== the sweep on disk
def _spirals(folder: Path, **overrides) -> RunConfig:
    return RunConfig().replace(**{"data.name": "spirals", "data.size": 300, "training.epochs": 2,
                                  "training.batch_size": 32, "checkpoints.folder": str(folder), **overrides})


def test_a_sweep_reads_back_as_it_was_left_a_torn_last_line_skipped(tmp_path):
    plan = plan_sweep(_spirals(tmp_path), [axis("--lr", "0.01,0.1,1")])
    sweep = Sweep.create(plan, tmp_path)
    sweep.record(1, {"kind": "started", "run": "r1"})
    sweep.record(1, {"kind": "result", "status": "finished", "best": 0.8, "metric": "val_acc", "run": "r1"})
    sweep.record(2, {"kind": "result", "status": "diverged", "best": 0.9, "metric": "val_acc"})
    sweep.close()
    with open(sweep.path / "trials.jsonl", "a") as journal:
        journal.write('{"kind": "result", "trial": 3, "sta')
    again = Sweep.open(sweep.name, tmp_path)
    assert again.runs == {1: "r1"} and again.notes
    assert [t.number for t in again.tasks()] == [3]
    assert [(t.number, (r or {}).get("best")) for t, r in again.ranked()] == [(2, 0.9), (1, 0.8), (3, None)]


def test_a_sweep_that_is_not_there_or_damaged_says_so(tmp_path):
    with pytest.raises(Exception, match="no sweep nope"):
        Sweep.open("nope", tmp_path)
    sweep = Sweep.create(plan_sweep(_spirals(tmp_path), [axis("--lr", "0.01,0.1")]), tmp_path)
    (sweep.path / "sweep.json").write_text("{", encoding="utf-8")
    with pytest.raises(Exception, match="damaged"):
        Sweep.open(sweep.name, tmp_path)


# ====================================================================== the trials' processes
class Level:
    level = 0


def _tasks(folder: Path, count: int) -> list[TrialTask]:
    plan = plan_sweep(_spirals(folder), [axis("--lr", ",".join(str(0.01 * (n + 1)) for n in range(count)))])
    return [TrialTask(t.number, plan.config(t).to_dict(), t.label) for t in plan.trials]


def test_trials_run_side_by_side_each_a_kept_run(tmp_path):
    said = []
    LocalExecutor(workers=2).run(_tasks(tmp_path, 3), lambda n, r: said.append((n, r)), Level())
    results = {n: r for n, r in said if r["kind"] == "result"}
    assert sorted(results) == [1, 2, 3] and all(r["status"] == "finished" for r in results.values())
    runs = {r["run"] for r in results.values()}
    assert len(runs) == 3 and all(read_history(saves.runs_folder(tmp_path) / run).epochs for run in runs)
    assert all(sum(1 for m, r in said if m == n and r["kind"] == "epoch") == 2 for n in results)


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_worker_that_dies_is_tried_once_more_then_its_trial_fails_and_the_sweep_goes_on(tmp_path):
    said = []
    python = _fake_python(tmp_path, "echo 'MemoryError: out of memory' >&2; exit 3")
    LocalExecutor(workers=2, python=python).run(_tasks(tmp_path, 2), lambda n, r: said.append((n, r)), Level())
    assert sorted(n for n, r in said if r["kind"] == "retry") == [1, 2]
    failed = [r for n, r in said if r["kind"] == "result"]
    assert len(failed) == 2 and all(r["status"] == "failed" for r in failed)
    assert "exited with status 3" in failed[0]["why"] and "out of memory" in failed[0]["why"]


def test_a_worker_that_dies_once_is_retried_and_its_trial_trains(tmp_path):
    marker = tmp_path / "died-once"
    python = _fake_python(tmp_path, f'if [ ! -e {marker} ]; then touch {marker}; kill -9 $$; fi\n'
                                    f'exec {sys.executable} "$@"')
    said = []
    LocalExecutor(workers=1, python=python).run(_tasks(tmp_path, 1), lambda n, r: said.append((n, r)), Level())
    assert [r["kind"] for n, r in said if r["kind"] in ("retry", "result")] == ["retry", "result"]
    assert "killed by signal 9" in said[0][1]["why"] and said[-1][1]["status"] == "finished"


# ====================================================================== nnstudio sweep
def test_sweep_json_one_object_per_trial_then_the_ranking(tmp_path, capsys):
    assert run_cli("sweep", "--dataset", "spirals", "--epochs", "2", "--lr", "0.01,0.3", "--optimizer", "sgd,adam",
                   "--workers", "2", "--saves-dir", str(tmp_path), "--json") == 0
    out, err = capsys.readouterr()
    *trials, summary = json_lines(out)
    assert sorted(t["trial"] for t in trials) == [1, 2, 3, 4] and all(t["status"] == "finished" for t in trials)
    assert all(t["kind"] == "result" and "number" not in t for t in trials)   # ("trial" only, not both)
    # the summary that ends the output: the sweep, the best trial, every trial ranked, each with its run
    ranked = sorted(trials, key=lambda t: (-t["best"], t["trial"]))
    assert summary["kind"] == "summary" and summary["trials"] == summary["done"] == 4 and summary["left"] == 0
    assert [r["trial"] for r in summary["ranked"]] == [t["trial"] for t in ranked]
    assert summary["best"]["trial"] == ranked[0]["trial"] and summary["best"]["run"] == ranked[0]["run"]
    assert summary["sweep"] == next(sweeps_folder(tmp_path).iterdir()).name
    assert {t["label"] for t in trials} == {"optimizer sgd · lr 0.01", "optimizer sgd · lr 0.3",
                                            "optimizer adam · lr 0.01", "optimizer adam · lr 0.3"}
    best = max(trials, key=lambda t: t["best"])
    assert "best first" in err and f"Best: trial {best['trial']}" in err
    assert len(list(saves.runs_folder(tmp_path).iterdir())) == 4
    # each run says which trial of which sweep it was (runs show; the studio names a sweep's runs by it)
    [sweep] = sweeps_folder(tmp_path).iterdir()
    for t in trials:
        assert trial_of(read_history(saves.runs_folder(tmp_path) / t["run"]).origin) == \
            SweepTrial(sweep.name, t["trial"], t["label"])
    assert run_cli("runs", "show", trials[0]["run"], "--saves-dir", str(tmp_path)) == 0
    assert f"origin: new: trial {trials[0]['trial']} of the sweep {sweep.name} ({trials[0]['label']})" in \
        " ".join(capsys.readouterr().out.split())


def test_what_a_trial_s_user_should_read_is_said_once(tmp_path, capsys):
    """Offline without MNIST (the tests' cache is empty), every trial trains on the embedded digits and says so:
    the sweep says it once."""
    assert run_cli("sweep", "--dataset", "mnist", "--epochs", "1", "--train-size", "300", "--lr", "0.01,0.1",
                   "--workers", "2", "--saves-dir", str(tmp_path)) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert said.count("embedded") == 1   # (said up front, when the data set is checked: the trials' own not again)
    assert said.index("notice: mnist is not on this machine") < said.index("trial 1/2 lr 0.01 started")
    assert "finished best val acc" in said and " · 1 epoch · " in said


def test_a_data_set_that_cannot_be_loaded_is_refused_once_before_anything_is_made(tmp_path, capsys):
    """As `nnstudio train` refuses it: one line, exit status 1, and no sweep folder, no run."""
    (tmp_path / "empty").mkdir()
    assert run_cli("sweep", "--data-dir", str(tmp_path / "empty"), "--lr", "1e-3,1e-2", "--epochs", "1",
                   "--saves-dir", str(tmp_path / "saves")) == 1
    out, err = capsys.readouterr()
    assert "mnist not found in" in err and len(err.strip().splitlines()) == 1 and not out
    assert not (tmp_path / "saves").exists()
    assert run_cli("sweep", "--dataset", "spirals", "--train-size", "5000", "--lr", "1e-3,1e-2",
                   "--saves-dir", str(tmp_path / "saves")) in (1, 2)
    assert "--train-size" in capsys.readouterr().err and not (tmp_path / "saves").exists()


@pytest.mark.parametrize("args, said", [
    (["--dataset", "spirals", "--lr", "0.01,abc"], "--lr"),
    (["--dataset", "spirals", "--lr", "0.01"], "nothing to sweep"),
    (["--dataset", "spirals", "--lr", "0.01,0.1", "--workers", "0"], "--workers 0"),
    (["--resume", "nope"], "no sweep nope"),
    (["--resume", "--lr", "0.1"], "--lr cannot be combined with --resume"),
])
def test_sweep_refuses_bad_arguments_in_one_line_before_anything_runs(tmp_path, capsys, args, said):
    assert run_cli("sweep", *args, "--saves-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1
    assert not saves.runs_folder(tmp_path).exists()


def _started_run(process: subprocess.Popen, folder: Path, lines: list[str]) -> str:
    """Read the sweep's output until a trial starts; wait until its run has trained an epoch; its run's name."""
    for line in process.stdout:
        lines.append(line)
        if " started (run " in line or " continued from its checkpoint (run " in line:
            break
    run = line.split("(run ")[1].rstrip(")\n")
    history = saves.runs_folder(folder) / run / "history.jsonl"
    deadline = time.monotonic() + 120   # (a guard against a hang, not a measure: the epoch comes in well under 1 s)
    while '"kind":"epoch"' not in (history.read_text() if history.exists() else ""):
        assert time.monotonic() < deadline, "".join(lines)
        time.sleep(0.05)
    return run


def test_ctrl_c_stops_the_trials_with_checkpoints_and_resume_continues_their_runs(tmp_path):
    command = [sys.executable, "-m", "nnstudio.tui", "sweep", "--dataset", "spirals", "--epochs", "5000",
               "--lr", "0.01,0.02", "--workers", "2", "--saves-dir", str(tmp_path), "--name", "long"]
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=child_env(tmp_path))
    lines: list[str] = []
    run = _started_run(sweep, tmp_path, lines)
    sweep.send_signal(signal.SIGINT)
    out = "".join(lines) + sweep.stdout.read()
    assert sweep.wait(timeout=120) == 130, out
    assert "Stopping" in out and "nnstudio sweep --resume long" in out
    stopped = Sweep.open("long", tmp_path)
    assert {r["status"] for r in stopped.results.values()} <= {"stopped"} and len(stopped.tasks()) == 2
    first = next(t for t in stopped.tasks() if stopped.runs.get(t.number) == run)
    assert first.resume == str(saves.runs_folder(tmp_path) / run)   # it goes on with its own run

    again = subprocess.Popen([sys.executable, "-m", "nnstudio.tui", "sweep", "--resume", "--saves-dir", str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env(tmp_path))
    lines = []
    resumed = _started_run(again, tmp_path, lines)
    again.send_signal(signal.SIGINT)
    out = "".join(lines) + again.stdout.read()
    assert again.wait(timeout=120) == 130, out
    assert "sweep long: 2 trials to train" in out and resumed in Sweep.open("long", tmp_path).runs.values()
    cut = {Path(t.resume).name for t in stopped.tasks() if t.resume}   # (a trial cut off goes on where it stopped)
    said = next(line for line in lines if f"(run {resumed})" in line)
    assert ("continued from its checkpoint" in said) == (resumed in cut) and ("started" in said) != (resumed in cut)
    assert len(list(saves.runs_folder(tmp_path).iterdir())) == len(Sweep.open("long", tmp_path).runs)


def test_resume_trains_only_the_trials_left(tmp_path, capsys):
    plan = plan_sweep(_spirals(tmp_path), [axis("--lr", "0.01,0.1,0.3")])
    sweep = Sweep.create(plan, tmp_path, "half")
    sweep.record(2, {"kind": "result", "status": "diverged", "why": "the loss grew 10 times", "best": None})
    sweep.close()
    assert run_cli("sweep", "--resume", "half", "--saves-dir", str(tmp_path), "--json") == 0
    out, err = capsys.readouterr()
    assert sorted(t["trial"] for t in json_lines(out)[:-1]) == [1, 3] and "1 done before" in err
    assert all(Sweep.open("half", tmp_path).done(t) for t in plan.trials)
    # done: nothing to resume (exit 1, as `train --resume`), and --resume NAME shows its results again
    assert run_cli("sweep", "--resume", "half", "--saves-dir", str(tmp_path)) == 1
    out, err = capsys.readouterr()
    assert "sweep half, best first" in out and "Best: trial" in out
    assert "sweep half has run all its trials: nothing left to run" in err and len(err.strip().splitlines()) == 1
    assert run_cli("sweep", "--resume", "--saves-dir", str(tmp_path)) == 1
    assert "nothing to resume: no sweep to finish" in capsys.readouterr().err
    # a name taken by a complete sweep: it is complete, and how to see it (not "finish it")
    assert run_cli("sweep", "--dataset", "spirals", "--lr", "0.01,0.1", "--name", "half",
                   "--saves-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "has run all its trials (see them ranked: nnstudio sweep --resume half)" in err and "finish it" not in err


def test_resume_dry_run_lists_what_is_left_and_trains_nothing(tmp_path, capsys):
    plan = plan_sweep(_spirals(tmp_path), [axis("--lr", "0.01,0.1,0.3")])
    sweep = Sweep.create(plan, tmp_path, "half")
    sweep.record(2, {"kind": "result", "status": "finished", "best": 0.5})
    sweep.close()
    assert run_cli("sweep", "--resume", "half", "--dry-run", "--saves-dir", str(tmp_path)) == 0
    assert capsys.readouterr().out.splitlines() == ["trial 1: lr 0.01", "trial 3: lr 0.3"]
    assert run_cli("sweep", "--resume", "half", "--dry-run", "--json", "--saves-dir", str(tmp_path)) == 0
    assert json_lines(capsys.readouterr().out) == [
        {"kind": "planned", "trial": 1, "label": "lr 0.01", "settings": {"optimizer.lr": 0.01}},
        {"kind": "planned", "trial": 3, "label": "lr 0.3", "settings": {"optimizer.lr": 0.3}}]
    assert not saves.runs_folder(tmp_path).exists() and len(Sweep.open("half", tmp_path).tasks()) == 2


def test_dry_run_json_is_one_object_per_planned_trial_and_a_short_grid_says_so(tmp_path, capsys):
    assert run_cli("sweep", "--dataset", "spirals", "--lr", "0.01,0.1", "--trials", "10", "--dry-run", "--json",
                   "--saves-dir", str(tmp_path)) == 0
    out, err = capsys.readouterr()
    assert [(t["trial"], t["label"], t["settings"]) for t in json_lines(out)] == \
        [(1, "lr 0.01", {"optimizer.lr": 0.01}), (2, "lr 0.1", {"optimizer.lr": 0.1})]
    assert "--trials 10: the values given make only 2 different trials; all 2 run" in " ".join(err.split())
    assert not sweeps_folder(tmp_path).exists()


def test_a_trial_whose_run_ended_outside_the_sweep_is_taken_from_its_run_not_trained(tmp_path, capsys):
    """The sweep's process died (or the studio resumed the trial's run) and the run was trained to its end: --resume
    records its result from the run's history and continues only the trials cut off mid-way."""
    plan = plan_sweep(_spirals(tmp_path), [axis("--lr", "0.01,0.1")])
    sweep = Sweep.create(plan, tmp_path, "died")
    task = sweep.tasks()[0]
    sweep.record(1, {"kind": "started", "run": "placeholder"})
    result = run_trial(task)   # (trained to its end, the sweep none the wiser)
    sweep.record(1, {"kind": "started", "run": result.run})
    sweep.close()
    assert [t.number for t in Sweep.open("died", tmp_path).tasks()] == [2]
    assert run_cli("sweep", "--resume", "died", "--dry-run", "--saves-dir", str(tmp_path)) == 0
    assert "trial 1: lr 0.01 (its run " in capsys.readouterr().out
    assert run_cli("sweep", "--resume", "died", "--json", "--saves-dir", str(tmp_path)) == 0
    out, err = capsys.readouterr()
    *trials, summary = json_lines(out)
    taken = next(t for t in trials if t["trial"] == 1)
    assert taken["status"] == "finished" and taken["run"] == result.run and taken["outside"]
    assert taken["best"] == result.best and taken["final"] == result.final and taken["epochs"] == 2
    assert "1 trained to its end outside the sweep" in err and "cannot plan" not in err
    assert summary["done"] == 2 and len(list(saves.runs_folder(tmp_path).iterdir())) == 2   # (trial 1 not again)
    assert Sweep.open("died", tmp_path).results[1]["status"] == "finished"


def test_resume_uses_the_workers_the_sweep_was_started_with_unless_given_again(tmp_path, capsys):
    plan = plan_sweep(_spirals(tmp_path, **{"training.epochs": 1}), [axis("--lr", "0.01,0.1,0.3")])
    Sweep.create(plan, tmp_path, "pair", workers=2).close()
    assert Sweep.open("pair", tmp_path).workers == 2
    assert run_cli("sweep", "--resume", "pair", "--dry-run", "--saves-dir", str(tmp_path)) == 0
    capsys.readouterr()
    Sweep.create(plan, tmp_path, "again", workers=2).close()
    assert run_cli("sweep", "--resume", "pair", "--saves-dir", str(tmp_path)) == 0
    assert "3 trials to train, 2 at a time" in capsys.readouterr().out
    assert run_cli("sweep", "--resume", "again", "--workers", "1", "--saves-dir", str(tmp_path)) == 0
    assert "3 trials to train, 1 at a time" in capsys.readouterr().out
    # a sweep made on the command line keeps its --workers
    assert run_cli("sweep", "--dataset", "spirals", "--epochs", "1,2", "--lr", "0.01,0.1", "--workers", "2",
                   "--name", "cli", "--saves-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert Sweep.open("cli", tmp_path).workers == 2
    # epochs varied: its column and the epochs each trial trained are named apart
    heading = next(line for line in out.splitlines() if line.startswith("#"))
    assert heading.split()[:5] == ["#", "trial", "lr", "epochs", "best"] and "trained" in heading
