"""The Runs pane and runs compared in the Monitor: marking, filtering, the overlay, its axes, smoothing and log
scale, keys that say why they cannot act, and an opened run's whole history (per-batch loss included).

The runs are written by `studio_runs.write_runs` (histories with fixed numbers, no training); the app
runs in a temporary folder given by a relative path, as a user's would show. Reads happen in workers:
the tests wait for the counters the panes keep (`reads`, `overlay_reads`), never for time.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from nnstudio.engine import events
from nnstudio.tui.run import Session, Status
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio.launch import create_app
from nnstudio.tui.studio.plots import MAX_COMPARED, RUN_LOOKS, MetricPlot
from nnstudio.tui.studio.runs_pane import RunsPane
from nnstudio.tui.studio.series import SMOOTHINGS
from studio_host import screen_text
from studio_recorded import feed
from studio_runs import write_run, write_runs
from test_studio_app import wait_for
from test_studio_monitor import record_series


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A saves folder with five runs, given by a relative path (the panes show it)."""
    monkeypatch.chdir(tmp_path)
    write_runs(Path("saves"))
    return Path("saves")


def studio(folder: Path):
    config = RunConfig.from_dict({"data": {"name": "mnist"}, "optimizer": {"lr": 0.001}, "training": {"epochs": 10}})
    return create_app(config=config, saves_dir=folder, offer_resume=False)


def rows(app) -> list[list[str]]:
    table = app.query_one("#runs-table", DataTable)
    return [[str(value) for value in table.get_row_at(i)] for i in range(table.row_count)]


def names(app) -> list[str]:
    return [row[1] for row in rows(app)]


async def show_runs(pilot, reads: int = 1) -> RunsPane:
    """Show the Runs pane once it has read the folder `reads` times."""
    await pilot.press("6")
    pane = pilot.app.runs
    await wait_for(pilot, lambda: pane.reads >= reads and pane.runs, "the runs folder to be read")
    await pilot.pause()
    return pane


async def mark(pilot, *run_names: str) -> None:
    """Mark runs by name (the cursor moved to each), then wait for the Monitor to have read them."""
    app = pilot.app
    before = app.monitor.overlay_reads
    for name in run_names:
        app.query_one("#runs-table", DataTable).move_cursor(row=names(app).index(name))
        await pilot.press("m")
    await wait_for(pilot, lambda: app.monitor.overlay_reads > before, "the marked runs to be read")
    await pilot.pause()


def legend(app, plot_id: str) -> str:
    return str(app.monitor.query_one(f"#{plot_id}-legend").render())


def overlay_legend(app) -> str:
    """The lines above the plots: the runs compared, then (if any) those not drawn."""
    return "\n".join(str(line.render()) for line in app.monitor.query("#overlay-legend Static") if line.display)


# ====================================================================== the table
async def test_the_runs_are_listed_newest_first_with_what_tells_them_apart(folder):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_runs(pilot)
        assert names(app) == ["spirals-mlp", "mnist-mlp-sgd", "mnist-mlp-lr0.03", "mnist-mlp-lr0.01",
                              "mnist-mlp-lr0.001"]
        sgd = rows(app)[1]
        assert sgd[2:8] == ["sgd 0.1", "6/10", f"{0.95 - 0.45 * math.exp(-2.5 * 6) - 0.02 + 1e-12:.2%}",
                            "finished", "mnist", "mlp"]
        assert "5 runs in saves/runs" in screen_text(app)


async def test_at_80_columns_the_columns_that_tell_runs_apart_are_whole(folder):
    app = studio(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_runs(pilot)
        text = screen_text(app)
        for cells in rows(app):
            assert all(cell in text for cell in cells[1:6]), cells   # name, optimizer, epochs, best, status
        assert "saves/runs/spirals-mlp" in text   # the selected run, in full under the table


@pytest.mark.parametrize("no_color", [False, True])
async def test_at_80_columns_real_run_names_and_a_mark_leave_the_status_whole(tmp_path, monkeypatch, no_color):
    monkeypatch.chdir(tmp_path)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    for n, (status, optimizer) in enumerate((("early-stopped", "rmsprop"), ("interrupted", "sgd"), ("finished", "adam"))):
        write_run(Path("saves"), f"spirals-mlp-20261203-15574{n}", lr=0.0003, status=status, optimizer=optimizer,
                  updated=f"2025-01-31T12:0{n}:00.000Z")
    # a sweep's trials are named after their models: long names, and a -2 when two start in the same second
    write_run(Path("saves"), "fashion-mnist-sigmoid-8-xavier-20261203-191500-2", lr=0.0003, status="interrupted",
              optimizer="rmsprop", updated="2025-01-31T12:09:00.000Z")
    app = studio(Path("saves"))
    async with app.run_test(size=(80, 24)) as pilot:
        await show_runs(pilot)
        await pilot.press("m")
        await pilot.pause()
        text = screen_text(app)
        for cells in rows(app):
            assert all(cell in text for cell in cells[1:6]), cells   # name, optimizer, epochs, best, status
        assert "early-stopped" in text and "…-1203-191500-2" in text and " fashion-mnis" in text   # (start, time kept)
        assert "4 runs · 1 marked in " in text


async def test_the_keys_go_to_the_table_once_the_runs_are_read(folder):
    """Pane 6 shown before its first read: the table has the keys once it is there (down, m marked nothing)."""
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        await wait_for(pilot, lambda: app.runs.reads >= 1 and app.runs.runs, "the runs folder to be read")
        await pilot.press("down", "m")
        assert app.runs.marks == [Path("saves/runs/mnist-mlp-sgd")]


async def test_marks_survive_refreshes_and_filters(folder):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await show_runs(pilot)
        await mark(pilot, "mnist-mlp-lr0.01", "mnist-mlp-lr0.03")
        assert pane.marks == [Path("saves/runs/mnist-mlp-lr0.01"), Path("saves/runs/mnist-mlp-lr0.03")]
        assert app.monitor.compared == tuple(pane.marks)   # passed on, in mark order
        write_run(folder, "mnist-mlp-new", lr=0.3, updated="2025-02-01T09:00:00.000Z")   # a run ends meanwhile
        reads = pane.reads
        await pilot.press("R")
        await wait_for(pilot, lambda: pane.reads > reads, "the folder to be read again")
        await pilot.pause()
        assert names(app)[0] == "mnist-mlp-new" and len(pane.marks) == 2
        await pilot.press("slash", *"lr0.0")
        assert names(app) == ["mnist-mlp-lr0.03", "mnist-mlp-lr0.01", "mnist-mlp-lr0.001"]
        assert "3 of 6 runs · 2 marked" in screen_text(app)
        marked = {row[1]: row[0] for row in rows(app)}
        assert marked["mnist-mlp-lr0.001"] == "" and marked["mnist-mlp-lr0.01"] and marked["mnist-mlp-lr0.03"]


async def test_typing_after_slash_filters_enter_returns_to_the_table_escape_clears(folder):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_runs(pilot)
        await pilot.press("slash", *"mnist sgd")
        assert names(app) == ["mnist-mlp-sgd"]   # every word in the row
        await pilot.press("enter")
        assert isinstance(app.focused, DataTable) and names(app) == ["mnist-mlp-sgd"]
        await pilot.press("m")   # the table has the keys again: m marks
        assert len(app.runs.marks) == 1
        await pilot.press("3", "6")   # back to the pane, the filter still in force: the keys go to the table
        await pilot.pause()
        assert isinstance(app.focused, DataTable) and names(app) == ["mnist-mlp-sgd"]
        await pilot.press("m")
        assert len(app.runs.marks) == 0 and app.query_one("#runs-filter", Input).value == "mnist sgd"
        await pilot.press("escape")
        assert len(names(app)) == 5 and not app.query_one("#runs-filter", Input).display
        await pilot.press("slash", *"nothing-like-it")
        assert "No run matches" in screen_text(app)
        await pilot.press("escape")
        app.simulate_key("slash")   # typed in one burst (a paste, a fast typist): before the box has the focus
        for key in "sgd":
            app.simulate_key(key)
        await wait_for(pilot, lambda: names(app) == ["mnist-mlp-sgd"], "the filter to take every letter")


async def test_a_run_that_starts_or_ends_in_the_studio_is_read_again(folder):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await show_runs(pilot)
        reads = pane.reads
        pane.set_running(Status.RUNNING)   # the studio's run started
        await wait_for(pilot, lambda: pane.reads > reads, "a read after the start")
        reads = pane.reads
        pane.set_running(Status.PAUSED)    # (still under way: nothing new)
        pane.set_running(Status.FINISHED)  # it ended
        await wait_for(pilot, lambda: pane.reads > reads, "a read after the end")


# ====================================================================== keys that cannot act
async def test_every_key_of_the_pane_that_cannot_act_says_why(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = studio(Path("saves"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        await wait_for(pilot, lambda: app.runs.reads >= 1, "the empty folder to be read")
        said = []
        monkeypatch.setattr(app, "notify", lambda text, **kw: said.append(text))
        await pilot.press("m", "c")
        assert said == ["No runs yet: train one (space) and it is listed here.",
                        "No run is marked (m marks the selected one)."]
        assert "No runs yet in saves/runs" in screen_text(app)


async def test_at_most_as_many_runs_as_looks_are_marked(folder, monkeypatch):
    for n in range(MAX_COMPARED + 1):
        write_run(folder, f"extra-{n:02d}", lr=0.001 * (n + 1), epochs=1, batches=2)
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await show_runs(pilot)
        said = []
        monkeypatch.setattr(app, "notify", lambda text, **kw: said.append(text))
        await pilot.press(*["m"] * (MAX_COMPARED + 1))
        assert len(pane.marks) == MAX_COMPARED
        assert said == [f"{MAX_COMPARED} runs are marked, as many as the plots tell apart: unmark one first (m)."]


async def test_the_run_trained_here_is_drawn_live_not_marked(folder, monkeypatch):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await show_runs(pilot)
        pane.live_run = app.monitor.live_run = Path("saves/runs/spirals-mlp")
        said = []
        monkeypatch.setattr(app, "notify", lambda text, **kw: said.append(text))
        await pilot.press("m")
        assert pane.marks == [] and said == ["This is the run being trained here: the Monitor draws it live, "
                                             "marked or not."]


# ====================================================================== the overlay
async def test_marked_runs_are_overlaid_each_with_one_look_in_every_plot(folder):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        drawn = record_series(app)
        feed(app)   # the current run: six recorded epochs, lr 0.001
        await show_runs(pilot)
        await mark(pilot, "mnist-mlp-lr0.01", "mnist-mlp-sgd")
        await pilot.press("3")
        await wait_for(pilot, lambda: "lr 0.01" in overlay_legend(app) and len(drawn.get("plot-lr", [])) == 3,
                       "the overlay to be drawn")
        assert overlay_legend(app).split("  ")[1:] == ["━ adam · lr 0.001 · batch 64 (this run)",
                                                       "━ adam · lr 0.01 · batch 64", "━ sgd · lr 0.1 · batch 32"]
        looks = [RUN_LOOKS[2], RUN_LOOKS[1], RUN_LOOKS[0]]   # drawn last, on top: the current run
        for plot_id in ("plot-loss", "plot-accuracy", "plot-grad", "plot-lr"):
            assert [style["color"] for style in drawn[plot_id]] == [look.colour for look in looks], plot_id
        assert legend(app, "plot-loss") == "training loss" and legend(app, "plot-accuracy") == "validation accuracy %"
        assert legend(app, "plot-grad") == "gradient: first layer ÷ last (log)"   # (each run's: named above)
        await pilot.press("c")   # stop comparing: the runs are unmarked, the current run is alone again
        await wait_for(pilot, lambda: not app.monitor.compared and "━ batch" in legend(app, "plot-loss"),
                       "the current run alone")
        assert app.runs.marks == [] and not app.monitor.query_one("#overlay-legend").display


async def test_runs_of_another_data_set_are_named_not_drawn(folder, monkeypatch):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        said = []
        monkeypatch.setattr(app, "notify", lambda text, **kw: said.append(text))
        feed(app)
        await show_runs(pilot)
        await mark(pilot, "spirals-mlp", "mnist-mlp-lr0.03")
        await pilot.press("3")
        await wait_for(pilot, lambda: "not drawn" in overlay_legend(app), "the overlay legend")
        assert "not drawn: spirals-mlp (data set spirals classification, not mnist)" in overlay_legend(app)
        assert said == ["spirals-mlp: data set spirals classification, not mnist"]
        assert [s.label for s in app.monitor.overlay().shown] == ["lr 0.001 (this run)", "lr 0.03"]


async def test_without_a_current_run_the_runs_most_marked_share_are_compared(folder):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await show_runs(pilot)
        await mark(pilot, "spirals-mlp", "mnist-mlp-lr0.03", "mnist-mlp-lr0.01")
        await pilot.press("3")
        assert app.monitor.display and not app.welcome.display   # the plots, not the first screen
        overlay = app.monitor.overlay()
        assert [s.curves.name for s in overlay.shown] == ["mnist-mlp-lr0.03", "mnist-mlp-lr0.01"]
        assert [s.look for s in overlay.shown] == [RUN_LOOKS[2], RUN_LOOKS[3]]   # the look of its place among marks
        assert overlay.left_out == [("spirals-mlp", "data set spirals classification, not mnist classification")]


async def test_a_regression_run_is_compared_by_its_validation_loss(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for n, lr in enumerate((0.01, 0.1)):
        write_run(Path("saves"), f"sine-{n}", lr=lr, dataset="sine", task="regression", train_size=900)
    app = studio(Path("saves"))
    async with app.run_test(size=(120, 40)) as pilot:
        await show_runs(pilot)
        assert all(row[4].startswith("loss ") for row in rows(app))   # (its best is a loss: said so, not a bare number)
        await mark(pilot, "sine-0", "sine-1")
        await pilot.press("3")
        await wait_for(pilot, lambda: legend(app, "plot-accuracy") == "validation loss", "the second plot's title")
        assert app.monitor.query_one("#plot-accuracy-box").display   # (no accuracy: validation loss in its place)


# ====================================================================== axes, smoothing, log scale
async def test_e_draws_the_curves_against_examples_seen(folder):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        calls = record_points(app)
        feed(app)
        await show_runs(pilot)
        await mark(pilot, "mnist-mlp-sgd")
        await pilot.press("3", "e")
        await wait_for(pilot, lambda: "examples seen" in plot_text(app, "plot-loss"), "the x axis in examples")
        xs = calls["plot-loss"][1][0]   # the sgd run's batch curve: 6 epochs of 54,000 examples
        assert 0 < xs[0] < 54_000 * 0.2 and xs[-1] == pytest.approx(6 * 54_000, rel=0.02)
        assert "200k" in plot_text(app, "plot-loss")
        await pilot.press("e")
        await wait_for(pilot, lambda: "examples seen" not in plot_text(app, "plot-loss"), "epochs again")
        assert calls["plot-loss"][1][0][-1] == pytest.approx(6, rel=0.02)


async def test_s_cycles_the_smoothing_of_the_per_batch_loss(folder):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        calls = record_points(app)
        feed(app)
        await pilot.press("3")
        assert app.monitor.view.smoothing == 0.9
        for expected in (*SMOOTHINGS[SMOOTHINGS.index(0.9) + 1:], *SMOOTHINGS[:SMOOTHINGS.index(0.9) + 1]):
            await pilot.press("s")
            assert app.monitor.view.smoothing == expected
        await pilot.press("s")   # 0.97: more of the past, a flatter curve than unsmoothed
        await wait_for(pilot, lambda: "smoothing 0.97" in legend(app, "plot-loss"), "the title to say so")
        smooth = calls["plot-loss"][0][1]
        await pilot.press("s", "s")   # 0.99, then round to none
        await wait_for(pilot, lambda: "unsmoothed" in legend(app, "plot-loss"), "the title to say so")
        raw = calls["plot-loss"][0][1]
        assert spread(smooth) < spread(raw)


async def test_l_draws_the_losses_on_a_log_scale(folder):
    app = studio(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        calls = record_points(app)
        feed(app)
        await pilot.press("3")
        linear = calls["plot-loss"][1][1]   # the train loss per epoch
        await pilot.press("l")
        await wait_for(pilot, lambda: "loss (log)" in legend(app, "plot-loss"), "the title to say so")
        assert calls["plot-loss"][1][1] == pytest.approx([math.log10(v) for v in linear])
        await pilot.press("l")
        await wait_for(pilot, lambda: "(log)" not in legend(app, "plot-loss"), "linear again")


async def test_monitor_keys_that_cannot_act_say_why(tmp_path, monkeypatch):
    app = studio(tmp_path / "saves")
    async with app.run_test(size=(120, 40)) as pilot:
        app.monitor.on_session_event(events.EpochEnd(0, 10, 0.5, 0.8, 0.6, 0.75, 1e-3, {}, {}, {}, 1e5, 0.1, 0.1, 1))
        app.status = Status.PAUSED
        await pilot.press("3")
        said = []
        monkeypatch.setattr(app, "notify", lambda text, **kw: said.append(text))
        await pilot.press("s", "c", "e")
        assert said == ["No per-batch loss to smooth yet: train (space), or mark runs to compare in the Runs pane (6).",
                        "No runs are compared: mark some in the Runs pane (6) with m.",
                        "The examples this run has seen are not known (its data set's size is not): x stays in "
                        "epochs."]


async def test_ten_runs_of_many_batches_are_drawn_at_the_plot_s_width(tmp_path, monkeypatch):
    """The speed item's shape, counted not timed: each per-batch curve reaches plotext as at most a plot's
    width of points, however many batches it has."""
    monkeypatch.chdir(tmp_path)
    for n in range(10):
        write_run(Path("saves"), f"run-{n}", lr=0.001 * (n + 1), epochs=50, batches=200)
    app = studio(Path("saves"))
    async with app.run_test(size=(120, 40)) as pilot:
        calls = record_points(app)
        feed(app)
        await show_runs(pilot)
        await pilot.press(*["m"] * 10)
        await wait_for(pilot, lambda: app.monitor.overlay_reads and len(app.monitor.overlay().shown) == 11,
                       "the ten runs read")
        await pilot.press("3")
        await wait_for(pilot, lambda: len(calls.get("plot-loss", [])) == 11, "eleven loss curves drawn")
        width = app.monitor.query_one("#plot-loss", MetricPlot).size.width
        assert all(len(xs) <= width for xs, _ in calls["plot-loss"])


# ====================================================================== an opened run's history
async def test_opening_a_save_brings_back_its_per_batch_loss(tmp_path):
    config = RunConfig.from_dict({"data": {"name": "blobs", "size": 200}, "training": {"epochs": 2, "batch_size": 16},
                                  "checkpoints": {"folder": str(tmp_path)}})
    session = Session(config)
    assert session.run() == "finished"
    path = session.save("blobs-run", folder=tmp_path)
    app = create_app(config=config, saves_dir=tmp_path, open_path=path, offer_resume=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.monitor.history) == 2, "the save to be opened")
        assert len(app.monitor.trace) == 2 * len(session.batches)
        assert app.monitor.trace.xs[-1] == pytest.approx(2.0)
        assert app.monitor.trace.ns[-1] == 2 * len(session.data.x_train)


async def test_resuming_a_run_brings_back_its_batches_up_to_where_it_resumes(tmp_path):
    config = RunConfig.from_dict({"data": {"name": "blobs", "size": 200}, "training": {"epochs": 3, "batch_size": 16},
                                  "checkpoints": {"folder": str(tmp_path)}})
    session = Session(config)

    def stop_in_epoch_2(event):
        if isinstance(event, events.BatchEnd) and event.epoch == 1 and event.batch == 3:
            session.stop()

    session.on_event = stop_in_epoch_2
    assert session.run() == "stopped"
    app = create_app(config=config, saves_dir=tmp_path, offer_resume=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app._attempt(app.runner.open, session.run_dir, "resumed", str(tmp_path))
        await wait_for(pilot, lambda: app.status == "paused", "the run to be resumed, paused")
        assert len(app.monitor.trace) == len(session.batches) + 4
        await app.runner.stop_and_wait()


# ====================================================================== helpers
def record_points(app) -> dict[str, list[tuple[list, list]]]:
    """From now on, the points of every series each plot's latest figure draws, in order."""
    drawn: dict[str, list] = {}
    for plot in app.monitor.query(MetricPlot):
        def plot_with_record(xs, ys, *args, _plot=plot, _original=plot.plt.plot, **style):
            drawn[_plot.id].append((list(xs), list(ys)))
            return _original(xs, ys, *args, **style)

        def clear_with_record(_plot=plot, _original=plot.plt.clear_figure):
            drawn[_plot.id] = []
            return _original()
        plot.plt.plot, plot.plt.clear_figure = plot_with_record, clear_with_record
    return drawn


def plot_text(app, plot_id: str) -> str:
    return app.monitor.query_one(f"#{plot_id}", MetricPlot).render().plain


def spread(values: list[float]) -> float:
    return sum(abs(b - a) for a, b in zip(values, values[1:]))


def test_runs_alike_in_what_is_named_are_told_apart_by_when_they_started():
    from nnstudio.tui.run.curves import RunCurves
    from nnstudio.tui.studio.overlay import arrange
    from studio_runs import run_config

    def run(name, started=None, **settings):
        return RunCurves(name, dataset="mnist", task="classification", config=run_config(**settings), started=started)

    current = run("this run", **{"optimizer.lr": 0.03})
    longer = run("a", "2025-01-31T12:00:00+00:00", **{"optimizer.lr": 0.03, "training.epochs": 30})
    faster = run("b", "2025-01-31T12:05:00+00:00", **{"optimizer.lr": 0.1})
    labels = [shown.label for shown in arrange(current, [longer, faster]).shown]
    assert labels[0] == "lr 0.03 (this run)" and labels[1].startswith("lr 0.03 · started ") and labels[2] == "lr 0.1"
    labels = [shown.label for shown in arrange(current, [run("c", "2025-01-31T12:00:00+00:00",
                                                                 **{"optimizer.lr": 0.03})]).shown]
    assert labels[0] == "this run" and labels[1].startswith("started ")


async def test_the_run_the_studio_trains_is_listed_as_such_and_drawn_live(tmp_path, monkeypatch):
    """A real run, in a saves folder named by a relative path: its row says it is the one running here, m
    does not mark it (it is drawn live), and other runs are compared with it as it trains."""
    from nnstudio.datasets import load_dataset
    from test_studio_app import config, press_while_training, wait_status
    monkeypatch.chdir(tmp_path)
    write_run(Path("saves"), "earlier", lr=0.1, dataset="blobs", train_size=180, epochs=2, batches=3)
    settings = config(tmp_path, **{"training.epochs": 1000, "checkpoints.folder": "saves"})
    app = create_app(config=settings, dataset=load_dataset("blobs", size=200, classes=3), saves_dir=Path("saves"),
                     offer_resume=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.simulate_key("space")
        await wait_for(pilot, lambda: app.monitor.live_run is not None and len(app.monitor.history) >= 1,
                       "the run to train")
        assert app.monitor.live_run == Path("saves/runs") / app.session.run_dir.name
        await press_while_training(pilot, "6")
        await wait_for(pilot, lambda: any(r.path == app.runs.live_run for r in app.runs.runs), "its row")
        live_row = next(i for i, r in enumerate(app.runs.shown) if r.path == app.runs.live_run)
        assert rows(app)[live_row][5] == "running here"
        said = []
        monkeypatch.setattr(app, "notify", lambda text, **kw: said.append(text))
        app.query_one("#runs-table", DataTable).move_cursor(row=live_row)
        await press_while_training(pilot, "m")
        await wait_for(pilot, lambda: said, "m to be answered")
        assert app.runs.marks == [] and said == ["This is the run being trained here: the Monitor draws it live, "
                                                 "marked or not."]
        app.query_one("#runs-table", DataTable).move_cursor(row=names(app).index("earlier"))
        await press_while_training(pilot, "m")
        await wait_for(pilot, lambda: app.runs.marks, "the earlier run to be marked")
        await press_while_training(pilot, "3")
        await wait_for(pilot, lambda: "(this run)" in overlay_legend(app), "the overlay with the live run")
        overlay = app.monitor.overlay()
        assert [s.curves.name for s in overlay.shown] == ["this run", "earlier"] and not overlay.left_out
        app.runner.stop()
        await wait_status(pilot, "stopped")


async def test_runs_read_before_the_pane_is_shown_are_named_to_the_screen_s_width(tmp_path, monkeypatch):
    """The pane reads its folder at start, while another pane is shown (it has no size yet): the names fit 80
    columns as they would have, not cut to a stub."""
    monkeypatch.chdir(tmp_path)
    for n in range(3):
        write_run(Path("saves"), f"mnist-sigmoid-8-xavier-20261203-19442{n}", lr=0.05, optimizer="sgd",
                  updated=f"2025-01-31T12:0{n}:00.000Z")
    app = studio(Path("saves"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.runs.reads >= 1 and app.runs.runs, "the runs folder to be read")
        await show_runs(pilot)
        assert "mnist-sigmoid-8-xavier-1203-194422" in screen_text(app)
