"""The model builder: the layers of `config.model.spec` as a table you edit with the keyboard.

    a add a layer after the selected one    e / enter edit it    d delete it
    shift+up / K, shift+down / J move it     u undo               p choose a preset
    i fit the model's input and output to the data set

The pane keeps a *draft* of the spec. Every edit is checked at once against the engine's own
`summarize` and against the config's data set (`run.fitting.fit_problem`: the input one sample
has, the output the task needs): a draft that builds and fits becomes the run's model and is
posted up as `ConfigChanged`; any other (a linear layer straight on an image, an output of 32
for 10 classes) stays on screen with the reason under the table and the offending layer
marked, and is never posted, so the app can only ever train a model that builds and fits.
`valid` and `error_text` say which case holds. Presets are fitted to the data set; one that
cannot fit it (a CNN on 2-D points) is listed as unavailable, with the reason.

The pane never builds a model or touches a session: the table's shapes and parameter counts
come from the spec alone, like Keras' `summary()`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterator

from rich.errors import StyleSyntaxError
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Label, Select, Static

from nnstudio.engine.layer_types import LAYER_TYPES, shape_text
from nnstudio.datasets import DataShape
from nnstudio.engine.presets import PRESETS
from nnstudio.engine.spec import SpecError, Summary, new_layer, validate_spec

from ..run import Status
from ..run.config import ConfigError, RunConfig, model_spec
from ..run.fitting import data_shape_of, fit_preset, fit_problem, preset_of, preset_problem, refit
from .cells import cell
from .layer_form import LayerForm, LayerTypePicker
from .messages import ConfigChanged
from .spec_edits import Position, check, moved, positions, row_name, sections_of, with_layer, without_layer


class BuilderPane(Vertical):
    """The layer table, total parameters, presets and the editing keys of a model spec."""

    HELP_TITLE = "Model builder"
    DEFAULT_CSS = (Path(__file__).with_name("builder_pane.tcss")).read_text(encoding="utf-8")
    BINDINGS = [
        Binding("a", "add", "Add layer", id="builder.add",
                tooltip="Add a layer after the selected one: choose its type, then fill in its form"),
        Binding("A", "add(True)", "Add above", id="builder.add-above", show=False,
                tooltip="Add a layer before the selected one"),
        Binding("e", "edit", "Edit", id="builder.edit", tooltip="Edit the selected layer's settings (or press enter)"),
        Binding("d,delete", "delete", "Delete", id="builder.delete", tooltip="Remove the selected layer"),
        Binding("shift+up,K", "move(-1)", "Move up", id="builder.move-up", key_display="⇧↑",
                tooltip="Move the selected layer one place towards the input"),
        Binding("shift+down,J", "move(1)", "Move down", id="builder.move-down", key_display="⇧↓",
                tooltip="Move the selected layer one place towards the output"),
        Binding("u", "undo", "Undo", id="builder.undo", tooltip="Take back the last change to the model"),
        Binding("p", "choose_preset", "Preset", id="builder.preset",
                tooltip="Replace the model with a ready-made one, fitted to the data set"),
        Binding("i", "fit_to_data", "Fit to data", id="builder.fit", show=False,
                tooltip="Set the model's input, and its last linear layer's out, to what the data set needs"),
    ]

    config: reactive[RunConfig | None] = reactive(None, init=False, always_update=True)
    """The run configuration the app gives the pane; the model shown is its `model.spec`."""

    read_only: reactive[bool] = reactive(False, init=False)
    """True while a run exists (running or paused): the model is shown but cannot change."""

    class ValidityChanged(Message):
        """The draft model became valid or invalid (the app may enable or disable training)."""

        def __init__(self, valid: bool, error: str | None) -> None:
            super().__init__()
            self.valid = valid
            self.error = error

    def __init__(self, config: RunConfig | None = None, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.set_reactive(BuilderPane.config, config)
        self._draft: dict | None = None          # the spec being edited; may be invalid
        self._synced: dict | None = None         # the valid spec the config holds (last received or posted)
        self._summary: Summary | None = None
        self._error: SpecError | None = None
        self._undo: list[tuple[dict, int]] = []  # (draft, cursor row) before each change
        self._preset_problems: dict[str, str | None] | None = None   # as listed by _offer_presets

    # ================================================================== what the app reads
    @property
    def valid(self) -> bool:
        """Whether the model on screen is a valid spec (only then can it be trained)."""
        return self._draft is not None and self._error is None

    @property
    def error_text(self) -> str | None:
        """Why the model on screen is invalid (the engine's SpecError message), or None."""
        return str(self._error) if self._error is not None else None

    @property
    def spec(self) -> dict | None:
        """A copy of the model on screen, valid or not."""
        return copy.deepcopy(self._draft)

    @property
    def data(self) -> DataShape | None:
        """What the config's data set asks of a model (known from its name: nothing is loaded)."""
        return data_shape_of(self.config) if self.config is not None else None

    def set_running(self, status: Status) -> None:
        """The app's session status changed: the model is read-only while a training thread is alive."""
        self.read_only = status.busy

    # ================================================================== building the pane
    def compose(self) -> ComposeResult:
        # The table comes first in the DOM so that it is the first widget to take the focus (the
        # editing keys act on its selected row); the preset bar is docked above it by the CSS.
        table: DataTable = DataTable(id="layers", cursor_type="row", zebra_stripes=True)
        table.add_column("#", key="index")
        table.add_column("layer", key="type")
        table.add_column("settings", key="settings")
        table.add_column("output", key="output")
        table.add_column("params", key="params")
        yield table
        yield Static("", id="spec-error", markup=False)
        with Vertical(id="builder-top"):
            with Horizontal(id="preset-bar"):
                yield Label("Preset", id="preset-label")
                yield Select([(name, name) for name in PRESETS], prompt="custom", id="preset", compact=True)
                yield Static("", id="summary", markup=False)
            yield Static("Read-only while a run exists: stop it to change the model.", id="read-only")

    def on_mount(self) -> None:
        self._show_read_only()
        self._sync_from_config()

    def watch_config(self) -> None:
        """Called when the app sets a new config: show its model (keeping an unfinished draft of the same model)."""
        if self.is_mounted:
            self._sync_from_config()

    def watch_read_only(self) -> None:
        """Called when a run starts or ends: lock or unlock the editing keys and the preset list."""
        if self.is_mounted:   # before that, on_mount shows it
            self._show_read_only()

    def _show_read_only(self) -> None:
        self.set_class(self.read_only, "-read-only")
        self.query_one("#preset", Select).disabled = self.read_only
        self.refresh_bindings()

    def _sync_from_config(self) -> None:
        """Take the config's model as the draft, unless the draft is an edit of that very model.

        Keeping the draft means a settings change elsewhere does not wipe out a half-finished
        (invalid) model; any other model (a load, a preset) replaces it.
        """
        if self.config is None:
            self._draft = self._synced = None
            self._undo.clear()
            self._redraw()
            return
        incoming, data = self.config.model.spec, self.data
        if incoming is None:   # a preset by name: show it fitted to the data set, if it fits
            try:
                incoming = fit_preset(self.config.model.preset, data) if data else model_spec(self.config)
            except (SpecError, ValueError):
                incoming = model_spec(self.config)
        self._offer_presets(data)
        if self._draft is None or incoming != self._synced:
            self._draft, self._synced = copy.deepcopy(incoming), copy.deepcopy(incoming)
            self._undo.clear()
        self._redraw()

    # ================================================================== drawing
    @property
    def _table(self) -> DataTable:
        return self.query_one("#layers", DataTable)

    def _redraw(self, cursor_row: int | None = None) -> None:
        """Redraw the table, the totals line, the error line and the preset list from the draft."""
        table = self._table
        was_valid = self.valid
        if cursor_row is None:
            cursor_row = table.cursor_row
        table.clear()
        if self._draft is None:
            self._summary, self._error = None, None
            self.query_one("#summary", Static).update("No model yet")
            self._show_error(None)
            return
        self._summary, self._error = check(self._draft)
        data = self.data
        if self._error is None and data is not None:
            self._error = fit_problem(self._draft, data)
        bad_row = self._error_row()
        shapes = self._shapes()
        for row, position in enumerate(positions(self._draft)):
            layer = self._draft[position.section][position.index]
            output, params = shapes[row] if row < len(shapes) else ("?", "")
            index = ("✗ " if row == bad_row else "") + row_name(position)
            style = self._style("bold $text-error") if row == bad_row else ""
            cells = (index, layer["type"], self._settings_text(layer), output, params)
            table.add_row(*(cell(text, style, right=column == 4) for column, text in enumerate(cells)),
                          key=f"{position.section}.{position.index}")
        if table.row_count:
            table.move_cursor(row=min(max(cursor_row, 0), table.row_count - 1), animate=False)
        self._show_totals()
        self._show_error(self._error)
        self._show_preset()
        self.refresh_bindings()
        if was_valid != self.valid:
            self.post_message(self.ValidityChanged(self.valid, self.error_text))

    def _style(self, style: str) -> str:
        """Resolve a theme variable in a Rich style ("bold $text-error" -> "bold #ff0000"), so a cell
        follows the theme; plain red if the theme's value is not a colour Rich understands."""
        variables = self.app.get_css_variables()
        resolved = " ".join(variables.get(word[1:], "red") if word.startswith("$") else word for word in style.split())
        try:
            Style.parse(resolved)
        except StyleSyntaxError:
            return style.replace("$text-error", "red")
        return resolved

    @staticmethod
    def _settings_text(layer: dict) -> str:
        """The layer's settings in words ("out=32", "3x3, pad 1"), from its type's own formatter."""
        try:
            return LAYER_TYPES[layer["type"]].settings(layer)
        except (KeyError, TypeError, ValueError):
            return ""

    def _error_row(self) -> int | None:
        """The table row of the layer the spec error is about, if it names one."""
        error = self._error
        if error is None or error.index is None or self._draft is None:
            return None
        try:
            return positions(self._draft).index(Position(error.section or "layers", error.index))
        except ValueError:
            return None

    def _shapes(self) -> list[tuple[str, str]]:
        """(output shape, parameters) per row: every row of a valid spec, the rows before the problem otherwise.

        For an invalid spec the layers before the offending one are summarised as a plain
        stack (encoder and decoder are one chain as far as shapes go), so the table still
        shows how far the data gets.
        """
        if self._summary is not None:   # it builds (it may still not fit the data set)
            return [(shape_text(row.output_shape), f"{row.params:,}") for row in self._summary]
        bad_row = self._error_row()
        if not bad_row or self._draft is None:
            return []
        chain = [self._draft[p.section][p.index] for p in positions(self._draft)[:bad_row]]
        summary, _ = check({"input_shape": self._draft["input_shape"], "layers": chain})
        return [(shape_text(row.output_shape), f"{row.params:,}") for row in summary] if summary else []

    def _show_totals(self) -> None:
        summary, draft = self._summary, self._draft
        line = f"input {shape_text(tuple(draft['input_shape']))}"
        if summary is not None:
            line += f" → output {shape_text(summary.output_shape)} · {summary.total_params:,} parameters"
            if self._error is not None:
                line += " · does not fit"
        else:
            line += " · not a valid model yet"
        self.query_one("#summary", Static).update(line)

    def _show_error(self, error: SpecError | None) -> None:
        box = self.query_one("#spec-error", Static)
        if error is not None and self._summary is not None:   # it builds, but not for this data set
            text = f"✗ {error}\nFix it to train: this model does not fit the data set (i fits its ends to it)."
        else:
            text = f"✗ {error}\nFix it to train: this model cannot be built." if error else ""
        box.update(text)
        box.display = error is not None

    def _show_preset(self) -> None:
        """Show the preset the draft is (fitted to the data), or "custom" once it has been edited."""
        select = self.query_one("#preset", Select)
        data = self.data
        current = preset_of(self._draft, data) if self.valid and data is not None else None
        with self.prevent(Select.Changed):
            select.value = current if current is not None else Select.NULL

    def _normalised(self) -> dict:
        """The draft with every default filled in (call only when it is valid)."""
        return validate_spec(self._draft)

    def _named(self, spec: dict) -> dict:
        """`spec` named after the preset it is, or without a name once edited into a custom model
        (the title, the saves list and a save's metadata read the name)."""
        name = preset_of(spec, self.data) if self.data is not None else None
        named = {key: value for key, value in spec.items() if key != "name"}
        return {"name": name, **named} if name else named

    # ================================================================== presets
    def _offer_presets(self, data: DataShape | None) -> None:
        """List the presets, those that cannot fit the data set dimmed and marked; choosing one says why (as does
        the list's tooltip)."""
        select = self.query_one("#preset", Select)
        problems = {name: preset_problem(name, data) if data else None for name in PRESETS}
        if problems == self._preset_problems:
            return
        self._preset_problems = problems
        labels = [(name if problem is None else Text(f"{name} (needs images)" if PRESETS[name].needs_images
                                                    else f"{name} (does not fit)", style="dim"), name)
                  for name, problem in problems.items()]
        with self.prevent(Select.Changed):   # (still choosable: choosing one says why it cannot be had)
            select.set_options(labels)
        select.tooltip = "\n".join(f"{name}: {p.description}" + (f" (unavailable: {problems[name]})"
                                                                    if problems[name] else "")
                                   for name, p in PRESETS.items())

    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        if event.value is Select.NULL or self._draft is None or self.config is None or self.read_only:
            self._show_preset()   # "custom" is not a model to choose: show what the model is
            self._table.focus()
            return
        name, data = str(event.value), self.data
        problem = preset_problem(name, data) if data is not None else None
        if problem is None:
            try:
                spec = fit_preset(name, data) if data is not None else model_spec(
                    self.config.replace(**{"model.spec": None, "model.preset": name}))
            except (SpecError, ValueError) as error:
                problem = str(error)
        if problem is not None:
            self.notify(f"The {name} preset does not fit {data.name if data else 'this data set'}: {problem}",
                        severity="error", title="Preset", markup=False)
            self._show_preset()
            self._table.focus()   # back to the layers, where space and the editing keys act
            return
        self._commit(spec, 0, preset=name)
        self._table.focus()   # back to the layers, where the editing keys work

    def action_fit_to_data(self) -> None:
        """Fit the model's ends to the data set: its input shape and its last linear layer's out."""
        data = self.data
        if self.read_only or self._draft is None or data is None:
            return
        draft, changes = refit(self._draft, data)
        if not changes:
            self.notify(f"The model's input and output already fit {data.name} ({data.describe()}).",
                        title="Fit to data", markup=False)
            return
        self._commit(draft, self._table.cursor_row)
        self.notify(f"Fitted to {data.name}: {', '.join(changes)}.", title="Fit to data", markup=False)

    def action_choose_preset(self) -> None:
        """Open the preset list."""
        select = self.query_one("#preset", Select)
        select.focus()
        select.expanded = True

    # ================================================================== editing
    def _cursor_position(self) -> Position | None:
        if self._draft is None or not self._table.row_count:
            return None
        spots = positions(self._draft)
        return spots[min(self._table.cursor_row, len(spots) - 1)]

    def _commit(self, draft: dict, cursor_row: int, *, preset: str | None = None) -> None:
        """Make `draft` the model on screen (undoable) and, if it is valid, the run's model."""
        assert self._draft is not None and self.config is not None
        self._undo.append((self._draft, self._table.cursor_row))
        self._draft = draft
        self._redraw(cursor_row)
        self._post_if_valid(preset)

    def _post_if_valid(self, preset: str | None = None) -> None:
        if not self.valid or self.config is None:
            return
        normalised = self._named(self._normalised())
        if normalised == self._synced and preset is None:
            return   # e.g. undoing back to the model the run already has
        changes: dict[str, Any] = {"model.spec": normalised}
        if preset is not None:
            changes["model.preset"] = preset
        try:
            config = self.config.replace(**changes)
        except ConfigError as error:   # not expected for a valid spec; shown rather than lost
            self.notify(str(error), severity="error", title="Model", markup=False)
            return
        self._synced = normalised
        self.set_reactive(BuilderPane.config, config)
        self.post_message(ConfigChanged(config))

    def _preview(self, position: Position, replace: bool):
        """A function for the layer form: what the model would look like with this candidate layer."""
        def preview(candidate: dict) -> str:
            draft = with_layer(self._draft, position, candidate, replace=replace)
            summary, error = check(draft)
            if error is not None:
                return f"⚠ the model would not be valid: {error}"
            row = positions(draft).index(position)
            result = summary[row]
            return (f"output {shape_text(result.output_shape)} · {result.params:,} parameters"
                    f" · model total {summary.total_params:,}")
        return preview

    def action_add(self, above: bool = False) -> None:
        """Choose a layer type, fill in its fields (if it has any) and insert it after (or above) the selected layer."""
        if self.read_only or self._draft is None:
            return
        selected = self._cursor_position()
        if selected is None:
            where = Position(sections_of(self._draft)[0], 0)
        else:
            where = Position(selected.section, selected.index + (0 if above else 1))

        def chosen(type_name: str | None) -> None:
            if type_name is None:
                return
            layer = new_layer(type_name)
            if not LAYER_TYPES[type_name].fields:
                self._insert(where, layer)
                return
            form = LayerForm(layer, title=f"Add a {type_name} layer", preview=self._preview(where, replace=False))
            self.app.push_screen(form, lambda result: self._insert(where, result) if result else None)

        self.app.push_screen(LayerTypePicker(), chosen)

    def _insert(self, where: Position, layer: dict) -> None:
        draft = with_layer(self._draft, where, layer)
        self._commit(draft, positions(draft).index(where))

    def action_edit(self) -> None:
        """Open the selected layer's form; OK replaces the layer."""
        position = self._cursor_position()
        if self.read_only or position is None:
            return
        layer = self._draft[position.section][position.index]
        if not LAYER_TYPES[layer["type"]].fields:
            self.notify(f"A {layer['type']} layer has no settings to edit.", title="Edit", markup=False)
            return
        row = self._table.cursor_row

        def edited(result: dict | None) -> None:
            if result is None or result == layer:
                return
            self._commit(with_layer(self._draft, position, result, replace=True), row)

        form = LayerForm(layer, title=f"Edit layer {row_name(position)} ({layer['type']})",
                         preview=self._preview(position, replace=True))
        self.app.push_screen(form, edited)

    @on(DataTable.RowSelected, "#layers")
    def _row_chosen(self) -> None:
        self.action_edit()

    def action_delete(self) -> None:
        """Remove the selected layer (u takes it back)."""
        position = self._cursor_position()
        if self.read_only or position is None:
            return
        self._commit(without_layer(self._draft, position), self._table.cursor_row)

    def action_move(self, step: int) -> None:
        """Move the selected layer one place; in an autoencoder it crosses between encoder and decoder."""
        position = self._cursor_position()
        if self.read_only or position is None:
            return
        result = moved(self._draft, position, step)
        if result is None:
            self.app.bell()
            return
        self._commit(*result)

    def action_undo(self) -> None:
        """Go back to the model before the last change."""
        if self.read_only or not self._undo:
            return
        self._draft, row = self._undo.pop()
        self._redraw(row)
        self._post_if_valid()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out the editing keys while a run exists, and those that need a selected layer when there is none."""
        if action in ("add", "edit", "delete", "move", "undo", "choose_preset", "fit_to_data"):
            if self.read_only or self._draft is None:
                return None
            if action in ("edit", "delete", "move") and self._cursor_position() is None:
                return None
            if action == "undo" and not self._undo:
                return None
        return True

    def iter_rows(self) -> Iterator[list[str]]:
        """The table's cells as plain text, row by row (for tests and for copying)."""
        table = self._table
        for row in range(table.row_count):
            yield [str(value) for value in table.get_row_at(row)]
