"""The two modal steps of adding or editing a layer: pick a layer type, then fill in its form.

Both are generated from the engine's `LAYER_TYPES` table, never from a hand-written list: a
layer type added to the engine appears in the picker, and its fields in the form, with the
same names, defaults, limits and descriptions that `validate_spec` checks against.

    app.push_screen(LayerTypePicker(), callback)          # -> "linear", or None if cancelled
    app.push_screen(LayerForm(new_layer("linear")), cb)   # -> the layer dict, or None

The form checks every field as it is typed (`Field.parse`) and shows the reason beside it;
OK is enabled only when every field is valid, so a dismissed form always returns a layer
whose fields are correct. Whether the layer fits the model around it (shapes) is the
builder's business: it passes a `preview` function whose answer is shown under the fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from nnstudio.engine.fields import Field, FieldError
from nnstudio.engine.layer_types import LAYER_TYPES, LayerType

from .cells import value_text

_CSS = (Path(__file__).with_name("layer_form.tcss")).read_text(encoding="utf-8")


def _clip(text: str, width: int) -> str:
    """`text` cut to `width` characters, with an ellipsis when something was cut."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


# ====================================================================== step 1: the layer type
class LayerTypePicker(ModalScreen[str | None]):
    """Choose the type of a new layer; typing filters the list (e.g. "rel" -> relu, leaky_relu).

    Dismisses with the layer type's name, or None when cancelled.
    """

    HELP_TITLE = "Add a layer"
    DEFAULT_CSS = _CSS
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="layer-picker.cancel"),
        Binding("up", "cursor(-1)", "Previous", show=False),
        Binding("down", "cursor(1)", "Next", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = "Add a layer"
            yield Input(placeholder="type to filter, enter to choose", id="filter", compact=True)
            yield OptionList(*self._options(""), id="types")
            yield Static("↑↓ choose · enter add · esc cancel", id="keys")

    @staticmethod
    def _options(text: str) -> list[Option]:
        """The layer types whose name or description contains `text`; names starting with it first."""
        needle = text.strip().lower()
        matches = [t for t in LAYER_TYPES.values() if needle in t.name or needle in t.description.lower()]
        matches.sort(key=lambda t: not t.name.startswith(needle))
        width = max(len(name) for name in LAYER_TYPES) + 2
        room = 60 - width   # one line per type: the dialog is 76 wide
        return [Option(Text.assemble((t.name.ljust(width), "bold"), (_clip(t.description, room), "dim")), id=t.name)
                for t in matches]

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        types = self.query_one("#types", OptionList)
        types.clear_options()
        types.add_options(self._options(event.value))
        types.highlighted = 0 if types.option_count else None

    def on_mount(self) -> None:
        self.query_one("#types", OptionList).highlighted = 0

    def action_cursor(self, step: int) -> None:
        """Move the highlight while the filter keeps the focus."""
        types = self.query_one("#types", OptionList)
        if types.option_count:
            types.highlighted = ((types.highlighted or 0) + step) % types.option_count

    @on(Input.Submitted, "#filter")
    def _choose_highlighted(self) -> None:
        option = self.query_one("#types", OptionList).highlighted_option
        if option is not None:
            self.dismiss(option.id)
        else:
            self.app.bell()

    @on(OptionList.OptionSelected, "#types")
    def _choose(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


# ====================================================================== step 2: the layer's fields
class LayerForm(ModalScreen[dict | None]):
    """A form for one layer, one row per field of its type: the value, and its hint or problem beside it.

    `layer` is a complete layer dict (`new_layer(type)` for a new one). `preview(candidate)`,
    when given, returns a line about the candidate in its model (output shape, parameters, or
    the shape problem it would cause); it is shown under the fields and refreshed as you type.
    """

    HELP_TITLE = "Layer form"
    DEFAULT_CSS = _CSS
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="layer-form.cancel"),
        Binding("ctrl+s", "submit", "OK", id="layer-form.ok"),
    ]

    def __init__(self, layer: dict, *, title: str | None = None,
                 preview: Callable[[dict], str] | None = None) -> None:
        super().__init__()
        self.layer_type: LayerType = LAYER_TYPES[layer["type"]]
        self.title_text = title or f"{self.layer_type.name} layer"
        self.preview = preview
        self.values: dict[str, Any] = {f.name: layer.get(f.name, f.default) for f in self.layer_type.fields}
        """The last valid value of every field (what OK returns)."""
        self.problems: dict[str, str] = {}
        """Fields whose text is not a valid value, and why."""

    # ------------------------------------------------------------------ building the form
    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = self.title_text
            yield Static(self.layer_type.description, id="about", markup=False)
            with VerticalScroll(id="fields"):
                for spec_field in self.layer_type.fields:
                    with Horizontal(classes="field-row", id=f"row-{spec_field.name}"):
                        yield Label(spec_field.name, classes="field-name")
                        yield self._control(spec_field)
                        yield Static(self._hint(spec_field), classes="message", markup=False)
            yield Static("", id="preview", markup=False)   # messages quote what was typed: never markup
            with Horizontal(id="buttons"):
                yield Button("OK", variant="primary", id="ok", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _control(self, spec_field: Field):
        """The input widget for one field: a checkbox for true/false, a list for choices, else a text box."""
        value = self.values[spec_field.name]
        tooltip = f"{spec_field.description} ({spec_field.constraint})"
        if spec_field.kind is bool:
            return Checkbox("", value=bool(value), id=spec_field.name, compact=True, tooltip=tooltip)
        if spec_field.choices:
            select = Select([(c, c) for c in spec_field.choices], value=value, allow_blank=False,
                            id=spec_field.name, compact=True)
            select.tooltip = tooltip
            return select
        field_input = Input(value_text(value), id=spec_field.name, compact=True,
                            placeholder="none" if spec_field.nullable else spec_field.constraint)
        field_input.tooltip = tooltip
        return field_input

    @staticmethod
    def _hint(spec_field: Field) -> str:
        """The dim text beside a field when its value is fine: what it means and, for typed values, what is allowed."""
        if spec_field.kind is bool or spec_field.choices:
            return spec_field.description   # a checkbox or a list cannot hold a wrong value
        return f"{spec_field.description} ({spec_field.constraint})"

    def on_mount(self) -> None:
        self._refresh_state()
        first = next(iter(self.query(".field-row > Input, .field-row > Select, .field-row > Checkbox")), None)
        if first is not None:
            first.focus()

    # ------------------------------------------------------------------ checking as typed
    @on(Input.Changed, ".field-row > Input")
    def _typed(self, event: Input.Changed) -> None:
        spec_field = self.layer_type.field(event.input.id)
        try:
            self.values[spec_field.name] = spec_field.parse(event.value)
            self.problems.pop(spec_field.name, None)
        except FieldError as error:
            self.problems[spec_field.name] = str(error)
        self._refresh_state()

    @on(Select.Changed, ".field-row > Select")
    def _chosen(self, event: Select.Changed) -> None:
        self.values[event.select.id] = event.value
        self._refresh_state()

    @on(Checkbox.Changed, ".field-row > Checkbox")
    def _toggled(self, event: Checkbox.Changed) -> None:
        self.values[event.checkbox.id] = event.value
        self._refresh_state()

    @property
    def valid(self) -> bool:
        """Whether every field holds a valid value (OK is enabled only then)."""
        return not self.problems

    def candidate(self) -> dict:
        """The layer as the form currently describes it (fields with problems keep their last valid value)."""
        return {"type": self.layer_type.name, **self.values}

    def _refresh_state(self) -> None:
        """Show each field's problem (or hint), the preview and whether OK is possible."""
        for spec_field in self.layer_type.fields:
            message = self.query_one(f"#row-{spec_field.name} > .message", Static)
            problem = self.problems.get(spec_field.name)
            message.update(problem if problem else self._hint(spec_field))
            message.set_class(problem is not None, "-error")
            self.query_one(f"#row-{spec_field.name}").set_class(problem is not None, "-invalid")
        preview = self.query_one("#preview", Static)
        if not self.valid:
            preview.update(f"Fix the field{'s' if len(self.problems) > 1 else ''} marked in red to continue.")
        else:
            preview.update(self.preview(self.candidate()) if self.preview else "")
        self.query_one("#ok", Button).disabled = not self.valid

    # ------------------------------------------------------------------ closing
    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def action_submit(self) -> None:
        """Return the layer if every field is valid; otherwise put the cursor on the first bad field."""
        if self.valid:
            self.dismiss(self.candidate())
            return
        self.app.bell()
        first_bad = next(f.name for f in self.layer_type.fields if f.name in self.problems)
        self.query_one(f"#{first_bad}").focus()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
