"""A preset's recommended training settings: the defaults of a run of that preset, wherever the run is made.

The accuracy they reach on full MNIST is a benchmark (README, Speed), not a test: here, that they
are applied by `RunConfig()`, config files, `config_for_preset` and `nnstudio train --model`, and
that any value given explicitly wins.
"""

from __future__ import annotations

import pytest

from nnstudio.engine.presets import PRESETS, Preset, mlp, preset_spec
from nnstudio.tui.run.config import (RECOMMENDED, SETTINGS, RunConfig, config_for_preset, from_toml, load_config,
                                     preset_default, to_toml)
from nnstudio.tui.run.settings import _recommended

from cli_run import run_cli

CNN = {"optimizer.lr": 3e-3, "training.epochs": 10, "schedule.name": "cosine"}
MLP = {"optimizer.lr": 3e-3, "training.epochs": 20, "schedule.name": "cosine"}


def settings_of(config: RunConfig, paths) -> dict:
    return {path: config.get(path) for path in paths}


def test_the_mlp_and_cnn_presets_recommend_what_was_measured():
    assert dict(PRESETS["mlp"].training) == RECOMMENDED["mlp"] == MLP
    assert dict(PRESETS["cnn"].training) == RECOMMENDED["cnn"] == CNN
    assert RECOMMENDED["logreg"] == {}   # a preset without recommendations trains with the usual defaults
    with pytest.raises(TypeError):
        PRESETS["mlp"].training["training.epochs"] = 1   # read-only: one place, not changed behind its back


def test_the_default_run_is_the_mlp_with_its_recommendations():
    assert settings_of(RunConfig(), MLP) == MLP
    assert preset_default("mlp", "training.epochs") == 20
    assert preset_default("logreg", "training.epochs") == SETTINGS["training.epochs"].default == 10
    assert preset_default("cnn", "training.batch_size") == SETTINGS["training.batch_size"].default


def test_choosing_a_preset_makes_its_recommendations_the_defaults():
    config = config_for_preset(RunConfig(), "cnn")
    assert config.model.preset == "cnn" and config.model.spec is None
    assert settings_of(config, CNN) == CNN
    assert RunConfig().replace(**{"model.preset": "cnn"}) == config   # the same rule, however it is asked
    logreg = config_for_preset(config, "logreg")   # back to the usual defaults for one that recommends nothing
    assert settings_of(logreg, CNN) == {"optimizer.lr": 1e-3, "training.epochs": 10, "schedule.name": "none"}
    assert settings_of(config_for_preset(logreg, "mlp"), MLP) == MLP


def test_an_explicit_value_wins_over_the_recommendation():
    config = RunConfig().replace(**{"model.preset": "cnn", "training.epochs": 3})   # --model cnn --epochs 3
    assert settings_of(config, CNN) == {**CNN, "training.epochs": 3}   # the rest still apply
    config = RunConfig().replace(**{"model.preset": "cnn", "schedule.name": "step", "schedule.step_size": 2})
    assert (config.training.epochs, config.schedule.name, config.schedule.step_size) == (10, "step", 2)


def test_a_setting_the_user_changed_stays_when_the_preset_changes():
    changed = RunConfig().replace(**{"training.epochs": 5, "optimizer.lr": 0.01})
    config = config_for_preset(changed, "cnn")
    assert (config.training.epochs, config.schedule.name, config.optimizer.lr) == (5, "cosine", 0.01)


def test_the_studio_way_of_choosing_a_preset_keeps_the_fitted_spec():
    spec = preset_spec("cnn", classes=10)
    config = config_for_preset(RunConfig(), "cnn", spec=spec)
    assert config.model.spec == spec and config.model.preset == "cnn" and settings_of(config, CNN) == CNN
    assert RunConfig().replace(**{"model.spec": spec, "model.preset": "cnn"}) == config   # as the builder pane does


def test_a_schedule_put_back_by_a_preset_change_drops_the_settings_only_it_had():
    tuned = RunConfig().replace(**{"schedule.eta_min": 1e-5})   # the mlp's cosine, its end changed
    config = config_for_preset(tuned, "logreg")                 # logreg recommends no schedule
    assert config.schedule.name == "none" and config.schedule.eta_min == SETTINGS["schedule.eta_min"].default


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_presets_recommendations_fit_any_number_of_epochs(name):
    for epochs in (1, 2, 100):
        config = RunConfig().replace(**{"model.preset": name, "training.epochs": epochs})
        assert config.training.epochs == epochs


def test_a_config_file_naming_a_preset_takes_its_recommendations_for_what_it_leaves_out():
    config = from_toml('[model]\npreset = "cnn"\n[training]\nbatch_size = 32\n')
    assert settings_of(config, CNN) == CNN and config.training.batch_size == 32
    config = from_toml('[model]\npreset = "cnn"\n[schedule]\nname = "none"\n')
    assert settings_of(config, CNN) == {**CNN, "schedule.name": "none"}
    assert from_toml("") == RunConfig()


def test_help_and_written_files_say_what_each_preset_recommends():
    assert SETTINGS["training.epochs"].describe().endswith("default 10 (20 with the mlp preset)")
    assert "default 'none' ('cosine' with the mlp and cnn presets)" in SETTINGS["schedule.name"].describe()
    assert "the model preset's recommendation" in to_toml(RunConfig())


def test_a_bad_recommendation_fails_at_import_naming_the_preset():
    with pytest.raises(RuntimeError, match=r"preset 'x' recommends 'training.epoch', which is not a run setting"):
        _recommended(Preset("x", "", mlp, training={"training.epoch": 3}))
    with pytest.raises(RuntimeError, match=r"preset 'x' recommends a bad value: training.epochs: must be"):
        _recommended(Preset("x", "", mlp, training={"training.epochs": 0}))
    with pytest.raises(RuntimeError, match="not a run setting it may recommend"):
        _recommended(Preset("x", "", mlp, training={"checkpoints.folder": "/tmp"}))


# ---------------------------------------------------------------------------------------- nnstudio train
def test_train_model_applies_the_presets_recommendations(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", "--model", "cnn", "--write-config", "cnn.toml") == 0
    assert settings_of(load_config(tmp_path / "cnn.toml"), CNN) == CNN
    assert run_cli("train", "--write-config", "mlp.toml") == 0   # no --model: the default run, the mlp
    assert settings_of(load_config(tmp_path / "mlp.toml"), MLP) == MLP
    text = (tmp_path / "cnn.toml").read_text()
    assert "# passes over the training set" in text and "(20 with the mlp preset)" in text
    capsys.readouterr()


def test_train_flags_and_config_values_win_over_the_recommendations(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", "--model", "cnn", "--epochs", "3", "--write-config", "a.toml") == 0
    assert settings_of(load_config(tmp_path / "a.toml"), CNN) == {**CNN, "training.epochs": 3}
    (tmp_path / "mine.toml").write_text('[training]\nepochs = 7\n[schedule]\nname = "step"\n')
    assert run_cli("train", "--config", "mine.toml", "--model", "cnn", "--write-config", "b.toml") == 0
    assert settings_of(load_config(tmp_path / "b.toml"), CNN) == {**CNN, "training.epochs": 7, "schedule.name": "step"}
    capsys.readouterr()


def test_train_help_shows_the_presets_recommendations(capsys):
    assert run_cli("train", "--help") == 0
    assert "(20 with the mlp preset)" in " ".join(capsys.readouterr().out.split())
