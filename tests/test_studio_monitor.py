"""The monitor and predictions panes: the redraw budget, plots, digits and their keys.

The budget tests feed the app's bridge thousands of batch events per second of a fake clock,
which also runs the two timers that pace the redraws, and count what the UI did: counts per
tick of those timers, never how fast anything ran.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from rich.console import Console

from nnstudio.engine import events
from nnstudio.tui.run import Status
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio.app import POLL_INTERVAL, create_app
from nnstudio.tui.render import digit_lines
from nnstudio.tui.studio.digit_grid import DigitCard, DigitGrid, halfblock_rows
from nnstudio.tui.studio.monitor_pane import (MAX_TRACE, PLOT_INTERVAL, LossTrace, MetricPlot, clock, downsample,
                                               log_ticks)
from nnstudio.tui.studio.predictions_pane import PAGE_SIZE, ProbeSet
from studio_recorded import feed, recorded_epochs


def studio(tmp_path):
    return create_app(config=RunConfig.from_dict({"training": {"epochs": 10}}), saves_dir=tmp_path / "saves",
                      offer_resume=False)


def as_if_training(app) -> None:
    """The studio shows the plots once a run is under way (its first screen until then): these tests feed the
    monitor as a run would, without one."""
    app.status = Status.RUNNING


def epoch_event(epoch: int) -> events.EpochEnd:
    return events.EpochEnd(epoch, 1000, 0.5, 0.8, 0.6, 0.75, 1e-3, {"layers.0": 0.1}, {}, {}, 1e5, 0.1, 0.1, 1.0)


# ====================================================================== the redraw budget
@dataclass
class Periodic:
    """One of the app's timers as the fake clock runs it."""

    every_ms: int
    callback: Callable[[], None]
    due_ms: int = 0
    fired: int = 0


class FakeClock:
    """Fake time for the two timers that budget the monitor's redraws.

    The studio's poll of the training thread (`app.poll_timer`, every POLL_INTERVAL) and the
    monitor's plot rebuild (`monitor.plot_timer`, every PLOT_INTERVAL) are paused, and `advance`
    calls each one's callback once whenever fake time reaches its next tick, as the timer would
    (a Textual timer that falls behind skips the ticks it missed: it never fires twice in a row).
    Time is counted in whole milliseconds, so ticks fall exactly where they should.
    """

    def __init__(self, app) -> None:
        app.poll_timer.pause()
        app.monitor.plot_timer.pause()
        self.ms = 0
        self.poll = Periodic(round(POLL_INTERVAL * 1000), app.poll_training)
        self.plot = Periodic(round(PLOT_INTERVAL * 1000), app.monitor.redraw_if_dirty)
        for timer in (self.poll, self.plot):
            timer.due_ms = timer.every_ms

    def advance(self, ms: int) -> bool:
        """Let `ms` milliseconds of fake time pass; True if a timer fired."""
        self.ms += ms
        fired = False
        for timer in (self.poll, self.plot):
            if self.ms >= timer.due_ms:
                timer.callback()
                timer.fired += 1
                timer.due_ms = (self.ms // timer.every_ms + 1) * timer.every_ms
                fired = True
        return fired


SECONDS = 3  # of fake time
STEP_MS = 10  # the fake training thread reports every 10 ms of fake time
EPOCH = 500  # batches


@pytest.mark.parametrize("batches_per_second", [1_000, 20_000])
async def test_redraws_stay_within_budget_whatever_the_batch_rate(tmp_path, monkeypatch, batches_per_second):
    """Batches pour into the app's bridge (as from the training thread) for SECONDS of fake time: the
    progress line changes once per poll and each plot is rebuilt (and painted) at most once per plot
    tick, however fast the batches come; and nothing is lost on the way."""
    renders = Counter()
    render = MetricPlot.render
    monkeypatch.setattr(MetricPlot, "render", lambda self: (renders.update([self.id]), render(self))[1])
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        as_if_training(app)
        await pilot.pause()
        clock = FakeClock(app)
        await pilot.pause()  # the first layout and paint are done: count from here
        monitor, bridge = app.monitor, app.runner.bridge
        plots = {plot.id: plot for plot in monitor.query(MetricPlot)}
        progress0, renders0 = monitor.progress_updates, Counter(renders)
        redraws0 = {plot_id: plot.redraws for plot_id, plot in plots.items()}

        sent = 0
        for _ in range(SECONDS * 1000 // STEP_MS):
            for _ in range(batches_per_second * STEP_MS // 1000):
                epoch, batch = divmod(sent, EPOCH)
                bridge.on_event(events.BatchEnd(epoch, batch, EPOCH, 2.0 / (1 + sent / EPOCH), 0.5, 1e5))
                sent += 1
                if batch == EPOCH - 1:
                    bridge.on_event(epoch_event(epoch))  # posted to the app as a message, as from the thread
            if clock.advance(STEP_MS):
                await pilot.pause(0)  # the messages posted so far are handled, the screen is painted
        await pilot.pause(0)

        polls, plot_ticks = clock.poll.fired, clock.plot.fired
        assert (polls, plot_ticks) == (SECONDS / POLL_INTERVAL, SECONDS / PLOT_INTERVAL)
        assert sent == batches_per_second * SECONDS
        # once per poll, each of which had new batches: not once per batch
        assert monitor.progress_updates - progress0 == polls
        redraws = {plot_id: plot.redraws - redraws0[plot_id] for plot_id, plot in plots.items()}
        assert redraws["plot-loss"] == plot_ticks  # new batches before every tick: drawn at every one
        assert all(1 <= n <= plot_ticks for n in redraws.values()), redraws  # epochs: drawn, at most once a tick
        assert monitor.plot_redraws - sum(redraws0.values()) == sum(redraws.values())
        painted = renders - renders0
        assert all(painted[plot_id] <= redraws[plot_id] for plot_id in plots), (painted, redraws)
        # nothing was lost on the way: every batch is in the loss trace (compacted), every epoch plotted
        assert len(monitor.history) == sent // EPOCH
        assert monitor.trace.xs[-1] == pytest.approx(sent / EPOCH, abs=2 / EPOCH)


async def test_what_the_training_thread_reports_all_reaches_the_plots(tmp_path):
    """Batches and epochs reported from another thread, however they interleave with the polls (the
    fake clock ticks while the thread runs): once it is done, every batch is in the loss trace and
    every epoch in the history, in order."""
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        as_if_training(app)
        await pilot.pause()
        clock = FakeClock(app)
        monitor, bridge = app.monitor, app.runner.bridge
        epochs = 20

        def training_thread() -> None:
            for n in range(epochs * EPOCH):
                epoch, batch = divmod(n, EPOCH)
                bridge.on_event(events.BatchEnd(epoch, batch, EPOCH, 2.0 / (1 + n / EPOCH), 0.5, 1e5))
                if batch == EPOCH - 1:
                    bridge.on_event(epoch_event(epoch))

        thread = threading.Thread(target=training_thread)
        thread.start()
        while thread.is_alive():
            clock.advance(STEP_MS)
            await pilot.pause(0)
        thread.join()
        await pilot.pause(0)  # the last epoch's message
        clock.advance(round(POLL_INTERVAL * 1000))  # and the poll after the last batch

        assert clock.poll.fired >= 1
        assert [h["epoch"] for h in monitor.history] == list(range(1, epochs + 1))
        assert monitor.trace.xs == sorted(monitor.trace.xs)
        assert monitor.trace.xs[-1] == pytest.approx(epochs, abs=2 / EPOCH)


async def test_only_what_changed_and_is_in_view_is_redrawn(tmp_path):
    """Batches change only the loss plot; plots out of view wait until the pane is shown again."""
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        as_if_training(app)
        await pilot.pause()
        clock = FakeClock(app)
        plots = {plot.id: plot for plot in app.monitor.query(MetricPlot)}
        counts = lambda: {plot_id: plot.redraws for plot_id, plot in plots.items()}  # noqa: E731
        before = counts()
        app.monitor.tick(events.BatchEnd(0, 0, 10, 2.0, 0.1, 1e4), [(0, 0, 10, 2.0)])
        assert clock.advance(round(PLOT_INTERVAL * 1000)) and clock.plot.fired == 1
        after = counts()
        assert after["plot-loss"] == before["plot-loss"] + 1
        assert all(after[p] == before[p] for p in plots if p != "plot-loss")

        await pilot.press("1")  # the monitor is hidden: an epoch ends, nothing is drawn
        app.monitor.on_session_event(epoch_event(0))
        assert clock.advance(round(PLOT_INTERVAL * 1000)) and clock.plot.fired == 2
        assert counts() == after
        await pilot.press("3")
        await wait_for(pilot, lambda: all(n > after[p] for p, n in counts().items()),
                       "all four plots to catch up once shown")
        clock.advance(round(POLL_INTERVAL * 1000))  # the next poll writes the progress line
        assert "epoch 1" in str(app.monitor.query_one("#run-progress").render())


WAIT = 60.0  # seconds: only a bound for a hung test, not a speed requirement


async def wait_for(pilot, condition, what: str) -> None:
    """Until `condition()` holds, letting the app work; fails only if it never does (a hung test)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


# ====================================================================== plots
def test_downsampling_keeps_the_shape_and_bounds_the_points():
    xs = list(range(10_000))
    ys = [float(x % 100) for x in xs]
    dx, dy = downsample(xs, ys, 100)
    assert len(dx) == len(dy) == 100 and dx[0] < dx[-1]
    assert downsample([1, 2], [3, 4], 100) == ([1, 2], [3, 4])


def test_the_loss_trace_is_bounded_and_smoothed():
    trace = LossTrace()
    for i in range(3 * MAX_TRACE):
        trace.add(i / 100, 1.0 if i % 2 else 3.0)
    trace.add(99.0, float("nan"))  # a diverging batch does not break the plot
    assert len(trace.xs) <= MAX_TRACE and trace.xs == sorted(trace.xs)
    assert 1.5 < trace.ys[-1] < 2.5


def test_log_ticks_fall_on_round_values_inside_the_range():
    assert [round(10 ** t, 6) for t in log_ticks(-0.9, -0.1)] == [0.2, 0.4, 0.6]
    assert [round(10 ** t, 6) for t in log_ticks(math.log10(0.33), math.log10(0.89))] == [0.4, 0.5, 0.6, 0.7, 0.8]
    assert [round(10 ** t, 6) for t in log_ticks(-1.5, -0.4)] == [0.05, 0.1, 0.2]
    assert [round(10 ** t, 6) for t in log_ticks(-3.2, 0.4)] == [0.001, 0.01, 0.1, 1]
    assert log_ticks(-0.04, 0.02) == [-0.04, 0.02]  # not two round values inside: the ends
    assert 3 <= len(log_ticks(-20, 5)) <= 5 and log_ticks(-1, -1) == [-1]


def legend(app, plot_id: str) -> str:
    """The title-and-legend line above a plot, as text."""
    return str(app.monitor.query_one(f"#{plot_id}-legend").render())


def test_clock():
    assert clock(12) == "0:12" and clock(3725) == "1:02:05" and clock(None) == "-" and clock(float("inf")) == "-"


async def test_plots_rebuild_repeatedly_including_the_log_scale(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        for _ in range(3):  # a log-scale figure built twice raises in plotext 5.3; ours is log-transformed
            app.monitor.redraw()
            await pilot.pause()
        text = app.monitor.query_one("#plot-grad", MetricPlot).render().plain
        assert "0.01" in text and "0.001" in text  # powers of ten on a log axis
        assert "layers.3" in legend(app, "plot-grad") and "layers.3" not in text  # named above, not over the points


async def test_monochrome_plots_tell_series_apart_by_marker(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.pause()
        plot = app.monitor.query_one("#plot-accuracy", MetricPlot).render().plain
        assert "** train" in legend(app, "plot-accuracy") and "++ validation" in legend(app, "plot-accuracy")
        assert "*" in plot and "+" in plot  # the points are drawn with the markers the legend names


async def test_a_loaded_history_is_plotted_and_the_progress_shown(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        history = [e.as_dict() for e in recorded_epochs(4)]
        as_if_training(app)
        app.monitor.show_history(history)
        await pilot.pause()
        assert "epoch 4/10" in str(app.monitor.query_one("#run-progress").render())  # training.epochs: the total
        assert "validation" in legend(app, "plot-loss")
        plot = app.monitor.query_one("#plot-loss", MetricPlot).render().plain
        assert any("\u2800" < ch <= "\u28ff" for ch in plot)  # the curves, in braille dots


# ====================================================================== digits
def test_a_digit_is_14_lines_of_28_half_blocks_with_grey_levels():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[10:18, 12:16] = 255
    rows = halfblock_rows(image)
    texts = ["".join(segment.text for segment in row) for row in rows]
    assert len(rows) == 14 and all(len(text) == 28 and set(text) == {"▀"} for text in texts)
    styles = {segment.style for row in rows for segment in row}
    assert len(styles) >= 2  # ink and background differ
    ascii_art = digit_lines(image, mode="ascii")
    assert len(ascii_art) == 14 and "@" in "".join(ascii_art) and ascii_art[0].strip() == ""


def test_captions_mark_right_and_wrong_with_a_symbol_not_only_a_colour():
    image = np.zeros((28, 28), dtype=np.uint8)
    right, wrong = DigitCard(image, "7", "7", 0.98).caption(28), DigitCard(image, "3", "5", 0.61).caption(28)
    assert right.plain.startswith("✓ 7 → 7") and "98%" in right.plain and right.cell_len == 28
    assert wrong.plain.startswith("✗ 3 → 5") and "61%" in wrong.plain
    assert DigitCard(image, "4").caption(28).plain.strip() == "label 4"


async def test_no_color_draws_digits_with_the_ascii_ramp(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.press("4")
        await pilot.pause()
        grid = app.predictions.query_one(DigitGrid)
        assert grid.ascii
        drawn = "\n".join("".join(segment.text for segment in line) for line in grid.lines(120))
        assert "▀" not in drawn and "@" in drawn and "✗" in drawn and "✓" in drawn


async def test_predictions_keys_resample_and_show_only_mistakes(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.press("4")
        await pilot.pause()
        grid = app.predictions.query_one(DigitGrid)
        first = [card.true_label for card in grid.cards]
        assert len(first) == PAGE_SIZE
        await pilot.press("s")  # the next page of the probe set
        assert app.predictions.page == 1 and [c.true_label for c in grid.cards] != first

        await pilot.press("m")  # mistakes only, from the first page
        assert app.predictions.mistakes_only and app.predictions.page == 0
        assert grid.cards and all(card.correct is False for card in grid.cards)
        summary = str(app.predictions.query_one("#probe-summary").render())
        assert "100 wrong" in summary and "of 100 mistakes" in summary
        app.predictions.page = 100 // PAGE_SIZE  # the last page of mistakes: the next one wraps around
        await pilot.press("s")
        assert app.predictions.page == 0
        await pilot.press("m")
        assert not app.predictions.mistakes_only


async def test_the_confusion_matrix_has_per_class_accuracy(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.press("4")
        await pilot.pause()
        console = Console(width=80, file=io.StringIO(), record=True, color_system=None)
        console.print(app.predictions.query_one("#confusion").content)
        lines = console.export_text().splitlines()
        assert lines[0].startswith("confusion (validation set)") and lines[1].split() == [*"0123456789", "acc"]
        rows = [line.split() for line in lines[2:12]]
        assert [row[0] for row in rows] == list("0123456789")
        assert all(row[-1] == "84%" for row in rows)  # 92 right of 110 in each class, as recorded


async def test_non_image_data_is_shown_as_a_table_of_inputs(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        probe = ProbeSet(np.array([0, 1, 2, 1]), ("0", "1", "2"), inputs=np.array([[0.5, 1.0]] * 4))
        app.predictions.show_probe(probe)
        outputs = np.eye(3)[[0, 1, 2, 2]] * 0.9 + 0.03
        app.predictions.show_outputs(outputs)  # no confusion given: made from the probe set
        await pilot.press("4")
        await pilot.pause()
        assert not app.predictions.query_one(DigitGrid).display
        assert app.predictions.confusion.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
        assert "3/4 right" in str(app.predictions.query_one("#probe-summary").render())


def test_the_probe_set_reads_raw_test_pixels_from_a_session(tmp_path):
    from nnstudio.datasets import load_dataset
    from nnstudio.tui.run import Session

    config = RunConfig.from_dict({"data": {"name": "mnist-embedded"}, "training": {"epochs": 1},
                                  "checkpoints": {"folder": str(tmp_path)}})
    session = Session(config, dataset=load_dataset("mnist-embedded"), checkpoints=False)
    session.prepare()
    probe = ProbeSet.from_session(session)
    assert probe.images.shape == (len(session.probe_index), 28, 28) and probe.images.dtype == np.uint8
    assert probe.labels.tolist() == session.dataset.y_test[session.probe_index].tolist()

