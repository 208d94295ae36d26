"""`nnstudio train --from SAVE` with a learning rate that blows the model up without NaN: called diverged, numbered as
the epoch table, the last good weights restored and saved as they are, exit status 1."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnstudio import saves

from cli_run import run_cli


@pytest.fixture(autouse=True)
def saves_in_the_working_folder(tmp_path, monkeypatch):
    """The saves folder is ./saves in the test's own folder."""
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", "saves")
    monkeypatch.chdir(tmp_path)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def assert_same_weights(a: saves.Loaded, b: saves.Loaded) -> None:
    one, other = a.model.state_dict(), b.model.state_dict()
    assert one.keys() == other.keys()
    for name, value in one.items():
        np.testing.assert_array_equal(value, other[name])


def test_a_continued_save_that_blows_up_without_nan_is_diverged_not_finished(tmp_path, capsys):
    """A linear model at lr 1e4 with momentum 0.99: the loss grows a hundredfold, finite, through small gradients."""
    assert run_cli("train", "--dataset", "moons", "--model", "logreg", "--epochs", "3", "--seed", "1",
                   "--save", "base") == 0
    capsys.readouterr()
    status = run_cli("train", "--from", "base", "--optimizer", "sgd", "--momentum", "0.99", "--lr", "1e4",
                     "--epochs", "5", "--save", "x", "--json")
    captured = capsys.readouterr()
    records = json_lines(captured.out)
    assert status == 1 and [r["event"] for r in records] == ["diverged"]   # no row for the grown epoch
    final = records[0]
    assert final["message"].startswith("Training diverged at the end of epoch 4: the training loss grew to ")
    assert "more than 10 times its best" in final["message"] and "above the chance level (0.6931)" in final["message"]
    assert "Restored the weights after epoch 3. Lower the learning rate" in final["message"]
    assert final["epochs_done"] == 3 and "Diverged: 3 of 5 epochs" in captured.err
    # besides "start again": a fork from its last good epoch (the one it restored) with a tenth of the lr
    retry = (f"Or go on from epoch 3, its last good one, with a tenth of the learning rate: nnstudio train --fork "
             f"{final['run_dir'].split('/')[-1]}@3 --lr 1000")
    assert final["retry"] == retry and retry in captured.err.replace("\n", "")
    assert saves.read_run(tmp_path / final["run_dir"]).status == "failed"
    # --save keeps the restored weights, with the history they have: the save's own three epochs
    base, saved = saves.load(tmp_path / "saves" / "base.safetensors"), saves.load(tmp_path / final["save"])
    assert_same_weights(saved, base)
    assert [h["epoch"] for h in saved.metadata.history] == [1, 2, 3]


@pytest.fixture(scope="module")
def mnist_base(tmp_path_factory):
    """A short MNIST run's save (2 epochs): the base of the campaign's case."""
    import real_mnist
    if not real_mnist.HAVE_MNIST:
        pytest.skip(real_mnist.SKIP_REASON)
    folder = tmp_path_factory.mktemp("mnist-base")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("NNSTUDIO_SAVES_DIR", "saves")
        assert run_cli("train", "--data-dir", str(real_mnist.MNIST_DIR), "--epochs", "2", "--save", "base",
                       "--no-checkpoints", "--json") == 0
    return folder / "saves" / "base.safetensors"


@pytest.mark.parametrize("lr", ["10", "1"])
def test_the_campaign_s_case_on_mnist_is_diverged_and_numbered_as_the_table(lr, mnist_base, tmp_path, capsys):
    """`--from base --optimizer sgd --momentum 0.99 --lr 10 --epochs 3 --save x`: diverged whichever guard sees it
    first (the gradient norm, or at lr 1 the loss grown 10x past the save's best), in epoch 3 as the table counts."""
    (tmp_path / "saves").mkdir()
    base = tmp_path / "saves" / "base.safetensors"
    base.write_bytes(mnist_base.read_bytes())
    capsys.readouterr()
    status = run_cli("train", "--from", "base", "--optimizer", "sgd", "--momentum", "0.99", "--lr", lr,
                     "--epochs", "3", "--save", "x", "--json")
    final = json_lines(capsys.readouterr().out)[-1]
    assert status == 1 and final["event"] == "diverged" and final["epochs_done"] == 2
    assert final["message"].startswith("Training diverged at epoch 3, batch ")
    assert "Restored the weights after epoch 2. Lower the learning rate" in final["message"]
    saved = saves.load(tmp_path / final["save"])
    assert_same_weights(saved, saves.load(base))
    assert len(saved.metadata.history) == 2
