"""The validation split holds out the fraction asked of the whole (0.1 of MNIST's 60,000 is 6,000, not 5,999), and a
run going on from a file made before (no split rule recorded) keeps the split it trained on: resuming it stays
bit-identical, continuing or evaluating a save validates on the rows it never trained on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nnstudio.datasets import stratified_split
from nnstudio.datasets.preprocess import SPLIT_RULES
from nnstudio.engine import events
from nnstudio.tui.run import Session
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.training_data import split_rule_of

#: MNIST's training digits per class
MNIST_CLASSES = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_a_tenth_of_mnist_is_6000_digits_each_class_within_one_of_its_share():
    y = np.repeat(np.arange(10), MNIST_CLASSES)
    train, val = stratified_split(y, 0.1, seed=0)
    assert (len(train), len(val)) == (54_000, 6_000)
    held = np.bincount(y[val], minlength=10)
    assert np.all(np.abs(held - 0.1 * np.array(MNIST_CLASSES)) < 1)
    before = stratified_split(y, 0.1, seed=0, rule="per-class")   # (6265 sevens: 626.5 rounded to even, 626)
    assert (len(before[0]), len(before[1])) == (54_001, 5_999)
    assert len(np.setdiff1d(val, before[1])) == 1 and len(np.setdiff1d(before[1], val)) == 0   # one 7 more


@pytest.mark.parametrize("sizes, fraction", [([334, 333, 333], 0.1), ([7, 5, 1], 0.25), ([10], 0.15), ([3, 3], 0.5)])
def test_the_total_held_out_is_the_fraction_of_the_whole_rounded_once(sizes, fraction):
    y = np.repeat(np.arange(len(sizes)), sizes)
    _, val = stratified_split(y, fraction, seed=1)
    assert len(val) == round(fraction * sum(sizes))
    assert np.all(np.abs(np.bincount(y[val], minlength=len(sizes)) - fraction * np.array(sizes)) < 1)


def _config(folder) -> RunConfig:
    return RunConfig.from_dict({"data": {"name": "spirals"}, "training": {"epochs": 2, "batch_size": 64, "seed": 3},
                                "checkpoints": {"folder": str(folder), "keep_last": 5}})


def _as_made_before(monkeypatch):
    """Sessions from here on train and write their files as before split rules were recorded."""
    record = Session._dataset_record

    def without_rule(session):
        out = record(session)
        out["normalisation"] = {k: v for k, v in out["normalisation"].items() if k != "split"}
        return out
    monkeypatch.setattr(Session, "_dataset_record", without_rule)
    made = Session.__init__

    def per_class(session, *args, **kwargs):
        made(session, *args, **kwargs)
        session.split_rule = "per-class"
    monkeypatch.setattr(Session, "__init__", per_class)
    return lambda: (monkeypatch.setattr(Session, "__init__", made), monkeypatch.setattr(Session, "_dataset_record",
                                                                                          record))


def test_a_run_from_before_resumes_on_its_own_split_bit_identically(tmp_path, monkeypatch):
    new = Session(_config(tmp_path / "new"))
    new.prepare()
    assert (len(new.data.x_train), len(new.data.x_val)) == (900, 100)   # (spirals: 1000 points, 3 classes)
    assert new._dataset_record()["normalisation"]["split"] == "total"

    restore = _as_made_before(monkeypatch)
    whole = Session(_config(tmp_path / "whole"))
    assert whole.run() == "finished" and len(whole.data.x_train) == 901
    cut = Session(_config(tmp_path / "cut"))

    def stop_in_epoch_2(event):
        if isinstance(event, events.BatchEnd) and event.epoch == 1 and event.batch == 5:
            cut.stop()
    cut.on_event = stop_in_epoch_2
    assert cut.run() == "stopped"
    save = whole.save("before", folder=tmp_path)
    restore()   # (this version from here on)

    resumed = Session.open_checkpoint(cut.run_dir)
    assert resumed.split_rule == "per-class" and len(resumed.data.x_train) == 901
    assert resumed.run() == "finished"
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in whole.history]
    assert [h["val_acc"] for h in resumed.history] == [h["val_acc"] for h in whole.history]

    continued = Session.from_save(save, config=_config(tmp_path).replace(**{"training.epochs": 3}))
    assert continued.split_rule == "per-class" and len(continued.data.x_val) == 99
    assert continued._dataset_record()["normalisation"]["split"] == "per-class"   # (its own files say so)


def test_split_rule_of_a_file_without_one_is_the_rule_of_before():
    @dataclasses.dataclass
    class Meta:
        dataset: dict | None

    assert split_rule_of(Meta({"name": "mnist", "normalisation": {"seed": 0}})) == "per-class"
    assert split_rule_of(Meta(None)) == "per-class"
    assert split_rule_of(Meta({"name": "mnist", "normalisation": None})) == "per-class"
    assert [split_rule_of(Meta({"normalisation": {"split": rule}})) for rule in SPLIT_RULES] == list(SPLIT_RULES)
