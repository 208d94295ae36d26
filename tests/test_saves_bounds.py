"""A save's header and history have documented limits, checked before the header is parsed, and kept by
the writer too; `saves show` draws a bounded table whatever a header holds (issue 12, item 5). The
memory of the real commands on hostile saves is measured in test_hostile_files.py."""

from __future__ import annotations

import json
import struct

import pytest

from nnstudio import saves
from nnstudio.engine import build_model
from nnstudio.saves import SaveError
from nnstudio.saves import format as fmt
from nnstudio.saves.schema import MAX_HISTORY_ENTRIES
from nnstudio.tui.main import main
from nnstudio.tui.run.config import ConfigError, RunConfig

SPEC = {"name": "tiny", "input_shape": [2], "layers": [{"type": "linear", "out": 3}]}


def write_header(path, text: bytes, data: bytes = b""):
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


@pytest.fixture
def no_parsing(monkeypatch) -> list[int]:
    """Records every JSON text the saves package parses (by length)."""
    parsed: list[int] = []
    real = fmt.json.loads

    def spy(text, *args, **kwargs):
        parsed.append(len(text))
        return real(text, *args, **kwargs)

    monkeypatch.setattr(fmt.json, "loads", spy)
    return parsed


def test_the_limits_are_the_documented_ones():
    assert fmt.MAX_HEADER_BYTES == 8 * 1024 * 1024 and fmt.MAX_HEADER_CONTAINERS == 50_000
    assert MAX_HISTORY_ENTRIES == 5_000


def test_a_header_over_the_byte_limit_is_refused_before_a_byte_of_it_is_read(tmp_path, monkeypatch):
    path = write_header(tmp_path / "big.safetensors", b"{" + b" " * fmt.MAX_HEADER_BYTES + b"}")
    reads = []
    real = fmt._read_exact
    monkeypatch.setattr(fmt, "_read_exact", lambda file, n, what: reads.append(n) or real(file, n, what))
    with pytest.raises(SaveError) as error:
        saves.read_header(path)
    assert str(error.value) == (f"{path}: its header is 8,388,610 bytes, over the limit of 8,388,608 bytes (8 MiB) "
                                "of a save's header: damaged, or not an nnstudio save")
    assert reads == [8]


def test_a_header_of_too_many_objects_is_refused_before_it_is_parsed(tmp_path, no_parsing):
    text = b'{"a":[' + b"{}," * fmt.MAX_HEADER_CONTAINERS + b"{}]}"
    path = write_header(tmp_path / "objects.safetensors", text)
    with pytest.raises(SaveError, match="its header holds 50,003 JSON objects and lists, over the limit of 50,000"):
        saves.load(path)
    assert no_parsing == []


def test_a_history_longer_than_the_limit_is_refused_in_one_line(tmp_path):
    model = build_model(SPEC)
    fine = saves.save_model(tmp_path / "fine.safetensors", model,
                            history=[{"epoch": n + 1} for n in range(MAX_HISTORY_ENTRIES)])
    assert saves.read_metadata(fine).epochs == MAX_HISTORY_ENTRIES
    with pytest.raises(SaveError, match="metadata history has 5,001 entries, over the limit of 5,000"):
        saves.save_model(tmp_path / "long.safetensors", model,
                         history=[{"epoch": n + 1} for n in range(MAX_HISTORY_ENTRIES + 1)])
    blob = fine.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    document = json.loads(header["__metadata__"]["nnstudio"])
    header["__metadata__"]["nnstudio"] = json.dumps({**document, "history": [{}] * (MAX_HISTORY_ENTRIES + 1)})
    long = write_header(tmp_path / "long.safetensors", json.dumps(header).encode(), blob[8 + n:])
    with pytest.raises(SaveError) as error:
        saves.load(long)
    assert str(error.value) == f"{long}: metadata history has 5,001 entries, over the limit of 5,000 (one per epoch) of a save"


def test_the_writer_keeps_to_the_limits_the_reader_checks():
    with pytest.raises(SaveError, match="header would hold 50,002 JSON objects and lists, over the limit of 50,000"):
        fmt.encode_header({}, {"x": "{" * fmt.MAX_HEADER_CONTAINERS})
    with pytest.raises(SaveError, match=r"header would be 8,388,6\d\d bytes, over the limit of 8,388,608 bytes"):
        fmt.encode_header({}, {"x": "a" * fmt.MAX_HEADER_BYTES})


def test_a_run_trains_at_most_the_epochs_a_save_can_hold():
    assert RunConfig.from_dict({"training": {"epochs": MAX_HISTORY_ENTRIES}}).training.epochs == 5_000
    with pytest.raises(ConfigError, match="<= 5000"):
        RunConfig.from_dict({"training": {"epochs": MAX_HISTORY_ENTRIES + 1}})


def test_show_draws_a_bounded_table_of_a_huge_config_and_long_texts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    path = saves.save_model(tmp_path / "odd.safetensors", build_model(SPEC),
                            config={f"key{i}": {f"k{j}": j for j in range(20)} for i in range(1000)},
                            metrics={"note": "x" * 1_000_000, "val_acc": 0.5})
    assert main(["saves", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "and 960 more" in out and "key40" not in out and "k12=" not in out
    assert "x" * 199 + "…" in out.replace("\n", "").replace("│", "").replace(" ", "") and len(out) < 20_000


def test_a_run_marker_far_longer_than_any_real_one_is_not_read_whole(tmp_path):
    """`saves list` reads the marker of every run in the folder: a 100 MB one must not be read, let alone parsed."""
    run = saves.new_run_dir("padded", tmp_path)
    marker = {"format_version": 1, "name": run.name, "status": "running", "last_epoch": 1}
    (run / "run.json").write_text(json.dumps(marker))
    assert saves.read_run(run).status == "running"
    (run / "run.json").write_text(json.dumps(marker) + " " * (100 << 20))
    assert saves.read_run(run) is None
