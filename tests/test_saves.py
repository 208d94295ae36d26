"""Saves: exact round trips, the official reader, metadata, and every way a file is refused."""

from __future__ import annotations

import io
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from nnstudio import saves
from nnstudio.datasets import BatchIterator
from nnstudio.engine import Tensor, build_model, get_rng_state, manual_seed, optim
from nnstudio.engine.evaluation import predict
from nnstudio.engine.nn import CrossEntropyLoss
from nnstudio.engine.presets import preset_spec
from nnstudio.engine.trainer import Trainer
from nnstudio.saves import SaveError
from nnstudio.saves import format as fmt
from nnstudio.saves import schema

TINY = {"name": "tiny", "input_shape": [4],
        "layers": [{"type": "linear", "out": 8}, {"type": "relu"}, {"type": "dropout", "p": 0.25},
                   {"type": "linear", "out": 3}]}


def build_or_skip(spec: dict):
    """Build a model, skipping while the engine still lacks one of its layers (conv, batch norm)."""
    try:
        return build_model(spec)
    except AttributeError as error:
        pytest.skip(f"the engine cannot build this preset yet: {error}")


def trained(spec: dict = TINY, epochs: int = 2, seed: int = 0):
    """A model, its Adam optimizer and data, after a few epochs (so weights and moments are not initial)."""
    manual_seed(seed)
    model = build_or_skip(spec)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, *spec["input_shape"])).astype(np.float32)
    y = rng.integers(0, 3, size=32)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, optimizer, CrossEntropyLoss(), BatchIterator(x, y, 8, seed=seed), epochs=epochs, classes=3)
    assert trainer.run() == "finished"
    return model, optimizer, x


def write_raw(path: Path, tensors: dict[str, np.ndarray], document) -> Path:
    """A file with any metadata document, bypassing the schema check that save_model applies."""
    text = document if isinstance(document, str) else json.dumps(document)
    with open(path, "wb") as file:
        fmt.write(file, tensors, {schema.METADATA_KEY: text})
    return path


def document_of(path: Path) -> dict:
    return saves.read_metadata(path).to_document()


def header_of(path: Path) -> tuple[dict, bytes]:
    """The raw header JSON and the data bytes of a file."""
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_header(path: Path, header: dict, data: bytes) -> Path:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def refused(path: Path, *phrases: str) -> SaveError:
    with pytest.raises(SaveError) as caught:
        saves.load(path)
    message = str(caught.value)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    assert str(path) in message  # every error names the file
    return caught.value


# ====================================================================== round trips
@pytest.mark.parametrize("preset", ["logreg", "mlp", "autoencoder", "deep-mlp", "cnn"])
def test_round_trip_gives_bit_identical_outputs(tmp_path, preset):
    spec = preset_spec(preset)
    manual_seed(3)
    model = build_or_skip(spec)
    for p in model.parameters():  # not the initial values a rebuilt model would have anyway
        p.data += np.random.default_rng(1).normal(0, 0.01, p.shape).astype(p.dtype)
    x = np.random.default_rng(2).random((5, *spec["input_shape"]), dtype=np.float32)
    model(Tensor(x))  # a training-mode pass moves batch norm's running statistics (buffers) too
    path = saves.save_model(tmp_path / f"{preset}.safetensors", model)
    loaded = saves.load(path)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(loaded.model.state_dict()[name], array)
        assert loaded.model.state_dict()[name].dtype == array.dtype
    np.testing.assert_array_equal(predict(loaded.model, x), predict(model, x))
    assert loaded.checkpoint is None and loaded.metadata.kind == "model"
    assert loaded.spec == spec


def test_float64_models_keep_their_precision(tmp_path):
    model, _, x = trained()
    model.to(np.float64)
    loaded = saves.load(saves.save_model(tmp_path / "f64.safetensors", model))
    assert loaded.metadata.dtype == "float64"
    assert all(p.dtype == np.float64 for p in loaded.model.parameters())
    np.testing.assert_array_equal(predict(loaded.model, x), predict(model, x))


def test_official_reader_opens_models_and_checkpoints(tmp_path):
    model, optimizer, _ = trained()
    model_path = saves.save_model(tmp_path / "m.safetensors", model, dataset="toy")
    checkpoint_path = saves.save_checkpoint(tmp_path / "c.safetensors", model, optimizer, epoch=2)
    for path in (model_path, checkpoint_path):
        with safe_open(str(path), "np") as f:
            for name, array in model.state_dict().items():
                np.testing.assert_array_equal(f.get_tensor(name), array)
            document = json.loads(f.metadata()["nnstudio"])
            assert document["format_version"] == saves.FORMAT_VERSION
            assert document["model"]["spec"]["name"] == "tiny"
    arrays = load_file(str(checkpoint_path))
    state = optimizer.state_dict()["state"]
    np.testing.assert_array_equal(arrays["optimizer.state.0.exp_avg"], state["0"]["exp_avg"])
    assert arrays["optimizer.state.0.step"].shape == () and int(arrays["optimizer.state.0.step"]) == 8


def test_files_written_by_the_official_library_load(tmp_path):
    model, _, x = trained()
    document = schema.build("model", TINY, "float32").encode()
    path = tmp_path / "official.safetensors"
    save_file(dict(model.state_dict()), str(path), metadata={"nnstudio": document})
    np.testing.assert_array_equal(predict(saves.load(path).model, x), predict(model, x))


def test_metadata_records_the_training_story(tmp_path):
    model, _, _ = trained()
    history = [{"epoch": 1, "train_loss": 0.9, "val_acc": 0.5, "grad_norms": {"0": 1.5}},
               {"epoch": 2, "train_loss": float("nan"), "val_acc": np.float32(0.75), "lr": 1e-3}]
    path = saves.save_model(tmp_path / "m.safetensors", model, config={"optimizer": "adam", "batch_size": 8,
                            "seed": 0, "epochs": 2, "schedule": None}, history=history,
                            dataset={"name": "toy", "normalisation": {"mean": np.zeros(2)}}, metrics={"val_acc": 0.75})
    meta = saves.read_metadata(path)
    assert meta.history[1]["train_loss"] is None  # NaN is stored as "no value"
    assert meta.history[1]["val_acc"] == 0.75 and meta.best_val_accuracy == 0.75
    assert meta.dataset == {"name": "toy", "normalisation": {"mean": [0.0, 0.0]}}
    assert meta.config["batch_size"] == 8 and meta.epochs == 2
    assert meta.created.tzinfo is not None and meta.created_at.endswith("Z")
    assert meta.nnstudio_version and meta.kind == "model"


def test_unstorable_metadata_is_refused_before_writing(tmp_path):
    model, _, _ = trained()
    with pytest.raises(SaveError, match="config.callback"):
        saves.save_model(tmp_path / "m.safetensors", model, config={"callback": print})
    with pytest.raises(SaveError, match=": metadata config must be an object, got \\['adam', 0.1\\]$"):
        saves.save_model(tmp_path / "m.safetensors", model, config=["adam", 0.1])
    assert not any(tmp_path.iterdir())


def test_the_config_is_the_writers_own(tmp_path):
    """Saves check that a config is JSON data, never what is in it: its settings are the session's business."""
    model, _, _ = trained()
    config = {"optimizer": {"name": "adam", "lr": 1e-3}, "training": {"batch_size": 0}, "anything": [1, "two"]}
    path = saves.save_model(tmp_path / "m.safetensors", model, config=config, history=[{"epoch": 1}])
    assert saves.read_metadata(path).config == config and saves.read_metadata(path).epochs == 1


def test_a_model_that_does_not_match_its_spec_is_not_written(tmp_path):
    model, _, _ = trained()
    with pytest.raises(SaveError, match="do not match the model spec"):
        saves.save_model(tmp_path / "m.safetensors", model, spec=preset_spec("logreg", input_shape=(4,)))
    assert not any(tmp_path.iterdir())


def test_loading_leaves_the_engine_random_stream_alone(tmp_path):
    model, _, _ = trained()
    path = saves.save_model(tmp_path / "m.safetensors", model)
    before = get_rng_state()
    saves.load(path)
    assert get_rng_state() == before


def test_existing_saves_are_overwritten_only_when_asked(tmp_path):
    first, _, x = trained(seed=0)
    second, _, _ = trained(seed=1)
    path = saves.save_model(tmp_path / "m.safetensors", first)
    with pytest.raises(SaveError, match="already exists"):
        saves.save_model(path, second)
    np.testing.assert_array_equal(predict(saves.load(path).model, x), predict(first, x))
    saves.save_model(path, second, overwrite=True)
    np.testing.assert_array_equal(predict(saves.load(path).model, x), predict(second, x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp files left


def test_a_failed_write_leaves_the_previous_save_and_no_temp_file(tmp_path, monkeypatch):
    model, _, x = trained()
    path = saves.save_model(tmp_path / "m.safetensors", model)
    before = path.read_bytes()

    def broken_write(file, tensors, metadata):
        file.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fmt, "write", broken_write)
    with pytest.raises(SaveError, match="No space left"):
        saves.save_model(path, model, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_stale_temp_files_are_cleaned_only_when_old(tmp_path):
    stray = tmp_path / ".m.safetensors.0a1b2c3d.tmp"
    stray.write_bytes(b"partial")
    assert saves.remove_stale_temp_files(tmp_path, older_than=3600) == []
    os.utime(stray, (0, 0))
    assert saves.remove_stale_temp_files(tmp_path, older_than=3600) == [stray]
    assert not stray.exists()


# ====================================================================== checkpoints (in process)
def test_checkpoint_restores_optimizer_schedule_stopping_and_random_state(tmp_path):
    model, optimizer, _ = trained()
    scheduler = optim.StepLR(optimizer, step_size=1, gamma=0.5)
    scheduler.step()
    stopping = optim.EarlyStopping(patience=4, min_delta=0.01, mode="max")
    stopping.step(0.5)
    data_rng = np.random.default_rng(9)
    data_rng.random(3)
    path = saves.save_checkpoint(tmp_path / "c.safetensors", model, optimizer, epoch=2, scheduler=scheduler,
                                 early_stopping=stopping, data_rng=data_rng, data_state={"epoch": 2, "position": 0})
    engine_state = get_rng_state()
    manual_seed(123)
    loaded = saves.load(path)
    resume = loaded.checkpoint
    assert resume.epoch == 2 and loaded.metadata.epochs == 2 and resume.data_state == {"epoch": 2, "position": 0}

    restored = resume.make_optimizer(loaded.model.parameters())
    assert type(restored) is optim.Adam and restored.step_count == optimizer.step_count
    for i, state in enumerate(optimizer.state):
        for name, value in state.items():
            np.testing.assert_array_equal(restored.state[i][name], value)
    sched = resume.make_scheduler(restored)
    assert sched.last_epoch == 1 and restored.lr == optimizer.lr == 0.005
    stop = resume.make_early_stopping()
    assert (stop.patience, stop.min_delta, stop.best, stop.mode) == (4, 0.01, 0.5, "max")
    np.testing.assert_array_equal(resume.data_generator().random(4), data_rng.random(4))
    resume.restore_rng()
    assert get_rng_state() == engine_state


def test_restore_into_existing_objects_and_refuse_the_wrong_kind(tmp_path):
    model, optimizer, _ = trained()
    path = saves.save_checkpoint(tmp_path / "c.safetensors", model, optimizer, epoch=2)
    loaded = saves.load(path)
    fresh = optim.Adam(loaded.model.parameters(), lr=0.5)
    loaded.checkpoint.restore(fresh)
    assert fresh.lr == 0.01 and fresh.step_count == optimizer.step_count
    with pytest.raises(SaveError, match="SGD"):
        loaded.checkpoint.restore(optim.SGD(loaded.model.parameters(), lr=0.1))
    with pytest.raises(SaveError, match="no schedule"):
        loaded.checkpoint.restore(scheduler=optim.StepLR(fresh, 2))


def test_a_checkpoint_needs_an_optimizer_over_the_models_parameters(tmp_path):
    model, _, _ = trained()
    partial = optim.SGD(model.parameters()[:2], lr=0.1)
    with pytest.raises(SaveError, match="do not match the model"):
        saves.save_checkpoint(tmp_path / "c.safetensors", model, partial, epoch=1)


# ====================================================================== refusals: the container
@pytest.fixture
def good(tmp_path) -> Path:
    model, optimizer, _ = trained()
    return saves.save_checkpoint(tmp_path / "good.safetensors", model, optimizer, epoch=2)


def test_refuses_files_that_are_not_safetensors(tmp_path):
    refused(write_bytes(tmp_path / "text.safetensors", b"hello, I am a text file, not weights\n"),
            "not a safetensors file")
    refused(write_bytes(tmp_path / "short.safetensors", b"abc"), "only 3 bytes")
    refused(write_bytes(tmp_path / "empty.safetensors", b""), "only 0 bytes")
    refused(write_bytes(tmp_path / "pickle.safetensors", b"\x80\x04\x95" + bytes(40)), "not a safetensors file")


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_refuses_truncated_files(good):
    data = good.read_bytes()
    good.write_bytes(data[:-10])
    refused(good, "truncated")
    good.write_bytes(data[:20])
    refused(good, "truncated")


def test_refuses_oversized_and_impossible_header_lengths(tmp_path):
    refused(write_bytes(tmp_path / "a.safetensors", struct.pack("<Q", 200 * 1024 * 1024) + b"{}"), "over the limit")
    refused(write_bytes(tmp_path / "b.safetensors", struct.pack("<Q", 5000) + b"{}"), "truncated")


def test_refuses_malformed_headers(tmp_path):
    def with_header(name: str, text: bytes) -> Path:
        return write_bytes(tmp_path / name, struct.pack("<Q", len(text)) + text)

    refused(with_header("json.safetensors", b"{not json"), "not valid JSON")
    refused(with_header("utf8.safetensors", b'{"\xff": 1}'), "not UTF-8")
    refused(with_header("list.safetensors", b"[1, 2]"), "not a JSON object")
    refused(with_header("dup.safetensors", b'{"a": 1, "a": 2}'), "appears twice")
    refused(with_header("nan.safetensors", b'{"a": NaN}'), "NaN")
    refused(with_header("deep.safetensors", b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"), "malformed")
    refused(with_header("meta.safetensors", b'{"__metadata__": {"nnstudio": 5}}'), "__metadata__")
    refused(with_header("none.safetensors", b'{"__metadata__": {"format": "pt"}}'), "not an nnstudio save")


def test_refuses_bad_tensor_entries(good):
    header, data = header_of(good)
    name = "0.weight"
    cases = [
        ({"dtype": "BF16"}, "unsupported dtype 'BF16'"),
        ({"shape": [8, -4]}, "shape [8, -4]"),
        ({"shape": [8, 5]}, "needs 160 bytes"),
        ({"data_offsets": [10, 4]}, "data_offsets"),
        ({"extra": 1}, "exactly dtype, shape and data_offsets"),
    ]
    for change, phrase in cases:
        broken = json.loads(json.dumps(header))
        broken[name].update(change)
        refused(write_header(good, broken, data), phrase)
    refused(write_header(good, header, data + b"\0" * 8), "unexpected bytes after the tensor data")
    shifted = json.loads(json.dumps(header))
    begin, end = shifted[name]["data_offsets"]
    shifted[name]["data_offsets"] = [begin + 4, end + 4]
    refused(write_header(good, shifted, data + b"\0" * 4), "tensor")


# ====================================================================== refusals: tensors against the spec
def test_refuses_missing_extra_and_misshapen_tensors(tmp_path):
    model, _, _ = trained()
    state = dict(model.state_dict())
    document = schema.build("model", TINY, "float32").to_document()

    without = {k: v for k, v in state.items() if k != "3.bias"}
    refused(write_raw(tmp_path / "missing.safetensors", without, document), "missing 3.bias")
    refused(write_raw(tmp_path / "extra.safetensors", {**state, "9.weight": np.zeros(2, np.float32)}, document),
            "unexpected '9.weight'")
    refused(write_raw(tmp_path / "shape.safetensors", {**state, "0.weight": np.zeros((8, 5), np.float32)}, document),
            "0.weight has shape [8, 5], the spec gives [8, 4]")
    refused(write_raw(tmp_path / "dtype.safetensors", {**state, "0.bias": state["0.bias"].astype(np.float64)},
                      document), "0.bias has dtype F64, expected F32")
    refused(write_raw(tmp_path / "int.safetensors", {**state, "0.bias": np.zeros(8, np.int32)}, document),
            "0.bias has dtype I32")


def test_refuses_optimizer_tensors_that_do_not_fit(good, tmp_path):
    loaded = saves.load(good)
    document = loaded.metadata.to_document()
    tensors = dict(load_file(str(good)))
    cases = [
        ({**tensors, "optimizer.state.0.exp_avg": np.zeros((2, 2), np.float32)}, "optimizer.state.0.exp_avg has shape"),
        ({**tensors, "optimizer.state.0.momentum_buffer": np.zeros((8, 4), np.float32)}, "unexpected tensor"),
        ({**tensors, "optimizer.state.7.exp_avg": np.zeros(1, np.float32)}, "unexpected tensor"),
        ({k: v for k, v in tensors.items() if k != "optimizer.state.1.exp_avg_sq"}, "missing ['exp_avg_sq']"),
        ({**tensors, "optimizer.state.0.step": np.array(1.5)}, "step has dtype F64"),
    ]
    for i, (arrays, phrase) in enumerate(cases):
        refused(write_raw(tmp_path / f"opt{i}.safetensors", arrays, document), phrase)
    as_model = dict(document, kind="model", checkpoint=None)
    refused(write_raw(tmp_path / "model.safetensors", tensors, as_model), "unexpected 'optimizer.state")


# ====================================================================== refusals: the metadata document
def test_refuses_a_format_from_the_future(good, tmp_path):
    document = document_of(good)
    document.update(format_version=saves.FORMAT_VERSION + 1, unknown_new_field={"x": 1})
    error = refused(write_raw(tmp_path / "future.safetensors", dict(load_file(str(good))), document),
                    f"newer nnstudio (format {saves.FORMAT_VERSION + 1}, this one reads up to {saves.FORMAT_VERSION})",
                    "upgrade nnstudio")
    assert error.problem.startswith("written by a newer nnstudio")


@pytest.mark.parametrize("change, phrase", [
    (lambda d: d.update(format_version="1"), "format_version must be a whole number"),
    (lambda d: d.pop("format_version"), "missing format_version"),
    (lambda d: d.update(kind="weights"), "kind must be one of model, checkpoint"),
    (lambda d: d.update(created_at="yesterday"), "created_at"),
    (lambda d: d.update(created_at="2025-01-01T00:00:00"), "created_at"),
    (lambda d: d.update(extra=1), "unknown key 'extra'"),
    (lambda d: d.pop("history"), "missing history"),
    (lambda d: d["model"].update(dtype="float16"), "model.dtype"),
    (lambda d: d["model"]["spec"]["layers"][0].update(out=-1), "model.spec is not a valid model spec: layer 0"),
    (lambda d: d["model"].update(spec="mlp"), "model.spec"),
    (lambda d: d.update(config=[]), "config must be an object"),
    (lambda d: d.update(config="adam"), "config must be an object, got 'adam'"),
    (lambda d: d.update(history=[{"grad_norms": {"0": "big"}}]), "history[0].grad_norms.0 must be a number >= 0 or null"),
    (lambda d: d.update(history=[{"epoch": True}]), "history[0].epoch must be a whole number >= 1, got true (a yes/no value)"),
    (lambda d: d.update(history=[{"val_acc": "high"}]), "history[0].val_acc must be a number >= 0 and <= 1 or null"),
    (lambda d: d.update(history=[3]), "history[0] must be an object"),
    (lambda d: d.update(dataset={"normalisation": None}), "dataset is missing name"),
    (lambda d: d.update(metrics={"acc": [1]}), "metrics.acc"),
    (lambda d: d.update(checkpoint=None), "checkpoint must be an object"),
    (lambda d: d["checkpoint"].update(epoch=-1), "checkpoint.epoch"),
    (lambda d: d["checkpoint"]["optimizer"].update(type="os.system"), "checkpoint.optimizer.type must be one of"),
    (lambda d: d["checkpoint"]["optimizer"]["hyper"].update(lr=-1), "optimizer state is invalid: lr"),
    (lambda d: d["checkpoint"]["optimizer"]["hyper"].update(evil=1), "optimizer state is invalid"),
    (lambda d: d["checkpoint"]["optimizer"].update(params=[[1]]), "optimizer was built for 1 parameters"),
    (lambda d: d["checkpoint"].update(scheduler={"type": "Evil"}), "checkpoint.scheduler.type"),
    (lambda d: d["checkpoint"].update(scheduler={"type": "StepLR", "step_size": 0}), "schedule state is invalid"),
    (lambda d: d["checkpoint"]["rng"].update(engine={"bit_generator": "seed"}), "random generator state"),
    (lambda d: d["checkpoint"]["rng"]["engine"]["state"].update(state="x"), "not a valid PCG64 state"),
    (lambda d: d["checkpoint"]["rng"].update(data={"bit_generator": "PCG64"}), "checkpoint.rng.data"),
    (lambda d: d["checkpoint"].update(early_stopping={"state": {}, "patience": 0, "min_delta": 0}), "patience"),
    # a time that parses but lies outside datetime's range once in UTC (or local time) must not reach a view
    (lambda d: d.update(created_at="0001-01-01T00:00:00+14:00"), "created_at must be a time between the years"),
    (lambda d: d.update(created_at="9999-12-31T23:59:59-14:00"), "created_at must be a time between the years"),
    (lambda d: d.update(created_at="0001-01-01T10:00:00Z"), "created_at must be a time between the years"),
    (lambda d: d.update(created_at=20250101), "created_at must be an ISO-8601 time"),
    # the batch iterator's generator is restored by name: only NumPy's bit generators may be named
    (lambda d: d["checkpoint"].update(data_state={"batches": {"epoch": 1, "position": 0,
                                                              "rng": {"bit_generator": "seed", "state": {}}}}),
     "checkpoint.data_state.batches.rng is not a random generator state"),
    (lambda d: d["checkpoint"].update(data_state={"batches": {"rng": {"state": 5}}}),
     "checkpoint.data_state.batches.rng is not a random generator state"),
    (lambda d: d["checkpoint"].update(data_state={"batches": {"rng": {"bit_generator": "PCG64", "state": "x"}}}),
     "checkpoint.data_state.batches.rng is not a valid PCG64 state"),
    (lambda d: d["checkpoint"].update(data_state={"other": [{"bit_generator": "RandomState"}]}),
     "checkpoint.data_state.other[0] is not a random generator state"),
    # numbers that contradict each other or make no sense are refused here, not echoed (issue 12)
    (lambda d: d.update(history=[{"epoch": 1}]), "checkpoint.epoch is 2, but its history ends at epoch 1"),
    (lambda d: d.update(history=[{}]), "checkpoint.epoch is 2, but its history ends at epoch 1"),
    (lambda d: d["checkpoint"].update(epoch=1_000_000_000) or d.update(history=[{"epoch": 1}, {"epoch": 2}]),
     "checkpoint.epoch is 1000000000, but its history ends at epoch 2"),
    (lambda d: d.update(history=[{"epoch": 2}, {"epoch": 1}]), "history[0].epoch is 2, but it is entry 1"),
    (lambda d: d.update(history=[{"epoch": 1}, {"epoch": 1}]), "history[1].epoch is 1, but it is entry 2"),
    (lambda d: d.update(history=[{"epoch": 1}, {"epoch": 10**18}]),   # passed, then broke a continued run's checkpoints
     "history[1].epoch is 1000000000000000000, but it is entry 2"),
    (lambda d: d.update(history=[{"epoch": 0}]), "history[0].epoch must be a whole number >= 1, got 0"),
    (lambda d: d.update(history=[{"elapsed": -1e308}]), "history[0].elapsed must be a number >= 0 or null"),
    (lambda d: d.update(history=[{"seconds": -1}]), "history[0].seconds must be a number >= 0 or null"),
    (lambda d: d.update(history=[{"lr": -0.1}]), "history[0].lr must be a number >= 0 or null"),
    (lambda d: d.update(history=[{"train_acc": 1.5}]), "history[0].train_acc must be a number >= 0 and <= 1"),
    (lambda d: d.update(history=[{"weight_norms": {"0": -2}}]), "history[0].weight_norms.0 must be a number >= 0"),
    (lambda d: d.update(metrics={"best_val_acc": 7}), "metrics.best_val_acc must be a number >= 0 and <= 1, got 7"),
    (lambda d: d["checkpoint"].update(data_state={"trainer": {"epoch": 2, "elapsed": -1e308}}),
     "checkpoint.data_state.trainer.elapsed must be a number >= 0, got -1e+308"),
    (lambda d: d["checkpoint"].update(data_state={"trainer": {"epoch": -1}}),
     "checkpoint.data_state.trainer.epoch must be a whole number >= 0, got -1"),
    (lambda d: d["checkpoint"].update(data_state={"trainer": {"tally": {"batches": -3}}}),
     "checkpoint.data_state.trainer.tally.batches must be a whole number >= 0, got -3"),
    (lambda d: d["checkpoint"].update(data_state={"batches": {"position": -1}}),
     "checkpoint.data_state.batches.position must be a whole number >= 0, got -1"),
    (lambda d: d["checkpoint"].update(data_state={"epochs_planned": 0}),
     "checkpoint.data_state.epochs_planned must be a whole number >= 1, got 0"),
    (lambda d: d["checkpoint"].update(data_state={"epoch_offset": 0, "trainer": {"epoch": 1_000_000_000}}),
     "says 0 epochs before this run and 1000000000 in it, but checkpoint.epoch is 2"),
])
def test_refuses_metadata_that_does_not_match_the_schema(good, tmp_path, change, phrase):
    document = document_of(good)
    change(document)
    refused(write_raw(tmp_path / "bad.safetensors", dict(load_file(str(good))), document), phrase)


@pytest.mark.parametrize("field", ['"seconds": 1e400', '"epoch": 1, "elapsed": -1e999'])
def test_refuses_numbers_too_large_to_be_finite(good, tmp_path, field):
    """JSON has no infinity, but Python reads 1e400 as one: a number that overflows is refused like NaN."""
    text = json.dumps(document_of(good)).replace('"history": []', f'"history": [{{{field}}}]')
    refused(write_raw(tmp_path / "bad.safetensors", dict(load_file(str(good))), text), "it must be a finite number")


def test_refuses_metadata_that_is_not_json(good, tmp_path):
    refused(write_raw(tmp_path / "bad.safetensors", dict(load_file(str(good))), "{'python': 'dict'}"),
            "metadata is not valid JSON")
    refused(write_raw(tmp_path / "bad2.safetensors", dict(load_file(str(good))), "[]"), "metadata must be a JSON object")


def test_refuses_missing_files_and_folders(tmp_path):
    with pytest.raises(SaveError, match="no such file"):
        saves.load(tmp_path / "nothing.safetensors")
    with pytest.raises(SaveError, match="folder"):
        saves.load(tmp_path)


def test_reading_never_unpickles(monkeypatch, good):
    import pickle

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    saves.load(good)


def test_a_small_file_cannot_make_us_build_a_huge_model(good, tmp_path, monkeypatch):
    document = document_of(good)
    document.update(kind="model", checkpoint=None)
    document["model"]["spec"]["layers"][0]["out"] = 10_000_000  # 80 M parameters, 320 MB to initialise

    def no_building(spec):
        raise AssertionError("built the model")

    monkeypatch.setattr("nnstudio.saves.tensors.build_model", no_building)
    refused(write_raw(tmp_path / "huge.safetensors", {"0.weight": np.zeros(4, np.float32)}, document),
            "the file holds 4 model values, the spec's model has 80,000,003 parameters")


def test_the_container_round_trips_every_dtype_and_shape(tmp_path):
    tensors = {
        "scalar": np.array(7, np.int64), "empty": np.zeros((0, 3), np.float32), "flag": np.array([True, False]),
        "big_endian": np.arange(6, dtype=">f4").reshape(2, 3), "half": np.ones(3, np.float16),
        "bytes": np.arange(5, dtype=np.uint8), "wide": np.arange(4, dtype=np.float64).reshape(2, 1, 2),
        "small": np.arange(3, dtype=np.int8), "u16": np.arange(3, dtype=np.uint16), "i32": np.arange(3, dtype=np.int32),
    }
    path = tmp_path / "all.safetensors"
    with open(path, "wb") as file:
        fmt.write(file, tensors, {"note": "hi"})
    with open(path, "rb") as file:
        header = fmt.read_header(file)
        arrays = fmt.read_tensors(file, header)
    official = load_file(str(path))
    assert header.metadata == {"note": "hi"} and header.data_start % 8 == 0  # aligned, as the official writer does
    for name, array in tensors.items():
        for got in (arrays[name], official[name]):
            assert got.shape == array.shape and got.dtype == array.dtype.newbyteorder("=")
            np.testing.assert_array_equal(got, array)
    arrays["flag"][0] = False  # loaded arrays are writable copies, not views of a read-only buffer
    with pytest.raises(SaveError, match="cannot store a tensor of dtype complex128"):
        fmt.write(io.BytesIO(), {"z": np.zeros(2, complex)}, {})


# ====================================================================== audit: dates, data order, versions, overwrite
def test_created_at_in_any_zone_is_kept_and_read_as_utc(good, tmp_path):
    document = document_of(good)
    document["created_at"] = "2025-06-01T08:30:00+14:00"
    path = write_raw(tmp_path / "zoned.safetensors", dict(load_file(str(good))), document)
    created = saves.read_metadata(path).created
    assert created.utcoffset().total_seconds() == 0 and created.isoformat() == "2025-05-31T18:30:00+00:00"
    created.astimezone()  # safe in the viewer's zone
    assert saves.read_metadata(path).created_at == "2025-06-01T08:30:00+14:00"  # the text itself is not rewritten


def test_a_valid_batch_iterator_state_loads(tmp_path):
    model, optimizer, _ = trained()
    state = {"epoch": 2, "position": 8, "rng": np.random.default_rng(5).bit_generator.state}
    path = saves.save_checkpoint(tmp_path / "c.safetensors", model, optimizer, epoch=2,
                                 data_state={"batches": state, "trainer": {"epoch": 2}})
    assert saves.load(path).checkpoint.data_state["batches"] == json.loads(json.dumps(state))


def test_a_bad_batch_iterator_state_is_not_written(tmp_path):
    model, optimizer, _ = trained()
    with pytest.raises(SaveError, match="data_state.batches.rng is not a random generator state"):
        saves.save_checkpoint(tmp_path / "c.safetensors", model, optimizer, epoch=2,
                              data_state={"batches": {"rng": {"bit_generator": "seed"}}})
    assert not any(tmp_path.iterdir())


def test_a_newer_format_with_unknown_dtypes_says_upgrade(good, tmp_path):
    """A future format may store e.g. bfloat16: the reader must say "upgrade", not "unsupported dtype"."""
    header, data = header_of(good)
    document = json.loads(header["__metadata__"]["nnstudio"])
    document["format_version"] = saves.FORMAT_VERSION + 1
    header["__metadata__"]["nnstudio"] = json.dumps(document)
    name = next(k for k in header if k != "__metadata__" and header[k]["dtype"] == "F32")
    header[name]["dtype"] = "BF16"
    begin, end = header[name]["data_offsets"]
    header[name]["shape"] = [(end - begin) // 2]
    path = write_header(tmp_path / "future.safetensors", header, data)
    error = refused(path, "written by a newer nnstudio", "upgrade nnstudio")
    assert "dtype" not in error.problem
    with pytest.raises(SaveError, match="upgrade nnstudio"):
        saves.read_metadata(path)
    [entry] = [e for e in saves.list_saves(tmp_path) if e.name == "future"]
    assert entry.error.startswith("written by a newer nnstudio")


def test_checkpoints_are_not_overwritten_unless_asked(tmp_path):
    model, optimizer, _ = trained()
    path = saves.save_checkpoint(tmp_path / "c.safetensors", model, optimizer, epoch=1)
    with pytest.raises(SaveError, match="already exists"):
        saves.save_checkpoint(path, model, optimizer, epoch=2)
    assert saves.read_metadata(path).checkpoint["epoch"] == 1
    saves.save_checkpoint(path, model, optimizer, epoch=2, overwrite=True)
    assert saves.read_metadata(path).checkpoint["epoch"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]
