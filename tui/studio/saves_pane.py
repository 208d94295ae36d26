"""The catalogue of the saves folder: open a save, save the trained model, delete old ones.

    enter / l load the selected save    s save the current model as...    d delete    R refresh

The list is the run core's `list_saves` (newest first; a hundred saves in well under a second): a
damaged file is listed with the reason it cannot be read rather than hidden, and a save that would
not open (weights that are not finite, a run config nnstudio refuses...) is marked with the reason.
The pane never reads weights or writes a save itself: loading and saving need the session,
so it asks the app (`LoadRequested`, `SaveRequested`) and the app calls `refresh_catalogue()`
once the file is written. Deleting is the pane's own job, after a y/n confirmation.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

from nnstudio import saves
from nnstudio.saves import SaveEntry, SaveError

from ..render import size_text
from ..run import list_saves
from .cells import cell
from .confirm_screen import ConfirmScreen
from .messages import LoadRequested, SaveRequested

_CSS = (Path(__file__).with_name("saves_pane.tcss")).read_text(encoding="utf-8")


class SaveNameScreen(ModalScreen[str | None]):
    """Ask for a save's name, showing as it is typed the file it becomes (or why it cannot be one).

    Names go through `saves.sanitize_name`, the same function the save itself uses, so the
    file shown is the file written. Dismisses with the sanitised name, or None if cancelled.
    """

    HELP_TITLE = "Save as"
    DEFAULT_CSS = _CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="save-as.cancel")]

    def __init__(self, folder: Path, existing: set[str], name: str = "") -> None:
        super().__init__()
        self.folder, self.existing, self.initial = folder, existing, name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = "Save the model as"
            yield Input(self.initial, placeholder="a name, e.g. mnist-mlp", id="save-name")
            yield Static("", id="save-target", markup=False)   # quotes what was typed
            with Horizontal(id="buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._check(self.initial)

    @on(Input.Changed, "#save-name")
    def _typed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, text: str) -> str | None:
        """Show the file the name becomes, or why it cannot be a name; return the sanitised name if valid."""
        target = self.query_one("#save-target", Static)
        try:
            name = saves.sanitize_name(text)
        except SaveError as error:
            target.update("Type a name for the save." if not text.strip() else f"✗ {error.problem}")
            target.set_class(bool(text.strip()), "-error")
            self.query_one("#save", Button).disabled = True
            return None
        path = self.folder / f"{name}{saves.SUFFIX}"
        note = "  (exists: you will be asked before it is replaced)" if name in self.existing else ""
        target.update(f"→ {path}{note}")
        target.set_class(False, "-error")
        self.query_one("#save", Button).disabled = False
        return name

    @on(Input.Submitted, "#save-name")
    @on(Button.Pressed, "#save")
    def _submit(self) -> None:
        name = self._check(self.query_one("#save-name", Input).value)
        if name is None:
            self.app.bell()
            return
        self.dismiss(name)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class SavesPane(Vertical):
    """The saves folder as a table: name, date, model, data set, epochs, best validation accuracy, size."""

    HELP_TITLE = "Saves"
    DEFAULT_CSS = _CSS
    BINDINGS = [
        Binding("l", "load", "Load", id="saves.load",
                tooltip="Open the selected save: its model, settings, history and predictions (or press enter)"),
        Binding("s", "save_as", "Save as", id="saves.save-as", tooltip="Save the current model under a new name"),
        Binding("d,delete", "delete", "Delete", id="saves.delete", tooltip="Delete the selected save (asks first)"),
        Binding("R", "refresh", "Refresh", id="saves.refresh", tooltip="Read the saves folder again"),
    ]

    suggested_name: str = ""
    """A name the save dialog starts with (the app may set it, e.g. "mnist-mlp")."""

    def __init__(self, saves_dir: str | Path | None = None, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.saves_dir = Path(saves_dir) if saves_dir is not None else saves.default_folder()
        self.entries: list[SaveEntry] = []
        """The saves listed, in table order (newest first)."""

    def compose(self) -> ComposeResult:
        table: DataTable = DataTable(id="saves", cursor_type="row", zebra_stripes=True)
        # what tells saves apart comes first, so 80 columns show it all (name, epochs, accuracy, size, when);
        # the data set and the model summary, the widest cells, come last and are also under the table
        for label, key in (("name", "name"), ("epochs", "epochs"), ("best val", "accuracy"), ("size", "size"),
                           ("saved", "saved"), ("data", "data"), ("model", "model")):
            table.add_column(label, key=key)
        yield table
        yield Static("", id="saves-detail")
        yield Static("", id="saves-empty")
        yield Static("", id="saves-folder")   # docked at the top by the CSS; the table takes the focus first

    def on_mount(self) -> None:
        self.refresh_catalogue()

    # ================================================================== the catalogue
    @property
    def selected(self) -> SaveEntry | None:
        """The save under the cursor, if any."""
        table = self.query_one("#saves", DataTable)
        if not self.entries or not table.row_count:
            return None
        return self.entries[min(table.cursor_row, len(self.entries) - 1)]

    def refresh_catalogue(self, select: str | None = None) -> None:
        """Read the folder again; keep the cursor on the same save (or on `select`, e.g. one just written)."""
        table = self.query_one("#saves", DataTable)
        keep = select or (self.selected.name if self.selected else None)
        problem = None
        try:
            self.entries = list_saves(self.saves_dir)   # marks what would not open, as `nnstudio saves list`
        except SaveError as error:
            self.entries, problem = [], str(error)
        table.clear()
        for entry in self.entries:
            table.add_row(*self._cells(entry), key=entry.name)
        names = [entry.name for entry in self.entries]
        if keep in names:
            table.move_cursor(row=names.index(keep), animate=False)
        count = len(self.entries)
        self.query_one("#saves-folder", Static).update(   # Text, not markup: a folder name may hold "["
            Text.assemble("Saves in ", (str(self.saves_dir), "bold"), f" · {count} file{'' if count == 1 else 's'}"))
        empty = self.query_one("#saves-empty", Static)
        empty.update(Text(f"✗ {problem}") if problem else Text.assemble(
            f"No saves yet in {self.saves_dir}.\nTrain a model, then press ", ("s", "bold"),
            " to save it here; it will be listed with its accuracy."))
        empty.display = not self.entries
        table.display = bool(self.entries)
        self._show_detail()
        self.refresh_bindings()

    def _cells(self, entry: SaveEntry) -> list[Text]:
        saved = entry.created.astimezone().strftime("%m-%d %H:%M")   # the year is in the detail under the table
        if entry.error is not None:
            return [cell(entry.name, "red"), cell(""), cell(""), cell(size_text(entry.size), right=True),
                    cell(saved), cell(""), cell(f"damaged: {entry.error}", "bold red")]
        accuracy = f"{entry.best_val_accuracy:.2%}" if entry.best_val_accuracy is not None else "—"
        epochs = str(entry.epochs) if entry.epochs is not None else "—"
        model = cell(self._model_text(entry)) if entry.problem is None else cell("will not load", "bold red")
        return [cell(entry.name, "" if entry.problem is None else "red"), cell(epochs, right=True),
                cell(accuracy, right=True), cell(size_text(entry.size), right=True), cell(saved),
                cell(entry.dataset or "—"), model]

    @staticmethod
    def _model_text(entry: SaveEntry) -> str:
        kind = " (checkpoint)" if entry.kind == "checkpoint" else ""
        return (entry.model_summary or "") + kind

    @on(DataTable.RowHighlighted, "#saves")
    def _show_detail(self) -> None:
        """Under the table, the selected save in full: its file and model, or why it cannot be read."""
        entry, detail = self.selected, self.query_one("#saves-detail", Static)
        detail.display = entry is not None
        if entry is None:
            return
        if entry.error is not None:
            detail.update(Text.assemble((f"{entry.path}\n", "dim"), (f"✗ cannot be read: {entry.error}", "bold red")))
        elif entry.problem is not None:
            detail.update(Text.assemble((f"{entry.path}\n", "dim"), (f"✗ will not load: {entry.problem}", "bold red")))
        else:
            saved = entry.created.astimezone().strftime("%Y-%m-%d %H:%M")
            detail.update(Text.assemble((f"{entry.path}\n", "dim"), self._model_text(entry),
                                        f" · data {entry.dataset or '—'} · saved {saved}"))

    # ================================================================== actions
    def action_refresh(self) -> None:
        """Read the saves folder again."""
        self.refresh_catalogue()

    @on(DataTable.RowSelected, "#saves")
    def action_load(self) -> None:
        """Ask the app to open the selected save (a damaged one is refused here, with its reason)."""
        entry = self.selected
        if entry is None:
            return
        if not entry.loadable:
            self.notify(f"{entry.name} cannot be loaded: {entry.error or entry.problem}", severity="error",
                        title="Load", markup=False)
            return
        self.post_message(LoadRequested(entry.path))

    def action_save_as(self, name: str | None = None) -> None:
        """Ask a name (checked as typed) and, if that save exists, whether to replace it; then ask the app to save."""
        existing = {entry.name for entry in self.entries}

        def named(chosen: str | None) -> None:
            if chosen is None:
                return
            if chosen not in existing:
                self.post_message(SaveRequested(chosen, overwrite=False))
                return

            def answered(overwrite: bool | None) -> None:
                if overwrite:
                    self.post_message(SaveRequested(chosen, overwrite=True))
                else:   # back to the name, to choose another
                    self.action_save_as(chosen)

            self.app.push_screen(ConfirmScreen(f"Replace the save {chosen}?",
                                               detail="The model saved under this name will be overwritten.",
                                               yes="Replace", no="Keep it"), answered)

        initial = name if name is not None else self.suggested_name
        self.app.push_screen(SaveNameScreen(self.saves_dir, existing, initial), named)

    def action_delete(self) -> None:
        """Delete the selected save from disk after a y/n confirmation."""
        entry = self.selected
        if entry is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                if entry.path.exists():  # (else already gone: the refresh below shows that)
                    saves.delete(entry.path)  # only an nnstudio save, as `nnstudio saves rm`
            except SaveError as error:
                self.notify(str(error), severity="error", title="Delete", markup=False)
                return
            self.notify(f"Deleted {entry.name}.", title="Delete", markup=False)
            self.refresh_catalogue()

        self.app.push_screen(ConfirmScreen(f"Delete the save {entry.name}?",
                                           detail=f"{entry.path} will be removed from disk. This cannot be undone.",
                                           yes="Delete", no="Keep"), answered)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Load and delete need a selected save; they are greyed out in an empty folder."""
        if action in ("load", "delete") and self.selected is None:
            return None
        return True
