"""Hostile saves made from real ones: a quick run's model save and checkpoint, edited as a text editor or a damaged
disk might leave them. Every view says the same thing about each, in one line: `saves list` marks it, `saves show`
says why and exits 1, `eval`, `predict` and `train --resume` refuse it with that reason (exit 1), and the studio
marks it and will not open it; no NumPy warning reaches the user (issue 12, item 7)."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import DataTable

from hostile_saves import edit_document, fill_tensors
from nnstudio import saves
from nnstudio.tui.main import main
from nnstudio.tui.run import RunConfig, Session
from nnstudio.tui.studio.saves_pane import SavesPane
from studio_host import PaneHost
from test_studio_app import wait_for


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> dict[str, Path]:
    """A model save and a checkpoint of a real two-epoch run on blobs, in a folder of their own."""
    folder = tmp_path_factory.mktemp("real")
    config = RunConfig.from_dict({"data": {"name": "blobs", "size": 300}, "training": {"epochs": 2, "batch_size": 32},
                                  "checkpoints": {"folder": str(folder)}})
    session = Session(config)
    assert session.run() == "finished"
    return {"model": session.save("model"), "checkpoint": session.run_dir / "epoch-0002.safetensors"}


def hostile(real, tmp_path, name: str, source: str, change=None, fill: tuple | None = None) -> Path:
    """A copy of a real save in a fresh folder, its document changed by `change` or its tensors filled."""
    folder = tmp_path / "hostile"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}{saves.SUFFIX}"
    shutil.copyfile(real[source], path)
    if change is not None:
        edit_document(path, change)
    if fill is not None:
        fill_tensors(path, *fill)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """A command's exit status, stdout and stderr, with every warning it raises turned into a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            status = main(list(argv))
        except SystemExit as exit:
            status = exit.code
    out, err = capsys.readouterr()
    assert "Warning" not in err, err
    return status, out, err


def refused_by_every_command(capsys, path: Path, reason: str, *, listed_as: str) -> None:
    """`list` marks it (as `listed_as`: "will not load" or "damaged") with `reason`; `show`, `eval` and `predict`
    refuse it with that reason, in one line on stderr, exit 1."""
    status, out, _ = run(capsys, "saves", "list", "--saves-dir", str(path.parent))
    assert status == 0
    [line] = [line for line in out.splitlines() if line.startswith(f"{listed_as} {path.name}: ")]
    assert reason in line
    shown_reason = line.split(": ", 1)[1]
    if listed_as == "will not load":
        assert re.search(rf"│ {re.escape(path.stem)} (\(checkpoint\) )?\(will not load\)", out), out
    status, _, err = run(capsys, "saves", "show", str(path))
    assert status == 1 and err.count("\n") == 1 and err.startswith("nnstudio saves: error: ")
    assert shown_reason in err
    for command in ("eval", "predict"):
        status, out, err = run(capsys, command, str(path))
        assert (status, out) == (1, ""), err
        assert err.count("\n") == 1 and err.startswith(f"nnstudio {command}: error: {path}: ")
        assert shown_reason in err   # one reason, the same everywhere


# ====================================================================== settings that eval refuses
@pytest.mark.parametrize("name, source, change, reason", [
    ("lr", "model", lambda d: d["config"]["optimizer"].update(lr=-1e300),
     "its run configuration is invalid: optimizer.lr: must be a number >= 0, got -1e+300"),
    ("batch", "model", lambda d: d["config"]["training"].update(batch_size=0),
     "its run configuration is invalid: training.batch_size: must be a whole number >= 1, got 0"),
    ("betas", "checkpoint", lambda d: d["checkpoint"]["optimizer"]["hyper"].update(betas="x"),
     "checkpoint optimizer state is invalid: betas must be a pair (beta1, beta2), got 'x'"),
    ("schedule", "checkpoint", lambda d: d["checkpoint"]["scheduler"].update(T_max=0),
     "checkpoint schedule state is invalid"),
])
def test_settings_that_opening_refuses_are_marked_will_not_load(real, tmp_path, capsys, name, source, change, reason):
    path = hostile(real, tmp_path, name, source, change)
    refused_by_every_command(capsys, path, reason, listed_as="will not load")


# ====================================================================== numbers that make no sense
@pytest.mark.parametrize("name, source, change, reason", [
    ("epoch", "checkpoint", lambda d: d["checkpoint"].update(epoch=1_000_000_000),
     "checkpoint.epoch is 1000000000, but its history ends at epoch 2"),
    ("elapsed", "checkpoint", lambda d: d["checkpoint"]["data_state"]["trainer"].update(elapsed=-1e308),
     "checkpoint.data_state.trainer.elapsed must be a number >= 0, got -1e+308"),
    ("trainer-epoch", "checkpoint", lambda d: d["checkpoint"]["data_state"]["trainer"].update(epoch=1_000_000_000),
     "says 0 epochs before this run and 1000000000 in it, but checkpoint.epoch is 2"),
    ("history", "model", lambda d: d["history"][1].update(elapsed=-1e308),
     "history[1].elapsed must be a number >= 0 or null, got -1e+308"),
    ("accuracy", "model", lambda d: d["metrics"].update(best_val_acc=42), "metrics.best_val_acc must be a number"),
])
def test_fields_that_contradict_or_make_no_sense_are_refused(real, tmp_path, capsys, name, source, change, reason):
    path = hostile(real, tmp_path, name, source, change)
    refused_by_every_command(capsys, path, reason, listed_as="damaged")


def test_resuming_from_a_checkpoint_with_an_absurd_epoch_says_why(real, tmp_path, capsys):
    """It used to resume "after epoch 1000000000" (and ask for --epochs 1000000001)."""
    path = hostile(real, tmp_path, "absurd", "checkpoint", lambda d: d["checkpoint"].update(epoch=1_000_000_000))
    status, _, err = run(capsys, "train", "--resume", str(path), "--epochs", "3", "--saves-dir", str(tmp_path / "s"))
    assert status == 1 and err.count("\n") == 1
    assert "checkpoint.epoch is 1000000000, but its history ends at epoch 2" in err


# ====================================================================== weights that are not finite
@pytest.mark.parametrize("name, fill, reason", [
    ("nan", (float("nan"),), "its weights are not finite: 6 of 6 tensors (0.weight, 0.bias, 3.weight, and 3 more) "
                             "hold NaN or infinite values"),
    ("inf", (float("inf"),), "its weights are not finite: 6 of 6 tensors"),
    ("one", (float("-inf"), ["3.bias"]), "its weights are not finite: 1 of 6 tensors (3.bias) holds NaN or infinite"),
])
def test_weights_that_are_not_finite_are_refused_in_one_line(real, tmp_path, capsys, name, fill, reason):
    """All-NaN weights evaluated with exit 0, all-infinite ones printed NumPy's RuntimeWarning."""
    path = hostile(real, tmp_path, name, "model", fill=fill)
    refused_by_every_command(capsys, path, reason, listed_as="will not load")
    checkpoint = hostile(real, tmp_path, f"{name}-checkpoint", "checkpoint", fill=fill)
    status, _, err = run(capsys, "train", "--resume", str(checkpoint), "--epochs", "3",
                         "--saves-dir", str(tmp_path / "s"))
    assert status == 1 and err.count("\n") == 1 and reason in err


def test_weights_so_large_that_the_outputs_overflow_are_refused_without_numpy_warnings(real, tmp_path, capsys):
    path = hostile(real, tmp_path, "huge", "model", fill=(3e38,))
    for command in ("eval", "predict"):
        status, out, err = run(capsys, command, str(path))
        assert (status, out) == (1, "")
        assert err == (f"nnstudio {command}: error: {path}: its outputs are not finite numbers: its weights are so "
                       f"large that the arithmetic overflows; retrain it, or open an earlier checkpoint\n")


def test_weights_that_are_not_finite_are_never_written(real, tmp_path):
    loaded = saves.load(real["model"])
    loaded.model.parameters()[0].data[0, 0] = np.nan
    with pytest.raises(saves.SaveError, match=r"cannot save weights that are not finite: 1 of 6 tensors \(0.weight\)"):
        saves.save_model(tmp_path / "nan.safetensors", loaded.model)
    assert not (tmp_path / "nan.safetensors").exists()


# ====================================================================== the studio
async def test_the_studio_marks_them_and_will_not_open_them(real, tmp_path):
    folder = hostile(real, tmp_path, "nan", "model", fill=(float("nan"),)).parent
    hostile(real, tmp_path, "lr", "model", lambda d: d["config"]["optimizer"].update(lr=-1e300))
    shutil.copyfile(real["model"], folder / "good.safetensors")
    app = PaneHost(SavesPane(folder))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.query_one("#saves", DataTable)
        rows = {str(table.get_row_at(i)[0]): " ".join(map(str, table.get_row_at(i))) for i in range(table.row_count)}
        assert "will not load" in rows["nan"] and "will not load" in rows["lr"]
        assert "will not load" not in rows["good"]
        pane = app.query_one(SavesPane)
        notified = []
        pane.notify = lambda message, **options: notified.append(str(message))
        table.move_cursor(row=list(rows).index("nan"), animate=False)
        await pilot.pause()
        assert "✗ will not load: its weights are not finite: 6 of 6 tensors" in str(pane.query_one("#saves-detail").render())
        await pilot.press("l")
        assert notified == ["nan cannot be loaded: its weights are not finite: 6 of 6 tensors (0.weight, 0.bias, "
                            "3.weight, and 3 more) hold NaN or infinite values; retrain it, or open an earlier checkpoint"]


async def test_the_studio_says_why_it_cannot_open_one_named_on_the_command_line(real, tmp_path):
    """`nnstudio studio SAVE` on weights that are not finite: one notification with the reason; nothing opens."""
    from nnstudio.tui.studio.launch import create_app

    path = hostile(real, tmp_path, "inf", "model", fill=(float("inf"),))
    app = create_app(config=RunConfig.from_dict({"data": {"name": "blobs", "size": 300}}), saves_dir=tmp_path / "s",
                     open_path=path, offer_resume=False)
    notified = []
    notify = app.notify
    app.notify = lambda message, **options: (notified.append((str(message), options.get("severity"))),
                                             notify(message, **options))[1]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: any(severity == "error" for _, severity in notified), "the open to fail")
        errors = [message for message, severity in notified if severity == "error"]
        assert errors == [f"{path}: its weights are not finite: 6 of 6 tensors (0.weight, 0.bias, 3.weight, and 3 "
                          f"more) hold NaN or infinite values; retrain it, or open an earlier checkpoint"]
        assert app.runner.session is None or app.runner.session.history == []


async def test_the_studio_will_not_open_a_model_whose_outputs_overflow(real, tmp_path):
    """Finite weights of 3e38: the predictions pane showed "nan%" for every sample."""
    from nnstudio.tui.studio.launch import create_app

    path = hostile(real, tmp_path, "huge", "model", fill=(3e38,))
    app = create_app(config=RunConfig.from_dict({"data": {"name": "blobs", "size": 300}}), saves_dir=tmp_path / "s",
                     open_path=path, offer_resume=False)
    notified = []
    notify = app.notify
    app.notify = lambda message, **options: (notified.append((str(message), options.get("severity"))),
                                             notify(message, **options))[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: any(severity == "error" for _, severity in notified), "the open to fail")
    assert [message for message, severity in notified if severity == "error"] == [
        f"{path}: its outputs are not finite numbers: its weights are so large that the arithmetic overflows; "
        f"retrain it, or open an earlier checkpoint"]
