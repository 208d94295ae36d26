"""The kernel ridge baseline: fitted on the rows a run would train on, reported on its test rows."""

from __future__ import annotations

import json

import pytest

from nnstudio.engine.fields import FieldError
from nnstudio.tui.main import main
from nnstudio.tui.run import RunConfig, Session
from nnstudio.tui.run.baseline import kernel_ridge_baseline


def config(**overrides) -> RunConfig:
    return RunConfig().replace(**{"checkpoints.every_epoch": False, **overrides})


def test_a_classification_set_gets_a_test_accuracy_from_the_runs_own_split():
    run = config(**{"data.name": "spirals", "data.size": 600, "training.seed": 4})
    record = kernel_ridge_baseline(run, samples=200)
    session = Session(run)
    session.prepare()
    assert record["train_available"] == len(session.data.x_train) and record["train_size"] == 200
    assert record["test_size"] == len(session.data.x_test) and record["task"] == "classification"
    assert record["test_acc"] > 0.8 and "test_mse" not in record and record["gamma"] > 0


def test_a_regression_set_gets_a_mean_squared_error():
    record = kernel_ridge_baseline(config(**{"data.name": "sine", "data.size": 400}))
    assert record["task"] == "regression" and record["test_mse"] < 0.05 and "test_acc" not in record
    assert record["train_size"] == record["train_available"]   # fewer rows than asked for: all of them


def test_the_embedded_digits_are_far_above_chance():
    record = kernel_ridge_baseline(config(**{"data.name": "mnist-embedded"}), samples=800)
    assert record["test_acc"] > 0.85


@pytest.mark.parametrize("knobs", [{"alpha": -1.0}, {"gamma": 0.0}, {"samples": 0}, {"samples": 10 ** 6},
                                   {"alpha": True}])
def test_knobs_are_checked_like_every_setting(knobs):
    with pytest.raises(FieldError):
        kernel_ridge_baseline(config(**{"data.name": "blobs"}), **knobs)


@pytest.mark.parametrize("args, message", [
    (["--samples", "0"], "nnstudio baseline: error: --samples: must be a whole number >= 1 and <= 20000, got '0'"),
    (["--alpha", "much"], "nnstudio baseline: error: --alpha: must be a number >= 0, got 'much'"),
    (["--dataset", "spiral"], "did you mean 'spirals'?"),
    (["--data-dir", "nowhere", "--dataset", "mnist"], "nnstudio baseline: error: --data-dir: data.data_dir: nowhere does not exist"),
])
def test_bad_arguments_are_one_line_and_exit_2_or_1(args, message, capsys, tmp_path):
    assert main(["baseline", *args]) in (1, 2)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_json_for_scripts(capsys):
    assert main(["baseline", "--dataset", "moons", "--samples", "300", "--seed", "2", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["dataset"] == "moons" and record["train_size"] == 300 and 0.9 < record["test_acc"] <= 1.0
