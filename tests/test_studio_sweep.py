"""The Sweep pane (7): the form says what it would run or what is wrong, ctrl+r trains the trials (real processes,
small spirals runs), they are ranked and overlaid as they go, b makes the best one's settings the studio's, and
ctrl+r again stops them with checkpoints. The tests wait for the pane's own state, never for time."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Select

from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio.confirm_screen import ConfirmScreen
from nnstudio.tui.studio.launch import create_app
from nnstudio.tui.studio.plots import MAX_COMPARED
from studio_host import screen_text
from studio_runs import write_run
from test_studio_app import wait_for


def studio(folder: Path, epochs: int = 2):
    config = RunConfig.from_dict({"data": {"name": "spirals", "size": 300}, "training": {"epochs": epochs}})
    return create_app(config=config, saves_dir=folder, offer_resume=False)


async def fill(pilot, values: str, setting: str = "--lr", row: int = 0) -> None:
    pane = pilot.app.query_one("#sweep-pane")
    pane.query_one(f"#sweep-setting-{row}", Select).value = setting
    pane.query_one(f"#sweep-values-{row}", Input).value = values
    await pilot.pause()


async def start_training(pilot):
    """Run a sweep of two long trials from the Sweep pane, and wait for a trial's first epoch; the pane."""
    pane = pilot.app.query_one("#sweep-pane")
    await pilot.press("7")
    await fill(pilot, "0.01,0.02")
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: pane.progress, "an epoch of a trial")
    return pane


def plan_line(app) -> str:
    return str(app.query_one("#sweep-plan").render())


async def test_the_form_says_what_would_run_or_what_is_wrong(tmp_path):
    app = studio(tmp_path)
    notes = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify = lambda message, **kw: notes.append(message)
        await pilot.press("7")
        await fill(pilot, "1e-4..1e-1:4")
        await fill(pilot, "sgd,adam", "--optimizer", row=1)
        assert "8 trials: 4 lr × 2 optimizer" in plan_line(app)
        await fill(pilot, "0.1,abc")
        assert "--lr" in plan_line(app) and "abc" in plan_line(app)
        app.query_one("#sweep-table", DataTable).focus()
        await pilot.press("ctrl+r")
        assert any("abc" in note for note in notes) and app.query_one("#sweep-pane").sweep is None
        await pilot.press("b")
        assert any("No sweep has a best trial yet" in note for note in notes)


async def test_ctrl_r_trains_the_trials_ranks_and_overlays_them_and_b_takes_the_best(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one("#sweep-pane")
        app.runs.mark(write_run(tmp_path, "spirals-before", dataset="spirals", train_size=240))
        await pilot.press("7")
        await fill(pilot, "0.001,0.1")
        pane.query_one("#sweep-workers", Select).value = 2
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: pane._last is not None, "the sweep to end")
        ranked = pane._last.ranked()
        assert [r["status"] for _, r in ranked] == ["finished", "finished"]
        table = pane.query_one("#sweep-table", DataTable)
        assert table.row_count == 2 and str(table.get_row_at(0)[0]).strip() == str(ranked[0][0].number)
        # every trial's run was marked in the Runs pane, so the Monitor overlays them (in place of the run marked before)
        assert sorted(p.name for p in app.runs.marks) == sorted(pane._last.runs.values())
        assert "Done" in str(pane.query_one("#sweep-hint").render())
        await pilot.press("b")
        await pilot.pause()
        assert app.config.optimizer.lr == ranked[0][0].overrides["optimizer.lr"]
        lr = f"{ranked[0][0].overrides['optimizer.lr']:g}"
        assert f"now trial {ranked[0][0].number}'s (lr {lr}): lr 0.003 → {lr}" in str(pane.query_one("#sweep-hint").render())


async def test_b_says_what_it_changes_and_claims_only_what_the_studio_took(tmp_path):
    app = studio(tmp_path)
    notes = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify = lambda message, **kw: notes.append(message)
        pane = app.query_one("#sweep-pane")
        await pilot.press("7")
        await fill(pilot, "sgd,rmsprop", "--optimizer")
        await fill(pilot, "1", "--epochs", row=1)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: pane._last is not None, "the sweep to end")
        await pilot.press("n")   # one epoch of the studio's own run: paused, it cannot take another optimizer
        await wait_for(pilot, lambda: app.status == "paused", "the studio's epoch")
        await pilot.press("7", "b")
        await pilot.pause()
        best = pane._last.ranked()[0][0]
        hint = " ".join(str(pane.query_one("#sweep-hint").render()).split())
        assert app.config.optimizer.name == "adam" and app.config.training.epochs == 2 and "now" not in hint
        assert f"Not taken: trial {best.number}'s settings" in hint and "adam → " in hint and "epochs 2 → 1" in hint
        assert "Stop the run (x) before changing optimizer, epochs: a run under way changes only its live " \
               "settings (lr, momentum, wd, batch)" in hint
        # (nor does a paused run take a number of epochs from elsewhere: the runner refuses it as the pane did)
        assert "epochs" in app.runner.refusal(app.config, app.config.replace(**{"training.epochs": 7}))


async def test_ctrl_r_again_stops_the_trials_with_checkpoints(tmp_path):
    app = studio(tmp_path, epochs=5000)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await start_training(pilot)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: pane._last is not None, "the sweep to stop")
        assert {r["status"] for _, r in pane._last.ranked() if r} == {"stopped"}
        assert str(pane.query_one("#sweep-hint").render()).startswith("Stopped.")
        assert f"nnstudio sweep --resume {pane._last.name} finishes it." in str(pane.query_one("#sweep-hint").render())
        assert any(t.resume for t in pane._last.tasks())   # (nnstudio sweep --resume goes on with its run)


async def test_a_sweep_of_more_trials_than_the_plots_tell_apart_says_which_it_overlays(tmp_path):
    app = studio(tmp_path, epochs=5000)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one("#sweep-pane")
        await pilot.press("7")
        await fill(pilot, f"1e-3..1e-1:{MAX_COMPARED + 1}")
        await pilot.press("ctrl+r")
        assert f"the first {MAX_COMPARED} of its trials" in str(pane.query_one("#sweep-hint").render())
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: pane._last is not None, "the sweep to stop")


async def test_closing_the_studio_stops_a_sweep_s_trials(tmp_path):
    app = studio(tmp_path, epochs=5000)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await start_training(pilot)
        sweep = pane.sweep
        await pilot.press("q")   # asked first: the sweep is named, and how to finish it
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and f"nnstudio sweep --resume {sweep.name}" in app.screen.detail
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, "the studio to close")
    from nnstudio.tui.run.sweep_folder import Sweep
    left = Sweep.open(sweep.name, tmp_path)
    assert {r["status"] for r in left.results.values()} == {"stopped"}   # (no trial left training unwatched)


async def test_a_lesson_is_one_choice_away_and_its_trials_run_as_its_own(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one("#sweep-pane")
        await pilot.press("7")
        pane.query_one("#sweep-experiment", Select).value = "models"
        await pilot.pause()
        assert "3 trials" in plan_line(app) and not pane.query_one("#sweep-values-0", Input).parent.display
        assert "kernel ridge" in str(pane.query_one("#sweep-base").render()).lower() or pane.plan.experiment == "models"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: pane._last is not None, "the experiment to end")
        assert {r["status"] for _, r in pane._last.ranked()} == {"finished"}
        assert pane._last.plan.experiment == "models"
        from nnstudio.tui.run.experiments import EXPERIMENTS
        assert str(pane.query_one("#sweep-hint").render()).endswith(f"b uses its settings. {EXPERIMENTS['models'].reading}")
        # at 80x24 the trials ranked stay in sight: the lesson's description gives way to them (the hint reads it)
        shown = screen_text(app)
        assert all(name in shown for name in ("logistic regression", "MLP", "kernel ridge"))
        assert pane.query_one("#sweep-base").styles.display == "none"
        pane.query_one("#sweep-experiment", Select).clear()
        await pilot.pause()
        assert pane.query_one("#sweep-values-0", Input).parent.display
        assert pane.query_one("#sweep-base").styles.display == "block"   # (another plan: the last table went)


async def test_the_form_speaks_of_its_own_fields_and_counts_what_it_varies(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        await fill(pilot, "1e-4..1e-1")   # a range without a count: drawn at random, so it needs a number of trials
        assert "give a number of trials" in plan_line(app) and "--trials" not in plan_line(app)
        await fill(pilot, "1e-4..1e-1:4")
        await fill(pilot, "3", "--epochs", row=1)
        assert "4 trials: 4 lr, epochs 3 in each" in plan_line(app)
        pane = app.query_one("#sweep-pane")
        pane.query_one("#sweep-experiment", Select).value = "depth"
        await pilot.pause()
        assert "sigmoid ×2, Xavier; sigmoid ×8, Xavier" in plan_line(app)
        assert "Every trial: mnist · 2,000 training rows · sgd · lr 0.05" in " ".join(
            str(pane.query_one("#sweep-base").render()).split())


async def test_esc_leaves_the_form_for_the_table_where_the_pane_s_keys_act(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one("#sweep-pane")
        await pilot.press("7")
        pane.query_one("#sweep-values-0", Input).focus()
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is pane.query_one("#sweep-table", DataTable)
        await pilot.press("escape")   # (again, on the table: it stays, the keys with it)
        await pilot.pause()
        assert app.focused is pane.query_one("#sweep-table", DataTable)
        assert any(b.id == "sweep.run" for b in (binding for _, binding, _, _ in app.active_bindings.values()))
