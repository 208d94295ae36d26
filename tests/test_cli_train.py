"""`nnstudio train`: JSON lines end to end in a subprocess, saves, every bad argument, Ctrl+C and --resume."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nnstudio import saves
from nnstudio.engine import events
from nnstudio.tui.main import package_version
from nnstudio.tui.run.config import RunConfig, load_config
from nnstudio.tui.run.history import read_history
from nnstudio.tui.run import Session, saved_config

from cli_run import run_cli

QUICK = ["--dataset", "blobs", "--epochs", "3", "--batch-size", "32", "--seed", "1"]


@pytest.fixture(autouse=True)
def saves_in_the_working_folder(monkeypatch):
    """These tests run in tmp_path with the saves folder ./saves ($NNSTUDIO_SAVES_DIR is taken as given), so
    the paths in messages read as a user would see them; the default folder has a test of its own."""
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", "saves")


def child_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("NNSTUDIO_DATA_DIR", "COLUMNS")}
    return {**env, "XDG_CACHE_HOME": str(tmp_path / "cache"), "NNSTUDIO_OFFLINE": "1"}


def nnstudio(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The real command line in a child process, in tmp_path (so ./saves is tmp_path/saves)."""
    return subprocess.run([sys.executable, "-m", "nnstudio.tui", *args], cwd=tmp_path, env=child_env(tmp_path),
                          capture_output=True, text=True, timeout=120)


def test_the_default_saves_folder_is_the_user_s_data_folder_not_the_working_one(tmp_path, monkeypatch, capsys):
    """Run from a checkout's root, ./saves is the `saves` package: nothing may land there (or anywhere in the
    working folder) unless asked for."""
    monkeypatch.delenv("NNSTUDIO_SAVES_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert run_cli("train", *QUICK, "--save", "model") == 0
    assert files_under(work) == set()
    folder = tmp_path / "data" / "nnstudio" / "saves"
    assert (folder / "model.safetensors").is_file() and len(list((folder / "runs").iterdir())) == 1
    assert f"saved: {folder / 'model.safetensors'}" in capsys.readouterr().out.replace("\n", "")


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]  # every stdout line must be JSON


def files_under(folder: Path) -> set[Path]:
    return {path.relative_to(folder) for path in folder.rglob("*")}


# ---------------------------------------------------------------------------------------- a whole run

def test_train_json_lines_end_to_end_and_save(tmp_path):
    done = nnstudio(tmp_path, "train", *QUICK, "--json", "--save", "blobs-model")
    assert done.returncode == 0, done.stderr
    records = json_lines(done.stdout)
    epochs, final = records[:-1], records[-1]
    assert [r["event"] for r in epochs] == ["epoch"] * 3
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert all(r["epochs"] == 3 and r["train_loss"] > 0 and "grad_norms" in r for r in epochs)
    assert all(r["elapsed"] >= r["seconds"] > 0 for r in epochs)
    assert epochs[0]["elapsed"] < epochs[1]["elapsed"] < epochs[2]["elapsed"]
    assert final["event"] == "finished" and final["epochs_done"] == 3
    assert final["metrics"]["val_acc"] > 0.8 and final["metrics"]["best_val_acc"] >= final["metrics"]["val_acc"]
    save = tmp_path / final["save"]
    assert save == tmp_path / "saves" / "blobs-model.safetensors"
    loaded = saves.load(save)
    assert loaded.checkpoint is None and len(loaded.metadata.history) == 3
    assert loaded.metadata.config["data"]["name"] == "blobs" and "folder" not in loaded.metadata.config["checkpoints"]
    assert saves.read_run(tmp_path / final["run_dir"]).status == "finished"
    assert (tmp_path / final["checkpoint"]).is_file()
    # the human-readable display went to stderr
    assert "Model: mlp" in done.stderr and "total" in done.stderr
    assert "data blobs from synthetic" in done.stderr and "Finished" in done.stderr


def test_train_prints_summary_rows_and_where_things_are(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", *QUICK, "--save", "m") == 0
    out = capsys.readouterr().out
    for text in ("layer", "output shape", "parameters", "8,835", "900 train / 100 val / 250 test",
                 "train loss", "val acc", "3/3", "Finished: 3 of 3 epochs", "checkpoints: saves/runs/",
                 "saved: saves/m.safetensors"):
        assert text in out
    assert out.index("1/3") < out.index("2/3") < out.index("3/3") < out.index("Finished")


def test_version(capsys):
    assert run_cli("--version") == 0
    assert capsys.readouterr().out.strip() == f"nnstudio {package_version()}"


def test_help_comes_from_the_config_registry(capsys):
    assert run_cli("train", "--help") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "learning rate: how big a step each update takes" in out
    assert "examples per update" in out and "--resume [RUN]" in out


def test_from_a_save_continues_its_weights_and_reinit_starts_afresh(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", *QUICK, "--save", "base", "--json") == 0
    trained = json_lines(capsys.readouterr().out)[-1]["metrics"]["val_acc"]
    assert run_cli("train", "--from", "base", "--lr", "0", "--epochs", "4", "--no-checkpoints", "--json") == 0
    continued = json_lines(capsys.readouterr().out)
    assert continued[0]["val_acc"] == trained  # lr 0: the save's weights, unchanged, on the same split
    assert run_cli("train", "--from", "base", "--reinit", "--lr", "0", "--epochs", "1", "--no-checkpoints",
                   "--json") == 0
    assert json_lines(capsys.readouterr().out)[0]["val_acc"] < 0.9


def test_a_continued_save_numbers_its_epochs_after_the_saved_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", *QUICK, "--save", "base", "--no-checkpoints") == 0
    capsys.readouterr()
    assert run_cli("train", "--from", "base", "--epochs", "5", "--save", "more", "--json") == 0  # up to 5: 2 more
    captured = capsys.readouterr()
    records = json_lines(captured.out)
    assert [(r["epoch"], r["epochs"]) for r in records[:-1]] == [(4, 5), (5, 5)]
    assert (records[-1]["epochs_done"], records[-1]["epochs"]) == (5, 5)
    assert "4/5" in captured.err and "5/5" in captured.err and "Finished: 5 of 5 epochs" in captured.err
    assert "5 epochs, seed 1" in captured.err and "continuing from a save trained for 3 epochs (2 more)" in captured.err
    saved = saves.read_metadata(tmp_path / "saves" / "more.safetensors")
    assert [h["epoch"] for h in saved.history] == [1, 2, 3, 4, 5] and saved.epochs == 5
    assert saved_config(tmp_path / "saves" / "more.safetensors").training.epochs == 5  # one meaning in the save too


def test_from_a_save_epochs_is_the_total_and_must_leave_some_to_train(tmp_path, monkeypatch, capsys):
    """--from SAVE --epochs N trains up to epoch N, as --resume --epochs N and the studio do: N must be more."""
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", *QUICK, "--save", "base", "--no-checkpoints") == 0   # 3 epochs
    capsys.readouterr()
    assert run_cli("train", "--from", "base", "--epochs", "3") == 2
    error = capsys.readouterr().err.strip()
    assert error == ("nnstudio train: error: --epochs 3: base has 3 epochs already and --epochs counts them (it is "
                     "the total to train up to); ask for more, e.g. --epochs 8")
    assert run_cli("train", "--from", "base") == 2   # its own settings: up to the 3 it has
    assert "base has trained all its 3 epochs; ask for more, e.g. --epochs 8 (or add --reinit" in capsys.readouterr().err
    assert not (tmp_path / "saves" / "runs").exists()   # refused before anything was loaded or written
    assert run_cli("train", "--from", "base", "--reinit", "--epochs", "1", "--no-checkpoints", "--json") == 0
    assert json_lines(capsys.readouterr().out)[-1]["epochs_done"] == 1


def test_no_checkpoints_writes_no_run_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", *QUICK, "--no-checkpoints", "--json") == 0
    final = json_lines(capsys.readouterr().out)[-1]
    assert final["run_dir"] is None and final["checkpoint"] is None
    assert not (tmp_path / "saves").exists()


def test_a_diverging_run_exits_1_with_advice(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status = run_cli("train", *QUICK, "--optimizer", "sgd", "--lr", "1e9", "--momentum", "0", "--json")
    captured = capsys.readouterr()
    final = json_lines(captured.out)[-1]
    assert status == 1 and final["event"] == "diverged"
    assert "learning rate" in final["message"] and "Diverged" in captured.err


def test_an_epoch_that_ends_broken_is_not_a_row(tmp_path, monkeypatch, capsys, recwarn):
    monkeypatch.chdir(tmp_path)
    status = run_cli("train", *QUICK, "--optimizer", "sgd", "--lr", "1e30", "--momentum", "0", "--batch-size", "1000",
                     "--json")
    records = json_lines(capsys.readouterr().out)
    assert status == 1 and [r["event"] for r in records] == ["diverged"] and records[0]["epochs_done"] == 0
    assert "the validation loss became nan. Restored the initial weights" in records[0]["message"]
    assert records[0]["checkpoint"].endswith("epoch-0000.safetensors")  # the run's start, not the broken epoch
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # no raw overflow warnings


def test_early_stopping_exits_0(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status = run_cli("train", *QUICK, "--lr", "0", "--epochs", "40", "--early-stopping", "2", "--no-checkpoints",
                     "--json")
    final = json_lines(capsys.readouterr().out)[-1]
    assert status == 0 and final["event"] == "early-stopped" and final["epochs_done"] == 3
    assert "has not improved" in final["message"]


# ---------------------------------------------------------------------------------------- bad arguments

def _write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return name


def _taken_save(folder: Path) -> list[str]:
    (folder / "saves").mkdir()
    (folder / "saves" / "taken.safetensors").write_bytes(b"only its name matters here")
    return ["--save", "taken"]


BAD_ARGUMENTS = {
    "bad lr": (lambda d: ["--lr", "fast"], ["--lr", "optimizer.lr", "a number >= 0"]),
    "negative lr": (lambda d: ["--lr", "-1"], ["optimizer.lr", ">= 0"]),
    "unknown optimizer": (lambda d: ["--optimizer", "adm"], ["--optimizer", "optimizer.name", "sgd, rmsprop, adam, adamw",
                                                            "did you mean 'adam'"]),
    "zero epochs": (lambda d: ["--epochs", "0"], ["--epochs", "training.epochs", ">= 1"]),
    "fractional epochs": (lambda d: ["--epochs", "2.5"], ["training.epochs", "whole number"]),
    "missing config": (lambda d: ["--config", "absent.toml"], ["absent.toml", "no such config file"]),
    "invalid toml": (lambda d: ["--config", _write(d, "broken.toml", "[optimizer\n")], ["broken.toml", "not valid TOML"]),
    "unknown config field": (lambda d: ["--config", _write(d, "typo.toml", '[optimizer]\nnme = "sgd"\n')],
                             ["typo.toml", "optimizer.nme", "did you mean 'name'"]),
    "bad config value": (lambda d: ["--config", _write(d, "value.toml", "[training]\nepochs = -3\n")],
                         ["value.toml", "training.epochs", ">= 1"]),
    "model file not json": (lambda d: ["--model", _write(d, "model.json", '{"input_shape": [2],')],
                            ["--model model.json", "not valid JSON"]),
    "model file bad spec": (lambda d: ["--model", _write(d, "spec.json", json.dumps(
        {"input_shape": [2], "layers": [{"type": "linear", "out": 3}, {"type": "relux"}]}))],
                            ["--model spec.json", "layer 1", "did you mean 'relu'"]),
    "model file missing": (lambda d: ["--model", "absent.json"], ["--model absent.json", "no such file"]),
    "unknown preset": (lambda d: ["--model", "resnet"], ["--model", "model.preset", "mlp, deep-mlp, cnn"]),
    "bad save name": (lambda d: ["--save", "..."], ["--save", "no usable characters"]),
    "existing save": (lambda d: _taken_save(d), ["--save taken", "already exists", "--overwrite"]),
    "warmup too long": (lambda d: ["--schedule", "cosine", "--warmup", "5", "--epochs", "3"],
                        ["--warmup", "schedule.warmup_epochs", "less than training.epochs"]),
    "flag with resume": (lambda d: ["--resume", "--lr", "0.1"], ["cannot be combined with --resume", "keeps its own settings"]),
    "reinit alone": (lambda d: ["--reinit"], ["--reinit needs --from"]),
    "config and from": (lambda d: ["--config", "a.toml", "--from", "b"], ["--config and --from"]),
    "missing data dir": (lambda d: ["--data-dir", "nowhere"],
                         ["--data-dir: data.data_dir: nowhere does not exist; name the folder that holds"]),
    "saves dir is a file": (lambda d: ["--saves-dir", _write(d, "notes.txt", "")],
                            ["--saves-dir: checkpoints.folder: notes.txt is a file, not a folder; name a folder"]),
    "saves dir inside a file": (lambda d: ["--saves-dir", _write(d, "notes.txt", "") + "/sub"],
                                ["--saves-dir: checkpoints.folder: notes.txt/sub cannot be made: notes.txt is a file"]),
    "config saves folder inside a file": (
        lambda d: ["--config", _write(d, "a.toml", f'[checkpoints]\nfolder = "{_write(d, "notes.txt", "")}/sub"\n')],
        ["a.toml: checkpoints.folder: notes.txt/sub cannot be made: notes.txt is a file, not a folder"]),
    "config data dir is a file": (
        lambda d: ["--config", _write(d, "a.toml", f'[data]\ndata_dir = "{_write(d, "notes.txt", "")}"\n')],
        ["a.toml: data.data_dir: notes.txt is a file, not a folder; name the folder that holds"]),
    "flag without value": (lambda d: ["--batch-size"], ["--batch-size", "expected one argument"]),
    "unknown option": (lambda d: ["--bogus"], ["unrecognized arguments: --bogus", "nnstudio train --help"]),
    "model does not fit": (lambda d: ["--model", "cnn", "--dataset", "spirals"],
                           ["does not fit data set spirals", "needs images; spirals has 2 features"]),
    "missing save": (lambda d: ["--from", "nope"], ["--from: no save named 'nope'"]),
    "save is a folder": (lambda d: ["--from", "saves", *_taken_save(d)[:0]],
                         ["--from saves is a folder, not a save", "saves/taken.safetensors"]),
    "setting outside its section": (lambda d: ["--config", _write(d, "top.toml", "lr = 0.1\n")],
                                    ["top.toml", "lr: is a setting, not a section", "under [optimizer]"]),
    "write config over a file": (lambda d: ["--write-config", _write(d, "mine.toml", "# my notes\n")],
                                 ["--write-config", "mine.toml already exists", "--overwrite"]),
    "write config to a folder": (lambda d: ["--write-config", "."], ["--write-config . is a folder", "run.toml"]),
    "write config to no folder": (lambda d: ["--write-config", "nowhere/run.toml"],
                                  ["--write-config nowhere/run.toml: there is no folder nowhere"]),
    "write config and resume": (lambda d: ["--resume", "--write-config", "x.toml"],
                                ["cannot be combined with --resume", "--from CHECKPOINT"]),
    "write config and save": (lambda d: ["--save", "m", "--write-config", "x.toml"], ["--save has nothing to save"]),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_args, expected = BAD_ARGUMENTS[case]
    args = make_args(tmp_path)
    before = files_under(tmp_path)
    assert run_cli("train", "--dataset", "blobs", *args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnstudio train: error: "), captured.err
    for text in expected:
        assert text in lines[0]
    assert captured.out == ""
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("args, expected", [
    (["train", "--bogus"], "nnstudio train: error: unrecognized arguments: --bogus (see nnstudio train --help)"),
    (["eval", "x", "--bogus"], "nnstudio eval: error: unrecognized arguments: --bogus (see nnstudio eval --help)"),
    (["trian"], "nnstudio: error: unknown command 'trian' (did you mean 'train'? commands: studio, train, sweep, eval"),
    (["--bogus"], "nnstudio: error: unrecognized arguments: --bogus"),
    (["saves", "rm"], "nnstudio saves rm: error: the following arguments are required: name"),
    (["train", "--resume", "saves/runs/gone"],
     "nnstudio train: error: --resume saves/runs/gone: no such run folder or checkpoint"),
])
def test_unknown_commands_options_and_names_are_one_line(args, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli(*args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), captured.err
    assert captured.out == "" and files_under(tmp_path) == set()


@pytest.mark.parametrize("args, expected", [
    (["--resume"], "nothing to resume: no interrupted run in saves/runs"),
    (["--dataset", "mnist", "--data-dir", "idx"], "mnist not found in idx"),
])
def test_nothing_to_start_from_exits_1(args, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "idx").mkdir()
    assert run_cli("train", *args) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]
    assert files_under(tmp_path) == {Path("idx")}
    if "--data-dir" in args:  # the folder the user gave, not the cache, is where the files should go
        assert "To use mnist from idx, copy train-images-idx3-ubyte.gz" in lines[0] and ".cache" not in lines[0]


def test_eval_of_a_folder_lists_the_saves_in_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", *QUICK) == 0
    run = next((tmp_path / "saves" / "runs").iterdir())
    capsys.readouterr()
    assert run_cli("eval", "saves/runs") == 2
    line = capsys.readouterr().err.strip()
    assert line == (f"nnstudio eval: error: saves/runs is a folder, not a save; name one of the saves in it: "
                    f"saves/runs/{run.name}/best.safetensors")


def stopped_run(tmp_path: Path) -> Path:
    """A run of 3 planned epochs stopped after its first, as a dropped connection leaves it (in saves/runs)."""
    cfg = RunConfig.from_dict({"data": {"name": "blobs"}, "training": {"epochs": 3, "batch_size": 32},
                               "checkpoints": {"folder": str(tmp_path / "saves")}})
    session = Session(cfg)
    session.on_event = lambda event: session.stop() if isinstance(event, events.EpochEnd) else None
    assert session.run() == "stopped"
    return session.run_dir


def test_resume_with_no_more_epochs_than_done_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run_dir = stopped_run(tmp_path)
    before = files_under(tmp_path)
    assert run_cli("train", "--resume", "--epochs", "1") == 2
    assert capsys.readouterr().err.strip() == ("nnstudio train: error: --epochs 1: this run has already done 1 epochs; "
                                               "pass --epochs 2 or more to train it further")
    assert files_under(tmp_path) == before and saves.read_run(run_dir).interrupted
    assert run_cli("train", "--resume", "--json") == 0  # still found, and finished as planned
    assert json_lines(capsys.readouterr().out)[-1]["epochs_done"] == 3
    assert run_cli("train", "--resume", str(run_dir)) == 2  # a finished run, named: all its epochs are done
    assert "done all its 3 epochs; pass --epochs 4 or more" in capsys.readouterr().err
    assert run_cli("train", "--resume", str(run_dir), "--epochs", "4", "--json") == 0
    assert [r["epoch"] for r in json_lines(capsys.readouterr().out)[:-1]] == [4]


def test_resuming_a_checkpoint_outside_its_run_says_what_it_resumes_and_where_the_run_goes_on(
        tmp_path, monkeypatch, capsys):
    """A copied checkpoint (or an older one of a run) continues in a new run folder; the line says so and names
    the file (it said "resuming None")."""
    monkeypatch.chdir(tmp_path)
    run_dir = stopped_run(tmp_path)
    (tmp_path / "copy.safetensors").write_bytes((run_dir / "epoch-0001.safetensors").read_bytes())
    before = files_under(run_dir)
    assert run_cli("train", "--resume", "copy.safetensors", "--epochs", "2") == 0
    out = capsys.readouterr().out.replace("\n", "")
    assert ("resuming copy.safetensors after epoch 1; it lies outside a run folder, so the run goes on in a new "
            "run folder in saves/runs") in out and "None" not in out
    new = next(path for path in (tmp_path / "saves" / "runs").iterdir() if path != run_dir)
    assert f"checkpoints: saves/runs/{new.name}" in out and (new / "epoch-0002.safetensors").is_file()
    assert files_under(run_dir) == before   # the run the copy came from is left as it was
    assert run_cli("train", "--resume", str(run_dir / "epoch-0000.safetensors"), "--epochs", "2") == 0
    assert (f"resuming {run_dir / 'epoch-0000.safetensors'} after epoch 0; it is not the latest checkpoint of its "
            f"run, so the run goes on in a new run folder in saves/runs") in capsys.readouterr().out.replace("\n", "")


# ---------------------------------------------------------------------------------------- Ctrl+C and --resume

def test_ctrl_c_stops_with_a_checkpoint_and_resume_completes(tmp_path):
    command = [sys.executable, "-m", "nnstudio.tui", "train", "--dataset", "blobs", "--batch-size", "8",
               "--epochs", "5000", "--json", "--save", "interrupted"]
    with open(tmp_path / "display.txt", "w") as display:  # the display is long: a file, not a pipe that fills up
        child = subprocess.Popen(command, cwd=tmp_path, env=child_env(tmp_path), stdout=subprocess.PIPE,
                                 stderr=display, text=True)
        try:
            first = json.loads(child.stdout.readline())
            assert first["event"] == "epoch" and first["epoch"] == 1
            child.send_signal(signal.SIGINT)
            rest, _ = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert child.returncode == 130
    final = json_lines(rest)[-1]
    assert final["event"] == "stopped" and final["epochs_done"] >= 1
    assert final["resume"] == f"nnstudio train --resume {final['run_dir']}"
    checkpoint = saves.load(tmp_path / final["checkpoint"])
    assert checkpoint.checkpoint is not None and checkpoint.checkpoint.epoch == final["epochs_done"]
    last_epoch = tmp_path / final["run_dir"] / f"epoch-{final['epochs_done']:04d}.safetensors"
    assert saves.read_metadata(last_epoch).checkpoint["data_state"]["trainer"]["tally"]["batches"] == 0  # clean
    assert saves.load(tmp_path / "saves" / "interrupted.safetensors").checkpoint is None  # --save after a stop
    assert "resume with: nnstudio train --resume" in (tmp_path / "display.txt").read_text()
    assert read_history(tmp_path / final["run_dir"]).end["why"] == "stopped by Ctrl+C"   # (it said "" before)
    shown = nnstudio(tmp_path, "runs", "show", Path(final["run_dir"]).name)
    assert "ended: stopped by Ctrl+C after " in shown.stdout, shown.stdout

    target = final["epochs_done"] + 1
    resumed = nnstudio(tmp_path, "train", "--resume", "--epochs", str(target), "--json")
    assert resumed.returncode == 0, resumed.stderr
    records = json_lines(resumed.stdout)
    assert [r["epoch"] for r in records[:-1]] == [target]
    assert records[-1]["event"] == "finished" and records[-1]["epochs_done"] == target
    assert records[-1]["run_dir"] == final["run_dir"]
    assert saves.read_run(tmp_path / final["run_dir"]).status == "finished"
    assert nnstudio(tmp_path, "train", "--resume").returncode == 1  # nothing interrupted any more


def test_a_checkpoint_that_cannot_be_written_stops_the_run_resumably(tmp_path, monkeypatch, capsys):
    """A full disk at epoch 2's checkpoint: the run stops there in one line that says how to go on (no
    "SaveError:", no traceback), its folder is not marked failed, and plain --resume continues it."""
    import errno
    from nnstudio.saves import atomic
    commit = atomic._commit

    def disk_full_at_epoch_2(temp, final, overwrite):
        if final.name == "epoch-0002.safetensors":
            raise OSError(errno.ENOSPC, "No space left on device")
        return commit(temp, final, overwrite)

    monkeypatch.setattr(atomic, "_commit", disk_full_at_epoch_2)
    folder = tmp_path / "saves"
    assert run_cli("train", "--dataset", "blobs", "--epochs", "3", "--saves-dir", str(folder), "--json") == 1
    captured = capsys.readouterr()
    final = json_lines(captured.out)[-1]
    assert final["event"] == "failed" and "Traceback" not in captured.err and "Error:" not in captured.err
    run_dir = Path(final["run_dir"])
    assert final["message"] == ("could not write a checkpoint (epoch-0002.safetensors: could not write: No space left on device), so the "
                                "run stopped; it resumes from epoch-0001.safetensors once the folder can be "
                                f"written: nnstudio train --resume {run_dir.name}")
    assert saves.read_run(run_dir).interrupted and not list(run_dir.glob(".*.tmp"))
    monkeypatch.setattr(atomic, "_commit", commit)   # room again
    assert run_cli("train", "--resume", "--saves-dir", str(folder), "--json") == 0
    assert [r["epoch"] for r in json_lines(capsys.readouterr().out)[:-1]] == [2, 3]


# ---------------------------------------------------------------------------------------- --write-config
def test_write_config_writes_the_runs_settings_and_trains_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", *QUICK, "--lr", "0.03", "--saves-dir", "elsewhere", "--write-config", "run.toml") == 0
    assert "train it with: nnstudio train --config run.toml" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.toml"]   # no run folder: nothing trained
    written = load_config(tmp_path / "run.toml")
    expected = RunConfig().replace(**{"data.name": "blobs", "training.epochs": 3, "training.batch_size": 32,
                                      "training.seed": 1, "optimizer.lr": 0.03})
    assert written == expected   # the machine's saves folder is not written: the file travels
    assert "# learning rate" in (tmp_path / "run.toml").read_text()

    assert run_cli("train", "--config", "run.toml", "--epochs", "1", "--json") == 0   # and it trains as written
    assert json_lines(capsys.readouterr().out)[-1]["event"] == "finished"


def test_write_config_from_a_save_starts_a_file_from_its_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", *QUICK, "--epochs", "1", "--optimizer", "sgd", "--save", "base") == 0
    capsys.readouterr()
    assert run_cli("train", "--from", "base", "--epochs", "4", "--write-config", "next.toml", "--json") == 0
    assert json_lines(capsys.readouterr().out)[-1] == {"event": "config-written", "path": "next.toml"}
    written = load_config(tmp_path / "next.toml")
    assert written.optimizer.name == "sgd" and written.training.epochs == 4 and written.model.spec is not None


def test_a_run_folder_that_cannot_be_written_at_the_end_costs_the_mark_not_the_run(tmp_path, monkeypatch, capsys):
    """The folder turns read-only (or the disk fills) just as the run ends: one line, the summary, exit 1, and
    plain --resume still finds the run (its last checkpoint is there; its marker still says it was cut off)."""
    from nnstudio.saves import checkpoints
    from nnstudio.saves.errors import SaveError
    write = checkpoints.write_json

    def refuse_the_end(path, document, **options):
        if document.get("status") != "running":
            raise SaveError("cannot write the file: Read-only file system", path)
        return write(path, document, **options)

    monkeypatch.setattr(checkpoints, "write_json", refuse_the_end)
    folder = tmp_path / "saves"
    assert run_cli("train", "--dataset", "blobs", "--epochs", "2", "--saves-dir", str(folder)) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("nnstudio train: error:")]
    assert len(errors) == 1 and "could not mark the run folder" in errors[0]
    assert "still resumable from its last checkpoint" in errors[0] and "Traceback" not in captured.err
    assert "epoch" in captured.out or "epoch" in captured.err          # the summary was printed
    monkeypatch.setattr(checkpoints, "write_json", write)
    assert run_cli("train", "--resume", "--epochs", "3", "--saves-dir", str(folder)) == 0


def test_resuming_a_run_that_is_still_training_says_so_before_loading(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run_dir = stopped_run(tmp_path)
    holder = saves.CheckpointManager(run_dir)   # another process training it: its lock is held
    try:
        assert run_cli("train", "--resume", str(run_dir)) == 1
        assert capsys.readouterr().err.strip() == (
            f"nnstudio train: error: {run_dir.name} is being trained by another process (pid {os.getpid()} on "
            f"{socket.gethostname()}, which holds its lock): follow it in the studio's Runs pane (o), or stop it "
            f"first (nnstudio runs stop {run_dir.name})")
        assert run_cli("train", "--resume") == 1
        assert f"; {run_dir.name} is still training in another nnstudio process" in capsys.readouterr().err
    finally:
        holder.close()


def test_a_save_name_that_is_cleaned_up_says_what_it_became(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", *QUICK, "--epochs", "1", "--save", "ñame") == 0
    capsys.readouterr()
    assert run_cli("train", *QUICK, "--epochs", "1", "--save", "ñame-€") == 2
    assert "already exists (a name keeps letters, digits, - _ and . only: it is saved as ñame)" in capsys.readouterr().err
