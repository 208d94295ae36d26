"""The runs compared in the Monitor as a run trains: what the lines above the plots say (runs not drawn, forks),
the log scale of the learning rate, the runs' validation loss, and the runs compared built once (counted)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from nnstudio.datasets import load_dataset
from nnstudio.tui.run import Session
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.forking import fork
from nnstudio.tui.studio.launch import create_app
from studio_runs import write_run
from studio_host import screen_text
from test_studio_app import config, press_while_training, wait_for, wait_status
from studio_recorded import feed
from test_studio_monitor import legend
from test_studio_runs import folder, mark, overlay_legend, plot_text, record_points, show_runs, studio  # noqa: F401


NOT_DRAWN = "not drawn: spirals-run (data set spirals classification, not blobs classification)"


def seen(app) -> str:
    """The screen's text, its words each one space apart (what wraps reads on)."""
    return " ".join(screen_text(app).split())


async def test_the_runs_not_drawn_stay_named_while_the_run_trains(tmp_path, monkeypatch):
    """A marked run of another data set is named as not drawn before the run starts, and while it trains."""
    monkeypatch.chdir(tmp_path)
    write_run(Path("saves"), "earlier", lr=0.1, dataset="blobs", train_size=180, epochs=2, batches=3)
    write_run(Path("saves"), "later", lr=0.3, dataset="blobs", train_size=180, epochs=2, batches=3, optimizer="sgd",
              batch_size=32)
    write_run(Path("saves"), "latest", lr=0.03, dataset="blobs", train_size=180, epochs=2, batches=3, batch_size=8)
    write_run(Path("saves"), "spirals-run", lr=0.1, dataset="spirals", train_size=900, epochs=2, batches=3)
    settings = config(tmp_path, **{"training.epochs": 1000, "checkpoints.folder": "saves"})
    app = create_app(config=settings, dataset=load_dataset("blobs", size=200, classes=3), saves_dir=Path("saves"),
                     offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_runs(pilot)
        await mark(pilot, "earlier", "later", "latest", "spirals-run")
        await pilot.press("3")
        assert NOT_DRAWN in seen(app)
        await pilot.press("3")
        app.simulate_key("space")
        await wait_for(pilot, lambda: len(app.monitor.history) >= 2, "the run to train")
        await press_while_training(pilot, "3")
        app.monitor.redraw()
        await pilot.pause()
        assert "(this run)" in overlay_legend(app)
        assert "not drawn: spirals-run (data set spirals classification, not blobs" in overlay_legend(app)
        assert NOT_DRAWN in seen(app)   # and shown whole
        app.runner.stop()
        await wait_status(pilot, "stopped")


async def test_a_fork_is_named_the_fork_of_its_parent_and_branches_off_its_curves(tmp_path, monkeypatch):
    """A parent and its fork from epoch 2 (real runs): the fork's label says so, and up to epoch 2 its curves are
    its parent's (its history starts with the parent's), drawn over them; after it they part."""
    monkeypatch.chdir(tmp_path)
    settings = RunConfig.from_dict({
        "data": {"name": "moons", "size": 300}, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
        "schedule": {"name": "none"}, "training": {"epochs": 4, "batch_size": 16, "seed": 5},
        "checkpoints": {"folder": "saves", "keep_last": 10}})
    parent = Session(settings)
    assert parent.run() == "finished"
    child = fork(parent.run_dir, 2, {"optimizer.lr": 0.005, "checkpoints.folder": "saves"})
    assert child.run() == "finished"
    app = create_app(config=settings, saves_dir=Path("saves"), offer_resume=False)
    async with app.run_test(size=(120, 40)) as pilot:
        drawn = record_points(app)
        await show_runs(pilot)
        await mark(pilot, parent.run_dir.name, child.run_dir.name)
        await pilot.press("3")
        await wait_for(pilot, lambda: "fork of" in overlay_legend(app) and len(drawn.get("plot-lr", [])) == 2,
                       "the overlay")
        assert overlay_legend(app).split("  ")[1:] == ["━ lr 0.05", "━ lr 0.005 (fork of lr 0.05 at epoch 2)"]
        (fork_x, fork_y), (parent_x, parent_y) = drawn["plot-accuracy"]   # the first marked on top: the parent
        assert fork_x == parent_x == [1, 2, 3, 4]
        assert fork_y[:2] == parent_y[:2]
        assert drawn["plot-lr"] == [([1, 2, 3, 4], [0.05, 0.05, 0.005, 0.005]), ([1, 2, 3, 4], [0.05] * 4)]
        (fork_x, fork_y), (parent_x, parent_y) = drawn["plot-loss"]   # per batch, binned alike: alike until 2
        before = [i for i, x in enumerate(parent_x) if x < 1.9]
        assert before and [fork_y[i] for i in before] == [parent_y[i] for i in before]
        assert fork_y[-1] != parent_y[-1]


def test_the_current_run_and_a_fork_whose_parent_is_not_drawn_are_named_so():
    from nnstudio.tui.run.curves import RunCurves
    from nnstudio.tui.studio.overlay import arrange
    from studio_runs import run_config

    def run(name, lr, origin=None):
        return RunCurves(name, dataset="mnist", task="classification", config=run_config(**{"optimizer.lr": lr}),
                         origin=origin or {"kind": "new"})

    current = run("this run", 0.01, {"kind": "fork", "run": "mnist-mlp-1", "epoch": 5, "path": "x", "changed": {}})
    other = run("mnist-mlp-2", 0.1, {"kind": "fork", "run": "mnist-mlp-0", "epoch": 3})
    assert [s.label for s in arrange(current, [other]).shown] == [
        "lr 0.01 (this run, fork of mnist-mlp-1 at epoch 5)", "lr 0.1 (fork of mnist-mlp-0 at epoch 3)"]
    odd = run("mnist-mlp-3", 0.1, {"kind": "fork", "run": "mnist-mlp-0", "epoch": "3"})   # not a fork that reads
    assert [s.label for s in arrange(None, [odd]).shown] == ["mnist-mlp-3"]


def test_one_sweep_s_trials_are_named_by_what_the_sweep_varied():
    from nnstudio.tui.run.curves import RunCurves
    from nnstudio.tui.run.origins import trial_origin
    from nnstudio.tui.studio.overlay import arrange
    from studio_runs import run_config

    def run(name, lr, origin):
        return RunCurves(name, dataset="mnist", task="classification", origin=origin,
                         config=run_config(**{"optimizer.lr": lr, "optimizer.momentum": 0.9}))

    fast = run("mnist-mlp-1", 0.1, trial_origin("optimizers-1", 2, "SGD + momentum"))
    slow = run("mnist-mlp-2", 0.01, trial_origin("optimizers-1", 1, "plain SGD"))
    assert [s.label for s in arrange(None, [fast, slow]).shown] == ["SGD + momentum", "plain SGD"]
    # runs of two sweeps, or a sweep's and another run: by what tells their settings apart, as any runs
    other = run("mnist-mlp-3", 0.01, trial_origin("optimizers-2", 1, "plain SGD"))
    assert [s.label for s in arrange(None, [fast, other]).shown] == ["lr 0.1", "lr 0.01"]
    assert [s.label for s in arrange(None, [fast, run("mnist-mlp-4", 0.01, {"kind": "new"})]).shown] == \
        ["lr 0.1", "lr 0.01"]


def test_comparing_the_gradient_plot_draws_each_run_s_first_layer_over_its_last():
    from nnstudio.tui.run.curves import RunCurves
    from nnstudio.tui.studio.monitor_plots import Scene, Shown, View, paint, title
    from nnstudio.tui.studio.plots import RUN_LOOKS

    def run(name, first, last):
        return RunCurves.of(name, [{"epoch": e + 1, "grad_norms": {"layers.0": first[e], "layers.9": last[e]}}
                                   for e in range(len(first))], dataset="mnist", task="classification")

    vanishing, healthy = run("sigmoid", [1e-5, 2e-5], [0.5, 0.4]), run("relu", [2.0, 1.0], [1.0, 0.5])
    scene = Scene(None, [Shown(vanishing, RUN_LOOKS[1], "sigmoid"), Shown(healthy, RUN_LOOKS[2], "relu")], View(),
                  has_accuracy=True)
    drawn, ticks = {}, []

    class Plot:
        def yticks(self, at, labels):
            ticks.extend(labels)

    paint("plot-grad", Plot(), lambda xs, ys, look, label, kept=False: drawn.update({label: ys}), scene, 40)
    assert title("plot-grad", scene) == "gradient: first layer ÷ last (log)"
    assert drawn["sigmoid"] == pytest.approx([math.log10(2e-5), math.log10(5e-5)])
    assert drawn["relu"] == pytest.approx([math.log10(2.0), math.log10(2.0)])
    assert ticks and "1e-4" in "".join(ticks).replace(" ", "")


async def test_l_puts_the_learning_rate_on_a_log_scale_too(folder):
    app = studio(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        drawn = record_points(app)
        feed(app)   # its learning rate decays: 1e-3 * 0.8 ** epoch
        await pilot.press("3")
        linear = drawn["plot-lr"][0][1]
        await pilot.press("l")
        await wait_for(pilot, lambda: legend(app, "plot-lr").startswith("learning rate (log)  "), "the title to say so")
        assert drawn["plot-lr"][0][1] == pytest.approx([math.log10(v) for v in linear])
        assert "8e-4" in plot_text(app, "plot-lr")   # labelled with rates, on a log axis
        await pilot.press("l")
        await wait_for(pilot, lambda: legend(app, "plot-lr").startswith("learning rate  "), "linear again")


async def test_v_shows_the_runs_validation_loss_in_the_loss_plot(folder, monkeypatch):
    app = studio(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        drawn = record_points(app)
        feed(app)
        said = []
        monkeypatch.setattr(app, "notify", lambda text, **kw: said.append(text))
        await pilot.press("3", "v")   # alone, the loss plot has the validation loss already
        assert said == ["The loss plot shows this run's validation loss already (per epoch); v switches it for runs "
                        "compared."]
        await show_runs(pilot)
        await mark(pilot, "mnist-mlp-lr0.01")
        await pilot.press("3", "v")
        await wait_for(pilot, lambda: legend(app, "plot-loss") == "validation loss", "the title to say so")
        (marked_x, marked_y), (this_x, this_y) = drawn["plot-loss"]   # per epoch: the marked run's, then this one's
        assert marked_x == [1, 2, 3, 4, 5, 6] and this_x == [1, 2, 3, 4, 5, 6]
        assert marked_y == pytest.approx([2.1 * math.exp(-0.7 * (e + 1)) for e in range(6)])   # (studio_runs)
        assert this_y == pytest.approx([1.7 * 0.72 ** e for e in range(6)])                  # (studio_recorded)
        await pilot.press("s")   # nothing to smooth: it says so
        assert said[-1] == "The validation loss is per epoch, not smoothed: v shows the training loss again."
        await pilot.press("v")
        await wait_for(pilot, lambda: legend(app, "plot-loss") == "training loss", "the training loss again")


async def test_as_the_current_run_trains_the_runs_compared_are_built_once(folder, monkeypatch):
    """The speed item, counted not timed: redraws of the loss plot as batches come build the marked runs' layer of
    the figure once, and bin their per-batch losses once; another smoothing or the log scale bins none again."""
    from nnstudio.engine import events
    from nnstudio.tui.studio import monitor_plots, series
    from nnstudio.tui.studio.plots import MetricPlot
    app = studio(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app)
        await show_runs(pilot)
        await mark(pilot, "mnist-mlp-lr0.01", "mnist-mlp-lr0.03", "mnist-mlp-sgd")
        await pilot.press("3")
        monitor, plot = app.monitor, app.monitor.query_one("#plot-loss", MetricPlot)
        monitor.plot_timer.pause()
        monitor.redraw({"plot-loss"})
        plot.render()
        kept, builds = plot.builder.kept_builds, plot.builds
        binned = []
        monkeypatch.setattr(monitor_plots, "binned", lambda *args: binned.append(args) or series.binned(*args))
        for n in range(5):   # batches of a seventh epoch, a redraw each
            monitor.tick(events.BatchEnd(6, n, 50, 0.3, 0.9, 1e4), [(6, n, 50, 0.3 - 0.01 * n)])
            monitor.redraw({"plot-loss"})
            plot.render()
        assert plot.builds == builds + 5 and plot.builder.kept_builds == kept and not binned
        await pilot.press("s", "l")   # their bins smoothed again, not binned again
        monitor.redraw({"plot-loss"})
        assert not binned and "smoothing" in legend(app, "plot-loss") and "(log)" in legend(app, "plot-loss")
