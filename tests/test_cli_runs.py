"""`nnstudio runs list|show|compare|rm|prune`, driven through the real command line on real runs (tiny data sets)."""

from __future__ import annotations

import io
import json
import os
import shutil
from datetime import datetime, timezone

import pytest

from nnstudio import saves
from nnstudio.engine import events
from nnstudio.tui.cli import runs_delete
from nnstudio.tui.main import main
from nnstudio.tui.render import size_text
from nnstudio.tui.run import Session, SessionError
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.history import HISTORY_FILE


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.delenv("NNSTUDIO_SAVES_DIR", raising=False)


def _config(folder, **overrides) -> RunConfig:
    config = RunConfig.from_dict({
        "data": {"name": "blobs", "size": 200}, "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 2, "batch_size": 16, "seed": 2}, "checkpoints": {"folder": str(folder)}})
    return config.with_overrides(overrides) if overrides else config


def _stop_in_epoch_2(session: Session):
    """An on_event that changes the lr live, then stops the run after batch 3 of epoch 2."""
    def on_event(event):
        if isinstance(event, events.BatchEnd) and event.epoch == 1 and event.batch == 2:
            session.set_live("optimizer.lr", 0.005)
            session.stop()
    return on_event


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Real runs, oldest first: two finished blobs runs (adam, sgd with nesterov), one stopped, one diverged, one
    on spirals, one regression (sine), and one interrupted (a finished run's folder made to look killed)."""
    folder = tmp_path_factory.mktemp("saves")
    assert Session(_config(folder), run_name="adam").run() == "finished"
    sgd = {"optimizer.name": "sgd", "optimizer.lr": 0.1, "optimizer.nesterov": True}
    assert Session(_config(folder, **sgd), run_name="sgd").run() == "finished"
    stopped = Session(_config(folder, **{"optimizer.lr": 0.1}), run_name="stopped")
    stopped.on_event = _stop_in_epoch_2(stopped)
    assert stopped.run() == "stopped"
    assert Session(_config(folder, **{"optimizer.name": "sgd", "optimizer.lr": 1e6}), run_name="diverged").run() \
        == "diverged"
    assert Session(_config(folder, **{"data.name": "spirals"}), run_name="spirals").run() == "finished"
    assert Session(_config(folder, **{"data.name": "sine"}), run_name="sine").run() == "finished"
    cut = Session(_config(folder, **{"training.epochs": 1}), run_name="cut")
    assert cut.run() == "finished"
    _as_if_killed(cut.run_dir)
    return folder


def _as_if_killed(run_dir) -> None:
    """What a kill -9 after the last epoch leaves: the marker still says running, the history has no end."""
    marker = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**marker, "status": "running"}))
    lines = (run_dir / HISTORY_FILE).read_text().splitlines(keepends=True)
    (run_dir / HISTORY_FILE).write_text("".join(line for line in lines if '"kind":"end"' not in line))


@pytest.fixture
def folder(made, tmp_path):
    """A copy of the made runs to change."""
    return shutil.copytree(made, tmp_path / "saves", symlinks=True)


def run_dir(folder, prefix: str):
    """The run folder whose name starts with `prefix-` (names end with their time)."""
    found = [p for p in (folder / "runs").iterdir() if p.name.startswith(prefix + "-")]
    assert len(found) == 1, found
    return found[0]


def name(folder, prefix: str) -> str:
    return run_dir(folder, prefix).name


def runs(*args: str, folder) -> int:
    return main(["runs", *args, "--saves-dir", str(folder)])


def strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


class Terminal(io.StringIO):
    """stdin of a terminal that answers a question."""

    def isatty(self) -> bool:
        return True


# ---------------------------------------------------------------------------------------- list

def test_list_shows_every_run_newest_first(made, capsys):
    assert runs("list", folder=made) == 0
    out = capsys.readouterr().out
    lines = {prefix: next(line for line in out.splitlines() if name(made, prefix) in line)
             for prefix in ("adam", "sgd", "stopped", "diverged", "spirals", "sine", "cut")}
    assert [out.index(name(made, p)) for p in ("cut", "sine", "spirals", "diverged", "stopped", "sgd", "adam")] \
        == sorted(out.index(name(made, p)) for p in ("cut", "sine", "spirals", "diverged", "stopped", "sgd", "adam"))
    assert "blobs" in lines["adam"] and "mlp" in lines["adam"] and "adam 0.01" in lines["adam"]
    assert "2/2" in lines["adam"] and "%" in lines["adam"] and "finished" in lines["adam"] and "kB" in lines["adam"]
    assert "sgd 0.1" in lines["sgd"]
    assert "stopped" in lines["stopped"] and "1/2" in lines["stopped"]   # (a stop was asked: not "interrupted")
    assert "diverged" in lines["diverged"] and "0/2" in lines["diverged"]
    assert "loss " in lines["sine"] and "%" not in lines["sine"]           # regression: its lowest val loss
    assert "interrupted" in lines["cut"]


def test_list_json_is_one_strict_object_per_run(made, capsys):
    assert runs("list", "--json", folder=made) == 0
    records = [strict_json(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 7 and records[-1]["name"] == name(made, "adam")
    by_name = {r["name"]: r for r in records}
    adam = by_name[name(made, "adam")]
    assert (adam["dataset"], adam["model"], adam["optimizer"], adam["lr"]) == ("blobs", "mlp", "adam", 0.01)
    assert (adam["epochs_done"], adam["epochs_planned"], adam["status"], adam["best_metric"]) == (2, 2, "finished",
                                                                                                  "val_acc")
    assert adam["origin"] == {"kind": "new"} and adam["resumable"] and not adam["pruned"]
    # the size on disk: best.safetensors is a hard link to an epoch's checkpoint, counted once
    files = [p for p in run_dir(made, "adam").iterdir()]
    assert adam["size"] == sum(os.stat(p).st_size for p in {os.stat(p).st_ino: p for p in files}.values())
    diverged = by_name[name(made, "diverged")]
    assert diverged["status"] == "diverged" and diverged["best"] is None and "diverged" in diverged["why"]
    assert by_name[name(made, "sine")]["best_metric"] == "val_loss"


def test_list_keeps_names_whole_on_a_narrow_terminal(made, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert runs("list", folder=made) == 0
    out = capsys.readouterr().out
    assert all(name(made, p) in out for p in ("adam", "sgd", "stopped", "diverged", "spirals", "sine", "cut"))
    assert "not shown: model" in out.replace("\n", " ")


def test_list_keeps_each_name_whole_on_one_line_at_80_columns_once_runs_are_pruned(folder, capsys, monkeypatch):
    """A pruned run's status ("finished, pruned") widened its column, and every name folded onto two lines: a
    pruned run is marked "finished*" (the caption says what * means) and only other columns give way."""
    long = {"adam": "checkerboard-deep-mlp-20261203-134846", "sgd": "checkerboard-deep-mlp-20261203-134846-2"}
    for prefix, new in long.items():
        run_dir(folder, prefix).rename(folder / "runs" / new)
    assert runs("prune", "--yes", folder=folder) == 0
    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "80")
    assert runs("list", folder=folder) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [*long.values(), *(name(folder, p) for p in ("stopped", "diverged", "spirals", "sine", "cut"))]
    rows = [next(line for line in lines if f" {n} " in line) for n in names]   # (each whole, on its own line)
    assert max(len(line) for line in lines) <= 80
    assert all("finished*" in rows[i] for i in (0, 1)) and "interrupted" in rows[-1]
    assert "*: pruned (checkpoints deleted, history kept)" in " ".join(lines)


def test_list_puts_the_data_set_back_when_pruned_runs_are_marked_short(folder, capsys, monkeypatch):
    """Runs named as nnstudio names them (DATA-MODEL-DATE-TIME), one pruned: at 80 columns the data set is shown,
    the pruned run marked with * rather than the data set left out."""
    for prefix in ("diverged", "sine", "cut", "stopped", "spirals"):
        shutil.rmtree(run_dir(folder, prefix))
    for prefix, new in (("adam", "blobs-deep-mlp-20261203-134846"), ("sgd", "blobs-deep-mlp-20261203-134846-2")):
        run_dir(folder, prefix).rename(folder / "runs" / new)
    assert runs("prune", "blobs-deep-mlp-20261203-134846", "--yes", folder=folder) == 0
    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "80")
    assert runs("list", folder=folder) == 0
    lines = capsys.readouterr().out.splitlines()
    pruned = next(line for line in lines if " blobs-deep-mlp-20261203-134846 " in line)
    kept = next(line for line in lines if " blobs-deep-mlp-20261203-134846-2 " in line)
    assert " blobs " in pruned and "finished*" in pruned and " blobs " in kept and "finished*" not in kept


def test_list_of_an_empty_folder_and_of_a_file(tmp_path, capsys, monkeypatch):
    assert runs("list", folder=tmp_path) == 0
    assert "No runs in" in capsys.readouterr().out
    assert runs("list", folder=tmp_path / "nonexistent") == 2   # (named: a typo, not an empty folder)
    assert f"nnstudio runs: error: --saves-dir {tmp_path / 'nonexistent'}: no such folder" in capsys.readouterr().err
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", str(tmp_path / "fresh"))   # (the default: no run has made it yet)
    assert main(["runs", "list"]) == 0
    assert f"({tmp_path / 'fresh'} does not exist yet: the first run creates it)" in \
        capsys.readouterr().out.replace("\n", "")
    (tmp_path / "file").write_text("x")
    assert runs("list", folder=tmp_path / "file") == 2
    assert capsys.readouterr().err.startswith("nnstudio runs: error: --saves-dir")


# ---------------------------------------------------------------------------------------- show

def test_show_tells_a_run_s_settings_epochs_end_and_checkpoints(made, capsys):
    assert runs("show", name(made, "stopped"), folder=made) == 0
    out = capsys.readouterr().out
    assert "stopped, 1/2 epochs" in out and "data set: blobs (classification), model: mlp" in out
    assert "origin: new" in out
    assert "adam, lr=0.1" in out                                  # the settings table
    assert "History" in out and "train loss" in out                 # the epochs table
    assert "changed optimizer.lr to 0.005 from batch 4 of epoch 2" in out
    assert "ended: stopped on request after batch 3 of epoch 2" in out   # (session.stop() gave no reason)
    assert "partial.safetensors" in out and f"resumable from partial.safetensors: nnstudio train --resume " \
                                           f"{name(made, 'stopped')}" in out


def test_show_a_run_by_path_and_how_a_diverged_or_interrupted_one_ended(made, capsys):
    assert main(["runs", "show", str(run_dir(made, "diverged"))]) == 0
    out = capsys.readouterr().out
    ended = next(line for line in out.splitlines() if line.startswith("ended:"))   # (one numbering: the message's)
    assert ended.startswith("ended: diverged at epoch 1, batch ") and "after batch" not in ended
    assert "Lower the learning rate" in ended
    diverged = name(made, "diverged")   # (sgd at lr 1e6: its starting weights are its last good ones)
    assert f"Or try again from its starting weights with a tenth of the learning rate: nnstudio train --fork " \
           f"{diverged}@0 --lr 100000" in out
    assert runs("show", name(made, "cut"), folder=made) == 0
    out = capsys.readouterr().out
    assert "interrupted: cut off after epoch 1 without ending" in out and "resumable from epoch-0001" in out


def test_show_where_a_run_came_from(tmp_path, capsys):
    first = Session(_config(tmp_path, **{"training.epochs": 1}), run_name="base")
    assert first.run() == "finished"
    save = first.save("base", folder=tmp_path)
    assert Session.from_save(save, config=_config(tmp_path)).run() == "finished"
    stopped = Session(_config(tmp_path), run_name="again")
    stopped.on_event = _stop_in_epoch_2(stopped)
    assert stopped.run() == "stopped"
    assert Session.open_checkpoint(stopped.run_dir).run() == "finished"

    newest = saves.find_runs(tmp_path)
    assert runs("show", newest[1].name, folder=tmp_path) == 0
    assert f"origin: continued from the save {save.resolve()} (1 epochs)" in capsys.readouterr().out
    assert runs("show", name(tmp_path, "again"), folder=tmp_path) == 0
    out = capsys.readouterr().out
    assert "origin: new" in out and "resumed after batch 3 of epoch 2 on 20" in out and "finished" in out


def test_show_and_compare_a_fork_and_its_parent(folder, capsys, monkeypatch):
    from nnstudio.tui.run.forking import fork
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", str(folder))   # (where the fork's run folder goes)
    parent = run_dir(folder, "adam")
    assert fork(parent, 1, {"optimizer.lr": 0.001, "training.epochs": 3}).run() == "finished"
    child = saves.find_runs(folder)[0]
    assert runs("show", child.name, folder=folder) == 0
    out = capsys.readouterr().out
    assert f"origin: forked from {parent.name}@1 on 20" in out and "(epoch 1 is its parent's)" in out
    assert "changed at the fork: lr 0.01 → 0.001, epochs 2 → 3" in out
    assert "resumed" not in out   # (its branch point is where it started, not a resume)
    assert "finished, 3/3 epochs" in out
    assert runs("compare", parent.name, child.name, "--json", folder=folder) == 0
    record = strict_json(capsys.readouterr().out)
    assert {s["setting"]: s["values"] for s in record["settings"]} == {"optimizer.lr": [0.01, 0.001],
                                                                       "training.epochs": [2, 3]}
    fork_of = {"run": parent.name, "epoch": 1, "changed": {"optimizer.lr": {"from": 0.01, "to": 0.001},
                                                           "training.epochs": {"from": 2, "to": 3}}}
    assert [r["fork_of"] for r in record["runs"]] == [None, fork_of]
    assert runs("compare", parent.name, child.name, folder=folder) == 0
    assert "#2: fork of #1@1 (lr 0.01 → 0.001, epochs 2 → 3)" in capsys.readouterr().out
    assert runs("compare", child.name, name(folder, "sgd"), folder=folder) == 0   # (its parent not compared)
    assert f"#1: fork of {parent.name}@1 (lr 0.01" in capsys.readouterr().out
    assert runs("list", folder=folder) == 0
    assert f"{child.name}: fork of {parent.name}@1 (lr 0.01 → 0.001, epochs 2 → 3)" in capsys.readouterr().out
    assert runs("list", "--json", folder=folder) == 0
    listed = {r["name"]: r["fork_of"] for r in map(strict_json, capsys.readouterr().out.splitlines())}
    assert listed[child.name] == fork_of and listed[parent.name] is None


def test_show_a_resumed_fork_says_where_it_forked_and_where_it_was_resumed(folder, capsys, monkeypatch):
    from nnstudio.tui.run.forking import fork
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", str(folder))
    parent = run_dir(folder, "adam")
    child = fork(parent, 1, {"optimizer.name": "sgd", "training.epochs": 3})
    child.on_event = _stop_in_epoch_2(child)
    assert child.run() == "stopped"
    assert Session.open_checkpoint(child.run_dir).run() == "finished"
    assert runs("show", child.run_dir.name, folder=folder) == 0
    out = capsys.readouterr().out
    assert f"origin: forked from {parent.name}@1" in out and "changed at the fork: adam → sgd, epochs 2 → 3" in out
    assert "resumed after batch 3 of epoch 2 on 20" in out


def test_show_and_list_read_a_damaged_history_as_far_as_it_is_sound(folder, capsys):
    history = run_dir(folder, "adam") / HISTORY_FILE
    with open(history, "a") as file:
        file.write("this is not json\n")
        file.write('{"kind": "batch", "e": 3, "b"')      # torn by a crash
    assert runs("show", name(folder, "adam"), folder=folder) == 0
    out = capsys.readouterr().out
    assert "finished, 2/2 epochs" in out
    assert "note the last line of history.jsonl was cut short (a crash mid-write) and is skipped" in out
    assert "note 1 damaged line of history.jsonl skipped" in out
    assert runs("list", folder=folder) == 0
    assert f"note {name(folder, 'adam')}: the last line of history.jsonl was cut short" in capsys.readouterr().out


def test_show_a_run_that_is_not_there(folder, capsys):
    assert runs("show", "nothing", folder=folder) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run named 'nothing' in" in err and "nnstudio runs list" in err
    assert runs("show", str(folder), folder=folder) == 2
    assert "not a run folder (it has no readable run.json)" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- compare

def test_compare_prints_the_settings_that_differ_and_the_final_metrics(made, capsys):
    assert runs("compare", name(made, "adam"), name(made, "sgd"), name(made, "stopped"), folder=made) == 0
    out = capsys.readouterr().out
    settings = out[out.index("Settings that differ"):out.index("Final metrics")]
    rows = {line.split()[0]: line.split()[1:] for line in settings.splitlines()[3:] if line.strip()}
    assert rows["optimizer.name"] == ["adam", "sgd", "adam"] and rows["optimizer.lr"] == ["0.01", "0.1", "0.1"]
    assert rows["optimizer.nesterov"] == ["n/a", "true", "n/a"]   # sgd's own setting: shown only where it applies
    assert "optimizer.beta2" not in rows                            # (the same value in every run)
    assert "data.name" not in rows and "training.seed" not in rows
    metrics = out[out.index("Final metrics"):]
    assert "val acc" in metrics and "best val acc" in metrics and "not compared" not in out


def test_compare_formats_each_metric_row_one_way(made, capsys):
    """A loss row's values have the same decimals (not 0.23 beside 0.2121); accuracies are percentages."""
    assert runs("compare", name(made, "adam"), name(made, "sgd"), name(made, "stopped"), folder=made) == 0
    out = capsys.readouterr().out
    rows = {line[:14].strip(): line[14:].split() for line in out[out.index("Final metrics"):].splitlines()[3:]
            if line.strip()}
    for metric in ("train loss", "val loss"):
        assert len({len(value.split(".")[1]) for value in rows[metric]}) == 1, rows[metric]
    for metric in ("train acc", "val acc", "best val acc"):
        assert all(value.endswith("%") and len(value.split(".")[1]) == 3 for value in rows[metric]), rows[metric]


def test_numbers_side_by_side_share_their_decimals():
    from nnstudio.tui.cli.common import aligned_numbers
    assert aligned_numbers([0.23, 0.2121, 1.5]) == ["0.2300", "0.2121", "1.5000"]
    assert aligned_numbers([0.00123, 0.0456]) == ["0.00123", "0.04560"]       # 3 significant digits at least
    assert aligned_numbers([None, 3.4e8, 0.12]) == ["-", "3.400e+08", "1.200e-01"]
    assert aligned_numbers([float("nan"), 0.5, True]) == ["nan", "0.5000", "-"]


def test_show_s_history_table_gives_a_loss_column_one_format(made, capsys):
    assert runs("show", name(made, "adam"), folder=made) == 0
    out = capsys.readouterr().out
    rows = [line.split("│")[1:-1] for line in out[out.index("History"):].splitlines() if line.count("│") > 3]
    assert len(rows) == 2
    for column in (1, 3):   # train loss, val loss: 0.1852894 above 0.0000997, not 0.1853 above 9.97e-05
        losses = [row[column].strip() for row in rows]
        assert len({len(value.split(".")[1]) for value in losses}) == 1 and "e" not in "".join(losses), losses


def test_compare_hides_a_setting_that_applies_to_none_of_the_runs(folder, capsys):
    """Two adam runs whose recorded RMSprop alpha differs (a config another version wrote): alpha means nothing to
    adam, so it is not a difference."""
    history = run_dir(folder, "stopped") / HISTORY_FILE
    lines = history.read_text().splitlines(keepends=True)
    start = json.loads(lines[0])
    start["config"]["optimizer"]["alpha"] = 0.5
    history.write_text(json.dumps(start) + "\n" + "".join(lines[1:]))
    assert runs("compare", name(folder, "adam"), name(folder, "stopped"), folder=folder) == 0
    out = capsys.readouterr().out
    assert "optimizer.lr" in out and "alpha" not in out
    assert runs("compare", name(folder, "adam"), name(folder, "stopped"), "--json", folder=folder) == 0
    assert [s["setting"] for s in strict_json(capsys.readouterr().out)["settings"]] == ["optimizer.lr"]


def test_compare_json_for_scripts(made, capsys):
    assert runs("compare", name(made, "adam"), name(made, "sgd"), "--json", folder=made) == 0
    record = strict_json(capsys.readouterr().out)
    assert [r["name"] for r in record["runs"]] == [name(made, "adam"), name(made, "sgd")]
    assert record["metrics"] == ["train_loss", "val_loss", "train_acc", "val_acc", "best"]
    assert set(record["runs"][0]["final"]) == {"train_loss", "val_loss", "train_acc", "val_acc"}
    nesterov = next(s for s in record["settings"] if s["setting"] == "optimizer.nesterov")
    assert nesterov == {"setting": "optimizer.nesterov", "values": [None, True], "applies": [False, True]}
    assert record["not_compared"] == []


def test_compare_says_what_cannot_be_compared_across_data_sets_and_tasks(made, capsys):
    assert runs("compare", name(made, "adam"), name(made, "spirals"), folder=made) == 0
    out = capsys.readouterr().out
    assert "data.name" in out and "Final metrics" not in out
    assert "not compared: the final metrics, as the runs learn different data sets (blobs: " in out.replace("\n", "")
    assert runs("compare", name(made, "adam"), name(made, "sine"), "--json", folder=made) == 0
    record = strict_json(capsys.readouterr().out)
    assert record["metrics"] == [] and all(r["final"] == {} and "best" not in r for r in record["runs"])
    assert "different tasks (classification: " in record["not_compared"][0]
    assert "only classification has an accuracy" in record["not_compared"][0]


def test_compare_needs_two_runs(made, capsys):
    assert runs("compare", name(made, "adam"), folder=made) == 2
    assert "compare needs two runs or more, got 1" in capsys.readouterr().err
    assert runs("compare", name(made, "adam"), name(made, "adam"), folder=made) == 2
    assert f"the same run was given twice: {name(made, 'adam')}; name each run once" in capsys.readouterr().err
    assert runs("compare", name(made, "adam"), str(run_dir(made, "adam")), folder=made) == 2   # the same one twice
    assert f"the same run was given twice: '{name(made, 'adam')}' and '{run_dir(made, 'adam')}' are both " \
           f"{name(made, 'adam')}" in capsys.readouterr().err
    assert runs("compare", name(made, "adam"), "nothing", folder=made) == 2
    assert "no run named 'nothing'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ rm

def test_rm_with_yes_deletes_run_folders(folder, capsys):
    doomed = [run_dir(folder, "adam"), run_dir(folder, "sgd")]
    assert runs("rm", doomed[0].name, str(doomed[1]), "--yes", folder=folder) == 0
    out = capsys.readouterr().out
    assert not any(p.exists() for p in doomed) and "Freed " in out and run_dir(folder, "stopped").is_dir()


def test_rm_asks_first(folder, capsys, monkeypatch):
    doomed = run_dir(folder, "adam")
    assert runs("rm", doomed.name, folder=folder) == 2      # no terminal to ask on
    assert "without confirmation: pass --yes" in capsys.readouterr().err and doomed.is_dir()
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert runs("rm", doomed.name, folder=folder) == 1
    assert "Kept the run" in capsys.readouterr().out and doomed.is_dir()
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert runs("rm", doomed.name, folder=folder) == 0 and not doomed.exists()


def test_rm_deletes_nothing_outside_the_runs_folder(folder, tmp_path, capsys):
    outside = shutil.copytree(run_dir(folder, "adam"), tmp_path / "elsewhere" / "a-run")   # a run folder, but not here
    (folder / "runs" / "link").symlink_to(outside, target_is_directory=True)
    (folder / "runs" / "stray.txt").write_text("not a run")
    (folder / "runs" / "empty").mkdir()
    refused = {str(outside): "is not a run folder inside the runs folder",
               "link": "is a symbolic link (to ",
               str(folder / "runs" / ".."): "is not a run folder inside the runs folder",
               str(folder / "runs"): "is not a run folder inside the runs folder",
               str(folder): "is not a run folder inside the runs folder",
               "stray.txt": "is a file, not a run folder",
               "empty": "is not a run folder (it holds no readable run.json nor history.jsonl)"}
    for target, problem in refused.items():
        assert runs("rm", target, "--yes", folder=folder) == 2, target
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "not deleting" in err and problem in err, (target, err)
    assert (outside / "run.json").is_file() and (folder / "runs" / "link").is_symlink()
    assert (folder / "runs" / "stray.txt").is_file() and len(list((folder / "runs").iterdir())) == 10


def test_rm_of_a_part_of_a_name_says_which_run_it_means_and_deletes_only_that_one(folder, capsys, monkeypatch):
    doomed = run_dir(folder, "diverged")
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert runs("rm", "diverg", folder=folder) == 1    # its unique start
    out = capsys.readouterr().out
    assert f"'diverg' is the run {doomed.name}" in out and f"Delete the run {doomed.name} (diverged, " in out
    assert runs("rm", "verged", "--yes", folder=folder) == 0   # inside its name
    out = capsys.readouterr().out
    assert f"'verged' is the run {doomed.name}" in out and f"Deleted {doomed}." in out and not doomed.exists()
    older = shutil.copytree(run_dir(folder, "adam"), folder / "runs" / "adam-20250101-090000")
    assert runs("rm", "090000", "--yes", folder=folder) == 0   # the end of its name (its time)
    assert f"'090000' is the run {older.name}" in capsys.readouterr().out and not older.exists()
    before = sorted(p.name for p in (folder / "runs").iterdir())
    assert runs("rm", "s", "--yes", folder=folder) == 2   # sgd, sine, spirals, stopped: one line, nothing deleted
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'s' could be any of 4 runs in " in err and name(folder, "sgd") in err
    outside = shutil.copytree(run_dir(folder, "adam"), folder.parent / "elsewhere" / "a-run")
    (folder / "runs" / "linked-run").symlink_to(outside, target_is_directory=True)
    assert runs("rm", "linked", "--yes", folder=folder) == 2   # a part of a name never reaches past a link
    assert "not deleting" in capsys.readouterr().err and (outside / "run.json").is_file()
    assert sorted(p.name for p in (folder / "runs").iterdir()) == sorted(before + ["linked-run"])


def test_every_runs_action_takes_a_part_of_a_name_that_only_one_run_has(folder, capsys):
    adam = name(folder, "adam")
    assert runs("show", "adam", folder=folder) == 0 and capsys.readouterr().out.startswith(adam)
    older = shutil.copytree(run_dir(folder, "adam"), folder / "runs" / "adam-20250101-090000")
    assert runs("show", "adam", folder=folder) == 2   # (now two start so)
    assert "'adam' could be any of 2 runs" in capsys.readouterr().err
    assert runs("show", "0101-090000", folder=folder) == 0 and capsys.readouterr().out.startswith(older.name)
    assert runs("compare", adam, "sgd", "--json", folder=folder) == 0
    assert [r["name"] for r in strict_json(capsys.readouterr().out)["runs"]] == [adam, name(folder, "sgd")]
    assert runs("show", "nothing-like-it", folder=folder) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nor one whose name starts with, ends with or holds it" in err
    assert "`nnstudio runs list` shows them" in err and str(folder / "runs") in err


def test_a_part_of_a_name_is_a_start_first_then_an_end_then_anything_inside():
    from nnstudio.tui.run.run_names import matching
    names = ["mnist-mlp-20261203-101500", "mnist-cnn-20261203-111500", "spirals-mlp-20261203-101500-2"]
    assert matching("mnist-m", names) == ["mnist-mlp-20261203-101500"]          # a start
    assert matching("101500", names) == ["mnist-mlp-20261203-101500"]          # an end, before "inside"
    assert matching("cnn", names) == ["mnist-cnn-20261203-111500"]             # inside
    assert matching("mnist", names) == sorted(names[:2]) and matching("zzz", names) == []


def test_rm_checks_every_run_before_deleting_any(folder, capsys):
    assert runs("rm", name(folder, "adam"), "nothing", "--yes", folder=folder) == 2
    assert run_dir(folder, "adam").is_dir()


def test_rm_refuses_a_run_a_live_process_holds(folder, capsys):
    manager = saves.CheckpointManager(run_dir(folder, "adam"))    # (as a process training it holds it)
    try:
        assert runs("rm", name(folder, "adam"), name(folder, "sgd"), "--yes", folder=folder) == 1
        assert "a live nnstudio process is training it; stop it first" in capsys.readouterr().err
        assert run_dir(folder, "adam").is_dir() and run_dir(folder, "sgd").is_dir()
        with pytest.raises(saves.SaveError, match="a live nnstudio process is training this run"):
            saves.remove_run(run_dir(folder, "adam"), folder / "runs")   # the saves layer's own guard
    finally:
        manager.finish()


# ---------------------------------------------------------------------------------------- prune

def _checkpoint_bytes(run) -> int:
    return saves.disk_usage(saves.checkpoint_files(run))


def test_prune_deletes_ended_runs_checkpoints_and_keeps_their_histories(folder, capsys):
    ended = [run_dir(folder, p) for p in ("adam", "sgd", "stopped", "diverged", "spirals", "sine")]
    expected = sum(_checkpoint_bytes(run) for run in ended)
    histories = {run: (run / HISTORY_FILE).read_bytes() for run in ended}
    assert runs("prune", "--yes", folder=folder) == 0
    out = capsys.readouterr().out
    assert f"Pruned 6 runs: freed {size_text(expected)}" in out
    assert "Their settings and histories are kept: `nnstudio runs list`, `show` and `compare` still show them; " \
           "they can no longer be resumed or forked." in out
    assert f"keeping {name(folder, 'cut')}: interrupted: it can be resumed (--interrupted prunes it too)" in out
    for run in ended:
        assert sorted(p.name for p in run.iterdir()) == [HISTORY_FILE, "run.json"]
        assert (run / HISTORY_FILE).read_bytes() == histories[run]
    assert saves.checkpoint_files(run_dir(folder, "cut"))         # the interrupted run is untouched

    assert runs("list", folder=folder) == 0
    out = capsys.readouterr().out
    assert "finished, pruned" in out and "stopped, pruned" in out and "interrupted, pruned" not in out
    assert runs("show", name(folder, "stopped"), folder=folder) == 0
    out = capsys.readouterr().out
    assert "can be compared, not resumed" in out and "resumable" not in out and "History" in out
    assert runs("compare", name(folder, "adam"), name(folder, "sgd"), folder=folder) == 0
    assert "Final metrics" in capsys.readouterr().out
    with pytest.raises(SessionError, match="no checkpoint to resume"):
        Session.open_checkpoint(run_dir(folder, "stopped"))
    assert runs("prune", "--yes", folder=folder) == 0
    assert "Nothing to prune" in capsys.readouterr().out


def test_prune_the_runs_named_only(folder, capsys):
    """Users try `runs prune RUN`: it prunes that run (by the same rules), and nothing else."""
    assert runs("prune", name(folder, "sgd"), "cut", "--yes", folder=folder) == 0   # (a part of a name too)
    out = capsys.readouterr().out
    assert f"keeping {name(folder, 'cut')}: interrupted: it can be resumed" in out and "Pruned 1 run" in out
    assert not saves.checkpoint_files(run_dir(folder, "sgd"))
    assert all(saves.checkpoint_files(run_dir(folder, p)) for p in ("adam", "stopped", "spirals", "sine", "cut"))
    assert runs("prune", name(folder, "sgd"), "--yes", folder=folder) == 0
    out = capsys.readouterr().out
    assert f"{name(folder, 'sgd')} was pruned already" in out and "Nothing to prune of the runs named." in out
    assert runs("prune", "nothing", "--yes", folder=folder) == 2
    assert "no run named 'nothing'" in capsys.readouterr().err


def test_a_pruned_run_is_said_to_be_pruned_when_resumed(folder, capsys):
    assert runs("prune", name(folder, "stopped"), "--yes", folder=folder) == 0
    capsys.readouterr()
    assert main(["train", "--resume", name(folder, "stopped"), "--saves-dir", str(folder)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{name(folder, 'stopped')} was pruned: `nnstudio runs prune` deleted its checkpoints " \
                             f"and kept its history (`nnstudio runs show {name(folder, 'stopped')}`), so it cannot " \
                             f"be resumed" in err[0]


@pytest.mark.parametrize("args, expected", [
    (["prune", "RUN", "--json"], "nnstudio runs prune: error: unrecognized arguments: --json (see nnstudio runs "
                                 "prune --help)"),
    (["list", "--all"], "nnstudio runs list: error: unrecognized arguments: --all (see nnstudio runs list --help)"),
])
def test_an_action_s_unknown_option_points_at_that_action_s_help(args, expected, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["runs", *args])
    assert exit.value.code == 2 and capsys.readouterr().err.strip() == expected


def test_prune_keeps_the_newest_and_the_recent(folder, capsys, monkeypatch):
    assert runs("prune", "--keep-last", "2", "--yes", folder=folder) == 0
    assert "among the 2 newest (--keep-last)" in capsys.readouterr().out
    kept = [p for p in ("adam", "sgd", "stopped", "diverged", "spirals", "sine")
            if saves.checkpoint_files(run_dir(folder, p))]
    assert kept == ["spirals", "sine"]


def test_prune_older_than_counts_days_from_the_last_update(folder, capsys, monkeypatch):
    for prefix, day in (("adam", 1), ("sgd", 25), ("stopped", 28)):
        marker = run_dir(folder, prefix) / "run.json"
        updated = {"updated_at": f"2025-01-{day:02d}T12:00:00.000Z"}
        marker.write_text(json.dumps({**json.loads(marker.read_text()), **updated}))
    monkeypatch.setattr(runs_delete, "now", lambda: datetime(2025, 1, 31, 12, tzinfo=timezone.utc))
    assert runs("prune", "--older-than", "10", "--yes", folder=folder) == 0
    assert not saves.checkpoint_files(run_dir(folder, "adam"))
    assert saves.checkpoint_files(run_dir(folder, "sgd")) and saves.checkpoint_files(run_dir(folder, "stopped"))
    assert saves.checkpoint_files(run_dir(folder, "spirals"))       # updated now: long after the fake clock's day
    for days, problem in (("-1", "must be a number >= 0 and <= 36500, got '-1'"),
                          ("1e308", "must be a number >= 0 and <= 36500, got '1e308'")):
        with pytest.raises(SystemExit) as exit:
            runs("prune", "--older-than", days, folder=folder)
        assert exit.value.code == 2
        assert f"argument --older-than: {problem}" in capsys.readouterr().err


def test_prune_an_interrupted_run_only_when_asked(folder, capsys):
    assert runs("prune", "--interrupted", "--yes", folder=folder) == 0
    assert not saves.checkpoint_files(run_dir(folder, "cut"))
    capsys.readouterr()
    assert runs("list", "--json", folder=folder) == 0
    cut = next(r for r in map(strict_json, capsys.readouterr().out.splitlines()) if r["name"] == name(folder, "cut"))
    assert (cut["status"], cut["pruned"], cut["resumable"]) == ("interrupted", True, False)


def test_prune_never_touches_a_run_a_live_process_holds(folder, capsys):
    held = run_dir(folder, "adam")
    manager = saves.CheckpointManager(held)
    try:
        assert runs("prune", "--interrupted", "--yes", folder=folder) == 0
        assert f"keeping {held.name}: a live process is training it" in capsys.readouterr().out
        assert saves.checkpoint_files(held) and (held / ".lock").exists()
        with pytest.raises(saves.SaveError, match="a live nnstudio process is training this run"):
            saves.prune_run(held, folder / "runs")
        assert not saves.remove_stale_lock(held, folder / "runs") and (held / ".lock").exists()
    finally:
        manager.finish()


def test_prune_removes_the_lock_files_ended_runs_left(folder, capsys):
    stopped = run_dir(folder, "stopped")           # a stop leaves its lock file (it may be resumed)
    assert (stopped / ".lock").exists() and not (run_dir(folder, "adam") / ".lock").exists()   # finish removes it
    assert runs("prune", "--keep-last", "10", "--yes", folder=folder) == 0
    assert capsys.readouterr().out.splitlines()[-1] == ("Removed 1 lock file an ended run left behind; no checkpoints "
                                                        "were deleted.")
    assert not (stopped / ".lock").exists() and saves.checkpoint_files(stopped)


def test_prune_follows_no_link_out_of_the_runs_folder(folder, tmp_path, capsys):
    outside = shutil.copytree(run_dir(folder, "adam"), tmp_path / "elsewhere" / "a-run")
    (folder / "runs" / "link").symlink_to(outside, target_is_directory=True)
    assert runs("prune", "--yes", folder=folder) == 0
    assert "keeping link: is a symbolic link" in capsys.readouterr().out
    assert saves.checkpoint_files(outside)
    with pytest.raises(saves.SaveError, match="symbolic link"):
        saves.prune_run(folder / "runs" / "link", folder / "runs")


def test_prune_asks_first_or_only_says_what_it_would_do(folder, capsys, monkeypatch):
    assert runs("prune", folder=folder) == 2
    assert "pass --yes (or --dry-run to see what would go)" in capsys.readouterr().err
    assert runs("prune", "--dry-run", folder=folder) == 0
    out = capsys.readouterr().out
    expected = size_text(saves.disk_usage([f for p in ("adam", "sgd", "stopped", "diverged", "spirals", "sine")
                                           for f in saves.checkpoint_files(run_dir(folder, p))]))
    assert f"Pruning would delete the checkpoints (saved weights) of 6 runs, {expected} in all:" in out
    assert f"  {name(folder, 'stopped')} (stopped, still resumable, 1 epoch: " in out   # (what it loses)
    assert "`compare` would still show them, but they could no longer be resumed or forked." in out
    assert "It would also remove 1 lock file an ended run left behind." in out
    assert out.splitlines()[-1] == "Nothing deleted (--dry-run)."
    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    assert runs("prune", folder=folder) == 1
    out = capsys.readouterr().out
    assert f"Delete these checkpoints and free {expected}? [y/N] Nothing deleted." in out
    assert all(saves.checkpoint_files(run_dir(folder, p)) for p in ("adam", "sgd", "stopped", "diverged"))


def test_prune_deletes_the_temp_files_of_writes_a_kill_cut_short(folder, capsys):
    run = run_dir(folder, "adam")
    (run / ".epoch-0003.safetensors.0123abcd.tmp").write_bytes(b"half a checkpoint")
    (run / "notes.txt").write_text("mine")                 # not a file the run wrote: never deleted
    assert runs("show", run.name, folder=folder) == 0
    assert "and 1 unfinished write" in capsys.readouterr().out
    assert runs("prune", "--yes", folder=folder) == 0
    assert sorted(p.name for p in run.iterdir()) == [HISTORY_FILE, "notes.txt", "run.json"]


def test_a_run_older_than_run_histories_is_listed_shown_and_compared_as_far_as_known(folder, capsys):
    from nnstudio.engine import build_model, optim
    model = build_model({"input_shape": [4], "layers": [{"type": "linear", "out": 2}]})
    manager = saves.CheckpointManager(saves.new_run_dir("old", folder))
    manager.save(4, model, optim.SGD(model.parameters(), lr=0.1))
    manager.finish()
    assert runs("list", folder=folder) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if name(folder, "old") in line)
    assert "finished" in line and "-" in line
    assert runs("show", name(folder, "old"), folder=folder) == 0
    out = capsys.readouterr().out
    assert "finished, 4 epochs" in out and "origin: not recorded (the run is older than run histories)" in out
    assert runs("compare", name(folder, "old"), name(folder, "adam"), folder=folder) == 0
    out = capsys.readouterr().out.replace("\n", "")
    assert f"not compared: the settings and figures of {name(folder, 'old')}: it has no history" in out


def test_an_epoch_shorter_than_a_second_keeps_its_figures():
    """A small data set's epochs take hundredths of a second: "0.04s", not "0.0s"."""
    from rich.console import Console

    from nnstudio.tui.cli.saves import _history_table
    console = Console(width=120, record=True)
    console.print(_history_table([{"epoch": 1, "train_loss": 0.5, "seconds": 0.04},
                                  {"epoch": 2, "train_loss": 0.4, "seconds": 12.34}]))
    text = console.export_text()
    assert "0.04s" in text and "12.3s" in text and "0.0s" not in text
