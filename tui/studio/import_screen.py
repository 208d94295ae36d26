"""The import dialog (Settings pane, i): your own CSV or .npz file as a data set, from the keyboard.

Type the file's path (tab completes it, as in a shell); the dialog reads the header at once and
shows the columns, proposes a name, and says which column is the target. Enter imports it in a
thread worker (`datasets.import_file`, the same as `nnstudio data import`), with a progress bar
for a big file; escape cancels, leaving the cache as it was. A problem is one red line naming the
file, line and column; what was typed stays, to be corrected. The dialog returns the `Imported`
set, which the Settings pane then chooses as the data set.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Select, Static

from nnstudio.datasets import DatasetError, import_file
from nnstudio.datasets.imported import TEST_FRACTION, Imported, is_npz, parse_image_size, suggested_name
from nnstudio.datasets.locations import display_path
from nnstudio.datasets.table import TableError, open_table

from .settings_pane import OnOffCheckbox

TASKS = (("guess from the target", ""), ("classification", "classification"), ("regression", "regression"))


class ImportCancelled(Exception):
    """Raised in the import's progress callback when the user pressed escape: the import removes its files."""


class PathSuggester(Suggester):
    """Completes a path from the files on disk, as a shell does: the first entry that starts with what is typed."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        folder, start = os.path.split(expanded)
        try:
            names = sorted(name for name in os.listdir(folder or ".") if name.startswith(start) and
                           not (name.startswith(".") and not start.startswith(".")))
        except OSError:
            return None
        if not names:
            return None
        completed = os.path.join(folder, names[0])
        if os.path.isdir(completed):
            completed += os.sep
        return value + completed[len(expanded):]


class ImportScreen(ModalScreen["Imported | None"]):
    """Choose a file and how to read it; dismiss with the Imported set, or None."""

    DEFAULT_CSS = Path(__file__).with_name("import_screen.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Import data"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="import.cancel",
                        tooltip="Close without importing (stops an import under way)")]

    def __init__(self, start_folder: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.start_folder = Path(start_folder) if start_folder is not None else Path.cwd()
        self.cancel = threading.Event()
        self.importing = False
        self._named_by_hand = False   # the name was typed: a new file does not replace it

    def compose(self) -> ComposeResult:
        with Vertical(id="import-dialog"):
            yield Static("Import your own data", id="import-title")
            yield Static("A CSV with a header line (numeric features, a target column), or an .npz with arrays x "
                         "and y. → completes the path (from the disk); enter imports.", id="import-about")
            yield self._row("file", Input(self._start_text(), id="import-file", suggester=PathSuggester(),
                                          placeholder="path/to/data.csv", compact=True))
            yield Static("", id="import-columns", markup=False)
            yield self._row("name", Input("", id="import-name", placeholder="e.g. iris", compact=True))
            yield self._row("target", Input("", id="import-target", placeholder="the last column (or one named label)",
                                            compact=True))
            yield self._row("ignore", Input("", id="import-ignore", placeholder="columns to leave out, e.g. id,name",
                                            compact=True))
            yield self._row("task", Select(TASKS, value="", allow_blank=False, id="import-task", compact=True))
            yield self._row("test share", Input(f"{TEST_FRACTION:g}", id="import-test", placeholder="0.2", compact=True))
            yield self._row("images", Input("", id="import-image", placeholder="e.g. 28x28 (pixels 0..255)", compact=True))
            yield self._row("drop missing", OnOffCheckbox("off", id="import-drop", compact=True,
                                                          tooltip="Leave out rows with a missing value (else refuse)"))
            yield self._row("replace", OnOffCheckbox("off", id="import-replace", compact=True,
                                                     tooltip="Replace an imported set of the same name"))
            yield ProgressBar(id="import-progress", show_eta=False)
            yield Static("", id="import-problem", markup=False)
            with Horizontal(id="import-buttons"):
                yield Button("Import", id="import-go", variant="primary", compact=True)
                yield Button("Cancel", id="import-cancel", compact=True)

    @staticmethod
    def _row(label: str, control) -> Horizontal:
        return Horizontal(Label(label, classes="import-name"), control, classes="import-row")

    def _start_text(self) -> str:
        text = display_path(self.start_folder)
        return text if text.endswith(os.sep) else text + os.sep

    def on_mount(self) -> None:
        self.query_one("#import-progress").display = False
        field = self.query_one("#import-file", Input)
        field.focus()
        field.cursor_position = len(field.value)

    # ================================================================== reading as it is typed
    @on(Input.Changed, "#import-file")
    def _file_typed(self, event: Input.Changed) -> None:
        path = Path(os.path.expanduser(event.value.strip()))
        columns = self.query_one("#import-columns", Static)
        if not event.value.strip() or not path.is_file():
            columns.update("")
            return
        if not self._named_by_hand:
            with self.prevent(Input.Changed):
                self.query_one("#import-name", Input).value = suggested_name(path)
        columns.update(self._columns_text(path))

    def _columns_text(self, path: Path) -> str:
        """The file's columns and target, read from its first lines, or why it cannot be read."""
        if is_npz(path):
            return "an .npz: arrays x and y (and x_test, y_test)"
        target = self.query_one("#import-target", Input).value.strip() or None
        try:
            table = open_table(path, target=target, ignore=self._ignored())
        except TableError as error:
            return str(error)
        shown = ", ".join(table.header[:8]) + (f", ... ({len(table.header)} columns)" if len(table.header) > 8 else "")
        kind = "numbers" if table.numeric_target else "text: class names"
        text = table.text_features()
        flagged = f"\ntext in {', '.join(text)}: features must be numbers; name them in ignore" if text else ""
        return (f"columns: {shown}\ntarget: {table.target_name} ({kind}); features: the {len(table.features)} "
                f"others{flagged}")

    @on(Input.Changed)
    def _changed(self) -> None:
        """Anything typed makes the last problem stale: it goes, so no message speaks of a file no longer named."""
        if not self.importing:
            self._say("")

    @on(Input.Changed, "#import-name")
    def _name_typed(self, event: Input.Changed) -> None:
        self._named_by_hand = bool(event.value.strip())

    def _ignored(self) -> tuple[str, ...]:
        text = self.query_one("#import-ignore", Input).value
        return tuple(column.strip() for column in text.split(",") if column.strip())

    @on(Input.Changed, "#import-target")
    @on(Input.Changed, "#import-ignore")
    def _target_typed(self) -> None:
        path = Path(os.path.expanduser(self.query_one("#import-file", Input).value.strip()))
        if path.is_file():
            self.query_one("#import-columns", Static).update(self._columns_text(path))

    # ================================================================== importing
    @on(Input.Submitted)
    @on(Button.Pressed, "#import-go")
    def start(self) -> None:
        """Check the fields, then import in a worker (one at a time)."""
        if self.importing:
            return
        try:
            request = self._request()
        except ValueError as error:
            self._say(str(error))
            return
        self._say("")
        self.importing = True
        self.cancel.clear()
        bar = self.query_one("#import-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.query_one("#import-go", Button).disabled = True
        self._import(request)

    def _request(self) -> dict:
        """The import's arguments from the fields; ValueError saying which field is wrong."""
        path_text = self.query_one("#import-file", Input).value.strip()
        if not path_text:
            raise ValueError("file: type the path of a .csv or .npz file")
        name = self.query_one("#import-name", Input).value.strip()
        if not name:
            raise ValueError("name: give the data set a name, e.g. iris")
        image_text = self.query_one("#import-image", Input).value.strip()
        try:
            image = parse_image_size(image_text) if image_text else None
        except ValueError as error:
            raise ValueError(f"images: {error}") from None
        try:
            fraction = float(self.query_one("#import-test", Input).value.strip() or TEST_FRACTION)
        except ValueError:
            raise ValueError("test share: a number between 0 and 1, e.g. 0.2") from None
        return dict(name=name, path=Path(os.path.expanduser(path_text)),
                    target=self.query_one("#import-target", Input).value.strip() or None,
                    task=self.query_one("#import-task", Select).value or None, test_fraction=fraction, image=image,
                    ignore=self._ignored(),
                    drop_missing=self.query_one("#import-drop", Checkbox).value,
                    replace=self.query_one("#import-replace", Checkbox).value)

    @work(thread=True, exclusive=True, group="import")
    def _import(self, request: dict) -> None:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if self.cancel.is_set():
                raise ImportCancelled
            if done - last[0] >= total / 100 or done == total:   # at most a hundred redraws
                last[0] = done
                self.app.call_from_thread(self._progress, done, total)

        path = request.pop("path")
        try:
            made = import_file(request.pop("name"), path, progress=progress,
                               **request)
        except ImportCancelled:
            self.app.call_from_thread(self.app.notify, f"The import of {path.name} was stopped: nothing was imported.")
            self.app.call_from_thread(self.dismiss, None)
        except (DatasetError, OSError) as error:
            self.app.call_from_thread(self._failed, str(error))
        else:
            self.app.call_from_thread(self.dismiss, made)

    def _progress(self, done: int, total: int) -> None:
        self.query_one("#import-progress", ProgressBar).update(total=total, progress=done)

    def _failed(self, message: str) -> None:
        self.importing = False
        self.query_one("#import-progress").display = False
        self.query_one("#import-go", Button).disabled = False
        self._say(message)

    def _say(self, message: str) -> None:
        self.query_one("#import-problem", Static).update(message)

    @on(Button.Pressed, "#import-cancel")
    def action_cancel(self) -> None:
        """Close; an import under way stops at its next chunk and leaves nothing behind."""
        if self.importing:
            self.cancel.set()
            self._say("stopping the import...")
        else:
            self.dismiss(None)

