"""The Optimizers view of pane 8 (o), driven by keys: the function, the start, the learning rate, a step, run and
pause, reset; its keys greyed in the other views and theirs in it; it steps only while shown. Tests wait on what
the view exposes (its race's step count), never for a time."""

from __future__ import annotations

import pytest
from studio_host import screen_text
from test_studio_app import blobs, studio, wait_for  # noqa: F401  (blobs: a fixture)

from nnstudio.engine.surfaces import SURFACES
from nnstudio.tui.studio.race_view import RaceView


def view(app) -> RaceView:
    return app.panes["inside"].query_one(RaceView)


def text(app) -> str:
    return "\n".join(line.plain for line in view(app).drawn)


def warnings_said(app) -> list[str]:
    return [message for message, severity in app.seen_notifications if severity == "warning"]


async def shown(pilot) -> RaceView:
    await pilot.press("8", "o")
    race_view = view(pilot.app)
    await wait_for(pilot, lambda: race_view.race is not None and race_view.draws, "the race to be drawn")
    return race_view


async def test_o_shows_the_race_in_place_of_the_model_views(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        race_view = await shown(pilot)
        pane = app.panes["inside"]
        assert race_view.display and not pane.query_one("#inside-view").display
        assert "Rosenbrock" in text(app) and "step 0" in text(app) and "paused" in text(app)
        assert [r.name for r in race_view.race.racers] == ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"]
        await pilot.press("b")
        assert not race_view.display and pane.query_one("#inside-view").display


async def test_keys_choose_the_function_move_the_start_and_change_the_lr(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        race_view = await shown(pilot)
        race = race_view.race
        await pilot.press("f")
        assert race.surface.name == "beale" and race.lr == SURFACES["beale"].lr and "Beale" in text(app)
        await pilot.press("F")
        assert race.surface.name == "rosenbrock" and race.start == SURFACES["rosenbrock"].start

        await pilot.press("right", "up")   # a twentieth of the box: 0.2 in x (4 wide) and in y (4 high)
        assert race.start == pytest.approx((-1.0, 1.2)) and "start (-1, 1.2)" in text(app)

        await pilot.press("s", "s")
        before = race.lr
        await pilot.press("plus")
        assert race.lr == 2 * before and all(r.optimizer.lr == 2 * before for r in race.racers)
        assert race.step_count == 2 and all(len(r.path) == 3 for r in race.racers)   # the paths stay
        await pilot.press("minus", "minus")
        assert race.lr == before / 2 and f"lr {before / 2:.3g}" in text(app)


async def test_s_steps_every_optimizer_once_and_0_resets(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        race = (await shown(pilot)).race
        await pilot.press("s")
        assert race.step_count == 1 and [r.steps for r in race.racers] == [1] * 6
        assert all(r.position != race.start for r in race.racers)
        assert "step 1" in text(app)
        await pilot.press("0")
        assert race.step_count == 0 and all(len(r.path) == 1 for r in race.racers)


async def test_p_runs_and_pauses_the_race_from_its_timer(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        race_view = await shown(pilot)
        race = race_view.race
        await pilot.press("p")
        assert race_view.running
        await wait_for(pilot, lambda: race_view.frames >= 3, "three frames of the race")
        assert race.step_count >= 3 * race_view.steps_per_frame and "running" in text(app)
        await pilot.press("p")
        assert not race_view.running and "paused" in text(app)
        steps = race.step_count
        race_view.frame()   # a frame that comes after the pause does nothing
        assert race.step_count == steps


async def test_the_race_pauses_at_the_functions_length_and_p_goes_on(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        race_view = await shown(pilot)
        race, length = race_view.race, race_view.race.surface.steps
        race.step(length - 1)
        await pilot.press("p")
        race_view.frame()   # (one step short of the length: the frame takes only that one)
        assert race.step_count == length and not race_view.running
        assert f"step {length} · lr 0.001 · paused at its length: p goes on" in text(app)
        await pilot.press("p")
        await wait_for(pilot, lambda: race.step_count > length, "the race to go on past its length")


async def test_the_race_steps_only_while_shown(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        race_view = await shown(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: race_view.frames >= 1, "a frame of the race")
        await pilot.press("3")   # the Monitor: the Inside pane is hidden
        await wait_for(pilot, lambda: not race_view.is_on_screen, "the race to be out of view")
        steps = race_view.race.step_count
        race_view.frame()
        assert race_view.race.step_count == steps and race_view.running   # still running: it goes on when shown
        await pilot.press("8")
        await wait_for(pilot, lambda: race_view.race.step_count > steps, "the race to go on once shown again")


async def test_the_race_keys_are_out_of_the_other_views_and_theirs_greyed_in_it(tmp_path, blobs):
    """In the other views the race's keys are not bound (they would push the studio's own keys out of the footer);
    in the race, the other views' keys are greyed and say whose they are."""
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("8", "b")
        pane = app.panes["inside"]
        assert pane.check_action("race", ("step",)) is False and pane.check_action("race_move", (0, 1)) is False
        assert "Race step" not in screen_text(app) and "Save" in screen_text(app)
        await pilot.press("o")
        assert pane.check_action("race", ("step",)) is True and pane.check_action("layer", (1,)) is None
        assert pane.check_action("cell", (0, 1)) is False
        await pilot.press("left_square_bracket")
        assert any("choose the layer of the units view" in said for said in warnings_said(app))


async def test_the_racers_take_the_settings_pane_s_hyperparameters(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"optimizer.momentum": 0.5, "optimizer.weight_decay": 0.01})
    async with app.run_test(size=(80, 24)) as pilot:
        race = (await shown(pilot)).race
        kinds = {r.name: r.optimizer for r in race.racers}
        assert kinds["momentum"].momentum == 0.5 and kinds["adam"].betas[0] == 0.5
        assert kinds["adamw"].weight_decay == 0.01
        app.config = app.config.replace(**{"optimizer.momentum": 0.0})
        app._push_config()
        await pilot.press("0")   # a restart reads the settings again
        assert [r.name for r in race.racers] == ["sgd", "rmsprop", "adam", "adamw"]
        assert "momentum left out" in text(app)


async def test_the_view_bar_and_the_race_fit_80_columns(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        await shown(pilot)
        assert "b u w d g a c k o · optimizers" in screen_text(app)   # the names do not fit: the keys do
        assert all(len(line) <= 78 for line in text(app).splitlines())
        assert "0 reset" in text(app).splitlines()[-1]


async def test_while_a_model_trains_the_race_goes_at_a_third_of_its_pace(tmp_path, blobs):
    from nnstudio.tui.run import Status
    from nnstudio.tui.studio.race_view import TRAINING_PACE

    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        race_view = await shown(pilot)
        await pilot.press("p")
        app.panes["inside"].set_running(Status.RUNNING)   # as the app tells the panes when a run starts
        steps = race_view.race.step_count
        for _ in range(TRAINING_PACE):
            race_view.frame()
        assert race_view.race.step_count == steps + race_view.steps_per_frame
        assert "running (slowed: a model trains)" in text(app)
        app.panes["inside"].set_running(Status.PAUSED)
        steps = race_view.race.step_count
        race_view.frame()
        assert race_view.race.step_count == steps + race_view.steps_per_frame


async def test_a_race_that_is_over_says_so_and_0_starts_it_again(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        race = (await shown(pilot)).race
        await pilot.press("F", "F")   # the saddle: every optimizer escapes
        race.step(5000)
        await pilot.press("p")
        assert not view(app).running
        assert "The race is over (every optimizer has stopped): 0 starts it again." in warnings_said(app)
        assert "escaped at" in text(app)
        await pilot.press("0", "s")
        assert race.step_count == 1
