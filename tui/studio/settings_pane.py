"""The run's settings as a form generated from the config's `SETTINGS` table.

One heading per section, one row per setting: its name, a control (a list for choices, a
checkbox for true/false, a text box otherwise), and beside it either what values it takes or,
in red, why the value typed is not one. The description is the row's tooltip. Settings that
do not apply to the current choice (`only_with`: Nesterov for Adam, gamma without a step
schedule) are hidden, so nobody tunes a knob that is connected to nothing.

A value is checked as it is typed (`Setting.parse`, then `RunConfig.replace` for the rules
between settings, such as warm-up shorter than the run) and applied on enter or when the
field loses the focus, only if valid: the pane posts `ConfigChanged` with the new config.
While a run exists only the live settings (learning rate, momentum, weight decay, batch size)
can change; the pane then posts `LiveSettingRequested` and the app hands the text to the
session, which applies it between batches (or refuses it: `show_error`).

The model section is not here: the builder pane owns the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static


from nnstudio.datasets import SYNTHETIC, Imported

from ..run import Status
from ..run.config import (LIVE_SETTINGS, SECTIONS, ConfigError, RunConfig, Setting, preset_default,
                          section_settings)
from .cells import value_text
from .messages import ConfigChanged, LiveSettingRequested

#: the sections shown, in the table's order; the model is edited in the builder pane
SHOWN_SECTIONS = tuple(section for section in SECTIONS if section != "model")


def control_id(path: str) -> str:
    """The id of a setting's control: "optimizer.lr" -> "optimizer-lr" (ids cannot contain dots)."""
    return path.replace(".", "-")


class OnOffCheckbox(Checkbox):
    """A checkbox that says "on" or "off" beside its box, so its state reads without colour (NO_COLOR)."""

    def on_mount(self) -> None:
        self._show_state()

    def watch_value(self) -> None:
        super().watch_value()   # (which posts Changed)
        self._show_state()

    def _show_state(self) -> None:
        self.BUTTON_INNER = "X" if self.value else " "   # no cross when off: the box reads without colour too
        self.label = "on" if self.value else "off"


class SettingRow(Horizontal):
    """One setting: name, control, and its hint or problem. A view only; the pane does the checking.

    A setting whose special value means "the data set's default" (a synthetic set's size, noise,
    classes) shows an empty box with that default as its placeholder, "default (1000)", never
    the sentinel (0, -1.0) that stands for it in the config.
    """

    def __init__(self, setting: Setting) -> None:
        super().__init__(id=f"row-{control_id(setting.path)}", classes="setting-row")
        self.setting = setting
        self.shown: Any = setting.default
        """The value the control was last set to from the config."""
        self.problem: str | None = None
        """Why the typed value was refused, if it was."""
        self.locked = False
        """Whether the setting cannot change now (a run exists and it is not live)."""
        self.default_here: Any = None
        """What the special value means for the current data set (e.g. 1000 points), if known."""

    def compose(self) -> ComposeResult:
        s = self.setting
        yield Label(s.name, classes="setting-name")
        cid = control_id(s.path)
        if s.kind is bool:
            control: Widget = OnOffCheckbox("on" if s.default else "off", value=bool(s.default), id=cid,
                                            compact=True)
        elif s.choices:
            control = Select([(c, c) for c in s.choices], value=s.default, allow_blank=False, id=cid, compact=True)
        else:
            control = Input(value_text(s.default), id=cid, compact=True,
                            placeholder="" if s.kind is str else s.constraint)
        control.tooltip = s.describe()
        yield control
        yield Static(self.hint(), classes="message", markup=False)   # quotes what was typed

    @property
    def control(self) -> Widget:
        return self.query_one(f"#{control_id(self.setting.path)}")

    @property
    def text(self) -> str:
        """What the control holds now, as text (what a user typed, or the chosen item)."""
        control = self.control
        if isinstance(control, Input):
            special = self.setting.special
            return value_text(special[0]) if special is not None and not control.value.strip() else control.value
        if isinstance(control, Checkbox):
            return value_text(control.value)
        return value_text(control.value)

    def holds(self, value: Any) -> bool:
        """Whether the control's text means `value` ("0.010" holds 0.01)."""
        try:
            return self.setting.parse(self.text) == value
        except ConfigError:
            return False

    def hint(self) -> str:
        """The dim text beside the control: what it accepts (or why it is locked)."""
        s = self.setting
        if self.locked:
            return "locked during the run"
        if s.kind in (bool, str) or s.choices:
            return s.description   # the control shows the values it takes
        allowed = s.constraint if s.special is None else f"empty for the data set's default, or {s.ordinary_values}"
        return f"{s.description} · {allowed}" + (" · can change while training" if s.live else "")

    def put(self, value: Any) -> None:
        """Put `value` in the control without it counting as an edit."""
        control = self.control
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            if isinstance(control, Input):
                special = self.setting.special
                if special is not None and value == special[0]:
                    control.value = ""
                    control.placeholder = "default" + (f" ({value_text(self.default_here)})"
                                                       if self.default_here is not None else "")
                else:
                    control.value = value_text(value)
                control.cursor_position = len(control.value)
            elif isinstance(control, Checkbox):
                control.value = bool(value)
            else:
                control.value = value

    def show_value(self, value: Any) -> None:
        """Show `value` as the setting's current value, and clear any problem."""
        self.put(value)
        self.shown = value
        self.show_problem(None)

    def show_problem(self, problem: str | None) -> None:
        """Show why the value was refused (in red, beside the control), or the hint again."""
        self.problem = problem
        self.set_class(problem is not None, "-invalid")
        message = self.query_one(".message", Static)
        message.update(problem if problem is not None else self.hint())

    def set_locked(self, locked: bool) -> None:
        """Disable the control while a run exists (for settings that cannot change live).

        The name is dimmed by restyling its text, not by a class on the row: a class change
        restyles the row's every widget, and a run's start or end locks thirty rows at once.
        """
        self.locked = locked
        self.control.disabled = locked
        self.query_one(".setting-name", Label).update(Text(self.setting.name, style="dim" if locked else ""))
        if self.problem is None:
            self.show_problem(None)


class FocusAnchor(Static, can_focus=True):
    """Where the keyboard lands when the pane is shown: not in a field, so the app's keys (the
    pane numbers, space...) still act, and the arrow keys scroll the pane; tab goes to the fields.

    (Not the pane itself: a focused container restyles everything inside it, thirty rows, on
    every pane switch, which the training thread pays for too.)
    """


class SettingsPane(VerticalScroll, can_focus=False):
    """Every run setting except the model, generated from `SETTINGS`, checked as typed."""

    HELP_TITLE = "Settings"
    DEFAULT_CSS = (Path(__file__).with_name("settings_pane.tcss")).read_text(encoding="utf-8")
    BINDINGS = [
        Binding("escape", "revert", "Revert", id="settings.revert",
                tooltip="Put back the current value of the setting being edited, and leave the field"),
        Binding("ctrl+r", "reset_default", "Default", id="settings.default",
                tooltip="Set the selected setting to its default value (what the model's preset recommends)"),
        Binding("i", "import_data", "Import data", id="settings.import",
                tooltip="Import your own CSV or .npz file as a data set, and train on it"),
    ]

    config: reactive[RunConfig | None] = reactive(None, init=False, always_update=True)
    """The run configuration the app gives the pane; the form shows its values."""

    run_active: reactive[bool] = reactive(False, init=False)
    """True while a run exists (running or paused): only live settings can change, through the session."""

    def __init__(self, config: RunConfig | None = None, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.set_reactive(SettingsPane.config, config)
        self._locks_stale = True  # the rows' locks do not yet follow run_active
        self._data_names: list[str] = []   # the data sets the data.name list offers

    # ================================================================== what the app calls
    def set_running(self, status: Status) -> None:
        """The app's session status changed: while a training thread is alive, lock what cannot change live."""
        self.run_active = status.busy

    def show_error(self, path: str, message: str) -> None:
        """Show a refused value (e.g. a live setting the session rejected) beside its field."""
        row = self.row(path)
        if row is not None:
            row.show_problem(message)

    def row(self, path: str) -> SettingRow | None:
        """The row of the setting at `path`, if the pane shows it."""
        rows = self.query(f"#row-{control_id(path)}")
        return rows.first(SettingRow) if rows else None

    # ================================================================== building the form
    def compose(self) -> ComposeResult:
        live = ", ".join(path.split(".")[1] for path in LIVE_SETTINGS)
        yield FocusAnchor("tab / shift+tab move between the fields · enter applies · esc reverts and leaves the field", id="settings-anchor")
        yield Static(f"Training: only {live} can change now (applied between batches).", id="live-banner")
        for section in SHOWN_SECTIONS:
            yield Static(f"[b]{section}[/b]  [dim]{SECTIONS[section]}[/dim]", classes="section-heading")
            for setting in section_settings(section):
                yield SettingRow(setting)

    def on_mount(self) -> None:
        self._show_config(force=True)
        self.watch_run_active(self.run_active)   # in case a run started before the pane was shown

    def watch_config(self) -> None:
        """Called when the app sets a config: show its values and which settings apply."""
        self._show_config()

    def watch_run_active(self, active: bool) -> None:
        """Called when a run starts or ends: lock or unlock the settings that cannot change live.

        Restyling every row costs the interface thread a large fraction of a second, which it
        shares with training (and the key that started the run would wait for it): a pane out
        of view locks its rows when it is shown instead. (The app refuses a change that cannot
        apply to a running session in any case.)
        """
        for banner in self.query("#live-banner"):  # (a class on the pane would restyle every row)
            banner.display = active
        if self.is_on_screen:
            self._lock_rows()
        else:
            self._locks_stale = True

    def on_show(self) -> None:
        """Back in view: lock or unlock the rows as the run's state says, before anything is typed; offer the data
        sets imported meanwhile (say, with `nnstudio data import` in another terminal)."""
        if self._locks_stale:
            self._lock_rows()
        self._refresh_data_names()

    def _refresh_data_names(self) -> None:
        row = self.row("data.name")
        if row is None:
            return
        names = list(row.setting.choices)
        if names == self._data_names:
            return
        self._data_names = names
        select = row.control
        with row.prevent(Select.Changed):
            select.set_options([(name, name) for name in names])
            if row.shown in names:
                select.value = row.shown

    def _lock_rows(self) -> None:
        self._locks_stale = False
        with self.app.batch_update():
            for row in self.query(SettingRow):
                if row.locked != (locked := self.run_active and not row.setting.live):
                    row.set_locked(locked)

    def _show_config(self, force: bool = False) -> None:
        """Update the controls whose value changed, and show only the settings that apply.

        A field being typed into keeps what the user typed: an unrelated change (say, the
        app confirming another setting) must not wipe out an edit in progress.
        """
        config = self.config
        if config is None:
            return
        synthetic = SYNTHETIC.get(config.data.name)
        defaults = synthetic.defaults() if synthetic is not None else {}
        for row in self.query(SettingRow):
            s = row.setting
            row.display = s.only_with is None or config.get(s.only_with.path) in s.only_with.values
            value = config.get(s.path)
            if s.special is not None and row.default_here != defaults.get(s.name):
                row.default_here = defaults.get(s.name)   # another data set: another default to show
                force_row = True
            else:
                force_row = force
            if not force_row and value == row.shown:
                continue
            typing = row.control.has_focus and isinstance(row.control, Input)
            if typing and not (row.holds(row.shown) or row.holds(value)):
                continue
            row.show_value(value)

    # ================================================================== checking and applying
    def _row_of(self, control: Widget) -> SettingRow:
        return next(a for a in control.ancestors if isinstance(a, SettingRow))

    def check(self, setting: Setting, text: str) -> tuple[Any, str | None]:
        """(value, None) if `text` is a valid value for `setting` in the current config, else (None, why)."""
        try:
            value = setting.parse(text)
        except ConfigError as error:
            return None, error.problem
        if self.config is not None:
            try:
                self.config.replace(**{setting.path: value})
            except ConfigError as error:   # a rule between settings; say which one when it is another
                return None, error.problem if error.field == setting.path else str(error)
        return value, None

    @on(Input.Changed, ".setting-row > Input")
    def _typed(self, event: Input.Changed) -> None:
        row = self._row_of(event.input)
        if event.value == value_text(row.shown):
            row.show_problem(None)
            return
        _, problem = self.check(row.setting, event.value)
        row.show_problem(problem)

    @on(Input.Submitted, ".setting-row > Input")
    def _submitted(self, event: Input.Submitted) -> None:
        self.apply(self._row_of(event.input))

    @on(Input.Blurred, ".setting-row > Input")
    def _left(self, event: Input.Blurred) -> None:
        self.apply(self._row_of(event.input))

    @on(Select.Changed, ".setting-row > Select")
    @on(Checkbox.Changed, ".setting-row > Checkbox")
    def _chosen(self, event: Select.Changed | Checkbox.Changed) -> None:
        self.apply(self._row_of(event.control), revert_if_refused=True)

    def apply(self, row: SettingRow, *, revert_if_refused: bool = False) -> None:
        """Apply the row's value if it is valid and new: ConfigChanged, or LiveSettingRequested during a run.

        A refused value is never applied; its reason stays beside the field. A list or a
        checkbox goes back to the current value (a text box keeps the text, to be corrected).
        """
        if self.config is None or row.locked:
            return
        s, text = row.setting, row.text
        value, problem = self.check(s, text)
        if problem is not None:
            if revert_if_refused:
                row.show_value(row.shown)
            row.show_problem(problem)
            return
        if value == self.config.get(s.path):
            row.show_value(value)   # tidy the text ("0.0010" -> "0.001") and clear the problem
            return
        if self.run_active:
            self.post_message(LiveSettingRequested(s.path, value))
            return
        config = self.config.replace(**{s.path: value})
        row.show_value(value)
        self.config = config            # shows at once the settings that apply to a new choice
        self.post_message(ConfigChanged(config))

    # ================================================================== keys
    def _focused_row(self) -> SettingRow | None:
        focused = self.screen.focused
        if focused is None or focused is self:
            return None
        return next((a for a in focused.ancestors if isinstance(a, SettingRow)), None)

    def action_revert(self) -> None:
        """Discard what was typed in the focused field, show the current value again, and leave the
        field (for the anchor above the form), so that the app's keys act again."""
        row = self._focused_row()
        if row is not None:
            row.show_value(row.shown)
        self.query_one(FocusAnchor).focus(scroll_visible=False)

    def action_reset_default(self) -> None:
        """Set the focused setting back to its default for this run's preset (the preset's recommendation, else the
        setting's own), checked and applied like a typed value."""
        row = self._focused_row()
        if row is None or row.locked or self.config is None:
            return
        row.put(preset_default(self.config.model.preset, row.setting.path))
        self.apply(row, revert_if_refused=True)

    def action_import_data(self) -> None:
        """The import dialog; the set it imports becomes the run's data set (once a run under way has ended)."""
        from .import_screen import ImportScreen
        self.app.push_screen(ImportScreen(), self._imported)

    def _imported(self, made: Imported | None) -> None:
        if made is None:
            return
        self._refresh_data_names()
        text = made.describe()
        if self.run_active or self.config is None:
            self.app.notify(f"{text} Choose it in data.name once this run ends.", timeout=10)
            return
        row = self.row("data.name")
        row.put(made.name)
        self.apply(row, revert_if_refused=True)
        self.app.notify(f"{text} It is now the data set; the model follows its inputs and classes.", timeout=10)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The keys act on the focused setting: greyed out when none (or a locked one) has the focus."""
        if action in ("revert", "reset_default"):
            row = self._focused_row()
            return None if row is None or row.locked else True
        return True
