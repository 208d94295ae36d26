"""The append-only journal a run's history is kept in: whole lines, read as far as they are sound."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstudio.saves import SaveError
from nnstudio.saves.journal import FLUSH_SECONDS, Journal, read_journal

values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                      max_leaves=8)
records = st.lists(st.dictionaries(st.text(max_size=6), values, max_size=4), max_size=12)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _write(path, items) -> None:
    journal = Journal(path)
    for item in items:
        journal.append(item)
    journal.close()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=records)
def test_what_is_written_is_read_back(tmp_path, items):
    path = tmp_path / "history.jsonl"
    path.unlink(missing_ok=True)
    _write(path, items)
    read = read_journal(path)
    assert read.records == items and read.notes == []


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=records.filter(bool), cut=st.integers(min_value=0))
def test_a_journal_cut_anywhere_reads_as_the_whole_records_before_the_cut(tmp_path, items, cut):
    """A crash mid-write: what reads is exactly the records whose line was written whole."""
    path = tmp_path / "history.jsonl"
    path.unlink(missing_ok=True)
    _write(path, items)
    data = path.read_bytes()
    cut %= len(data) + 1
    path.write_bytes(data[:cut])
    read = read_journal(path)
    whole = data[:cut].count(b"\n")
    assert read.records[:whole] == items[:whole]
    assert len(read.records) in (whole, whole + 1)   # (a last line cut just before its newline is whole)
    if len(read.records) == whole and not data[:cut].endswith(b"\n") and cut:
        assert read.notes == ["the last line of history.jsonl was cut short (a crash mid-write) and is skipped"]


def test_a_journal_continued_after_a_torn_line_keeps_both_sides(tmp_path):
    path = tmp_path / "history.jsonl"
    _write(path, [{"n": 1}, {"n": 2}])
    path.write_bytes(path.read_bytes()[:-4])   # the second line torn
    _write(path, [{"n": 3}])                   # a resumed run appends
    read = read_journal(path)
    assert read.records == [{"n": 1}, {"n": 3}] and read.notes == ["1 damaged line of history.jsonl skipped"]


def test_damaged_lines_are_skipped_with_one_note(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_bytes(b'{"n": 1}\n[1, 2]\nnot json\n\xff\xfe\n{"n": 2}\n')
    read = read_journal(path)
    assert read.records == [{"n": 1}, {"n": 2}] and read.notes == ["3 damaged lines of history.jsonl skipped"]


def test_lines_read_in_one_go_are_still_one_record_each(tmp_path):
    """The records are parsed all at once (fast); lines that would pass that way but are not one record each
    (two records on a line, one record over two lines) are read line by line and skipped as damaged."""
    path = tmp_path / "history.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2}, {"n": 3}\n{"a": [1\n2]}\n{"n": 4}\n')
    read = read_journal(path)
    assert read.records == [{"n": 1}, {"n": 4}] and read.notes == ["3 damaged lines of history.jsonl skipped"]
    path.write_bytes(b'{"n": 1, "x": NaN}\n{"kind":"batch","loss":1}\n{"n": 2}\n')
    read = read_journal(path, skip=b'{"kind":"batch"')
    assert read.records[1] == {"n": 2} and read.records[0]["x"] != read.records[0]["x"] and read.notes == []


def test_records_are_buffered_and_written_within_a_second(tmp_path):
    clock = FakeClock()
    path = tmp_path / "history.jsonl"
    journal = Journal(path, clock=clock)
    journal.append({"n": 1})
    assert read_journal(path).records == []            # buffered
    clock.now += FLUSH_SECONDS
    journal.append({"n": 2})
    assert read_journal(path).records == [{"n": 1}, {"n": 2}]
    journal.append({"loss": math.nan})
    journal.flush()
    assert math.isnan(read_journal(path).records[-1]["loss"])   # a diverged loss is kept as it was
    journal.close()
    journal.close()


def test_a_journal_larger_than_the_limit_is_read_up_to_it(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"".join(json.dumps({"n": n}).encode() + b"\n" for n in range(1000)))
    read = read_journal(path, max_bytes=2 * 2**20)
    assert len(read.records) == 1000 and read.notes == []
    read = read_journal(path, max_bytes=100)
    assert read.records == [{"n": n} for n in range(len(read.records))] and 0 < len(read.records) < 1000
    assert read.notes == ["history.jsonl is larger than 100 bytes; only its first 100 bytes were read"]


def test_a_journal_that_cannot_be_read_or_written_is_one_save_error(tmp_path):
    with pytest.raises(SaveError, match="cannot read the history"):
        read_journal(tmp_path / "missing.jsonl")
    with pytest.raises(SaveError, match="cannot write the history"):
        Journal(tmp_path)   # a folder
