"""`nnstudio bench` in-process on real MNIST, cut to 256 training images: every figure present and
consistent, and the table whole in an 80-column terminal. No wall-clock time is asserted."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from nnstudio.engine import build_model
from nnstudio.engine.presets import preset_spec
from nnstudio.tui.cli.bench import BENCH_MODELS, BenchResult
from nnstudio.tui.main import main

QUICK = ["bench", "--limit", "256", "--epochs", "1", "--models", "mlp", "cnn"]


def test_bench_json_reports_every_figure(mnist_dir, capsys):
    assert main([*QUICK, "--json", "--data-dir", str(mnist_dir)]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [row["model"] for row in rows] == ["mlp", "cnn"]
    fields = {f.name for f in dataclasses.fields(BenchResult)}
    for row in rows:
        assert set(row) == fields
        benchmark_model = preset_spec(row["model"], **BENCH_MODELS[row["model"]])   # fixed, whatever the presets
        assert row["parameters"] == build_model(benchmark_model).num_parameters()
        assert (row["batch_size"], row["epochs"], row["train_samples"]) == (64, 1, 256)
        assert all(math.isfinite(row[k]) and row[k] > 0 for k in ("best_epoch_s", "mean_epoch_s", "samples_per_s",
                                                                   "peak_rss_mb"))
        assert row["mean_epoch_s"] >= row["best_epoch_s"]
        np.testing.assert_allclose(row["samples_per_s"], row["train_samples"] / row["best_epoch_s"])
        assert 0.15 < row["test_accuracy"] <= 1.0  # seeded: it learned something from 256 images
    assert "mlp epoch 1" in captured.err and "cnn epoch 1" in captured.err  # progress goes to stderr


def test_bench_table_fits_80_columns(mnist_dir, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main([*QUICK, "--cnn-epochs", "2", "--data-dir", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    table = out[out.index("Adam lr 1e-3"):]
    assert "…" not in table  # nothing cut short
    assert max(len(line) for line in table.splitlines()) <= 80
    for text in ("batch 64", "epochs mlp 1, cnn 2", "s/epoch", "best", "mean", "samples/s", "test acc", "peak MB",
                 "109,386", "20,490"):   # the benchmark MLP and CNN
        assert text in table


def test_bench_refuses_bad_numbers(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--epochs", "0"])
    assert exit_info.value.code == 2
    assert "argument --epochs: must be a whole number >= 1, got '0'" in capsys.readouterr().err
