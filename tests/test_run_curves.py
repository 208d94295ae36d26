"""Runs' curves for comparison (tui/run/curves.py): read from histories, labelled by what differs, and an opened
run's per-batch loss found again in the runs that trained it."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine import events
from nnstudio.tui.run import Session
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.curves import CurveCache, RunCurves, first_and_last, labels, read_curves, restore_batches
from nnstudio.tui.run.history import HISTORY_FILE, HistoryRecorder, read_history


def _config(tmp_path, **overrides) -> RunConfig:
    config = RunConfig.from_dict({
        "data": {"name": "blobs", "size": 200}, "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 2, "batch_size": 16, "seed": 2}, "checkpoints": {"folder": str(tmp_path)}})
    return config.with_overrides(overrides) if overrides else config


def test_a_run_s_curves_are_placed_in_epochs_and_in_examples_seen(tmp_path):
    recorder = HistoryRecorder(tmp_path, train_size=30)
    recorder.start(config={"optimizer": {"lr": 0.1}}, origin={"kind": "new"}, dataset="blobs", task="classification")
    for e in range(2):
        for b in range(3):
            recorder.batch(events.BatchEnd(e, b, 3, 1.0 / (3 * e + b + 1), 0.5, 10.0, seen=10 * (b + 1)))
        recorder.epoch(events.EpochEnd(e, 2, 0.5, 0.8, 0.6, 0.7 + e / 10, 0.1, {}, {}, {}, 10.0, 1.0, e + 1.0, 1.0))
    recorder.close()
    curves = read_curves(tmp_path)
    assert curves.kind == ("blobs", "classification") and curves.has_accuracy and curves.train_size == 30
    assert curves.batch_n.tolist() == [10, 20, 30, 40, 50, 60]
    assert curves.batch_x.tolist() == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
    assert curves.epoch.tolist() == [1, 2] and curves.n.tolist() == [30, 60]
    assert curves.epochs["val_acc"].tolist() == pytest.approx([0.7, 0.8])


def test_a_session_s_epochs_get_their_examples_from_the_train_size():
    curves = RunCurves.of("this run", [{"epoch": 1, "train_loss": 0.5, "val_acc": None}], train_size=100)
    assert curves.n.tolist() == [100] and np.isnan(curves.epochs["val_acc"][0])


def test_the_cache_reads_a_history_again_only_once_it_changed(tmp_path, monkeypatch):
    recorder = HistoryRecorder(tmp_path, train_size=30)
    recorder.start(config={}, origin={"kind": "new"})
    recorder.close()
    reads = []
    import nnstudio.tui.run.curves as module
    monkeypatch.setattr(module, "read_history", lambda path: reads.append(path) or read_history(path))
    cache = CurveCache()
    assert cache.get(tmp_path) is cache.get(tmp_path) and len(reads) == 1
    with open(tmp_path / HISTORY_FILE, "a") as file:
        file.write('{"kind":"batch","e":1,"b":1,"n":10,"loss":0.5,"acc":null}\n')
    assert len(cache.get(tmp_path).batch_loss) == 1 and len(reads) == 2


def test_labels_name_what_differs_not_the_runs():
    adam = {"optimizer": {"name": "adam", "lr": 0.01}, "training": {"epochs": 10, "batch_size": 64},
            "checkpoints": {"keep_last": 3}}
    fast = {"optimizer": {"name": "adam", "lr": 0.1}, "training": {"epochs": 20, "batch_size": 64},
            "checkpoints": {"keep_last": 1}}
    sgd = {"optimizer": {"name": "sgd", "lr": 0.1}, "training": {"epochs": 10, "batch_size": 32},
           "checkpoints": {"keep_last": 3}}
    assert labels([adam, fast]) == ["lr 0.01", "lr 0.1"]   # not the planned epochs, not where checkpoints go
    assert labels([adam, fast, sgd]) == ["adam · lr 0.01 · batch 64", "adam · lr 0.1 · batch 64",
                                         "sgd · lr 0.1 · batch 32"]
    assert labels([adam, adam], ["13:02", "13:05"]) == ["13:02", "13:05"]   # alike: told apart by when
    longer = {**adam, "training": {"epochs": 30, "batch_size": 64}}
    assert labels([adam, longer, fast], ["13:02", "13:05", ""]) == ["lr 0.01 · 13:02", "lr 0.01 · 13:05", "lr 0.1"]
    custom = [{"model": {"preset": "", "spec": {"layers": [n]}}} for n in (1, 2, 1)]
    assert labels(custom) == ["model 1", "model 2", "model 1"]
    fork = [{"model": {"preset": "mlp", "spec": spec}, "optimizer": {"lr": lr}} for spec, lr in
            ((None, 0.03), ({"layers": [1]}, 0.3))]   # a fork records its parent's model as a spec
    assert labels(fork) == ["lr 0.03", "lr 0.3"]


def test_an_opened_save_gets_back_the_batches_of_the_runs_that_trained_it(tmp_path):
    """A save of a run continued from another save: its epochs are in two runs' histories, found by content."""
    first = Session(_config(tmp_path, **{"training.epochs": 1}))
    assert first.run() == "finished"
    base = first.save("base", folder=tmp_path)
    second = Session.from_save(base, config=_config(tmp_path, **{"training.epochs": 3}))
    assert second.run() == "finished"
    later = second.save("later", folder=tmp_path)

    opened = Session.from_save(later, config=_config(tmp_path, **{"training.epochs": 5}))
    batches, train_size = restore_batches(opened.history, tmp_path)
    per_epoch = len(first.batches)
    assert train_size == len(first.data.x_train)
    assert batches.epoch.tolist() == [1] * per_epoch + [2] * per_epoch + [3] * per_epoch
    expected = np.concatenate([read_history(first.run_dir).batches.loss, read_history(second.run_dir).batches.loss])
    assert batches.loss.tolist() == expected.tolist()


def test_a_resumed_run_gets_back_its_batches_up_to_where_it_resumes(tmp_path):
    session = Session(_config(tmp_path, **{"training.epochs": 3}))

    def stop_in_epoch_2(event):
        if isinstance(event, events.BatchEnd) and event.epoch == 1 and event.batch == 3:
            session.stop()

    session.on_event = stop_in_epoch_2
    assert session.run() == "stopped"
    resumed = Session.open_checkpoint(session.run_dir)
    batches, _ = restore_batches(resumed.history, tmp_path, run_dir=resumed.run_dir, position=resumed.position)
    assert resumed.position == (1, 4)
    assert batches.epoch.tolist() == [1] * len(session.batches) + [2] * 4


def test_nothing_found_is_an_empty_curve_not_an_error(tmp_path):
    batches, size = restore_batches([{"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "elapsed": 1.0}], tmp_path)
    assert len(batches) == 0 and size is None


def test_a_history_read_without_its_batches_has_all_the_rest(tmp_path):
    """A listing reads histories without their batch records (most of a long run's file), unparsed."""
    session = Session(_config(tmp_path))
    assert session.run() == "finished"
    with open(session.run_dir / HISTORY_FILE, "a") as file:
        file.write('{"kind":"batch","e":3,"b":1,"n":"a damaged batch record: not even parsed"}\n')
    full, light = read_history(session.run_dir), read_history(session.run_dir, batches=False)
    assert len(light.batches) == 0 and len(full.batches) == 2 * len(session.batches)
    assert light.epochs == full.epochs and light.runs == full.runs and light.end == full.end
    assert light.notes == [] and full.notes == ["a batch record of history.jsonl does not read; skipped"]


def test_the_gradient_ratio_is_the_first_layer_s_norm_over_the_last_s_per_epoch():
    epochs = [{"epoch": 1, "grad_norms": {"layers.0": 1e-4, "layers.2": 0.5, "layers.4": 0.2}},
              {"epoch": 2, "grad_norms": {}},                                   # (not recorded that epoch)
              {"epoch": 3, "grad_norms": {"layers.0": 0.0, "layers.4": 0.2}},   # (a dead first layer: no ratio)
              {"epoch": 4, "grad_norms": {"layers.0": 0.3, "layers.4": 0.1}}]
    ratio = RunCurves.of("r", epochs).grad_ratio
    assert ratio[0] == pytest.approx(5e-4) and np.isnan(ratio[1]) and np.isnan(ratio[2])
    assert ratio[3] == pytest.approx(3.0)
    assert first_and_last({"a": 2.0}) == (2.0, 2.0) and first_and_last({}) is None
    assert first_and_last("damaged") is None and first_and_last({"a": True, "b": "x"}) is None


def test_a_training_subset_of_0_rows_is_every_row_in_a_label():
    from nnstudio.tui.run.config import RunConfig
    whole, part = RunConfig().to_dict(), RunConfig().replace(**{"data.train_size": 2000}).to_dict()
    assert labels([whole, part]) == ["train rows all", "train rows 2000"]
