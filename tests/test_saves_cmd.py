"""`nnstudio saves list|show|rm`, driven through the real command line."""

from __future__ import annotations

import io
import json
import struct

import pytest

from nnstudio import saves
from nnstudio.engine import build_model, manual_seed, optim
from nnstudio.engine.presets import preset_spec
from nnstudio.saves import schema
from nnstudio.tui.main import main


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.delenv("NNSTUDIO_SAVES_DIR", raising=False)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """Two saves, a checkpoint and a damaged file."""
    times = iter(["2025-01-01T10:00:00.000Z", "2025-02-01T10:00:00.000Z", "2025-03-01T10:00:00.000Z"])
    monkeypatch.setattr(schema, "utc_now", lambda: next(times))
    manual_seed(0)
    mlp = build_model(preset_spec("mlp"))
    history = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.8 + e / 100, "val_loss": 1.2 / e,
                "val_acc": 0.78 + e / 100, "lr": 0.001, "seconds": 2.5} for e in range(1, 21)]
    saves.save_model(tmp_path / "mnist-mlp.safetensors", mlp, history=history, metrics={"val_acc": 0.98},
                     dataset={"name": "mnist", "normalisation": {"mean": 0.1307, "std": 0.3081}},
                     config={"optimizer": "adam", "lr": 0.001, "batch_size": 64, "seed": 0, "epochs": 20,
                             "lr_schedule": {"type": "cosine", "options": {"T_max": 20}}})   # another tool's
    logreg = build_model(preset_spec("logreg"))
    saves.save_model(tmp_path / "baseline.safetensors", logreg, dataset="fashion-mnist", config={"epochs": 5})
    saves.save_checkpoint(tmp_path / "halfway.safetensors", logreg, optim.SGD(logreg.parameters(), lr=0.1), epoch=3)
    (tmp_path / "damaged.safetensors").write_bytes(b"\x00" * 7)
    return tmp_path


def test_list_shows_each_save_newest_first(folder, capsys):
    assert main(["saves", "list", "--saves-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.index("halfway") < out.index("baseline") < out.index("mnist-mlp")
    assert "mlp 784-128-64-10, 109k params" in out and "logreg 784-10, 7.8k params" in out
    assert "fashion-mnist" in out and "98.00%" in out and "(checkpoint)" in out
    assert "2025-" in out and "kB" in out  # sizes as everywhere (tui.render)
    assert "damaged damaged.safetensors: not a safetensors file: only 7 bytes long" in out


def test_list_of_an_empty_or_missing_folder(tmp_path, capsys):
    assert main(["saves", "list", "--saves-dir", str(tmp_path)]) == 0
    assert "No saves in" in capsys.readouterr().out
    assert main(["saves", "list", "--saves-dir", str(tmp_path / "none")]) == 2   # (a typo is not an empty folder)
    assert f"--saves-dir {tmp_path / 'none'}: no such folder" in capsys.readouterr().err


def test_list_mentions_an_interrupted_run(tmp_path, capsys):
    model = build_model(preset_spec("logreg", input_shape=(4,), classes=2))
    manager = saves.CheckpointManager(saves.new_run_dir("cut-off", tmp_path))
    manager.save(4, model, optim.SGD(model.parameters(), lr=0.1))
    manager.close()
    assert main(["saves", "list", "--saves-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "interrupted run cut-off-" in out and "after epoch 4: resume it with nnstudio train --resume cut-off-" in out


def test_list_names_the_partial_checkpoint_of_a_run_stopped_mid_epoch(tmp_path, capsys):
    model = build_model(preset_spec("logreg", input_shape=(4,), classes=2))
    manager = saves.CheckpointManager(saves.new_run_dir("cut-off", tmp_path))
    manager.save(4, model, optim.SGD(model.parameters(), lr=0.1))
    manager.save_partial(4, model, optim.SGD(model.parameters(), lr=0.1))
    manager.close()
    assert main(["saves", "list", "--saves-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "interrupted run cut-off-" in out and "partway through epoch 5: resume it with" in out


def test_list_calls_a_stopped_run_stopped_where_it_stopped_as_runs_list_does(tmp_path, capsys):
    """A run stopped in its first epoch was "interrupted run ... at epoch 0": it is stopped (the word `runs list`
    uses), after the batch it stopped at, numbered as everywhere else."""
    from nnstudio.engine import events
    from nnstudio.tui.run import Session
    from nnstudio.tui.run.config import RunConfig
    config = RunConfig.from_dict({"data": {"name": "blobs", "size": 200}, "training": {"epochs": 2, "batch_size": 16},
                                  "checkpoints": {"folder": str(tmp_path)}})
    session = Session(config, run_name="early")

    def stop_at_batch_3(event):
        if isinstance(event, events.BatchEnd) and event.batch == 2:
            session.stop()
    session.on_event = stop_at_batch_3
    assert session.run() == "stopped"
    assert main(["saves", "list", "--saves-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert f"stopped run {session.run_dir.name} after batch 3 of epoch 1: resume it with nnstudio train --resume " \
           f"{session.run_dir.name}" in out
    assert "interrupted" not in out and "epoch 0" not in out


def test_list_rejects_a_file_as_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["saves", "list", "--saves-dir", str(tmp_path / "file")]) == 2
    assert f"{tmp_path / 'file'} is a file, not a folder" in capsys.readouterr().err


def test_show_prints_summary_config_metrics_and_history(folder, capsys):
    assert main(["saves", "show", "mnist-mlp", "--saves-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "mnist-mlp" in out and "model, saved 2025-01-01" in out
    assert "preprocessing: mean=0.1307, std=0.3081" in out
    assert "100,480" in out and "109,386 parameters" in out  # the layer table
    assert "batch_size" in out and "type=cosine, options={T_max=20}" in out
    assert "val_acc" in out and "0.98" in out
    assert "train loss" in out and "98.00%" in out and "2.5s" in out and "20 epochs" in out
    assert "..." in out  # 20 epochs are shortened to the start and the end


def test_show_a_checkpoint_by_path(folder, capsys):
    assert main(["saves", "show", str(folder / "halfway.safetensors")]) == 0
    assert "checkpoint after epoch 3: SGD" in capsys.readouterr().out


def test_show_reports_missing_and_damaged_saves(folder, capsys):
    assert main(["saves", "show", "nothing", "--saves-dir", str(folder)]) == 2   # a bad argument
    err = capsys.readouterr().err
    assert err.startswith("nnstudio saves: error: no save named 'nothing'") and err.count("\n") == 1
    assert main(["saves", "show", "damaged", "--saves-dir", str(folder)]) == 1
    assert "not a safetensors file" in capsys.readouterr().err


def test_rm_with_yes_deletes(folder, capsys):
    assert main(["saves", "rm", "baseline", "--saves-dir", str(folder), "--yes"]) == 0
    assert not (folder / "baseline.safetensors").exists()
    assert "Deleted" in capsys.readouterr().out


def test_rm_without_a_terminal_or_yes_refuses(folder, capsys):
    assert main(["saves", "rm", "baseline", "--saves-dir", str(folder)]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert (folder / "baseline.safetensors").exists()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("answer, deleted, status", [("y\n", True, 0), ("yes\n", True, 0), ("\n", False, 1),
                                                     ("n\n", False, 1)])
def test_rm_asks_on_a_terminal(folder, capsys, monkeypatch, answer, deleted, status):
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    assert main(["saves", "rm", "baseline", "--saves-dir", str(folder)]) == status
    assert "Delete" in capsys.readouterr().out
    assert (folder / "baseline.safetensors").exists() != deleted


def test_rm_of_a_missing_save_fails(folder, capsys):
    assert main(["saves", "rm", "nothing", "--saves-dir", str(folder), "--yes"]) == 2
    assert "no save named 'nothing'" in capsys.readouterr().err


def test_the_old_dir_option_still_works_but_only_saves_dir_is_documented(folder, capsys):
    """`--dir` was the saves commands' name for the folder every other command calls --saves-dir."""
    assert main(["saves", "list", "--dir", str(folder)]) == 0
    assert "mnist-mlp" in capsys.readouterr().out
    for action in ("list", "show", "rm"):
        with pytest.raises(SystemExit):
            main(["saves", action, "--help"])
        out = capsys.readouterr().out
        assert "--saves-dir DIR" in out and "--dir" not in out


def test_default_folder_comes_from_the_environment(folder, capsys, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", str(folder))
    assert main(["saves", "list"]) == 0
    assert "mnist-mlp" in capsys.readouterr().out


def test_missing_action_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["saves"])
    assert exited.value.code == 2


# ====================================================================== audit: rm deletes saves only
def test_rm_refuses_a_file_that_is_not_a_save(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("my notes")
    assert main(["saves", "rm", "./notes.txt", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "not deleting notes.txt: not an nnstudio save" in err and err.count("\n") == 1
    assert (tmp_path / "notes.txt").read_text() == "my notes"


def test_rm_refuses_safetensors_files_that_nnstudio_did_not_write(tmp_path, capsys):
    import numpy as np
    from safetensors.numpy import save_file
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(tmp_path / "theirs.safetensors"))
    (tmp_path / "text.safetensors").write_text("plain text with the suffix")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    for name, reason in (("theirs", "without 'nnstudio' metadata"), ("text", "not a safetensors file"),
                         ("empty", "only 0 bytes")):
        assert main(["saves", "rm", name, "--saves-dir", str(tmp_path), "--yes"]) == 1
        err = capsys.readouterr().err
        assert "not an nnstudio save" in err or "not a safetensors file" in err
        assert reason in err and (tmp_path / f"{name}.safetensors").exists()


def test_delete_is_the_one_guarded_way_to_remove_a_save(folder, tmp_path):
    """`saves.delete` (used by `saves rm` and the studio) removes a save and refuses anything else."""
    import numpy as np
    from safetensors.numpy import save_file
    theirs = tmp_path / "theirs.safetensors"
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(theirs))
    with pytest.raises(saves.SaveError, match="not an nnstudio save"):
        saves.delete(theirs)
    assert theirs.exists()
    ours = folder / "baseline.safetensors"
    saves.delete(ours)
    assert not ours.exists()


def test_rm_still_deletes_a_damaged_or_newer_save(folder, capsys):
    """A damaged save of ours (e.g. hand-edited), or one of a newer format, is still one: it can be deleted."""
    raw = (folder / "baseline.safetensors").read_bytes()
    (folder / "edited.safetensors").write_bytes(raw.replace(b'"kind":"model"', b'"kind":"modle"'))
    future = folder / "future.safetensors"
    future.write_bytes(raw.replace(b'"dtype":"F32"', b'"dtype":"X99"'))  # a dtype this version does not know
    edit_document(future, lambda d: d.update(format_version=99))
    assert b"X99" in future.read_bytes()
    for name in ("edited", "future"):
        assert main(["saves", "rm", name, "--saves-dir", str(folder), "--yes"]) == 0
        assert not (folder / f"{name}.safetensors").exists()


# ====================================================================== audit: dates and files that will not load
def edit_document(path, change) -> None:
    """Edit a save's metadata document in place, as a user with a text editor might (the tensors stay as they are)."""
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    document = json.loads(header["__metadata__"]["nnstudio"])
    change(document)
    header["__metadata__"]["nnstudio"] = json.dumps(document)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])


def test_list_and_show_survive_a_date_at_the_edge_of_time(folder, capsys):
    edit_document(folder / "baseline.safetensors", lambda d: d.update(created_at="0001-01-01T00:00:00+14:00"))
    assert main(["saves", "list", "--saves-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "damaged baseline.safetensors: metadata created_at must be a time between the years" in out
    assert "mnist-mlp" in out  # the others still list
    assert main(["saves", "show", "baseline", "--saves-dir", str(folder)]) == 1
    assert "created_at must be a time between the years" in capsys.readouterr().err


def _with_spec_outputs(path, outputs: int) -> None:
    """Make a save's spec claim `outputs` classes while its weights keep theirs."""
    edit_document(path, lambda d: d["model"]["spec"]["layers"][-1].update(out=outputs))


def test_list_marks_a_save_that_will_not_load(folder, capsys):
    _with_spec_outputs(folder / "baseline.safetensors", 5)
    assert main(["saves", "list", "--saves-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "baseline (will not load)" in out and "mnist-mlp (will not load)" not in out
    assert "will not load baseline.safetensors: tensors do not match the model spec" in out
    assert "logreg 784-5" in out  # still listed with what its header says


def test_show_reports_a_save_that_will_not_load(folder, capsys):
    _with_spec_outputs(folder / "baseline.safetensors", 5)
    assert main(["saves", "show", "baseline", "--saves-dir", str(folder)]) == 1
    captured = capsys.readouterr()
    assert "logreg" in captured.out  # the details are still shown
    assert "will not load: tensors do not match the model spec" in captured.err
    assert "0.weight has shape [10, 784], the spec gives [5, 784]" in captured.err
    assert main(["saves", "show", "mnist-mlp", "--saves-dir", str(folder)]) == 0


# ====================================================================== show: the run's settings
def _settings_rows(out: str) -> dict[str, str]:
    """The Settings table of `saves show`, as section -> the text of its row (folded lines joined)."""
    rows: dict[str, str] = {}
    section = None
    for line in out[out.index("Settings"):].splitlines()[1:]:
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if len(cells) != 2:
            if rows:
                break
            continue
        section = cells[0] or section
        rows[section] = (rows.get(section, "") + " " + cells[1]).strip()
    return rows


def test_show_prints_the_settings_the_save_was_trained_with(tmp_path, capsys):
    """Not a placeholder row (`run | data=..., model=..., optimizer=...`): what each setting was, where it applies."""
    from nnstudio.tui.run import RunConfig, Session
    config = RunConfig().replace(**{"data.name": "blobs", "optimizer.name": "sgd", "optimizer.lr": 0.05,
                                    "optimizer.nesterov": True, "schedule.name": "step", "schedule.step_size": 2,
                                    "training.epochs": 1, "training.batch_size": 32, "training.seed": 4,
                                    "checkpoints.folder": str(tmp_path), "checkpoints.every_epoch": False})
    session = Session(config)
    session.run()
    session.save("sgd-run")
    assert main(["saves", "show", "sgd-run", "--saves-dir", str(tmp_path)]) == 0
    rows = _settings_rows(capsys.readouterr().out)
    assert rows["data"] == ("blobs, val_fraction=0.1, standardize=false, size=default (1000), noise=default (0.2), "
                            "classes=default (3)")   # the set's own defaults
    assert rows["model"] == "preset mlp"
    assert rows["optimizer"] == "sgd, lr=0.05, momentum=0.9, nesterov=true, weight_decay=0"   # no Adam betas
    assert rows["schedule"] == "step, step_size=2, gamma=0.1, warmup_epochs=0"
    assert rows["training"].startswith("epochs=1, batch_size=32, seed=4, clip_norm=0, early_stopping=0")
    assert rows["checkpoints"] == "keep_last=3, every_epoch=false"
    assert str(tmp_path) not in rows["checkpoints"]   # the machine's folder is not part of a save


def test_show_reads_the_settings_of_a_save_of_nnstudio_0_1(tmp_path, capsys):
    """0.1 nested the run config under "run", beside summary fields: that was the placeholder row."""
    record = {"run": {"data": {"name": "moons"}, "optimizer": {"name": "rmsprop", "lr": 0.002},
                      "training": {"epochs": 3}},
              "optimizer": "rmsprop", "lr": 0.002, "batch_size": 64, "seed": 0, "epochs": 3}
    saves.save_model(tmp_path / "old.safetensors", build_model(preset_spec("mlp", input_shape=(2,), classes=2)),
                     config=record, dataset="moons")
    assert main(["saves", "show", "old", "--saves-dir", str(tmp_path)]) == 0
    rows = _settings_rows(capsys.readouterr().out)
    assert rows["optimizer"] == "rmsprop, lr=0.002, momentum=0.9, weight_decay=0, eps=1e-08, alpha=0.99"
    assert rows["data"].startswith("moons,") and rows["training"].startswith("epochs=3,")


def test_show_prints_a_config_written_by_another_tool_as_it_is(folder, capsys):
    assert main(["saves", "show", "mnist-mlp", "--saves-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Config (as recorded)" in out and "Settings" not in out
    assert "options={T_max=20}" in out   # nested values are shown, not elided


def test_show_says_a_run_configuration_nnstudio_cannot_read_will_not_load(tmp_path, capsys):
    """`eval`, `predict`, `train --from` and the studio all read a save's run config: one they refuse is said."""
    saves.save_model(tmp_path / "odd.safetensors", build_model(preset_spec("logreg")),
                     config={"optimizer": {"name": "adm"}})
    assert main(["saves", "show", "odd", "--saves-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "Config (as recorded)" in captured.out and "name=adm" in captured.out
    assert "odd.safetensors: will not load: its run configuration is invalid: optimizer.name" in captured.err
