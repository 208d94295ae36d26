"""`nnstudio train`'s progress bar at the terminal's width: the batch counts and the time left stay whole (the bar
shrinks, the rate goes first), however narrow, and a resized terminal gets a new layout."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from nnstudio.engine import events
from nnstudio.tui.cli.report import Reporter
from nnstudio.tui.run import Session
from nnstudio.tui.run.config import RunConfig

ETA = re.compile(r"(\d+:\d\d:\d\d|-:--:--)")


def drawn(progress, width: int) -> str:
    """The bar's line as a terminal `width` wide shows it."""
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=True, color_system=None).print(progress.get_renderable())
    return out.getvalue().rstrip("\n")


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Session:
    config = RunConfig.from_dict({"data": {"name": "blobs", "size": 200}, "training": {"batch_size": 16},
                                  "checkpoints": {"folder": str(tmp_path_factory.mktemp("saves"))}})
    session = Session(config)
    session.prepare()
    return session


def batch(done: int, of: int, accuracy: float | None = 0.9544) -> events.BatchEnd:
    return events.BatchEnd(epoch=14, batch=done - 1, batches=of, loss=0.1652, mean_loss=0.1652, accuracy=accuracy,
                           seen=32 * done, samples_per_s=42_425.0)


def bar_at(width: int, session: Session, classes: bool = True) -> str:
    """The bar of `nnstudio train` 1579 batches into epoch 15 of 18, on a terminal `width` wide."""
    reporter = Reporter(Console(file=io.StringIO(), width=width, force_terminal=True))
    session.classes = 2 if classes else None
    with reporter.live(session, 18):
        reporter(batch(1579, 1688, 0.9544 if classes else None))
        return drawn(reporter.progress, width)


@pytest.mark.parametrize("width", [60, 80, 100, 160])
def test_the_counts_and_the_time_left_are_whole_at_any_width(width, session):
    line = bar_at(width, session)
    assert "…" not in line and len(line) < width and line.startswith("epoch ")
    assert re.search(r" 1579/1688 batches " + ETA.pattern, line)


def test_the_rate_goes_first_then_the_loss_and_the_bar_takes_what_is_left(session):
    wide, eighty, sixty = (bar_at(width, session) for width in (160, 80, 60))
    assert "42,425 samples/s" in wide and "loss 0.1652  acc 95.44%" in wide
    assert "samples/s" not in eighty and "loss 0.1652  acc 95.44%" in eighty
    assert "samples/s" not in sixty and "loss" not in sixty
    assert "samples/s" in bar_at(100, session) and "loss 0.1652" in bar_at(80, session, classes=False)


def test_a_narrowed_terminal_gets_a_new_layout_at_the_next_batch(session):
    console = Console(file=io.StringIO(), width=160, force_terminal=True)
    reporter = Reporter(console)
    session.classes = 2
    with reporter.live(session, 3):
        assert any("speed" in str(getattr(c, "text_format", "")) for c in reporter.progress.columns)
        console.width = 70
        reporter(batch(12, 12))
        line = drawn(reporter.progress, 70)
    assert "samples/s" not in line and re.search(r" 12/12 batches " + ETA.pattern, line)
