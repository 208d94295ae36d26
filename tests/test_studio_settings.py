"""The settings pane, driven by keys in a tiny host app: typing, refusing, choices, live mode.

The host records every ConfigChanged and LiveSettingRequested the pane posts: a refused value
must produce neither, a valid one exactly the right one.
"""

from __future__ import annotations

import pytest
from textual import on
from textual.widgets import Checkbox, Input, Select, Static

from nnstudio.tui.run import Status
from nnstudio.tui.run.config import LIVE_SETTINGS, SETTINGS, RunConfig
from nnstudio.tui.studio.messages import ConfigChanged, LiveSettingRequested
from nnstudio.tui.studio.settings_pane import SHOWN_SECTIONS, SettingRow, SettingsPane
from studio_host import PaneHost

SIZES = [(80, 24), (120, 40)]


def small_config() -> RunConfig:
    """The default run on spirals, its learning rate pinned (the form's tests type other values over it)."""
    return RunConfig().replace(**{"data.name": "spirals", "training.epochs": 5, "optimizer.lr": 0.001})


class _Host(PaneHost):
    """The settings pane alone, with a footer; remembers what the pane posts."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__(SettingsPane(config, id="settings"))

    @on(ConfigChanged)
    @on(LiveSettingRequested)
    def record(self, message) -> None:
        self.posted.append(message)


def message_of(app: _Host, path: str) -> str:
    row = app.query_one(SettingsPane).row(path)
    return str(row.query_one(".message", Static).render())


async def type_into(pilot, path: str, text: str, *then: str) -> Input:
    """Focus a setting's box (its text is selected, so typing replaces it), type `text`, press `then`."""
    field = pilot.app.query_one(f"#{path.replace('.', '-')}", Input)
    field.focus()
    await pilot.pause()
    field.select_all()
    await pilot.press(*text, *then)
    await pilot.pause()
    return field


# ====================================================================== the form
async def test_the_form_is_generated_from_the_settings_table():
    app = _Host(small_config())
    async with app.run_test(size=(120, 40)):
        rows = {row.setting.path: row for row in app.query(SettingRow)}
        expected = [path for path, s in SETTINGS.items() if s.section in SHOWN_SECTIONS]
        assert list(rows) == expected and "model.spec" not in rows
        assert isinstance(rows["optimizer.name"].control, Select)
        assert isinstance(rows["data.standardize"].control, Checkbox)
        assert isinstance(rows["optimizer.lr"].control, Input)
        assert rows["optimizer.lr"].control.tooltip == SETTINGS["optimizer.lr"].describe()
        assert rows["optimizer.lr"].control.value == "0.001" and rows["training.epochs"].control.value == "5"
        # only_with: settings of other choices are hidden (adam has no Nesterov, no schedule has no gamma)
        assert rows["optimizer.beta2"].display and not rows["optimizer.nesterov"].display
        assert not rows["schedule.gamma"].display


async def test_each_hint_says_what_the_setting_does_and_what_it_takes():
    app = _Host(small_config())
    async with app.run_test(size=(120, 40)):
        assert message_of(app, "training.clip_norm") == (
            "largest gradient norm allowed before an update; 0 turns clipping off · a number >= 0")
        assert message_of(app, "optimizer.lr").endswith("· a number >= 0 · can change while training")
        assert message_of(app, "optimizer.momentum").startswith(SETTINGS["optimizer.momentum"].description)


async def test_the_data_sets_defaults_are_shown_not_the_values_that_stand_for_them():
    app = _Host(small_config())
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(SettingsPane)
        size, noise, classes = (pane.row(f"data.{name}").control for name in ("size", "noise", "classes"))
        assert (size.value, noise.value, classes.value) == ("", "", "")
        assert (size.placeholder, noise.placeholder, classes.placeholder) == (
            "default (1000)", "default (0.05)", "default (3)")
        pane.config = pane.config.replace(**{"data.name": "moons"})          # another set, other defaults
        await pilot.pause()
        assert noise.placeholder == "default (0.1)"
        await type_into(pilot, "data.size", "300", "enter")
        assert app.posted[-1].config.data.size == 300
        await type_into(pilot, "data.size", "", "backspace", "enter")          # emptied: the default again
        assert app.posted[-1].config.data.size == 0 and size.placeholder == "default (1000)"


async def test_the_field_being_edited_is_unmistakable_without_colour():
    app = _Host(small_config())
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(SettingsPane)
        row, other = pane.row("optimizer.lr"), pane.row("training.epochs")
        row.control.focus()
        await pilot.pause()
        assert "reverse" in str(row.query_one(".setting-name").styles.text_style)
        assert "reverse" not in str(other.query_one(".setting-name").styles.text_style)
        checkbox = pane.row("data.standardize").control
        assert str(checkbox.label) == "off" and checkbox.BUTTON_INNER == " "
        checkbox.focus()
        await pilot.press("space")
        assert str(checkbox.label) == "on" and app.posted[-1].config.data.standardize is True
        assert checkbox.BUTTON_INNER == "X" and type(checkbox).BUTTON_INNER == "X"
        await pilot.press("space")
        assert str(checkbox.label) == "off" and checkbox.BUTTON_INNER == " "
        await pilot.press("space")
        assert "reverse" in str(pane.row("data.standardize").query_one(".setting-name").styles.text_style)
        assert "reverse" not in str(row.query_one(".setting-name").styles.text_style)


# ====================================================================== typing values
@pytest.mark.parametrize("size", SIZES)
async def test_typing_a_learning_rate_applies_it_on_enter(size):
    app = _Host(small_config())
    async with app.run_test(size=size) as pilot:
        await type_into(pilot, "optimizer.lr", "0.05")
        assert app.posted == []                          # not applied while typing
        await pilot.press("enter")
        assert len(app.posted) == 1 and isinstance(app.posted[0], ConfigChanged)
        assert app.posted[0].config.optimizer.lr == 0.05
        assert app.posted[0].config.replace(**{"optimizer.lr": 0.001}) == small_config()   # nothing else changed


async def test_a_value_is_applied_when_the_field_loses_focus():
    app = _Host(small_config())
    async with app.run_test(size=(80, 24)) as pilot:
        await type_into(pilot, "training.batch_size", "32", "tab")
        assert [m.config.training.batch_size for m in app.posted] == [32]


@pytest.mark.parametrize("typed, problem", [
    ("abc", "must be a number >= 0, got 'abc'"),
    ("-1", "must be a number >= 0, got '-1'"),
    ("[/b]", "must be a number >= 0, got '[/b]'"),   # shown as typed, never read as markup
])
async def test_a_bad_value_is_explained_and_never_applied(typed, problem):
    app = _Host(small_config())
    async with app.run_test(size=(80, 24)) as pilot:
        field = await type_into(pilot, "optimizer.lr", typed)
        assert message_of(app, "optimizer.lr") == problem
        await pilot.press("enter", "tab")                # neither enter nor leaving applies it
        assert app.posted == []
        assert field.value == typed and message_of(app, "optimizer.lr") == problem
        field.focus()
        await pilot.press("escape")                      # revert: the current value is back
        assert field.value == "0.001" and "a number >= 0" in message_of(app, "optimizer.lr")
        assert not field.has_focus  # and the field is left: digits and space act as app keys again


async def test_a_rule_between_two_settings_is_checked_as_typed():
    app = _Host(small_config().replace(**{"schedule.name": "cosine"}))
    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "schedule.warmup_epochs", "5", "enter")   # epochs is 5
        assert "must be less than training.epochs (5)" in message_of(app, "schedule.warmup_epochs")
        assert app.posted == []


# ====================================================================== choices
async def test_choosing_another_optimizer_shows_its_settings():
    app = _Host(small_config())
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(SettingsPane)
        app.query_one("#optimizer-name", Select).focus()
        await pilot.press("enter", "up", "up", "enter")     # adam -> sgd (sgd, rmsprop, adam, adamw)
        assert app.posted[-1].config.optimizer.name == "sgd"
        assert pane.row("optimizer.nesterov").display and not pane.row("optimizer.beta2").display
        pane.row("optimizer.nesterov").control.focus()
        await pilot.press("space")
        assert app.posted[-1].config.optimizer.nesterov is True


async def test_a_refused_choice_goes_back_and_says_why():
    app = _Host(small_config().replace(**{"optimizer.name": "sgd", "optimizer.momentum": 0.0}))
    async with app.run_test(size=(120, 40)) as pilot:
        checkbox = app.query_one("#optimizer-nesterov", Checkbox)
        checkbox.focus()
        await pilot.press("space")                        # Nesterov needs momentum > 0
        assert checkbox.value is False and app.posted == []
        assert "needs optimizer.momentum > 0" in message_of(app, "optimizer.nesterov")


async def test_a_config_from_the_app_updates_the_form():
    app = _Host(small_config())
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(SettingsPane)
        pane.config = small_config().replace(**{"optimizer.lr": 0.2, "optimizer.name": "rmsprop"})
        await pilot.pause()
        assert app.query_one("#optimizer-lr", Input).value == "0.2"
        assert app.query_one("#optimizer-name", Select).value == "rmsprop"
        assert pane.row("optimizer.alpha").display and app.posted == []


# ====================================================================== during a run
async def test_during_a_run_only_live_settings_change_and_through_the_session():
    app = _Host(small_config())
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(SettingsPane)
        pane.set_running(Status.RUNNING)
        await pilot.pause()
        assert app.query_one("#live-banner").display
        locked = {row.setting.path for row in app.query(SettingRow) if row.control.disabled}
        assert locked == {row.setting.path for row in app.query(SettingRow)} - set(LIVE_SETTINGS)
        epochs = app.query_one("#training-epochs", Input)
        epochs.focus()
        await pilot.press("9", "enter")                   # refused: a disabled box takes no focus, no keys
        assert epochs.value == "5" and not epochs.has_focus and app.posted == []

        await type_into(pilot, "optimizer.lr", "abc", "enter")
        assert app.posted == []                           # a bad live value is stopped here too
        await type_into(pilot, "optimizer.lr", "0.01", "enter")
        assert app.posted == [LiveSettingRequested("optimizer.lr", 0.01)]   # parsed here, once: it travels typed
        assert type(app.posted[0].value) is float

        pane.show_error("optimizer.lr", "the session refused it")
        await pilot.pause()
        assert message_of(app, "optimizer.lr") == "the session refused it"

        pane.set_running(Status.STOPPED)
        await pilot.pause()
        assert not epochs.disabled and not app.query_one("#live-banner").display


# ====================================================================== snapshots
class TestSettingsSnapshots:
    """The settings form as a user sees it: idle at 80x24, during a run at 120x40 with a refused value."""

    def test_idle_80x24(self, snap_compare):
        assert snap_compare(_Host(small_config()), terminal_size=(80, 24))

    def test_running_120x40(self, snap_compare):
        async def during_a_run(pilot):
            pane = pilot.app.query_one(SettingsPane)
            pane.set_running(Status.RUNNING)
            await type_into(pilot, "optimizer.lr", "-1")

        assert snap_compare(_Host(small_config()), terminal_size=(120, 40), run_before=during_a_run)


async def test_ctrl_r_restores_what_the_models_preset_recommends():
    from nnstudio.tui.run.config import preset_default
    app = _Host(RunConfig().replace(**{"data.name": "spirals", "training.epochs": 5}))   # the mlp preset
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#training-epochs", Input).focus()
        await pilot.press("ctrl+r")
        assert app.posted[-1].config.training.epochs == preset_default("mlp", "training.epochs") == 20
