"""The studio follows a run that another process trains (`nnstudio train --detach`): o in the Runs pane shows it in
the Monitor, its history so far and then live; space, n, x and the live settings of the Settings pane reach it
through its run folder; keys that cannot apply say why; following ends when the run ends. A run the studio trains
is steered from the command line too; the studio never trains a run another process holds.

The other process is real (`test_detach.detach`). Every wait is for the run's history, the app's status or its
notifications, with a generous guard (`wait_for`), never for a time.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from nnstudio import saves
from nnstudio.tui.run import RunConfig, Status
from nnstudio.tui.studio.launch import create_app

from studio_runs import write_runs
from test_cli_train import nnstudio
from test_detach import detach, detached_runs_stopped  # noqa: F401 (the fixture: no process outlives a test)
from test_steering import records, wait_until
from test_studio_app import press_while_training, status_line, wait_for
from test_studio_runs import rows, show_runs
from test_studio_settings import type_into


def studio():
    config = RunConfig.from_dict({"data": {"name": "blobs"}, "training": {"epochs": 10}})
    app = create_app(config=config, saves_dir=Path("saves"), offer_resume=False)
    app.seen = []
    notify = app.notify

    def recording_notify(message, **options):
        app.seen.append((options.get("title", ""), str(message)))
        return notify(message, **options)

    app.notify = recording_notify
    return app


async def runs_shown(pilot) -> None:
    """The Runs pane read and its table holding the keys (o goes to it)."""
    await show_runs(pilot)
    await wait_for(pilot, lambda: pilot.app.runs.focus_target.has_focus, "the Runs pane's table to have the keys")


async def follow(pilot) -> None:
    """o on the selected run, then wait until the Monitor shows it and has the keys (a key pressed before the
    Monitor's focus has settled could be taken back by it)."""
    app = pilot.app
    await press_while_training(pilot, "o")
    await wait_for(pilot, lambda: app.runner.following and app.focused is not None and
                   app.monitor in app.focused.ancestors_with_self, "the run followed in the Monitor")
    await pilot.pause()


def said(app, title: str) -> list[str]:
    return [text for seen_title, text in app.seen if seen_title == title]


async def test_a_run_another_process_trains_is_followed_live_and_steered_from_the_studio(tmp_path):
    run_dir, pid = detach(tmp_path)
    wait_until(lambda: len(records(run_dir, "epoch")) >= 2, "two epochs of the detached run")
    name = run_dir.name
    app = studio()
    async with app.run_test(size=(120, 30)) as pilot:
        await runs_shown(pilot)
        assert len(rows(app)) == 1 and rows(app)[0][5] == "running"
        assert f"trained by pid {pid} on" in str(app.runs.query_one("#runs-detail").render())
        await follow(pilot)
        await wait_for(pilot, lambda: app.status is Status.RUNNING, "the run followed running")
        monitor = app.monitor
        assert len(monitor.history) >= 2 and len(monitor.trace) > 0   # its history so far, per-batch loss included
        assert app.current_pane is monitor and f"following {name}" in app.sub_title
        assert said(app, "Following") and f"trains in pid {pid} on" in said(app, "Following")[0]
        shown = len(monitor.history)
        await wait_for(pilot, lambda: len(monitor.history) > shown, "the run's next epoch, live")
        assert "followed: space pauses, x stops it" in status_line(app)

        await press_while_training(pilot, "space")
        await wait_for(pilot, lambda: app.status is Status.PAUSED, "the run to pause")
        assert records(run_dir, "status")[-1]["status"] == "paused"
        epochs = len(records(run_dir, "epoch"))
        await press_while_training(pilot, "n")   # one epoch, then paused again
        await wait_for(pilot, lambda: len(records(run_dir, "epoch")) == epochs + 1 and app.status is Status.PAUSED,
                       "the epoch stepped")

        await press_while_training(pilot, "2")
        settings = app.panes["settings"]
        await wait_for(pilot, lambda: app.focused is not None and settings in app.focused.ancestors_with_self,
                       "the Settings pane to have the keys")
        await type_into(pilot, "optimizer.lr", "0.001", "enter")
        await wait_for(pilot, lambda: [(r["path"], r["value"]) for r in records(run_dir, "setting")] ==
                       [("optimizer.lr", 0.001)], "the run to take the learning rate")
        assert app.config.optimizer.lr == 0.001
        await press_while_training(pilot, "escape", "3")

        for key, words in (("r", "trains in another process"), ("ctrl+s", "weights are in its own process")):
            await press_while_training(pilot, key)
            await wait_for(pilot, lambda: any(words in text for text in said(app, "Not now")), f"why {key} cannot act")

        await press_while_training(pilot, "space")
        await wait_for(pilot, lambda: app.status is Status.RUNNING and records(run_dir, "status")[-1]["status"] ==
                       "running", "the run to go on")
        await press_while_training(pilot, "x")
        await wait_for(pilot, lambda: app.status is Status.STOPPED and said(app, "Followed run ended"), "the end")
        end = records(run_dir, "end")[-1]
        assert (end["status"], end["why"]) == ("stopped", "stopped from a studio following it (x)")
        assert [c["do"] for c in records(run_dir, "command")] == ["pause", "step", "set", "resume", "stop"]
        assert "space resumes it here" in status_line(app) and f"following {name}" not in app.sub_title
        await pilot.pause()
        await wait_for(pilot, lambda: not saves.is_locked(run_dir), "the detached process to let go")

        # its process let it go: space resumes it here, and the command line steers the studio's run
        await press_while_training(pilot, "space")
        await wait_for(pilot, lambda: app.session is not None and app.status is Status.PAUSED, "the run resumed here")
        await press_while_training(pilot, "space")
        await wait_for(pilot, lambda: app.status is Status.RUNNING and saves.is_locked(run_dir), "training here")
        paused = await asyncio.to_thread(nnstudio, tmp_path, "runs", "pause", name)
        assert paused.returncode == 0, paused.stderr
        await wait_for(pilot, lambda: app.status is Status.PAUSED, "the studio's run paused from the command line")
        changed = await asyncio.to_thread(nnstudio, tmp_path, "runs", "set", name, "--lr", "0.002")
        assert changed.returncode == 0, changed.stderr
        await wait_for(pilot, lambda: app.config.optimizer.lr == 0.002, "the studio to show the new learning rate")
        assert "asked to pause by nnstudio runs pause" in said(app, "From another process")
        await app.runner.stop_and_wait()


async def test_the_studio_never_trains_a_run_another_process_holds(tmp_path):
    run_dir, pid = detach(tmp_path)
    app = studio()
    async with app.run_test(size=(120, 30)) as pilot:
        app._attempt(app.runner.open, run_dir, "resumed", "saves")
        await wait_for(pilot, lambda: said(app, "Could not open"), "the refusal")
        assert said(app, "Could not open")[0].startswith(
            f"{run_dir.name} is being trained by another process (pid {pid} on ")
        assert app.session is None and app.status is Status.IDLE
        await runs_shown(pilot)
        await follow(pilot)
        await runs_shown(pilot)
        await press_while_training(pilot, "o")   # o again, on the run followed: stop following
        await wait_for(pilot, lambda: said(app, "Stopped following"), "following to end")
        assert app.runner.followed is None and app.status is Status.IDLE and saves.is_locked(run_dir)
        assert said(app, "Stopped following")[0] == f"{run_dir.name} trains on in pid {pid} on {os.uname().nodename}."


async def test_o_says_why_it_cannot_follow_a_run_no_process_trains(tmp_path):
    write_runs(Path("saves"))
    app = studio()
    async with app.run_test(size=(120, 30)) as pilot:
        await runs_shown(pilot)
        assert app.runs.check_action("follow", ()) is None   # greyed in the footer
        await pilot.press("o")
        await wait_for(pilot, lambda: said(app, "Not now"), "the reason")
        assert said(app, "Not now") == ["spirals-mlp is not training (finished): o follows a run another process "
                                        "trains (nnstudio train --detach); enter compares it."]
        assert app.runner.followed is None

