"""Run folders written for the studio's tests: a marker and a history each, with fixed numbers and times.

No training happens: each run's history is written by the very recorder a session uses
(`HistoryRecorder`), its loss falling at a pace set by its learning rate, so tables, overlays and
snapshots are the same on every machine.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from nnstudio.engine import events
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.history import HistoryRecorder


def run_config(**settings) -> dict:
    """A run's config as its history records it: the recorded studio run's (MNIST, lr 0.001), changed."""
    config = RunConfig.from_dict({"data": {"name": "mnist"}, "optimizer": {"lr": 0.001}, "training": {"epochs": 10}})
    return config.replace(**settings).portable_dict()


def write_run(folder: Path, name: str, *, lr: float = 0.01, dataset: str = "mnist", task: str = "classification",
              epochs: int = 6, batches: int = 40, batch_size: int = 64, train_size: int = 54_000,
              status: str = "finished", updated: str = "2025-01-31T12:00:00.000Z", optimizer: str = "adam",
              **settings) -> Path:
    """A run folder under `folder`/runs with `epochs` epochs of `batches` batches each."""
    run_dir = Path(folder) / "runs" / name
    run_dir.mkdir(parents=True)
    config = run_config(**{"optimizer.lr": lr, "optimizer.name": optimizer, "training.batch_size": batch_size,
                           "data.name": dataset if dataset in ("mnist", "spirals", "moons", "sine", "blobs") else "mnist",
                           **settings})
    recorder = HistoryRecorder(run_dir, train_size=train_size)
    recorder.start(config=config, origin={"kind": "new"}, dataset=dataset, model="mlp", task=task)
    pace = 0.5 + 20 * lr
    for e in range(epochs):
        for b in range(batches):
            t = e + (b + 1) / batches
            loss = 2.0 * math.exp(-pace * t) + 0.05 * ((b * 7) % 5) / 5
            seen = min((b + 1) * train_size // batches, train_size)
            recorder.batch(events.BatchEnd(e, b, batches, loss, 0.5, 1e4, seen=seen))
        accuracy = None if task != "classification" else 0.5 + 0.45 * (1 - math.exp(-pace * (e + 1)))
        recorder.epoch(events.EpochEnd(e, epochs, 2.0 * math.exp(-pace * (e + 1)), accuracy,
                                       2.1 * math.exp(-pace * (e + 1)), accuracy and accuracy - 0.02,
                                       lr * 0.8 ** e, {"layers.0": 0.1}, {}, {}, 1e4, 4.0, 4.0 * (e + 1), 0.0))
    recorder.end(status if status != "running" else "stopped", "", at=(epochs, 0))
    recorder.close()
    marker = {"format_version": 1, "name": name, "status": "running" if status == "running" else
              "failed" if status in ("diverged", "failed") else "finished",
              "started_at": updated, "updated_at": updated, "last_epoch": epochs, "last_checkpoint": None,
              "monitor": "val_acc", "mode": "max", "best": None, "keep_last": 3, "pid": 1, "host": "test"}
    (run_dir / "run.json").write_text(json.dumps(marker), encoding="utf-8")
    return run_dir


def write_runs(folder: Path) -> list[Path]:
    """Five runs, newest last written: three learning rates and SGD on MNIST, and one on spirals."""
    return [write_run(folder, "mnist-mlp-lr0.001", lr=0.001, updated="2025-01-31T12:00:00.000Z"),
            write_run(folder, "mnist-mlp-lr0.01", lr=0.01, updated="2025-01-31T12:05:00.000Z"),
            write_run(folder, "mnist-mlp-lr0.03", lr=0.03, updated="2025-01-31T12:10:00.000Z"),
            write_run(folder, "mnist-mlp-sgd", lr=0.1, optimizer="sgd", batch_size=32,
                      updated="2025-01-31T12:15:00.000Z"),
            write_run(folder, "spirals-mlp", lr=0.01, dataset="spirals", train_size=900, epochs=10,
                      updated="2025-01-31T12:20:00.000Z")]
