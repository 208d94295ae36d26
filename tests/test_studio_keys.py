"""The studio's keys: each run key acts, or says why it cannot (one table, `run_keys.refusal`), in every status.

The table is checked twice: on the rule itself, and through the app, where a key that cannot act
is greyed in the footer and a press of it shows the reason (Textual would otherwise drop the press
silently: `App.run_action` runs nothing when `check_action` is not True). The app test stands the
runner's state in for a session, so no training runs there.
"""

from __future__ import annotations

import pytest
from test_studio_app import blobs, press_while_training, studio, wait_status  # noqa: F401
from textual.widgets._footer import FooterKey

from nnstudio.tui.run import Status
from nnstudio.tui.studio.app import StudioApp
from nnstudio.tui.studio.run_keys import RUN_ACTIONS, RunState, refusal

KEYS = ("space", "n", "N", "x", "r", "ctrl+s", "ctrl+o", "q")
ACTS = None

#: status -> the state of a typical session in it (a run of 5 epochs, 2 done, unless said)
STATES = {
    "idle": RunState(Status.IDLE, planned=5),                                   # no session yet
    "preparing": RunState(Status.PREPARING, session=True, planned=5),          # a new run being built
    "running": RunState(Status.RUNNING, session=True, prepared=True, trained=2, planned=5),
    "pausing": RunState(Status.PAUSING, session=True, prepared=True, trained=2, planned=5),
    "paused": RunState(Status.PAUSED, session=True, prepared=True, trained=2, planned=5),
    "stopping": RunState(Status.STOPPING, session=True, prepared=True, trained=2, planned=5),
    "stopped": RunState(Status.STOPPED, session=True, prepared=True, trained=2, planned=5),
    "finished": RunState(Status.FINISHED, session=True, prepared=True, trained=5, planned=5),
    "diverged": RunState(Status.DIVERGED, session=True, prepared=True, trained=2, planned=5),
    "failed": RunState(Status.FAILED, session=True, prepared=True, trained=2, planned=5),
}

#: status -> key -> None (it acts) or a piece of the reason it gives
TABLE = {
    "idle": {"space": ACTS, "n": ACTS, "N": ACTS, "x": "Nothing is training", "r": "Nothing to re-initialise",
             "ctrl+s": "Nothing trained to save yet"},
    "preparing": {"space": "being prepared", "n": "being prepared", "N": "being prepared", "x": ACTS,
                  "r": "stop it first (x)", "ctrl+s": "Nothing trained to save yet"},
    "running": {"space": ACTS, "n": "pause first (space)", "N": "pause first (space)", "x": ACTS,
                "r": "stop it first (x)", "ctrl+s": "pause (space) or stop (x) first"},
    "pausing": {"space": ACTS, "n": "once it is paused", "N": "once it is paused", "x": ACTS,
                "r": "stop it first (x)", "ctrl+s": "saves once it is paused"},
    "paused": {"space": ACTS, "n": ACTS, "N": ACTS, "x": ACTS,
               "r": "paused, not stopped: stop it first (x), then r re-initialises", "ctrl+s": ACTS},
    "stopping": {"space": "continues it once it has stopped", "n": "continues it once it has stopped",
                 "N": "continues it once it has stopped", "x": "Already stopping", "r": "stop it first (x)",
                 "ctrl+s": "saves once it has stopped"},
    "stopped": {"space": ACTS, "n": ACTS, "N": ACTS, "x": "Nothing is training", "r": ACTS, "ctrl+s": ACTS},
    "finished": {"space": "raise epochs above 5 in Settings (2)", "n": "raise epochs above 5 in Settings (2)",
                 "N": "raise epochs above 5 in Settings (2)", "x": "Nothing is training", "r": ACTS,
                 "ctrl+s": ACTS},
    "diverged": {"space": "lower the learning rate", "n": "lower the learning rate",
                 "N": "lower the learning rate", "x": "Nothing is training", "r": ACTS, "ctrl+s": ACTS},
    "failed": {"space": "press r to re-initialise", "n": "press r to re-initialise", "N": "press r to re-initialise",
               "x": "Nothing is training", "r": ACTS, "ctrl+s": "its weights are not saved"},
}
for row in TABLE.values():
    row.update({"ctrl+o": ACTS, "q": ACTS})  # the saves pane and quitting are always one key away


def action_of(key: str) -> str:
    """The app action a key is bound to (its name, without parameters)."""
    for binding in StudioApp.BINDINGS:
        if key in binding.key.split(","):
            return binding.action.partition("(")[0]
    raise KeyError(key)


def test_the_table_covers_every_key_in_every_status():
    assert set(TABLE) == set(STATES) and all(set(row) == set(KEYS) for row in TABLE.values())
    assert {action_of(key) for key in KEYS} >= set(RUN_ACTIONS)


@pytest.mark.parametrize("status", list(TABLE))
@pytest.mark.parametrize("key", KEYS)
def test_each_key_acts_or_says_why_not(status, key):
    reason = refusal(action_of(key), STATES[status])
    expected = TABLE[status][key]
    if expected is ACTS:
        assert reason is None
    else:
        assert reason is not None and expected in reason, reason


def test_the_odd_cases():
    # a start that failed before its model was built is built again; a loaded save with all its epochs is not run
    assert refusal("toggle_run", RunState(Status.FAILED, session=True, planned=5)) is None
    assert "raise epochs above 3" in refusal("toggle_run", RunState(Status.IDLE, session=True, prepared=True,
                                                                   trained=3, planned=3))
    assert refusal("toggle_run", RunState(Status.FINISHED, session=True, prepared=True, trained=3, planned=6)) is None
    for action in RUN_ACTIONS:   # while a save is being opened there is nothing to command yet
        assert "being opened" in refusal(action, RunState(Status.PREPARING, opening=True, planned=5))


# ====================================================================== through the app: greyed, and said
class Commands:
    """Stands in for the runner's commands: records which ran, does nothing."""

    def __init__(self, app) -> None:
        self.ran: list[str] = []
        for name in ("toggle", "step", "stop", "discard", "save"):
            setattr(app.runner, name, lambda *args, name=name: self.ran.append(name))


@pytest.mark.parametrize("status", list(TABLE))
async def test_in_the_app_a_key_that_cannot_act_is_greyed_and_says_why(tmp_path, blobs, status):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(160, 30)) as pilot:
        app.runner.state = lambda config=None: STATES[status]
        commands = Commands(app)
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        greyed = {key.key for key in app.query(FooterKey) if key.has_class("-disabled")}
        for key in KEYS:
            expected = TABLE[status][key]
            if expected is ACTS:
                assert app.check_action(action_of(key), ()) is True, key
                assert key not in greyed, key
                continue
            assert app.check_action(action_of(key), ()) is None, key
            shown = {k.key for k in app.query(FooterKey)}
            assert key in greyed or key not in shown, key   # greyed wherever the footer shows it
            before = len(app.seen_notifications)
            await pilot.press(key)
            said = app.seen_notifications[before:]
            assert len(said) == 1 and expected in said[0][0], (key, said)
            assert commands.ran == []   # nothing was done
        for key in ("space", "n", "N", "x", "r", "ctrl+s"):   # and the keys that can act do
            if TABLE[status][key] is ACTS:
                before = list(commands.ran)
                await pilot.press(key)
                assert len(commands.ran) == len(before) + 1, key


async def test_r_while_paused_says_to_stop_first(tmp_path, blobs):
    """The case that was reported: r while paused did nothing and said nothing."""
    app = studio(tmp_path, blobs, **{"training.epochs": 50})
    async with app.run_test() as pilot:
        await press_while_training(pilot, "n")
        await wait_status(pilot, "paused")
        session = app.session
        await pilot.press("r")
        assert app.session is session and app.status == "paused"
        assert app.seen_notifications[-1] == ("The run is paused, not stopped: stop it first (x), then r "
                                              "re-initialises.", "warning")
        await pilot.press("x")
        await wait_status(pilot, "stopped")


async def test_a_click_on_a_greyed_footer_key_says_why_too(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await pilot.pause()
        (stop,) = [key for key in app.query(FooterKey) if key.key == "x"]
        assert stop.has_class("-disabled")
        await pilot.click(stop)
        await pilot.pause()
        assert app.seen_notifications[-1][0] == "Nothing is training: x stops a run under way (space starts one)."
