"""Ready-made experiments: a training subset of a real data set (so that a network overfits within a minute),
kernel ridge as a kept run that ranks with the networks, the experiments themselves (every trial planned and
checked, flags that would set what they vary refused), and `nnstudio sweep --experiment` end to end."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio import saves
from nnstudio.tui.run.arguments import FLAGS_BY_OPTION, UsageError
from nnstudio.tui.run.baseline_run import check_baseline, kernel_ridge_run
from nnstudio.tui.run.config import ConfigError, RunConfig
from nnstudio.tui.run.experiments import EXPERIMENTS, FIGURES, experiment
from nnstudio.tui.run.fitting import data_shape_of, fit_problem
from nnstudio.tui.run.history import read_history
from nnstudio.tui.run.reports import SessionError
from nnstudio.tui.run.runs import list_runs
from nnstudio.tui.run.sweep_folder import Sweep
from nnstudio.tui.run.sweeps import Axis, SweepPlan, Trial
from nnstudio.tui.run.training_data import load_run_dataset, prepare_run_data
from nnstudio.tui.run.trials import TrialTask, run_trial
from test_cli_train import json_lines, run_cli


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
    with pytest.raises(ConfigError, match=r"data\.train_size: applies only for data sets read from files .*data\.size"):
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
    from nnstudio.tui.studio.runs_table import optimizer_text
    assert optimizer_text(run) == "—"   # (in the Runs pane: no optimizer, not an unknown one)


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


# ====================================================================== the experiments
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_experiment_plans_checked_trials_that_fit_its_data_and_says_what_it_teaches(name):
    exp = EXPERIMENTS[name]
    assert exp.title and exp.lesson and exp.look_at and exp.reading and set(exp.figures) <= set(FIGURES)
    plan = exp.plan(exp.base_config())
    assert plan.experiment == name and len(plan.trials) == len(exp.variants) >= 3
    assert [a.option for a in plan.axes] == list(exp.options) and all(o in FLAGS_BY_OPTION or o == "--model"
                                                                      for o in exp.options)
    labels = [trial.label for trial in plan.trials]
    assert len(set(labels)) == len(labels) and all(labels)
    shape = data_shape_of(plan.base)
    for trial in plan.trials:
        config = RunConfig.from_dict(plan.config(trial).to_dict())   # every trial's config, checked again
        if trial.baseline is not None:
            assert check_baseline(trial.baseline)
        elif config.model.spec is not None:
            assert fit_problem(config.model.spec, shape) is None
    assert exp.varied and not exp.varied & {"training.epochs", "data.data_dir", "training.seed"}


@pytest.mark.parametrize("name", [n for n, e in EXPERIMENTS.items() if e.base_config().data.name == "mnist"])
def test_every_mnist_experiment_trains_on_the_embedded_digits_when_mnist_is_missing(name):
    """Offline without MNIST the embedded digits stand in: 4,500 training rows once validation is held out."""
    plan = EXPERIMENTS[name].plan(EXPERIMENTS[name].base_config())
    assert max(plan.config(t).data.train_size for t in plan.trials) <= len(_prepared().x_train)


def test_flags_change_what_the_trials_share_and_not_what_they_vary():
    optimizers, models = EXPERIMENTS["optimizers"], EXPERIMENTS["models"]
    assert [optimizers.refused([flag]) for flag in ("--lr", "--optimizer", "--momentum")] == ["--lr", "--optimizer",
                                                                                              "--momentum"]
    assert optimizers.refused(["--epochs", "--data-dir", "--dataset", "--seed", "--model", "--train-size"]) is None
    assert models.refused(["--epochs", "--lr"]) is None and models.refused(["--model"]) == "--model"
    assert EXPERIMENTS["depth"].refused(["--model"]) == "--model"
    assert EXPERIMENTS["overfitting"].refused(["--train-size"]) == "--train-size"


def test_an_experiment_s_model_specs_follow_the_data_set_it_is_given():
    depth = EXPERIMENTS["depth"]
    plan = depth.plan(depth.base_config().replace(**{"data.name": "spirals"}))
    spec = plan.config(plan.trials[1]).model.spec
    assert spec["input_shape"] == [2] and spec["layers"][-1]["out"] == 3 and plan.config(plan.trials[1]).data.train_size == 0


def test_experiment_names_are_looked_up_and_a_wrong_one_lists_them():
    assert experiment("depth") is EXPERIMENTS["depth"]
    with pytest.raises(UsageError) as raised:
        experiment("optimiser")
    said = str(raised.value)
    assert "did you mean 'optimizers'" in said and all(name in said for name in EXPERIMENTS) and "\n" not in said


def test_the_lesson_figures_read_a_run_s_epochs():
    epochs = [{"epoch": e, "train_acc": 0.5 + e / 20, "val_acc": 0.4 + e / 20, "val_loss": abs(e - 3) + 0.5,
               "grad_norms": {"0": 10.0 ** -e, "2": 0.1}, "weight_norms": {"0": 3.0, "2": 4.0 + e}}
              for e in range(1, 11)]
    read = {name: figure.read(epochs) for name, figure in FIGURES.items()}
    assert read["train_acc"] == "100.0%" and read["val_acc"] == "90.0%" and read["gap"] == "+10.0 points"
    assert read["val_acc_by_epoch"] == "45 50 60 65 70 75 85 90"          # 8 of 10 epochs, first and last kept
    assert read["val_loss_turn"] == "0.500 @3 → 7.500"
    assert read["grad_first"] == "1e-01 → 1e-10" and read["grad_last"] == "1e-01 → 1e-01"
    assert read["grad_ratio"] == "1/1" and FIGURES["grad_ratio"].read(epochs[1:]) == "1/10"
    assert read["weights"] == "5.8 → 14.3"
    assert all(figure.read([]) == "—" for figure in FIGURES.values())
    assert FIGURES["grad_ratio"].read([{"grad_norms": {"0": 2.0, "1": 1.0}}]) == "2.0"


# ====================================================================== nnstudio sweep --experiment
def test_experiment_list_says_what_each_teaches(capsys):
    assert run_cli("sweep", "--experiment", "list") == 0
    out = capsys.readouterr().out
    assert all(f"nnstudio sweep --experiment {name}" in out for name in EXPERIMENTS)
    assert EXPERIMENTS["depth"].title in out and "not what it varies" in out


@pytest.mark.parametrize("args, said", [
    (["--experiment", "nope"], "the experiments: optimizers, learning-rate"),
    (["--experiment", "optimizers", "--lr", "0.1"], "--lr: the optimizers experiment varies it itself"),
    (["--experiment", "models", "--model", "cnn"], "--model: the models experiment varies it"),
    (["--experiment", "depth", "--epochs", "2,3"], "--epochs 2,3: an experiment plans its own trials"),
    (["--experiment", "depth", "--trials", "2"], "--trials cannot be combined with --experiment"),
    (["--experiment", "depth", "--config", "run.toml"], "--config cannot be combined with --experiment"),
    (["--experiment", "depth", "--epochs", "0"], "--epochs"),
    (["--resume", "--experiment", "depth"], "--experiment cannot be combined with --resume"),
])
def test_a_bad_experiment_is_one_line_exit_2_and_nothing_runs(tmp_path, capsys, args, said):
    assert run_cli("sweep", *args, "--saves-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1
    assert not saves.runs_folder(tmp_path).exists() and not (tmp_path / "sweeps").exists()


def test_sweep_experiment_end_to_end_ranks_the_networks_and_kernel_ridge_and_shows_the_lesson(tmp_path, capsys):
    assert run_cli("sweep", "--experiment", "models", "--epochs", "3", "--workers", "2", "--saves-dir", str(tmp_path),
                   "--json") == 0
    out, err = capsys.readouterr()
    *objects, summary = json_lines(out)
    trials = {t["label"]: t for t in objects}
    assert set(trials) == {"logistic regression", "MLP", "kernel ridge"} and summary["kind"] == "summary"
    assert all(t["status"] == "finished" for t in trials.values())
    assert trials["kernel ridge"]["epochs"] == 1 and trials["MLP"]["epochs"] == 3
    assert trials["kernel ridge"]["best"] > 0.9 > 0.6 > trials["logistic regression"]["best"]
    assert EXPERIMENTS["models"].lesson in err and "What the models experiment shows" in err
    assert EXPERIMENTS["models"].reading.split(";")[0] in err and "best first" in err
    # the lesson's figures are the last epoch's, and say so (the ranking above them is by the best epoch)
    lesson_table = err.split("What the models experiment shows")[1]
    assert "final train acc" in lesson_table and "final val acc" in lesson_table
    sweep = Sweep.open(next((tmp_path / "sweeps").iterdir()).name, tmp_path)
    assert sweep.name.startswith("models-") and sweep.plan.experiment == "models"
    assert {r.name for r in list_runs(tmp_path)} == set(sweep.runs.values()) and len(sweep.runs) == 3
    assert run_cli("sweep", "--resume", sweep.name, "--saves-dir", str(tmp_path)) == 1   # nothing left to finish


def test_the_depth_experiment_shows_vanishing_gradients_with_sigmoid_and_healthy_ones_with_relu_and_he(tmp_path,
                                                                                                       capsys):
    assert run_cli("sweep", "--experiment", "depth", "--epochs", "1", "--train-size", "500", "--workers", "2",
                   "--saves-dir", str(tmp_path)) == 0
    sweep = Sweep.open(next((tmp_path / "sweeps").iterdir()).name, tmp_path)
    first_over_last = {}
    for trial in sweep.plan.trials:
        norms = read_history(saves.runs_folder(tmp_path) / sweep.runs[trial.number]).epochs[0]["grad_norms"]
        first_over_last[trial.label] = list(norms.values())[0] / list(norms.values())[-1]
    assert first_over_last["sigmoid ×8, Xavier"] < 1e-3 < first_over_last["sigmoid ×2, Xavier"]
    assert first_over_last["sigmoid ×8, He"] < 1e-2 and 0.2 < first_over_last["ReLU ×8, He"] < 5
    assert "What the depth experiment shows" in capsys.readouterr().out


def test_a_folder_given_as_a_relative_path_with_dots_is_a_place_not_a_range(tmp_path, monkeypatch, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert run_cli("sweep", "--experiment", "depth", "--data-dir", "../data", "--dry-run") == 0
    assert run_cli("sweep", "--lr", "0.1,0.2", "--data-dir", "../data", "--dry-run") == 0
    assert capsys.readouterr().out.count("trial 1: ") == 2


def test_an_experiment_cut_off_is_finished_by_resume_and_still_read_as_its_lesson(tmp_path, capsys):
    exp = EXPERIMENTS["models"]
    plan = exp.plan(exp.base_config().replace(**{"training.epochs": 2, "checkpoints.folder": str(tmp_path)}))
    sweep = Sweep.create(plan, tmp_path, "cut")
    sweep.record(1, {"kind": "result", "status": "finished", "best": 0.4, "metric": "val_acc"})
    sweep.close()
    assert run_cli("sweep", "--resume", "cut", "--saves-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "2 trials to train, 1 done before" in out and exp.lesson[:40] in out
    assert "What the models experiment shows" in out and "kernel ridge" in out
