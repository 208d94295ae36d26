"""Fuzzing the reader: whatever the bytes, loading gives a model or a SaveError, never another exception;
whatever the metadata, the listing shows the file and `saves list`/`saves show` display it; and what the
listing and `saves show` say will not load is exactly what opening refuses (one set of checks)."""

from __future__ import annotations

import json
import struct
from datetime import timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from nnstudio import saves
from nnstudio.datasets import BatchIterator
from nnstudio.engine import build_model, manual_seed, optim
from nnstudio.engine.nn import CrossEntropyLoss
from nnstudio.engine.trainer import Trainer
from nnstudio.saves import SaveError
from nnstudio.tui.main import main
from nnstudio.tui.run import config_problem

FUZZ = settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "150")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TINY = {"name": "tiny", "input_shape": [4],
        "layers": [{"type": "linear", "out": 6}, {"type": "relu"}, {"type": "dropout", "p": 0.25},
                   {"type": "linear", "out": 3}]}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> bytes:
    """A checkpoint with every part filled in (optimizer, schedule, early stopping, both generators, history)."""
    manual_seed(0)
    model = build_model(TINY)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.integers(0, 3, 16)
    assert Trainer(model, optimizer, CrossEntropyLoss(), BatchIterator(x, y, 8), epochs=1, classes=3).run() == "finished"
    stopping = optim.EarlyStopping(patience=3)
    stopping.step(1.0)
    path = saves.save_checkpoint(tmp_path_factory.mktemp("fuzz") / "valid.safetensors", model, optimizer, epoch=1,
                                 scheduler=optim.CosineAnnealingLR(optimizer, T_max=5, warmup_epochs=1),
                                 early_stopping=stopping, data_rng=rng, data_state={"epoch": 1, "position": 0},
                                 config={"batch_size": 8, "seed": 0}, dataset="blobs",
                                 history=[{"epoch": 1, "train_loss": 1.1, "val_acc": 0.4, "grad_norms": {"0": 0.5}}],
                                 metrics={"val_acc": 0.4})
    return path.read_bytes()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-cases") / "case.safetensors"


def outcome(path: Path, data: bytes):
    """Load `data` from a file: a Loaded, or a SaveError (returned); any other exception fails the test.

    The listing shows the file whatever it holds, as a save or as a damaged file; what loads
    also lists, as loadable, and what the listing marks as loadable loads.
    """
    path.write_bytes(data)
    try:
        metadata = saves.read_metadata(path)
    except SaveError as error:
        header_error = error
    else:
        header_error = None
    entry = listed(path)
    try:
        loaded = saves.load(path)
    except SaveError as error:
        assert not entry.loadable, f"listed as loadable, but load says: {error}"
        return error
    assert header_error is None and metadata.kind == loaded.metadata.kind  # what loads also lists
    assert entry.loadable, entry.problem  # ... and is not marked as one that will not load
    return loaded


def listed(path: Path) -> saves.SaveEntry:
    """The file's listing entry, checked as every view uses it: dates shown in the local zone, summaries made."""
    [entry] = saves.list_saves(path.parent)
    assert (entry.error is None) == (entry.metadata is not None)
    entry.created.astimezone().strftime("%Y-%m-%d %H:%M")   # what `saves list` and the studio's pane do
    entry.modified.astimezone().strftime("%Y-%m-%d %H:%M")
    if entry.metadata is not None:
        assert entry.model_summary and entry.epochs is not None
        entry.best_val_accuracy
    return entry


@pytest.fixture
def displayed(capsys):
    """Run `saves list` and `saves show` on a fuzzed file: they exit 0 (show: 1 for a file that will not load),
    print an error rather than a traceback, and show as fine exactly what opens (it loads and the run core
    can use its run config, as `eval` and the studio need)."""
    def check(path: Path, result) -> None:
        assert main(["saves", "list", "--dir", str(path.parent)]) == 0
        shown = main(["saves", "show", str(path)])
        out, err = capsys.readouterr()
        assert shown in (0, 1), err
        assert shown == 0 or err.startswith("nnstudio saves: error: ")
        opens = not isinstance(result, SaveError) and config_problem(result.metadata) is None
        assert (shown == 0) == opens, err
        assert opens != ("will not load" in out or "\ndamaged " in "\n" + out), out   # `list` agrees (its note line)
    return check


def split(data: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header, rest: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + rest


# ====================================================================== whole files
@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes_are_refused(scratch, data):
    assert isinstance(outcome(scratch, data), SaveError)


@FUZZ
@given(st.binary(max_size=2000))
def test_random_headers_after_a_plausible_length_are_refused(scratch, text):
    assert isinstance(outcome(scratch, struct.pack("<Q", len(text)) + text), SaveError)


@FUZZ
@given(st.data())
def test_every_truncation_is_refused(scratch, valid, data):
    cut = data.draw(st.integers(0, len(valid) - 1))
    result = outcome(scratch, valid[:cut])
    assert isinstance(result, SaveError)
    assert "truncated" in result.problem or "not a safetensors file" in result.problem


@FUZZ
@given(st.data())
def test_bit_flips_load_or_are_refused(scratch, valid, data):
    damaged = bytearray(valid)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(valid) - 1))
        damaged[position] ^= 1 << data.draw(st.integers(0, 7))
    outcome(scratch, bytes(damaged))


@FUZZ
@given(st.data())
def test_flips_in_the_header_load_or_are_refused(scratch, valid, data):
    header_end = 8 + struct.unpack("<Q", valid[:8])[0]
    damaged = bytearray(valid)
    position = data.draw(st.integers(8, header_end - 1))
    damaged[position] = data.draw(st.integers(0, 255))
    outcome(scratch, bytes(damaged))


# ====================================================================== header JSON
@FUZZ
@given(json_values)
def test_random_json_headers_are_refused(scratch, valid, value):
    assume(value != {})  # an empty header is a valid (empty) safetensors file, but still not a save
    _, rest = split(valid)
    assert isinstance(outcome(scratch, join(value, rest)), SaveError)


@FUZZ
@given(json_values)
def test_random_metadata_documents_are_refused(scratch, valid, displayed, value):
    header, rest = split(valid)
    header["__metadata__"]["nnstudio"] = json.dumps(value)
    result = outcome(scratch, join(header, rest))
    assert isinstance(result, SaveError)
    displayed(scratch, result)


def _paths(node, prefix=()):
    """Every place in a JSON tree, as key/index paths."""
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, prefix + (index,))


def with_metadata(valid: bytes, change) -> bytes:
    """The valid file with its metadata document changed in place by `change(document)`."""
    header, rest = split(valid)
    document = json.loads(header["__metadata__"]["nnstudio"])
    change(document)
    header["__metadata__"]["nnstudio"] = json.dumps(document)
    return join(header, rest)


def replace_at(document, path, value) -> None:
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@FUZZ
@given(st.data(), json_values)
def test_any_metadata_field_replaced_loads_or_is_refused(scratch, valid, displayed, data, value):
    document = json.loads(split(valid)[0]["__metadata__"]["nnstudio"])
    path = data.draw(st.sampled_from(list(_paths(document))[1:]))
    damaged = with_metadata(valid, lambda d: replace_at(d, path, value))
    displayed(scratch, outcome(scratch, damaged))


#: times as a hand edit might leave them: any date datetime can parse, with any zone offset
edited_times = st.builds(lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
                         st.datetimes(), st.integers(-(24 * 60 - 1), 24 * 60 - 1))


@FUZZ
@given(edited_times)
@example("0001-01-01T00:00:00+14:00")   # before year 1 in UTC: astimezone() overflowed in `saves list`
@example("9999-12-31T23:59:59-14:00")   # after year 9999 in UTC
@example("0001-01-01T10:00:00Z")        # fine in UTC, but not in a zone west of it
def test_any_created_at_lists_and_displays(scratch, valid, displayed, text):
    result = outcome(scratch, with_metadata(valid, lambda d: d.update(created_at=text)))
    if isinstance(result, SaveError):
        assert "created_at" in result.problem
    else:
        assert result.metadata.created.utcoffset() == timedelta(0)
    displayed(scratch, result)


@FUZZ
@given(st.data(), json_values)
def test_any_tensor_entry_field_replaced_loads_or_is_refused(scratch, valid, data, value):
    header, rest = split(valid)
    name = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
    field = data.draw(st.sampled_from(["dtype", "shape", "data_offsets", "extra"]))
    header[name][field] = value
    result = outcome(scratch, join(header, rest))
    assert isinstance(result, SaveError) or field != "extra"


@FUZZ
@given(st.data())
def test_renamed_or_dropped_tensors_are_refused(scratch, valid, data):
    header, rest = split(valid)
    name = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
    new_name = data.draw(st.text(min_size=1, max_size=30))
    assume(new_name not in header)
    header[new_name] = header.pop(name)
    assert isinstance(outcome(scratch, join(header, rest)), SaveError)


@FUZZ
@given(st.data(), st.floats(width=32))
def test_any_weight_replaced_by_any_number_loads_only_if_finite(scratch, valid, displayed, data, value):
    """NaN or infinity anywhere in the weights: refused by `load`, marked by the listing and `saves show`, in
    the same words; any finite number loads."""
    header, rest = split(valid)
    name = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__" and not k.startswith("optimizer."))))
    begin, end = header[name]["data_offsets"]
    index = data.draw(st.integers(0, (end - begin) // 4 - 1))
    damaged = bytearray(rest)
    damaged[begin + 4 * index:begin + 4 * index + 4] = np.float32(value).tobytes()
    result = outcome(scratch, join(header, bytes(damaged)))
    assert isinstance(result, SaveError) != bool(np.isfinite(value))
    if isinstance(result, SaveError):
        assert f"its weights are not finite: 1 of 4 tensors ({name}) holds NaN or infinite values" in result.problem
    displayed(scratch, result)


def test_a_negative_optimizer_step_in_the_data_is_not_listed_as_loadable(scratch, valid):
    """Found by the bit flips above (1 run in about 20): the listing read only the model's weights, so a
    checkpoint whose Adam step count was damaged listed as loadable and then would not load."""
    header_length = struct.unpack("<Q", valid[:8])[0]
    table = json.loads(valid[8:8 + header_length])
    begin, end = table["optimizer.state.3.step"]["data_offsets"]
    at = 8 + header_length + begin
    damaged = valid[:at] + struct.pack("<q", -2) + valid[at + (end - begin):]
    error = outcome(scratch, damaged)
    assert isinstance(error, SaveError) and "step must be an integer >= 0" in str(error)
