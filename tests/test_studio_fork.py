"""Forking from the Runs pane: f on a run, the dialog (its epochs, its fields checked as typed), enter trains the
fork as the studio's run, with its parent overlaid in the Monitor; keys that cannot fork say why.

The parent is a real run (moons, a few epochs: well under a second); the fork trains in the studio's worker and
the tests wait for its status, never for time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Select

from nnstudio.tui.run import Session, Status
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run import forking
from nnstudio.tui.run.history import read_history
from nnstudio.tui.studio.launch import create_app
from nnstudio.tui.studio.fork_screen import ForkScreen, field_id
from studio_host import screen_text
from test_studio_app import wait_for


def _config(folder: Path, **overrides) -> RunConfig:
    config = RunConfig.from_dict({
        "data": {"name": "moons", "size": 300}, "model": {"preset": "mlp"},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "schedule": {"name": "none"},
        "training": {"epochs": 4, "batch_size": 16, "seed": 5},
        "checkpoints": {"folder": str(folder), "keep_last": 10}})
    return config.with_overrides(overrides) if overrides else config


@pytest.fixture
def parent(tmp_path) -> Session:
    session = Session(_config(tmp_path))
    assert session.run() == "finished"
    return session


def studio(folder: Path):
    return create_app(config=_config(folder), saves_dir=folder, offer_resume=False)


async def open_fork_dialog(pilot) -> ForkScreen:
    app = pilot.app
    await pilot.press("6")
    await wait_for(pilot, lambda: app.runs.runs, "the runs folder to be read")
    await pilot.pause()
    await pilot.press("f")
    await wait_for(pilot, lambda: isinstance(app.screen, ForkScreen), "the fork dialog")
    await pilot.pause()
    return app.screen


def field(screen: ForkScreen, path: str):
    return screen.query_one(f"#{field_id(path)}")


async def test_f_then_a_new_learning_rate_then_enter_trains_a_fork_beside_its_parent(parent, tmp_path):
    app = studio(tmp_path)
    notes = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify = lambda message, **kw: notes.append(message)
        screen = await open_fork_dialog(pilot)
        assert screen.epoch == 4   # its latest kept epoch first
        assert field(screen, "optimizer.lr").value == "0.05" and field(screen, "optimizer.name").value == "sgd"
        assert "Fork " + parent.run_dir.name in screen_text(app)
        # from its last planned epoch a fork must train on: the epochs field says so, and how many
        assert int(field(screen, "training.epochs").value) > 4
        screen.query_one("#fork-epoch", Select).value = 2
        await pilot.pause()
        assert field(screen, "training.epochs").value == "4"
        assert field(screen, "optimizer.lr").has_focus
        await pilot.press(*"0.005")   # (the field's value is selected: typing replaces it)
        assert "lr 0.05 → 0.005" in str(screen.query_one("#fork-changes").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.status is Status.FINISHED, "the fork to finish")
        fork = app.session
        assert fork.run_dir != parent.run_dir and fork.origin["kind"] == "fork"
        assert [h["lr"] for h in fork.history] == [0.05, 0.05, 0.005, 0.005]
        assert fork.history[:2] == parent.history[:2]
        history = read_history(fork.run_dir)
        assert history.origin["run"] == parent.run_dir.name and history.origin["epoch"] == 2
        # the parent is overlaid in the Monitor, which is shown, and the live run is the fork
        assert app.query_one("TabbedContent").active == "monitor"
        assert [p.name for p in app.runs.marks] == [parent.run_dir.name]
        assert app.monitor.live_run.name == fork.run_dir.name
        # the fork's curve starts with its parent's epochs (inherited), then its own
        assert len(app.monitor.history) == 4
        assert "Trained epochs 3-4 (4 in all)." in notes and any("lr 0.05 → 0.005" in n for n in notes)
        # listed first in the Runs pane, its details naming its parent and what it changed
        await pilot.press("6")
        await wait_for(pilot, lambda: len(app.runs.runs) == 2 and app.runs.runs[0].status == "finished", "the fork")
        app.runs.query_one("#runs-table", DataTable).move_cursor(row=0)   # (the cursor stayed on the parent)
        await pilot.pause()
        detail = str(app.runs.query_one("#runs-detail").render())
        assert f"fork of {parent.run_dir.name}@2 (lr 0.05 → 0.005)" in detail


async def test_an_epoch_deleted_while_the_dialog_is_open_is_said_and_what_was_typed_stays(parent, tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_fork_dialog(pilot)
        screen.query_one("#fork-epoch", Select).value = 2
        await pilot.pause()
        assert "no change: it trains epochs 3-4 again" in str(screen.query_one("#fork-changes").render())
        await pilot.press(*"0.005")
        while 2 in (kept := forking.kept_checkpoints(parent.run_dir)):   # (trained on elsewhere, it keeps its last few
            kept[2].unlink()                                              # and its best: best.safetensors may be 2)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and screen.epoch == 4 and 2 not in screen.kept
        assert "epoch 2's checkpoint was deleted" in str(screen.query_one("#fork-changes").render())
        assert field(screen, "optimizer.lr").value == "0.005" and field(screen, "training.epochs").value == "9"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.status is Status.FINISHED, "the fork to finish")
        assert app.session.origin["epoch"] == 4 and app.session.history[-1]["lr"] == 0.005


async def test_a_value_a_setting_refuses_is_named_and_enter_does_not_fork(parent, tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_fork_dialog(pilot)
        await pilot.press(*"-1")
        text = str(screen.query_one("#fork-changes").render())
        assert "learning rate" in text and "-1" in text
        assert screen.query_one("#fork-go", Button).disabled
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and app.session is None
        field(screen, "training.epochs").value = "3"   # before the branch point (epoch 4)
        field(screen, "optimizer.lr").value = "0.01"
        await pilot.pause()
        assert "epochs in all" in str(screen.query_one("#fork-changes").render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ForkScreen) and app.session is None


async def test_the_dialog_fits_80_by_24_with_every_field(parent, tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_fork_dialog(pilot)
        text = screen_text(app)
        for label in ("from epoch", "optimizer", "learning rate", "momentum", "weight decay", "batch size",
                      "epochs in all", "Fork and train", "Cancel"):
            assert label in text, label


async def test_f_says_why_it_cannot_fork(parent, tmp_path):
    app = studio(tmp_path)
    notes = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify = lambda message, **kw: notes.append(message)
        await pilot.press("6")
        await wait_for(pilot, lambda: app.runs.runs, "the runs folder to be read")
        for checkpoint in parent.run_dir.glob("*.safetensors"):
            checkpoint.unlink()
        app.runs.refresh_runs()
        await wait_for(pilot, lambda: app.runs.runs and app.runs.runs[0].info.latest is None, "the runs read again")
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        assert not isinstance(app.screen, ForkScreen)
        assert any("cannot be forked" in note and "checkpoint" in note for note in notes)


async def test_f_while_the_studio_trains_says_to_stop_first(parent, tmp_path):
    app = create_app(config=_config(tmp_path, **{"training.epochs": 500}), saves_dir=tmp_path, offer_resume=False)
    notes = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify = lambda message, **kw: notes.append(message)
        await pilot.press("6")
        await wait_for(pilot, lambda: app.runs.runs, "the runs folder to be read")
        await pilot.press("space")
        await wait_for(pilot, lambda: app.status is Status.RUNNING, "training")
        table = app.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, "the studio's run listed")
        await pilot.press("f")
        await pilot.pause()
        assert not isinstance(app.screen, ForkScreen)
        assert any("Stop training (x) before forking" in note for note in notes)
        await app.runner.stop_and_wait()


@pytest.mark.parametrize("every_epoch", [True, False])
async def test_quitting_says_whether_the_run_s_checkpoints_keep_its_epochs(tmp_path, every_epoch):
    config = _config(tmp_path, **{"training.epochs": 2, "checkpoints.every_epoch": every_epoch})
    app = create_app(config=config, saves_dir=tmp_path, offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: app.status is Status.FINISHED, "the run to finish")
        await pilot.press("q")
        await wait_for(pilot, lambda: app.screen.query("#confirm-detail"), "the question")
        detail = str(app.screen.query_one("#confirm-detail").render())
        if every_epoch:
            assert f"kept only as checkpoints of run {app.session.run_dir.name}" in detail
            assert "(fork it from the Runs pane, 6)" in detail and "lost" not in detail   # (finished: not resumed)
        else:
            assert "2 epochs trained since the last save will be lost" in detail
        await pilot.press("n")


async def test_a_run_stopped_in_the_studio_records_why(tmp_path):
    """x, and quitting while a run trains, each say in the run's history why it stopped (`runs show` prints it)."""
    for keys, why in ((["x"], "stopped from the studio (x)"), (["q"], "stopped: the studio was closed")):
        app = create_app(config=_config(tmp_path, **{"training.epochs": 500}), saves_dir=tmp_path, offer_resume=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("space")
            await wait_for(pilot, lambda: app.status is Status.RUNNING and app.session.run_dir is not None, "training")
            run_dir = app.session.run_dir
            await pilot.press(*keys)
            if keys == ["q"] and app.runner.unsaved_epochs:
                await wait_for(pilot, lambda: app.screen.query("#confirm-detail"), "the question")
                await pilot.press("y")
            await wait_for(pilot, lambda: app.status is Status.STOPPED or not app.is_running, "the run to stop")
        assert read_history(run_dir).end["why"] == why, keys
