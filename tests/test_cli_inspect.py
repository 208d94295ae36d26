"""`nnstudio inspect SAVE|RUN`: every view drawn and as JSON on saves of quick runs, a run by name, every bad
input as one line, and the drawing kept to the size asked for (plain characters when piped)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.text import Text

from nnstudio import saves
from nnstudio.engine.presets import autoencoder
from nnstudio.engine.tensor import Tensor
from nnstudio.tui.render.inside_plane import thumbnails

from test_cli_train import child_env, nnstudio, run_cli


@pytest.fixture(scope="module")
def saves_dir(tmp_path_factory) -> Path:
    """Saves of quick `nnstudio train` runs: a 2-D classifier (with its run folder), a regressor, a digit
    classifier and an autoencoder with a 2-D code."""
    folder = tmp_path_factory.mktemp("saves")
    spec = folder.parent / "ae2.json"
    spec.write_text(json.dumps(autoencoder(bottleneck=2)))
    runs = {
        "sp": ["--dataset", "spirals", "--epochs", "2"],
        "sine": ["--dataset", "sine", "--epochs", "1", "--no-checkpoints"],
        "digits": ["--dataset", "mnist-embedded", "--epochs", "1", "--no-checkpoints"],
        "ae2": ["--dataset", "mnist-embedded", "--model", str(spec), "--epochs", "1", "--no-checkpoints"],
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NNSTUDIO_OFFLINE", "1")
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for name, args in runs.items():
                assert run_cli("train", *args, "--saves-dir", str(folder), "--save", name) == 0
    return folder


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("NNSTUDIO_OFFLINE", "1")


def the_run(folder: Path) -> Path:
    (run_dir,) = saves.runs_folder(folder).iterdir()
    return run_dir


def inspect(saves_dir: Path, capsys, *args: str, status: int = 0) -> list[str]:
    """The lines `nnstudio inspect` prints (run in this process: stdout is no terminal), checking its status."""
    assert run_cli("inspect", *args, "--saves-dir", str(saves_dir)) == status
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out.splitlines()


def inspect_json(saves_dir: Path, capsys, *args: str, status: int = 0) -> dict:
    lines = inspect(saves_dir, capsys, *args, "--json", status=status)
    assert len(lines) == 1
    return json.loads(lines[0])


def error_line(saves_dir: Path | None, capsys, *args: str, status: int = 2) -> str:
    """The one line on stderr of a refused `inspect`, which prints nothing on stdout."""
    extra = ["--saves-dir", str(saves_dir)] if saves_dir is not None else []
    assert run_cli("inspect", *args, *extra) == status
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnstudio inspect: error: "), captured.err
    return lines[0]


# ---------------------------------------------------------------------------------------- each view

@pytest.mark.parametrize("save, args, title", [
    ("sp", ["--view", "boundary"], "Decision boundary · training points"),
    ("sp", ["--view", "boundary", "--test"], "Decision boundary · test points"),
    ("sine", ["--view", "boundary"], "Fit · training points"),
    ("sp", ["--view", "neurons", "--layer", "2"], "Neurons · layer 2/3 linear 128→64, after relu"),
    ("digits", ["--view", "weights"], "Weights · layer 1 linear 784→128 · units 1-"),
    ("sp", ["--view", "distributions", "--layer", "3"], "Distributions · layer 3/3 linear 64→3"),
    ("sp", ["--view", "gradient-flow"], "Gradient flow · epoch 2"),
    ("ae2", ["--view", "latent"], "Latent space · 1000 test examples at their 2-D codes"),
    ("ae2", ["--view", "latent", "--walk"], "Latent walk ·"),
    ("digits", ["--view", "confusion", "--cell", "5,8"], "Confusion · test accuracy"),
    ("sp", ["--view", "gradcheck"], "Gradient check · 4 training examples"),
])
def test_each_view_is_drawn_under_a_line_naming_the_save(saves_dir, capsys, save, args, title):
    lines = inspect(saves_dir, capsys, save, *args, "--width", "100", "--height", "30")
    model = {"sp": "mlp 2-128-64-3", "sine": "mlp 1-", "digits": "mlp 784-128-64-10", "ae2": "autoencoder 784-128-2-"}
    assert lines[0].startswith(f"{save} · {model[save]}") and "epoch" in lines[0] and "trained" in lines[0]
    assert lines[1].startswith(title)
    assert len(lines) > 4


def test_the_views_numbers_as_json_follow_the_options(saves_dir, capsys):
    boundary = inspect_json(saves_dir, capsys, "sp", "--width", "64", "--height", "20")
    assert boundary["save"] == str(saves_dir / "sp.safetensors") and boundary["view"] == "boundary"
    assert boundary["model"].startswith("mlp 2-128-64-3") and boundary["dataset"] == "spirals"
    assert boundary["epochs_trained"] == 2
    # the plane's grid is what fits: every column, and the lines the header, title and legend leave
    assert (boundary["cols"], boundary["rows"]) == (64, 20 - 3)
    assert np.asarray(boundary["predicted"]).shape == (17, 64)

    neurons = inspect_json(saves_dir, capsys, "sp", "--view", "neurons", "--layer", "2")
    assert (neurons["layer"], neurons["units"], neurons["activation"]) == (2, 64, "relu")

    distributions = inspect_json(saves_dir, capsys, "sp", "--view", "distributions", "--layer", "3")
    assert distributions["layer"] == 3 and distributions["epochs"] == [1, 2]
    assert set(distributions["histograms"]) >= {"weight", "bias", "activation"}

    flow = inspect_json(saves_dir, capsys, "sp", "--view", "gradient-flow")
    assert flow["epochs"] == [1, 2] and len(flow["grad_norms"]) == 3 and len(flow["verdicts"]) == 3

    confusion = inspect_json(saves_dir, capsys, "digits", "--view", "confusion", "--cell", "5,8")
    matrix = np.asarray(confusion["matrix"])
    assert confusion["cell"] == [5, 8] and confusion["count"] == matrix[5, 8] == len(confusion["examples"])

    weights = inspect_json(saves_dir, capsys, "digits", "--view", "weights")
    assert (weights["units"], weights["height"], weights["width"]) == (128, 28, 28)

    latent = inspect_json(saves_dir, capsys, "ae2", "--view", "latent")
    assert np.asarray(latent["codes"]).shape == (latent["points"], 2)

    check = inspect_json(saves_dir, capsys, "sp", "--view", "gradcheck")
    assert check["passed"] is True and [layer["passed"] for layer in check["layers"]] == [True] * 3


@pytest.mark.parametrize("save, view", [("sp", "boundary"), ("sine", "boundary"), ("digits", "weights"),
                                        ("ae2", "latent")])
def test_without_view_the_first_that_applies_is_shown(saves_dir, capsys, save, view):
    assert inspect_json(saves_dir, capsys, save)["view"] == view


def test_page_chooses_the_pictures_shown(saves_dir, capsys):
    first = inspect(saves_dir, capsys, "digits", "--view", "weights", "--width", "130", "--height", "20")
    second = inspect(saves_dir, capsys, "digits", "--view", "weights", "--page", "2", "--width", "130",
                     "--height", "20")
    assert "page 1/" in first[1] and "page 2/" in second[1] and first[2:-1] != second[2:-1]


def test_a_broken_backward_fails_the_gradient_check_with_exit_status_1(saves_dir, capsys, monkeypatch):
    def relu(self):   # a ReLU whose backward pass disagrees with its forward pass
        x = self.data
        return Tensor._make(np.maximum(x, 0), (self,), lambda g: (g * (x > 0) * 1.5,))

    monkeypatch.setattr(Tensor, "relu", relu)
    lines = inspect(saves_dir, capsys, "sp", "--view", "gradcheck", status=1)
    assert any(line.startswith("FAILED in 1 linear 2→128") for line in lines)
    check = inspect_json(saves_dir, capsys, "sp", "--view", "gradcheck", status=1)
    assert check["passed"] is False and check["layers"][0]["passed"] is False


# ---------------------------------------------------------------------------------------- runs

def test_a_run_is_read_at_its_latest_checkpoint_by_name_part_or_folder(saves_dir, capsys):
    run_dir = the_run(saves_dir)
    for name in (run_dir.name, run_dir.name.split("-")[-1], str(run_dir)):
        found = inspect_json(saves_dir, capsys, name, "--view", "gradient-flow")
        assert (found["run"], found["run_dir"]) == (run_dir.name, str(run_dir))
        assert found["checkpoint"] == str(run_dir / "epoch-0002.safetensors")
        assert found["epochs_trained"] == 2 and found["epochs"] == [1, 2]   # (the view's own "epochs" kept)
    lines = inspect(saves_dir, capsys, run_dir.name, "--width", "80", "--height", "10")
    assert lines[0].startswith(f"run {run_dir.name} at epoch 2 · mlp 2-128-64-3")


def test_a_save_wins_over_a_run_of_the_same_name(saves_dir, tmp_path, capsys):
    run_dir = the_run(saves_dir)
    shutil.copytree(run_dir, tmp_path / "runs" / run_dir.name)
    shutil.copy(saves_dir / "digits.safetensors", tmp_path / f"{run_dir.name}.safetensors")
    found = inspect_json(tmp_path, capsys, run_dir.name)
    assert "run" not in found and found["save"] == str(tmp_path / f"{run_dir.name}.safetensors")


def test_a_run_training_in_another_process_can_be_inspected(saves_dir, tmp_path, capsys):
    copy = tmp_path / "runs" / the_run(saves_dir).name
    shutil.copytree(the_run(saves_dir), copy)
    holder = saves.CheckpointManager(copy)   # another process training it: its lock is held
    try:
        assert inspect_json(tmp_path, capsys, copy.name, "--view", "distributions")["epochs"] == [1, 2]
    finally:
        holder.close()


def test_a_pruned_run_says_it_has_no_model_left(saves_dir, tmp_path, capsys):
    copy = tmp_path / "runs" / the_run(saves_dir).name
    shutil.copytree(the_run(saves_dir), copy)
    with contextlib.redirect_stdout(io.StringIO()):
        assert run_cli("runs", "prune", copy.name, "--yes", "--saves-dir", str(tmp_path)) == 0
    line = error_line(tmp_path, capsys, copy.name, status=1)
    assert line == (f"nnstudio inspect: error: {copy.name} was pruned: `nnstudio runs prune` deleted its checkpoints "
                    f"and kept its history (`nnstudio runs show {copy.name}`), so there is no model left to look inside")


# ---------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("args, expected", [
    (["sp", "--view", "bogus"], "argument --view: invalid choice: 'bogus' (choose from 'boundary', 'neurons', "
                                "'weights', 'distributions', 'gradient-flow', 'latent', 'confusion', 'gradcheck')"),
    (["sp", "--view", "neurons", "--layer", "9"], "layer 9 is out of range: this model has weight layers 1 to 3 "
                                                  "(linear 2→128, linear 128→64, linear 64→3)"),
    (["sp", "--view", "distributions", "--layer", "0"], "layer 0 is out of range: this model has weight layers 1 to 3"),
    (["sp", "--view", "weights"], "weights as images need image inputs (mnist, fashion-mnist); spirals has 2 features"),
    (["digits", "--view", "boundary"], "a decision boundary needs a data set of 2 input features"),
    (["digits", "--view", "latent"], "the latent view needs an autoencoder"),
    (["ae2", "--view", "confusion"], "the confusion matrix needs a classifier; this model does reconstruction"),
    (["sp", "--view", "confusion", "--cell", "3,0"], "cell 3,0 is out of range: classes are 0 to 2"),
    (["sp", "--view", "confusion", "--cell", "1"], "argument --cell: a cell is two class numbers T,P"),
    (["sp", "--layer", "2"], "--layer goes with --view neurons or distributions, not with the boundary view"),
    (["sp", "--view", "gradcheck", "--walk"], "--walk goes with --view latent, not with the gradcheck view"),
    (["sp", "--width", "5"], "argument --width: must be a whole number >= 20"),
    (["sp", "--page", "0"], "argument --page: must be a whole number >= 1"),
    (["nothing"], "no save named 'nothing' in {saves} (`nnstudio saves list` shows them), and no run named 'nothing' "
                  "in {saves}/runs"),
    (["no/such/file.safetensors"], "no/such/file.safetensors: no such save file or run folder"),
    (["{saves}/runs"], "{saves}/runs is a folder, not a save; name one of the saves in it"),
])
def test_bad_input_is_one_line_with_exit_status_2(saves_dir, capsys, args, expected):
    args = [arg.replace("{saves}", str(saves_dir)) for arg in args]
    line = error_line(saves_dir, capsys, *args)
    assert line.startswith(f"nnstudio inspect: error: {expected.replace('{saves}', str(saves_dir))}")


def test_a_saves_folder_that_is_not_there_is_refused(tmp_path, capsys):
    line = error_line(None, capsys, "sp", "--saves-dir", str(tmp_path / "nowhere"))
    assert "--saves-dir" in line and "no such folder" in line


# ---------------------------------------------------------------------------------------- the terminal

@pytest.mark.parametrize("save, view", [("sp", "boundary"), ("sp", "neurons"), ("sp", "distributions"),
                                        ("sp", "gradient-flow"), ("sp", "gradcheck"), ("sine", "boundary"),
                                        ("digits", "weights"), ("digits", "confusion"), ("ae2", "latent")])
@pytest.mark.parametrize("width, height", [(20, 5), (50, 15), (137, 41)])
def test_the_drawing_keeps_to_the_width_and_height(saves_dir, capsys, save, view, width, height):
    lines = inspect(saves_dir, capsys, save, "--view", view, "--width", str(width), "--height", str(height))
    assert 2 <= len(lines) <= height
    assert max(Text(line).cell_len for line in lines) <= width


def test_piped_output_is_plain_characters_in_the_piped_size(saves_dir, tmp_path):
    done = nnstudio(tmp_path, "inspect", "sp", "--saves-dir", str(saves_dir))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "\x1b" not in done.stdout and len(lines) == 30 and max(len(line) for line in lines) == 100
    plane = set("".join(lines[2:-1]))   # each class region drawn with its own marks, not colours
    assert lines[1].startswith("Decision boundary") and plane <= set(".:-='\"012 ") and len(plane - set("012 ")) >= 4
    forced = subprocess.run([sys.executable, "-m", "nnstudio.tui", "inspect", "sp", "--saves-dir", str(saves_dir)],
                            cwd=tmp_path, env={**child_env(tmp_path), "FORCE_COLOR": "1"}, capture_output=True,
                            text=True, timeout=120)
    assert forced.returncode == 0 and "\x1b[" in forced.stdout   # (colours, where Rich sees a terminal)


def test_a_full_row_of_small_pictures_is_exactly_as_wide_as_the_space():
    """Pictures 6 columns wide with a space between: 13 of them fill 90 columns, none cut by an ellipsis."""
    maps = [np.full((3, 6), 0.5 + 0.04 * i) for i in range(13)]
    lines, shown = thumbnails(maps, [str(i + 1) for i in range(13)], 90, 4, True, signed=True)
    assert shown == 13 and [line.cell_len for line in lines[:3]] == [90] * 3
    assert lines[3].plain.split() == [str(i + 1) for i in range(13)] and lines[3].cell_len <= 90


def test_a_terminal_that_cannot_show_unicode_gets_ascii_stand_ins_not_question_marks(saves_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "nnstudio.tui", "inspect", "sp", "--saves-dir", str(saves_dir),
                           "--view", "distributions", "--width", "70", "--height", "14"], cwd=tmp_path,
                          env={**child_env(tmp_path), "PYTHONIOENCODING": "ascii"}, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("ascii")
    assert "?" not in text and "weights" in text and "Distributions . layer 1/3" in text


def test_an_empty_name_is_one_line(saves_dir, capsys):
    assert run_cli("inspect", "", "--saves-dir", str(saves_dir)) == 2
    err = capsys.readouterr().err
    assert "SAVE|RUN is empty" in err and len(err.strip().splitlines()) == 1
