"""The monitor and predictions panes: the redraw budget, plots, digits and their keys.

The budget tests feed the app's bridge thousands of batch events per second of a fake clock,
which also runs the two timers that pace the redraws, and count what the UI did: counts per
tick of those timers, never how fast anything ran.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from nnstudio.engine import events
from nnstudio.tui.run import Status
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio.app import POLL_INTERVAL
from nnstudio.tui.studio.launch import create_app
from nnstudio.tui.studio.monitor_pane import PLOT_INTERVAL
from nnstudio.tui.studio.plots import (TICK_WIDTH, MetricPlot, downsample, legend_text, log_ticks, look, nice_ticks,
                                       tick_labels)
from nnstudio.tui.studio.series import MAX_TRACE, BatchTrace, smoothed
from nnstudio.tui.studio.status_lines import clock, status_text
from studio_host import screen_text
from studio_recorded import feed, recorded_epochs
from test_studio_app import wait_for


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
        assert len(monitor.trace) == sent and monitor.trace.xs[-1] == pytest.approx(sent / EPOCH, abs=2 / EPOCH)


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
        assert len(monitor.trace) == epochs * EPOCH and list(monitor.trace.xs) == sorted(monitor.trace.xs)
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




# ====================================================================== plots
def test_downsampling_keeps_the_shape_and_bounds_the_points():
    xs = list(range(10_000))
    ys = [float(x % 100) for x in xs]
    dx, dy = downsample(xs, ys, 100)
    assert len(dx) == len(dy) == 100 and dx[0] < dx[-1]
    assert downsample([1, 2], [3, 4], 100) == ([1, 2], [3, 4])


def test_the_loss_trace_is_bounded_and_keeps_the_raw_losses():
    trace = BatchTrace()
    for i in range(3 * MAX_TRACE):
        trace.add(i / 100, i * 10, 1.0 if i % 2 else 3.0)
    trace.add(99.0, 1e9, float("nan"))  # a diverging batch does not break the plot
    assert len(trace) <= MAX_TRACE and list(trace.xs) == sorted(trace.xs) and list(trace.ns) == sorted(trace.ns)
    assert set(trace.losses[:1000].tolist()) == {2.0}   # the oldest neighbours averaged in pairs, beyond MAX_TRACE
    assert trace.losses.mean() == pytest.approx(2.0, abs=1e-3)


def test_smoothing_is_a_moving_average_binned_to_the_plot_s_width():
    xs, ys = np.arange(6.0), np.array([1.0, 3.0, 1.0, 3.0, 1.0, 3.0])
    assert smoothed(xs, ys, 100, 0.0) == (xs.tolist(), ys.tolist())   # unsmoothed, every point
    _, ema = smoothed(xs, ys, 100, 0.5)
    expected, level = [], None
    for y in ys:
        level = y if level is None else 0.5 * level + 0.5 * y
        expected.append(level)
    assert ema == pytest.approx(expected)   # point by point: the moving average exactly
    many = np.arange(40_000.0)
    bx, by = smoothed(many, np.where(many % 2, 1.0, 3.0), 70, 0.9)
    assert len(bx) == 70 and bx == sorted(bx) and by == pytest.approx([2.0] * 70, abs=0.01)   # bins: their mean
    assert smoothed(np.array([0.0, 1.0]), np.array([np.nan, np.inf]), 10, 0.9) == ([], [])


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


def record_series(app) -> dict[str, list[dict]]:
    """From now on, the style of every series each plot's latest figure draws, in order."""
    drawn: dict[str, list[dict]] = {}
    for plot in app.monitor.query(MetricPlot):
        def plot_with_record(*args, _plot=plot, _original=plot.plt.plot, **style):
            drawn[_plot.id].append(style)
            return _original(*args, **style)

        def clear_with_record(_plot=plot, _original=plot.plt.clear_figure):
            drawn[_plot.id] = []
            return _original()
        plot.plt.plot, plot.plt.clear_figure = plot_with_record, clear_with_record
    return drawn


def legend_labels(app, plot_id: str) -> list[str]:
    """The series a legend names, in order ("loss  ━ batch  ━ train" -> ["batch", "train"])."""
    entries = legend(app, plot_id).replace("\n", "  ").split("  ")[1:]
    return [entry.split(" ", 1)[1] for entry in entries if entry]


@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
async def test_a_series_looks_the_same_in_every_plot(tmp_path, monkeypatch, no_color):
    """Train and validation (and every series) get one colour and one marker in every plot, and the
    legend's key is drawn with that colour or marker; in colour the curves are braille dots."""
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        drawn = record_series(app)
        feed(app)
        await pilot.pause()
        looks: dict[str, set] = {}
        for plot_id, styles in drawn.items():
            labels = legend_labels(app, plot_id)
            assert len(labels) == len(styles), (plot_id, labels)
            for label, style in zip(labels, styles):
                looks.setdefault(label, set()).add(tuple(sorted(style.items())))
        assert {"train", "validation"} <= set(looks) and len(drawn["plot-accuracy"]) == 2
        assert all(len(styles) == 1 for styles in looks.values()), looks  # one look per series, wherever drawn
        series = [next(iter(styles)) for styles in looks.values()]
        assert len(set(series)) == len(series)  # and no two series look alike
        train = dict(next(iter(looks["train"])))
        accuracy = app.monitor.query_one("#plot-accuracy", MetricPlot).render()
        if no_color:
            assert train["color"] == "default" and f"{train['marker'] * 2} train" in legend(app, "plot-loss")
            assert train["marker"] in accuracy.plain  # the points are drawn with the marker the legend shows
        else:
            assert train["marker"] == "braille" and "━ train" in legend(app, "plot-accuracy")
            key = next(s for s in legend_text("", [(look("train"), "train")], 80, mono=False).spans)
            assert key.style.color.number == train["color"]  # the legend key in the curve's colour


async def test_y_tick_labels_are_alike_so_the_plot_frames_line_up(tmp_path):
    """Every y label is written with its axis's decimals and padded alike: the four frames start in the
    same column of their plot (they did not: "0.361" beside "0.00150")."""
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app)
        await pilot.pause()
        columns = {}
        for plot in app.monitor.query(MetricPlot):
            lines = plot.render().plain.splitlines()
            columns[plot.id] = next(line.index("┌") for line in lines if "┌" in line)
            labels = [line[:columns[plot.id]].strip() for line in lines if "┤" in line]
            assert labels and all(label for label in labels), (plot.id, lines)
        assert set(columns.values()) == {TICK_WIDTH}, columns


def test_ticks_fall_on_round_values_written_alike():
    assert nice_ticks(0.016, 0.361, 3, outward=False) == [0.1, 0.2, 0.3]
    assert nice_ticks(58, 83, 3, outward=False) == [60, 70, 80]
    assert nice_ticks(0.02, 6.0, 6) == [0, 2, 4, 6]  # an x axis: from a round value to a round value
    assert nice_ticks(1e-3, 1e-3) == [1e-3]  # a constant learning rate
    assert [label.strip() for label in tick_labels([0.0005, 0.001, 0.0015])] == ["0.0005", "0.0010", "0.0015"]
    assert [label.strip() for label in tick_labels([60.0, 70.0, 80.0])] == ["60", "70", "80"]
    assert [label.strip() for label in tick_labels([5e-5, 1e-4, 1.5e-4])] == ["5e-5", "1.0e-4", "1.5e-4"]
    assert all(len(label) == TICK_WIDTH for label in tick_labels([0.1, 0.2, 0.3]))


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


# ====================================================================== status area
def status_area(app) -> tuple[str, str, str]:
    """The status line, the reason under it ("" when hidden) and the progress line, as shown."""
    monitor = app.monitor
    reason = monitor.query_one("#run-reason")
    return (str(monitor.query_one("#run-status").render()), str(reason.render()) if reason.display else "",
            str(monitor.query_one("#run-progress").render()))


def shown_region(app, widget) -> str:
    """The text the screen shows where `widget` is (its lines joined by spaces)."""
    region = widget.region
    rows = screen_text(app).splitlines()[region.y:region.y + region.height]
    return " ".join(row[region.x:region.x + region.width].strip() for row in rows)


@pytest.fixture(scope="module")
def blobs():
    from nnstudio.datasets import load_dataset
    return load_dataset("blobs", size=200, classes=3)


def blobs_studio(tmp_path, dataset, **settings):
    config = RunConfig.from_dict({
        "data": {"name": "blobs", "size": 200, "classes": 3},
        "model": {"spec": {"input_shape": [2], "layers": [{"type": "linear", "out": 8}, {"type": "relu"},
                                                          {"type": "linear", "out": 3}]}},
        "training": {"epochs": 2, "batch_size": 16, "seed": 3}}).with_overrides(settings)
    return create_app(config=config, dataset=dataset, saves_dir=tmp_path / "saves", offer_resume=False)


async def wait_status(pilot, *statuses: str) -> None:
    await wait_for(pilot, lambda: pilot.app.status in statuses, f"status in {statuses}")


async def test_why_a_run_could_not_start_stays_on_the_monitor_until_the_next_run(tmp_path, monkeypatch):
    """The reason was a toast, gone after a while, while the status line said "see the message"."""
    from nnstudio.datasets import DatasetError
    from nnstudio.tui.run import training_data

    why = "train-images-idx3-ubyte.gz is damaged (checksum mismatch): fetch it again with nnstudio data fetch"
    working = training_data.load_dataset
    monkeypatch.setattr(training_data, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(DatasetError(why)))
    app = blobs_studio(tmp_path, None)
    async with app.run_test(size=(80, 24)) as pilot:
        app.simulate_key("space")
        await wait_status(pilot, "failed")
        await pilot.pause()
        status, reason, _ = status_area(app)
        assert "FAILED" in status and why in reason
        for toast in app.screen.query("Toast"):  # the toast goes; the reason stays
            toast.remove()
        await pilot.pause()
        widget = app.monitor.query_one("#run-reason")
        assert widget.region.height >= 2 and why in shown_region(app, widget)  # wrapped, whole, readable at 80x24

        await pilot.press("r")  # re-initialised: no run yet, the reason still says what went wrong
        assert why in status_area(app)[1]
        monkeypatch.setattr(training_data, "load_dataset", working)
        app.simulate_key("space")  # the next run starts: the old reason goes
        await wait_status(pilot, "finished")
        assert status_area(app)[1] == "" and not app.monitor.query_one("#run-reason").display


async def test_why_a_run_diverged_and_what_to_try_stays_on_the_monitor(tmp_path, blobs):
    app = blobs_studio(tmp_path, blobs, **{"optimizer.name": "sgd", "optimizer.lr": 1e9,
                                           "optimizer.momentum": 0.0})
    async with app.run_test(size=(80, 24)) as pilot:
        app.simulate_key("space")
        await wait_status(pilot, "diverged")
        await pilot.pause()
        status, reason, _ = status_area(app)
        assert "DIVERGED" in status and "learning rate" in status
        assert "diverged" in reason and "Lower the learning rate" in reason and "clipping" in reason


async def test_every_status_line_fits_80_columns(tmp_path):
    """Most important first, and never cut with "…" (it was: "r starts afr…"). (Idle without a run, the
    welcome stands in the monitor's place: its line is checked for length only.)"""
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        for status in Status:
            assert status_text(status).cell_len <= 78, status
            app.status = status
            await pilot.pause()
            line = app.monitor.query_one("#run-status")
            assert str(line.render()) == status_text(status).plain
            if status is not Status.IDLE:
                assert line.region.height == 1 and status_text(status).plain in shown_region(app, line), status


async def test_the_eta_says_paused_while_paused(tmp_path):
    """A paused run's time does not run: no ETA frozen at what it was when the pause came."""
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.monitor.config = RunConfig.from_dict({"training": {"epochs": 10, "batch_size": 100}})
        app.status = Status.RUNNING
        app.monitor.tick(events.BatchEnd(0, 9, 100, 0.5, 0.8, 1000.0), [(0, 9, 100, 0.5)])
        await pilot.pause()
        assert "ETA 1:39" in status_area(app)[2]  # 9.9 epochs of 10,000 samples at 1,000 a second
        app.status = Status.PAUSED
        await pilot.pause()
        progress = status_area(app)[2]
        assert "paused" in progress and "ETA" not in progress
        app.status = Status.RUNNING
        await pilot.pause()
        assert "ETA 1:39" in status_area(app)[2]
        app.status = Status.STOPPED
        await pilot.pause()
        assert "stopped" in status_area(app)[2] and "ETA" not in status_area(app)[2]
        app.status = Status.DIVERGED  # ended: no ETA, and no gap where it stood
        await pilot.pause()
        assert " batch 10/100 · 1,000/s · loss 0.5000" in status_area(app)[2]


# ====================================================================== a model without accuracy
@pytest.mark.parametrize("task", ["reconstruction", "regression", None])
async def test_a_model_without_accuracy_gets_no_accuracy_plot(tmp_path, task):
    """No empty accuracy box: the loss (the mean squared error) takes its place, and its title says so.
    The task comes from the app once a run is prepared, else from the history (no accuracy in it)."""
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        history = [{**e.as_dict(), "train_acc": None, "val_acc": None} for e in recorded_epochs(4)]
        app.monitor.show_history(history)
        app.monitor.task = task
        app.status = Status.STOPPED  # a run to watch: the monitor, not the welcome
        await pilot.pause()
        accuracy, loss = app.monitor.query_one("#plot-accuracy-box"), app.monitor.query_one("#plot-loss-box")
        assert not accuracy.display and loss.region.width > 70
        title = legend(app, "plot-loss")
        assert "no accuracy" in title and ("reconstruction error" in title) == (task == "reconstruction")
        app.monitor.task = "classification"
        await pilot.pause()
        assert accuracy.display and loss.region.width < 45


# ====================================================================== the collector
async def test_the_collector_is_spared_while_the_studio_runs_and_put_back_after(tmp_path):
    """Full collections walked every object of the studio inside key presses; frozen while it runs, the
    objects are collectable again once it closes (a test run opens many studios)."""
    import gc

    before = gc.get_threshold()
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: gc.get_freeze_count() > 0, "the objects of the studio to be frozen")
        assert gc.get_threshold()[2] >= 100
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
