"""`nnstudio data import NAME FILE` and `data remove`, and an imported set used like MNIST: a round trip
import -> train -> save -> eval / predict, with class and column names, and the save's standardisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnstudio.datasets import imported_names, load_dataset
from nnstudio.datasets.imported import imported_folder
from nnstudio.tui.run.config import RunConfig

from cli_run import run_cli


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")


def loans_csv(path, rows: int = 400, seed: int = 0):
    """Four features on very different scales (standardising matters); the class follows two of them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4)) * [1, 10, 100, 0.1] + [0, 50, 1000, 0]
    approved = np.where(x[:, 0] + (x[:, 1] - 50) / 10 > 0, "yes", "no")
    lines = ["age,income,debt,score,approved"] + [",".join(f"{v:.4f}" for v in row) + f",{c}"
                                                  for row, c in zip(x, approved)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_says_what_it_made_and_list_shows_it(tmp_path, capsys):
    assert run_cli("data", "import", "loans", str(loans_csv(tmp_path / "loans.csv"))) == 0
    out = capsys.readouterr().out
    assert "loans: imported from" in out and "classification, 2 classes (no, yes) (the target is text" in out
    assert "4 features, 320 train / 80 test rows" in out and "nnstudio train --dataset loans" in out
    assert run_cli("data", "list") == 0
    listed = capsys.readouterr().out
    assert "loans" in listed and "2 classes" in listed and "320 / 80" in listed
    assert run_cli("data", "info", "loans", "--samples", "2") == 0
    info = capsys.readouterr().out
    assert "income" in info and "approved" not in info.split("Feature statistics")[1].split("\n")[2]


def test_bad_files_fail_with_one_line_and_status_1(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,0\n3,x,1\n")
    assert run_cli("data", "import", "bad", str(bad)) == 1
    err = capsys.readouterr().err
    assert err == (f"nnstudio data: error: {bad}, line 3, column 'b': 'x' is not a number; features must be numbers: "
                   f"drop the column (--ignore b) or encode it as numbers (one column per category)\n")
    assert imported_names() == []


@pytest.mark.parametrize("args, fault", [
    (["data", "import", "x", "{tmp}/absent.csv"], "absent.csv does not exist"),
    (["data", "import", "mnist", "{tmp}/loans.csv"], "mnist is a built-in data set: its IDX files import from a folder"),
    (["data", "import", "x", "{tmp}/loans.csv", "--image", "28"], "--image: an image size is HEIGHTxWIDTH"),
    (["data", "import", "x", "{tmp}/loans.csv", "--delimiter", "ab"], "--delimiter must be one character"),
    (["data", "import", "x", "{tmp}", "--target", "y"], "is a folder: a folder imports the IDX files of mnist"),
    (["data", "import", "mnist", "{tmp}", "--target", "y"], "--target apply to a CSV or .npz file"),
    (["data", "remove", "spirals"], "spirals is a built-in data set, not an imported one"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, args, fault):
    loans_csv(tmp_path / "loans.csv", rows=20)
    assert run_cli(*(arg.format(tmp=tmp_path) for arg in args)) == 2
    err = capsys.readouterr().err
    assert fault in err and err.count("\n") == 1


def test_options_reach_the_import(tmp_path, capsys):
    path = tmp_path / "loans.csv"
    loans_csv(path, rows=100)
    assert run_cli("data", "import", "loans", str(path), "--target", "income", "--ignore", "debt,score",
                   "--ignore", "approved", "--test-fraction", "0.5", "--seed", "2") == 0
    out = capsys.readouterr().out
    assert "regression" in out and "1 feature, 50 train / 50 test rows" in out
    assert load_dataset("loans").feature_names == ("age",)
    assert run_cli("data", "import", "loans", str(path)) == 1
    assert "already imported" in capsys.readouterr().err
    assert run_cli("data", "import", "loans", str(path), "--replace", "--task", "classification") == 0
    assert "classification, 2 classes" in capsys.readouterr().out


def test_remove(tmp_path, capsys):
    assert run_cli("data", "import", "loans", str(loans_csv(tmp_path / "loans.csv", rows=30))) == 0
    assert run_cli("data", "remove", "loans") == 0
    assert "loans: removed" in capsys.readouterr().out
    assert not imported_folder("loans").exists()
    assert run_cli("data", "remove", "loans") == 1
    assert "no imported data set named loans" in capsys.readouterr().err


def test_round_trip_import_train_save_eval_predict(tmp_path, capsys):
    saves = tmp_path / "saves"
    assert run_cli("data", "import", "loans", str(loans_csv(tmp_path / "loans.csv"))) == 0
    assert run_cli("train", "--dataset", "loans", "--epochs", "8", "--no-checkpoints", "--saves-dir", str(saves),
                   "--save", "loans-mlp") == 0
    capsys.readouterr()
    assert run_cli("eval", "loans-mlp", "--saves-dir", str(saves), "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["dataset"] == "loans" and record["class_names"] == ["no", "yes"]
    assert record["test_size"] == 80 and record["test_acc"] > 0.9   # (the classes follow the features closely)
    assert run_cli("eval", "loans-mlp", "--saves-dir", str(saves)) == 0
    table = capsys.readouterr().out
    assert "true\\pred" in table and " no " in table and " yes " in table
    assert run_cli("predict", "loans-mlp", "--saves-dir", str(saves), "--count", "3") == 0
    predictions = capsys.readouterr().out
    assert all(column in predictions for column in ("age", "income", "debt", "score"))

    # the save's standardisation is what eval uses: a re-import with other rows changes the statistics measured
    # anew, but not the scores of the saved model on a set it is given
    from nnstudio.tui.run import Session
    session = Session.from_save(saves / "loans-mlp.safetensors")
    saved_mean = session.data.standardizer.mean.copy()
    assert saved_mean.shape == (4,) and abs(saved_mean[2] - 1000) < 30   # per column: debt is around 1000
    assert run_cli("data", "import", "loans", str(loans_csv(tmp_path / "other.csv", seed=9)), "--replace") == 0
    again = Session.from_save(saves / "loans-mlp.safetensors")
    assert np.array_equal(again.data.standardizer.mean, saved_mean)
    fresh = Session(RunConfig().replace(**{"data.name": "loans"}))
    fresh.prepare()
    assert not np.array_equal(fresh.data.standardizer.mean, saved_mean)


def test_a_save_of_a_set_not_on_this_machine_says_how_to_get_it(tmp_path, capsys):
    saves = tmp_path / "saves"
    assert run_cli("data", "import", "loans", str(loans_csv(tmp_path / "loans.csv", rows=60))) == 0
    assert run_cli("train", "--dataset", "loans", "--epochs", "1", "--no-checkpoints", "--saves-dir", str(saves),
                   "--save", "gone") == 0
    assert run_cli("data", "remove", "loans") == 0
    capsys.readouterr()
    assert run_cli("eval", "gone", "--saves-dir", str(saves)) != 0
    err = capsys.readouterr().err
    assert "it was trained on loans, a data set that is not on this machine" in err
    assert "nnstudio data import loans FILE (.csv or .npz)" in err and err.count("\n") == 1


def test_the_config_accepts_an_imported_name_only_once_imported(tmp_path):
    with pytest.raises(ValueError, match="got 'loans' .did you mean 'moons'..; or import your own data under that "
                                         "name: nnstudio data import loans FILE \\(.csv or .npz\\)"):
        RunConfig().replace(**{"data.name": "loans"})
    assert run_cli("data", "import", "loans", str(loans_csv(tmp_path / "loans.csv", rows=30))) == 0
    config = RunConfig().replace(**{"data.name": "loans", "data.train_size": 10})   # (read from a file: applies)
    assert config.data.name == "loans"
    with pytest.raises(ValueError, match="spirls.*did you mean 'spirals'"):
        RunConfig().replace(**{"data.name": "spirls"})
