"""Ready-made experiments: a training subset of a real data set (so that a network overfits within a minute),
kernel ridge as a kept run that ranks with the networks, the experiments themselves (every trial planned and
checked, flags that would set what they vary refused), and `nnstudio sweep --experiment` end to end."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio.tui.run.config import ConfigError, RunConfig
from nnstudio.tui.run.history import read_history
from nnstudio.tui.run.reports import SessionError
from nnstudio.tui.run.training_data import load_run_dataset, prepare_run_data
from nnstudio import saves
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
