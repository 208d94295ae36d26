"""Save names, the listing of a folder (headers only), and a run's checkpoints."""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnstudio import saves
from nnstudio.engine import build_model, manual_seed, optim
from nnstudio.engine.presets import preset_spec
from nnstudio.saves import SaveError, api, listing, schema, tensors
from nnstudio.saves import format as fmt

SMALL = {"name": "small", "input_shape": [64], "layers": [{"type": "linear", "out": 256}, {"type": "relu"},
                                                         {"type": "linear", "out": 10}]}


def small_model(seed: int = 0):
    manual_seed(seed)
    return build_model(SMALL)


# ====================================================================== names
@pytest.mark.parametrize("given_name, expected", [
    ("mnist-mlp", "mnist-mlp"),
    ("../x", "x"),
    ("../../etc/passwd", "etc-passwd"),
    ("/abs/path", "abs-path"),
    ("C:\\Users\\me", "C-Users-me"),
    (".hidden", "hidden"),
    ("...x..y", "x.y"),
    ("my model (v2)", "my-model-v2"),
    ("run.safetensors", "run"),
    ("modèle-π", "modèle-π"),
    ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
    ("a\x00b\nc", "a-b-c"),
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
])
def test_names_are_sanitised(given_name, expected):
    assert saves.sanitize_name(given_name) == expected


@pytest.mark.parametrize("bad", ["", "   ", "..", "/", "../..", ".", "???", "\x00"])
def test_names_with_nothing_usable_are_refused(bad):
    with pytest.raises(SaveError, match="no usable characters"):
        saves.sanitize_name(bad)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=300))
def test_any_name_stays_a_plain_visible_file_in_the_folder(tmp_path_factory, name):
    folder = Path("/some/saves")
    try:
        path = saves.save_path(name, folder)
    except SaveError:
        return
    assert path.parent == folder
    assert not path.name.startswith(".") and "/" not in path.stem and "\\" not in path.stem
    assert ".." not in path.stem and path.name.endswith(".safetensors")
    assert len(path.name.encode()) <= 140
    assert saves.sanitize_name(path.stem) == path.stem  # idempotent


def test_resolve_finds_names_and_paths(tmp_path):
    path = saves.save_model(saves.save_path("my model", tmp_path), small_model())
    assert path == tmp_path / "my-model.safetensors"
    assert saves.resolve("my model", tmp_path) == path
    assert saves.resolve("my-model", tmp_path) == path
    assert saves.resolve(str(path)) == path
    with pytest.raises(SaveError, match="no save named 'other'"):
        saves.resolve("other", tmp_path)
    with pytest.raises(SaveError, match="no such file"):
        saves.resolve(str(tmp_path / "missing.safetensors"))


def test_default_folder_is_the_user_s_data_folder(monkeypatch, tmp_path):
    """Never the working folder: run from a checkout's root, ./saves is the `saves` source package."""
    monkeypatch.delenv("NNSTUDIO_SAVES_DIR", raising=False)
    monkeypatch.chdir(Path(saves.__file__).parent.parent)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert saves.default_folder() == tmp_path / "data" / "nnstudio" / "saves"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")   # the XDG specification says to ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert saves.default_folder() == tmp_path / "home" / ".local" / "share" / "nnstudio" / "saves"
    package = Path(saves.__file__).resolve().parent
    assert package not in saves.default_folder().resolve().parents
    assert saves.folder_or_default("") == saves.folder_or_default(None) == saves.default_folder()


def test_default_folder_is_configurable(monkeypatch, tmp_path):
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", str(tmp_path))
    assert saves.default_folder() == tmp_path
    assert saves.save_path("x").parent == tmp_path


# ====================================================================== the listing
def test_the_listing_lists_newest_first_with_summary_fields(tmp_path, monkeypatch):
    times = iter(["2025-01-01T10:00:00.000Z", "2025-03-01T10:00:00.000Z", "2025-02-01T10:00:00.000Z"])
    monkeypatch.setattr(schema, "utc_now", lambda: next(times))
    model = small_model()
    saves.save_model(tmp_path / "january.safetensors", model, dataset="mnist",
                     history=[{"epoch": 1, "val_acc": 0.8}, {"epoch": 2, "val_acc": 0.9}, {"epoch": 3, "val_acc": 0.85}])
    mlp = build_model(preset_spec("mlp"))
    saves.save_model(tmp_path / "march.safetensors", mlp, dataset={"name": "fashion-mnist", "normalisation": None},
                     config={"epochs": 12}, history=[{"epoch": 1}, {"epoch": 2}], metrics={"val_acc": 0.7})
    saves.save_checkpoint(tmp_path / "february.safetensors", model, optim.SGD(model.parameters(), lr=0.1), epoch=4)
    (tmp_path / "broken.safetensors").write_bytes(b"not a save at all")
    (tmp_path / ".march.safetensors.1234abcd.tmp").write_bytes(b"half")
    (tmp_path / "notes.txt").write_text("not a save")
    (tmp_path / "folder.safetensors").mkdir()

    entries = saves.list_saves(tmp_path)
    readable = [e for e in entries if e.error is None]
    assert [e.name for e in readable] == ["march", "february", "january"]
    march, february, january = readable
    assert march.model_summary == "mlp 784-128-64-10, 109k params"
    # epochs trained are the history's (a config is the writer's own: saves never read inside it)
    assert (march.dataset, march.epochs, march.best_val_accuracy, march.kind) == ("fashion-mnist", 2, 0.7, "model")
    assert (january.dataset, january.epochs, january.best_val_accuracy) == ("mnist", 3, 0.9)
    assert (february.kind, february.epochs, february.dataset) == ("checkpoint", 4, None)
    assert january.size == (tmp_path / "january.safetensors").stat().st_size
    assert january.created.year == 2025 and january.created.month == 1
    [broken] = [e for e in entries if e.error is not None]
    assert broken.name == "broken" and "not a safetensors file" in broken.error


def test_the_listing_parses_each_header_s_metadata_document_once(tmp_path, monkeypatch):
    model = small_model()
    saves.save_model(tmp_path / "model.safetensors", model)
    saves.save_checkpoint(tmp_path / "checkpoint.safetensors", model, optim.SGD(model.parameters(), lr=0.1), epoch=2)
    parsed = []
    parse_json = schema.parse_json
    monkeypatch.setattr(schema, "parse_json", lambda text, what: (parsed.append(what), parse_json(text, what))[1])
    entries = saves.list_saves(tmp_path)
    assert [e.error for e in entries] == [None, None] and parsed == ["metadata", "metadata"]


def mismatched(folder: Path) -> Path:
    """A save whose header reads but whose tensors are not the ones its spec's model has (it will not load)."""
    good = saves.save_model(folder / "good.safetensors", small_model())
    header, data = _header_and_data(good)
    document = json.loads(header["__metadata__"]["nnstudio"])
    document["model"]["spec"]["layers"][-1]["out"] = 5   # the file still holds 10 outputs' weights
    header["__metadata__"]["nnstudio"] = json.dumps(document)
    text = json.dumps(header).encode()
    path = folder / "mismatch.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def _header_and_data(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def test_the_listing_marks_a_save_whose_tensors_do_not_fit_its_spec(tmp_path):
    path = mismatched(tmp_path)
    entries = {e.name: e for e in saves.list_saves(tmp_path)}
    assert entries["good"].loadable and entries["good"].problem is None
    bad = entries["mismatch"]
    assert bad.error is None and bad.metadata is not None and not bad.loadable  # it lists, with its details
    assert "tensors do not match the model spec" in bad.problem and "2.weight has shape [10, 256]" in bad.problem
    with pytest.raises(SaveError, match="tensors do not match the model spec"):
        saves.load(path)  # the mark tells the truth


def test_the_listing_checks_a_checkpoints_optimizer_tensors(tmp_path):
    model = small_model()
    optimizer = optim.Adam(model.parameters())
    for parameter in model.parameters():
        parameter.grad = np.ones_like(parameter.data)
    optimizer.step()  # now it has moments to save
    path = saves.save_checkpoint(tmp_path / "c.safetensors", model, optimizer, epoch=1)
    header, data = _header_and_data(path)
    header["optimizer.state.0.bogus"] = header.pop("optimizer.state.0.exp_avg")
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    [entry] = saves.list_saves(tmp_path)
    assert entry.kind == "checkpoint" and "unexpected tensor 'optimizer.state.0.bogus'" in entry.problem


def test_checking_a_folder_of_one_model_builds_it_once(tmp_path, monkeypatch):
    first = saves.save_model(tmp_path / "save-0.safetensors", small_model(1))
    for i in range(1, 20):
        shutil.copyfile(first, tmp_path / f"save-{i}.safetensors")
    tensors.spec_expected.cache_clear()
    builds = []
    real_build = tensors.build
    monkeypatch.setattr(tensors, "build", lambda *a: builds.append(1) or real_build(*a))
    assert all(e.loadable for e in saves.list_saves(tmp_path))
    assert len(builds) == 1


@pytest.mark.parametrize("seconds", [2.0 ** 62, -(2.0 ** 62), float("nan"), 1e15])
def test_a_file_time_datetime_cannot_hold_lists_as_the_epoch(seconds):
    """A file time set by `touch -d` or a broken clock (many file systems clamp, some do not) must not break listing."""
    stat = os.stat_result((0o100644, 0, 0, 1, 0, 0, 100, 0, seconds, 0))
    moment = listing._modified(stat)
    assert moment.year == 1970
    moment.astimezone().strftime("%Y-%m-%d %H:%M")


def test_describe_model_names_the_layers():
    assert saves.describe_model(preset_spec("logreg")) == "logreg 784-10, 7.8k params"
    assert saves.describe_model(preset_spec("cnn")).startswith("cnn 1x28x28-c16-c32-64-10, ")
    assert saves.describe_model(preset_spec("autoencoder")) == "autoencoder 784-128-32-128-784, 210k params"


def test_the_listing_of_hundreds_of_files_reads_each_once_in_slices(tmp_path, monkeypatch):
    """The listing checks what `load` checks, weights finite included, without holding a file's data: each
    file is read once, its data in slices of at most `fmt.CHUNK_BYTES`."""
    first = saves.save_model(tmp_path / "save-000.safetensors", small_model())
    for i in range(1, 200):
        shutil.copyfile(first, tmp_path / f"save-{i:03d}.safetensors")
    size, header_bytes = first.stat().st_size, fmt.read_header(open(first, "rb")).data_start
    assert size - header_bytes > 50_000

    read = []
    real_open = open

    class Counting(io.BufferedReader):
        def read(self, size=-1):
            data = super().read(size)
            read.append(len(data))
            return data

    def counting_open(path, mode="r", *args, **kwargs):
        assert mode == "rb"
        return Counting(real_open(path, "rb", buffering=0))

    monkeypatch.setattr(api, "open", counting_open, raising=False)
    monkeypatch.setattr(fmt, "CHUNK_BYTES", 4096)
    entries = saves.list_saves(tmp_path)
    assert len(entries) == 200 and all(e.loadable for e in entries)
    assert sum(read) == 200 * size and max(read) <= max(4096, header_bytes)   # the header, then slices


def test_missing_folder_lists_nothing(tmp_path):
    assert saves.list_saves(tmp_path / "nowhere") == []


# ====================================================================== checkpoints of a run
def test_manager_keeps_the_last_k_and_the_best(tmp_path):
    model = small_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    run_dir = saves.new_run_dir("mnist mlp", tmp_path)
    assert run_dir.parent == tmp_path / "runs" and run_dir.name.startswith("mnist-mlp-")
    manager = saves.CheckpointManager(run_dir, keep_last=2, monitor="val_acc", mode="max")
    for epoch, accuracy in enumerate([0.5, 0.7, 0.6, float("nan"), 0.65], start=1):
        model.parameters()[0].data += 1.0  # each epoch's weights differ
        manager.save(epoch, model, optimizer, metric=accuracy,
                     history=[{"epoch": e} for e in range(1, epoch)] + [{"epoch": epoch, "val_acc": accuracy}])
    assert [e for e, _ in manager.checkpoints()] == [4, 5]
    assert manager.latest() == run_dir / "epoch-0005.safetensors"
    best = saves.load(manager.best())
    assert best.checkpoint.epoch == 2 and (manager.best_epoch, manager.best_value) == (2, 0.7)
    assert best.model.parameters()[0].data[0, 0] == saves.load(manager.latest()).model.parameters()[0].data[0, 0] - 3
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "best.safetensors", "epoch-0004.safetensors",
                                                         "epoch-0005.safetensors", "run.json"]
    info = saves.read_run(run_dir)
    assert (info.status, info.last_epoch, info.best_value, info.active) == ("running", 5, 0.7, True)
    manager.finish("stopped")
    assert saves.read_run(run_dir).status == "stopped" and not saves.read_run(run_dir).active
    with pytest.raises(SaveError, match="closed"):
        manager.save(6, model, optimizer)


def test_manager_with_min_mode_and_validation(tmp_path):
    model = small_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with saves.CheckpointManager(tmp_path / "run", keep_last=1, monitor="val_loss", mode="min") as manager:
        for epoch, loss in enumerate([1.0, 0.5, 0.8], start=1):
            manager.save(epoch, model, optimizer, metric=loss)
        assert manager.best_epoch == 2
    assert saves.read_run(tmp_path / "run").status == "finished"
    with pytest.raises(ValueError, match="keep_last"):
        saves.CheckpointManager(tmp_path / "other", keep_last=0)


def test_only_one_process_writes_a_run(tmp_path):
    first = saves.CheckpointManager(tmp_path / "run")
    with pytest.raises(SaveError, match="another nnstudio process"):
        saves.CheckpointManager(tmp_path / "run")
    first.close()
    saves.CheckpointManager(tmp_path / "run").finish()


def test_interrupted_runs_are_found_most_recent_first(tmp_path, monkeypatch):
    model = small_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    seconds = itertools.count()
    monkeypatch.setattr("nnstudio.saves.checkpoints.utc_now",
                        lambda: f"2025-01-01T00:00:00.{next(seconds):03d}Z")  # a later time at every call

    older = saves.CheckpointManager(tmp_path / "runs" / "older")
    older.save(1, model, optimizer)
    older.close()                    # the process died: still "running", nobody holds it
    finished = saves.CheckpointManager(tmp_path / "runs" / "finished")
    finished.save(1, model, optimizer)
    finished.finish()
    newer = saves.CheckpointManager(tmp_path / "runs" / "newer")
    newer.save(3, model, optimizer)
    newer.close()
    empty = saves.CheckpointManager(tmp_path / "runs" / "empty")  # died before its first checkpoint
    empty.close()
    live = saves.CheckpointManager(tmp_path / "runs" / "live")   # training right now
    live.save(1, model, optimizer)
    (tmp_path / "runs" / "junk").mkdir()
    (tmp_path / "runs" / "junk" / "run.json").write_text("{broken")

    assert [r.name for r in saves.find_interrupted_runs(tmp_path)] == ["newer", "older"]
    run = saves.latest_interrupted_run(tmp_path)
    assert run.name == "newer" and run.last_epoch == 3 and run.latest.name == "epoch-0003.safetensors"
    live.finish()
    assert saves.latest_interrupted_run(tmp_path / "elsewhere") is None


def test_a_damaged_latest_checkpoint_falls_back_to_the_one_before(tmp_path):
    model = small_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    manager = saves.CheckpointManager(tmp_path / "run", keep_last=3)
    for epoch in (1, 2):
        manager.save(epoch, model, optimizer)
    manager.close()
    (tmp_path / "run" / "epoch-0002.safetensors").write_bytes(b"damaged by a disk error")
    assert saves.read_run(tmp_path / "run").latest.name == "epoch-0001.safetensors"
