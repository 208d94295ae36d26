"""Ready-made experiments: a training subset of a real data set (so that a network overfits within a minute),
kernel ridge as a kept run that ranks with the networks, the experiments themselves (every trial planned and
checked, flags that would set what they vary refused), and `nnstudio sweep --experiment` end to end."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio import saves
from nnstudio.tui.run.baseline_run import check_baseline, kernel_ridge_run
from nnstudio.tui.run.config import ConfigError, RunConfig
from nnstudio.tui.run.history import read_history
from nnstudio.tui.run.reports import SessionError
from nnstudio.tui.run.runs import list_runs
from nnstudio.tui.run.sweep_folder import Sweep
from nnstudio.tui.run.sweeps import Axis, SweepPlan, Trial
from nnstudio.tui.run.training_data import load_run_dataset, prepare_run_data
from nnstudio.tui.run.trials import TrialTask, run_trial
from test_cli_train import run_cli


# ====================================================================== a training subset of a real data set
def _prepared(**settings):
    config = RunConfig().replace(**{"data.name": "mnist-embedded", **settings})
    return prepare_run_data(config, load_run_dataset(config, lambda event: None))


def test_a_training_subset_trains_on_that_many_rows_drawn_by_the_seed_and_keeps_the_validation_rows():
    whole, subset = _prepared(), _prepared(**{"data.train_size": 300})
    assert len(subset.x_train) == len(subset.y_train) == 300 and len(whole.x_train) == 4500
    np.testing.assert_array_equal(subset.x_val, whole.x_val)                     # the same validation set
    assert set(subset.train_index) <= set(whole.train_index)                     # drawn from the training rows
    np.testing.assert_array_equal(_prepared(**{"data.train_size": 300}).train_index, subset.train_index)
    other = _prepared(**{"data.train_size": 300, "training.seed": 1})
    assert not np.array_equal(other.train_index, subset.train_index)
    assert len(np.unique(subset.y_train)) == 10


def test_a_subset_larger_than_the_training_rows_says_how_many_there_are():
    with pytest.raises(SessionError, match=r"training subset .*9,000 rows .* 4,500 training rows"):
        _prepared(**{"data.train_size": 9000})


def test_a_training_subset_is_for_the_mnist_family_a_synthetic_set_has_its_size():
    with pytest.raises(ConfigError, match=r"data\.train_size: applies only for the MNIST-family .*data\.size"):
        RunConfig().replace(**{"data.name": "spirals", "data.train_size": 100})
    assert RunConfig().replace(**{"data.train_size": 100}).replace(**{"data.name": "moons"}).data.train_size == 0


def test_train_size_flag_trains_a_run_on_the_subset(tmp_path, capsys):
    assert run_cli("train", "--dataset", "mnist-embedded", "--train-size", "200", "--epochs", "1",
                   "--saves-dir", str(tmp_path)) == 0
    run = next(saves.runs_folder(tmp_path).iterdir())
    history = read_history(run)
    assert history.runs[0]["train_size"] == 200 and history.config["data"]["train_size"] == 200
    assert history.epochs[0]["n"] == 200


# ====================================================================== kernel ridge as a kept run
def _spirals(folder, **settings) -> RunConfig:
    return RunConfig().replace(**{"data.name": "spirals", "data.size": 600, "training.epochs": 2,
                                  "checkpoints.folder": str(folder), **settings})


def test_kernel_ridge_is_kept_as_a_finished_run_of_one_epoch_listed_and_ranked_like_a_network(tmp_path):
    told = []
    fitted = kernel_ridge_run(_spirals(tmp_path), {"model": "kernel-ridge", "samples": 300}, on_run=told.append)
    run = list_runs(tmp_path)[0]
    assert told == [fitted.run] == [run.name] and run.name.startswith("spirals-kernel-ridge-")
    assert run.status == "finished" and run.model == "kernel-ridge" and run.epochs_done == 1
    assert run.best == fitted.epoch["val_acc"] > 0.8 and run.task == "classification"
    assert run.history.runs[0]["train_size"] == 300 and run.history.runs[0]["baseline"]["samples"] == 300
    assert run.optimizer is None and "model" not in run.config   # it had no network, optimizer or schedule
    assert run.final["train_acc"] >= 0.8 and run.final["val_loss"] is None and not run.resumable


def test_runs_show_gives_a_kernel_ridge_run_s_settings_as_recorded_not_a_network_s_defaults(tmp_path, capsys):
    fitted = kernel_ridge_run(_spirals(tmp_path), {"model": "kernel-ridge", "samples": 300})
    assert run_cli("runs", "show", fitted.run, "--saves-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "model: kernel-ridge" in out and "size=600" in out and "epochs=1" in out
    assert "optimizer" not in out and "preset" not in out and "batch_size" not in out


def test_a_kernel_ridge_run_on_a_regression_set_has_the_networks_loss_mean_squared_error(tmp_path):
    fitted = kernel_ridge_run(_spirals(tmp_path, **{"data.name": "sine", "data.size": 300}), {"model": "kernel-ridge"})
    assert fitted.epoch["val_acc"] is None and 0 <= fitted.epoch["val_loss"] < 0.05
    assert list_runs(tmp_path)[0].best == fitted.epoch["val_loss"]


def test_a_sweep_trial_can_be_kernel_ridge_and_ranks_with_the_networks(tmp_path):
    config = _spirals(tmp_path).to_dict()
    result = run_trial(TrialTask(3, config, "kernel ridge", baseline={"model": "kernel-ridge", "gamma": 20}))
    assert result.status == "finished" and result.epochs == 1 and result.metric == "val_acc"
    assert result.best == read_history(saves.runs_folder(tmp_path) / result.run).epochs[0]["val_acc"] > 0.8
    bad = run_trial(TrialTask(4, config, "nope", baseline={"model": "kernel-ridge", "alpha": -1}))
    assert bad.status == "failed" and "alpha" in bad.why and bad.run is None


def test_a_baseline_s_settings_are_checked():
    assert check_baseline({"model": "kernel-ridge"}) == {"model": "kernel-ridge", "alpha": 1e-3, "gamma": None,
                                                         "samples": 5000}
    for bad, said in (({"model": "svm"}, "kernel-ridge"), ({"model": "kernel-ridge", "gama": 1}, "gama"),
                      ({"model": "kernel-ridge", "samples": 0}, "samples")):
        with pytest.raises(ValueError, match=said):
            check_baseline(bad)


def test_a_sweep_keeps_its_baseline_trials_and_its_experiment_on_disk(tmp_path):
    base = _spirals(tmp_path)
    plan = SweepPlan(base, [Axis("--model", (), ("mlp", "kernel ridge"))],
                     [Trial(1, {"model.preset": "mlp"}, {"model.preset": "mlp"}),
                      Trial(2, {}, {"model.preset": "kernel ridge"}, {"model": "kernel-ridge", "samples": 100})],
                     experiment="models")
    sweep = Sweep.create(plan, tmp_path)
    assert sweep.name.startswith("models-")
    again = Sweep.open(sweep.name, tmp_path)
    assert again.plan.experiment == "models" and again.plan.trials[1].baseline == {"model": "kernel-ridge",
                                                                                   "samples": 100}
    assert [t.baseline for t in again.tasks()] == [None, {"model": "kernel-ridge", "samples": 100}]
