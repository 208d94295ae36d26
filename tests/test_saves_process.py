"""Saves across processes: exact resumption in a new process, a writer killed mid-save, an interrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnstudio import saves
from nnstudio.engine import build_model, manual_seed
from nnstudio.saves.atomic import is_temp_name

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

#: shared by this test and the child process, so both train with exactly the same code
TRAINING = '''
import sys
import numpy as np
from nnstudio import saves
from nnstudio.datasets import BatchIterator
from nnstudio.engine import build_model, manual_seed, optim
from nnstudio.engine.nn import CrossEntropyLoss
from nnstudio.engine.trainer import Trainer

SPEC = {"name": "dropout-mlp", "input_shape": [6],
        "layers": [{"type": "linear", "out": 16}, {"type": "relu"}, {"type": "dropout", "p": 0.3},
                   {"type": "linear", "out": 3}]}


def data():
    rng = np.random.default_rng(42)
    x = rng.normal(size=(96, 6)).astype(np.float32)
    y = ((x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)).astype(np.int64)
    return x, y


def fresh():
    manual_seed(7)
    model = build_model(SPEC)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    return (model, optimizer, optim.StepLR(optimizer, step_size=2, gamma=0.5), optim.EarlyStopping(patience=10),
            np.random.default_rng(11))


def run_epochs(model, optimizer, scheduler, stopping, data_rng, epochs):
    """The engine's Trainer (which steps the schedule and early stopping) over batches that `data_rng` shuffles:
    default_rng keeps a Generator as it is, so the batches draw from the stream the checkpoint saves."""
    x, y = data()
    batches = BatchIterator(x, y, 16, seed=data_rng)
    trainer = Trainer(model, optimizer, CrossEntropyLoss(), batches, epochs=epochs, scheduler=scheduler,
                      early_stopping=stopping)
    assert trainer.run() == "finished"


if __name__ == "__main__":
    checkpoint, out, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    loaded = saves.load(checkpoint)
    resume, model = loaded.checkpoint, loaded.model
    optimizer = resume.make_optimizer(model.parameters())
    scheduler = resume.make_scheduler(optimizer)
    stopping = resume.make_early_stopping()
    resume.restore_rng()
    run_epochs(model, optimizer, scheduler, stopping, resume.data_generator(), epochs)
    saves.save_checkpoint(out, model, optimizer, epoch=resume.epoch + epochs, scheduler=scheduler,
                          early_stopping=stopping)
'''


def python(script: Path, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script), *args], text=True, **kwargs)


def test_resume_in_a_new_process_is_bit_identical_to_uninterrupted_training(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAINING)
    code: dict = {"__name__": "training"}
    exec(compile(TRAINING, str(script), "exec"), code)
    n, m = 3, 4

    model, optimizer, scheduler, stopping, data_rng = code["fresh"]()
    code["run_epochs"](model, optimizer, scheduler, stopping, data_rng, n + m)
    expected = {name: array.copy() for name, array in model.state_dict().items()}
    expected_moments = optimizer.state_dict()["state"]

    model, optimizer, scheduler, stopping, data_rng = code["fresh"]()
    code["run_epochs"](model, optimizer, scheduler, stopping, data_rng, n)
    checkpoint = saves.save_checkpoint(tmp_path / "after3.safetensors", model, optimizer, epoch=n,
                                       scheduler=scheduler, early_stopping=stopping, data_rng=data_rng)
    manual_seed(999)  # the parent's state must not matter
    child = python(script, str(checkpoint), str(tmp_path / "after7.safetensors"), str(m), stderr=subprocess.PIPE)
    _, errors = child.communicate(timeout=120)
    assert child.returncode == 0, errors

    resumed = saves.load(tmp_path / "after7.safetensors")
    assert resumed.checkpoint.epoch == n + m
    for name, array in expected.items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name], array)
    state = resumed.checkpoint.optimizer_state
    assert state["step"] == optimizer.step_count + m * 6  # 96 rows / 16 per batch
    for i, entries in expected_moments.items():
        for name, value in entries.items():
            np.testing.assert_array_equal(state["state"][i][name], value)
    assert resumed.checkpoint.scheduler_state["last_epoch"] == n + m


WRITER = '''
import sys
import numpy as np
from nnstudio import saves
from nnstudio.engine import build_model, manual_seed

manual_seed(1)
model = build_model({"name": "big", "input_shape": [2048],
                     "layers": [{"type": "linear", "out": 3072}, {"type": "relu"}, {"type": "linear", "out": 2048}]})
print("ready", float(model.state_dict()["0.weight"][0].astype(np.float64).sum()).hex(), flush=True)
while True:
    saves.save_model(sys.argv[1], model, overwrite=True)
'''
BIG = {"name": "big", "input_shape": [2048],
       "layers": [{"type": "linear", "out": 3072}, {"type": "relu"}, {"type": "linear", "out": 2048}]}


def _row_sum(model_state) -> str:
    return float(model_state["0.weight"][0].astype(np.float64).sum()).hex()


def _temp_file_being_written(folder: Path) -> bool:
    """Whether a temp file with some bytes in it exists now. The writer renames its temp file at any
    moment, so one listed may be gone by the time it is looked at: that one is simply not it."""
    for temp in (p for p in folder.iterdir() if is_temp_name(p.name)):
        try:
            if temp.stat().st_size > 0:
                return True
        except FileNotFoundError:
            continue
    return False


def test_a_writer_killed_mid_save_never_corrupts_the_save(tmp_path):
    folder = tmp_path / "saves"
    path = folder / "big.safetensors"
    manual_seed(0)
    old = build_model(BIG)  # about 50 MB of float32 weights
    saves.save_model(path, old)
    old_sum = _row_sum(old.state_dict())
    del old
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    child = python(script, str(path), stdout=subprocess.PIPE)
    try:
        ready, new_sum = child.stdout.readline().split()
        assert ready == "ready"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill while a temp file is being written
            if _temp_file_being_written(folder):
                break
            time.sleep(0.002)
        else:
            pytest.fail("the writer never started writing")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()

    loaded = saves.load(path)  # complete: the old save or a whole new one
    assert _row_sum(loaded.model.state_dict()) in (old_sum, new_sum)
    entries = saves.list_saves(folder)
    assert [(e.name, e.error) for e in entries] == [("big", None)]  # stray temp files are not saves
    saves.remove_stale_temp_files(folder, older_than=0)
    assert [p.name for p in folder.iterdir()] == ["big.safetensors"]


RUNNER = '''
import sys, time
from nnstudio import saves
from nnstudio.engine import build_model, optim

model = build_model({"input_shape": [4], "layers": [{"type": "linear", "out": 2}]})
manager = saves.CheckpointManager(sys.argv[1], keep_last=2)
optimizer = optim.SGD(model.parameters(), lr=0.1)
for epoch in (1, 2):
    manager.save(epoch, model, optimizer, metric=0.5 * epoch)
print("saved", flush=True)
time.sleep(120)
'''


def test_a_killed_run_is_found_as_interrupted_and_can_be_resumed(tmp_path):
    folder = tmp_path / "saves"
    run_dir = saves.new_run_dir("toy", folder)
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    child = python(script, str(run_dir), stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "saved"
        live = saves.find_runs(folder)
        assert [(r.name, r.status, r.active) for r in live] == [(run_dir.name, "running", True)]
        assert saves.find_interrupted_runs(folder) == []  # still training elsewhere: not offered
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()

    run = saves.latest_interrupted_run(folder)
    assert run is not None and run.path == run_dir and run.last_epoch == 2
    assert run.latest == run_dir / "epoch-0002.safetensors" and run.best_value == 1.0
    assert saves.load(run.latest).checkpoint.epoch == 2
    with saves.CheckpointManager(run.path, keep_last=2) as manager:  # take the run over and finish it
        assert manager.best_value == 1.0 and manager.last_epoch == 2
    assert saves.find_interrupted_runs(folder) == []
    assert saves.read_run(run_dir).status == "finished"
