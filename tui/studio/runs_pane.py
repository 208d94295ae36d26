"""Pane 6, every run kept: a table of the runs in the saves folder, to mark some and compare them in the Monitor.

    m mark / unmark    enter compare in the Monitor    c clear the marks    f fork    / filter    R read again
    o follow a run another process trains (`nnstudio train --detach`) live in the Monitor; again: stop following

(enter is the table's, `RunsTable`: a focused table takes it before the pane would.)

The table is the run core's summaries (`runs.summarize`: name, data set, model, optimizer and lr,
epochs, best, status, size), newest first, read in a thread worker: a run's history is read again
only when its files changed, and without its batch records (`read_history(batches=False)`), so a
folder of long runs lists in milliseconds. It is read again when the pane is shown, every
POLL_SECONDS while it is in view (or while a marked run is still training), when the studio's own
run starts or ends, and with R.

Typing after `/` filters the rows (every word must appear in a row: "spirals sgd"); enter goes back
to the table, escape clears the filter. Marks are kept by run folder: they survive refreshes and
filters, and each marked run's key (colour, or marker under NO_COLOR) is the look it has in the
Monitor's plots. The app passes the marks on (`MarksChanged`); the Monitor overlays them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from nnstudio import saves

from ..render import size_text
from ..run import Status
from ..run import origins
from ..run.runs import RunSummary
from .cells import cell
from .fork_screen import ForkRequest, ForkScreen
from .overlay import mark_look
from .plots import MAX_COMPARED, RUN_LOOKS
from .runs_table import STATUS_STYLES, RunCatalogue, RunsTable, best_text, epochs_text, optimizer_text, row_words

#: seconds between two reads of the runs folder while the pane is in view
POLL_SECONDS = 5.0
#: narrower than this, a run's name is shown without its year, so that the status stays whole at 80 columns
WIDE = 100
_DATED = re.compile(r"-(20\d\d)(\d{4}-\d{6}(?:-\d+)?)$")


#: narrower than WIDE, a run's name takes what the columns after it, to its status, leave (at least MIN_NAME cells)
MIN_NAME = 16
#: cells a DataTable column takes beyond its content, and the table's vertical scrollbar
CELL_PADDING, SCROLLBAR = 2, 2


def shown_name(name: str, cells: int | None = None) -> str:
    """ "spirals-mlp-20261203-155742" -> "spirals-mlp-1203-155742": the year left out (the detail line under the
    table names the run in full, and the filter looks at the whole name); longer than `cells`, the middle of the
    name gives way to "…", its start and its time kept: "fashion-mnist-sigm…-1203-191500"."""
    short = _DATED.sub(r"-\2", name)
    if cells is None or len(short) <= cells:
        return short
    tail = re.search(r"-\d{4}-\d{6}(?:-\d+)?$", short)
    tail_text = tail.group(0) if tail else short[-8:]
    return short[:max(cells - len(tail_text) - 1, 1)] + "…" + tail_text


def _add_columns(table: DataTable) -> None:
    """What tells runs apart first, so 80 columns show it whole; data set, model and size last (and below)."""
    for label, key in (("", "mark"), ("run", "name"), ("optimizer", "optimizer"), ("epochs", "epochs"),
                       ("best", "best"), ("status", "status"), ("data", "data"), ("model", "model"), ("size", "size")):
        table.add_column(label, key=key)


class RunsPane(Vertical):
    """The runs of the saves folder: marked for comparison, filtered, read again as they change."""

    HELP_TITLE = "Runs"
    DEFAULT_CSS = Path(__file__).with_name("runs_pane.tcss").read_text(encoding="utf-8")
    BINDINGS = [
        Binding("m", "mark", "Mark", id="runs.mark",
                tooltip="Mark the selected run to compare it in the Monitor (again: unmark it)"),
        Binding("c", "clear_marks", "Clear marks", id="runs.clear", tooltip="Unmark every run"),
        Binding("slash", "filter", "Filter", key_display="/", id="runs.filter",
                tooltip="Type to show only the runs whose row holds every word typed"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="runs.clear-filter",
                tooltip="Clear the filter: every run is listed again"),
        Binding("R", "refresh", "Refresh", show=False, id="runs.refresh", tooltip="Read the runs folder again"),
        Binding("f", "fork", "Fork", id="runs.fork",
                tooltip="Go on from one of the selected run's epochs with changed settings, as a new run"),
        Binding("o", "follow", "Follow", id="runs.follow",
                tooltip="Follow the selected run, which another process trains, live in the Monitor (space, x and "
                        "live settings go to it); on the run followed: stop following"),
    ]

    @dataclass
    class FollowRequested(Message):
        """o: follow the run another process trains at `path` (or, on the run followed, stop following it)."""

        path: Path

    @dataclass
    class ForkRequested(Message):
        """Fork a run (the fork dialog's answer): the app makes it the studio's run and trains it."""

        request: ForkRequest

    @dataclass
    class MarksChanged(Message):
        """The runs marked for comparison changed (or one of them did on disk): their folders, in mark order."""

        paths: tuple[Path, ...]

    @dataclass
    class RunsRead(Message):
        """A worker read the runs folder."""

        folder: Path
        runs: list[RunSummary]

    def __init__(self, saves_dir: str | Path | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.saves_dir = saves.folder_or_default(saves_dir)
        self.runs: list[RunSummary] = []
        """Every run, newest first."""
        self.shown: list[RunSummary] = []
        """The runs the filter lets through, in table order."""
        self.marks: list[Path] = []
        """The marked runs' folders, in the order they were marked."""
        self.live_run: Path | None = None
        """The folder of the run the studio trains now (set by the app): drawn live, so never marked."""
        self.followed: Path | None = None
        """The folder of the run the studio follows (set by the app; then also `live_run`), trained by another process."""
        self.reads = 0
        self._stamps: dict[Path, tuple] = {}   # marked run -> what it looked like when last passed on
        self._catalogue = RunCatalogue()
        self._status = Status.IDLE
        self._opening_filter = False   # `/` was pressed and the filter box has not had the focus yet
        self._drawn_width = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-folder")
        yield Input(placeholder="filter: words every row shown must hold (enter: back to the table)",
                    id="runs-filter")
        table: DataTable = RunsTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        _add_columns(table)
        yield table
        yield Static("", id="runs-detail")
        yield Static("", id="runs-empty")

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._drawn_width and min(event.size.width, self._drawn_width) < WIDE:
            self._show()   # (names shortened to the width, or in full again)

    def on_mount(self) -> None:
        self._show_filter(False)
        self.set_interval(POLL_SECONDS, self._poll, name="runs-poll")
        self._show()
        self.refresh_runs()

    # ================================================================== reading
    def refresh_runs(self) -> None:
        """Read the runs folder again, in a worker (the table changes when it is done)."""
        self._read(self.saves_dir)

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def _read(self, folder: Path) -> None:
        worker = get_current_worker()
        runs = self._catalogue.read(folder, lambda: worker.is_cancelled)
        if runs is not None:
            self.post_message(self.RunsRead(folder, runs))

    def _poll(self) -> None:
        """Every POLL_SECONDS: read again while the pane is in view, or while a marked run is still training."""
        marked_running = any(r.path in self.marks and r.status == "running" for r in self.runs)
        if self.is_on_screen or marked_running:
            self.refresh_runs()

    def on_show(self) -> None:
        self.refresh_runs()

    def set_running(self, status: Status) -> None:
        """The studio's run started or ended: it is a new row, or its row changes."""
        before, self._status = self._status, status
        if before.busy != status.busy or before.ended != status.ended:
            self.refresh_runs()

    def set_folder(self, folder: Path) -> None:
        """Another saves folder (changed in the settings): its runs, none marked."""
        if folder != self.saves_dir:
            self.saves_dir, self.runs = folder, []
            self._set_marks([])
            self._show()
            self.refresh_runs()

    @on(RunsRead)
    def _runs_read(self, message: RunsRead) -> None:
        if message.folder != self.saves_dir:
            return
        self.reads += 1
        same = len(message.runs) == len(self.runs) and all(a is b for a, b in zip(message.runs, self.runs))
        if same:   # (the catalogue hands back the very summaries of runs that did not change)
            return
        self.runs = message.runs
        paths = {run.path for run in self.runs}
        changed = [p for p in self.marks if p not in paths or self._stamp(p) != self._stamps.get(p)]
        self._show()
        if changed:   # a marked run was deleted, or has trained on: the Monitor reads it again
            self._set_marks([p for p in self.marks if p in paths])

    def _stamp(self, path: Path) -> tuple | None:
        run = next((r for r in self.runs if r.path == path), None)
        return None if run is None else (run.epochs_done, run.shown_status, run.size)

    # ================================================================== the table
    @property
    def focus_target(self) -> DataTable:
        """What the keys go to when the pane is shown: the table (a filter in force stays, its box a `/` away)."""
        return self.query_one("#runs-table", DataTable)

    @property
    def selected(self) -> RunSummary | None:
        """The run under the cursor, if any."""
        table = self.query_one("#runs-table", DataTable)
        if not self.shown or not table.row_count:
            return None
        return self.shown[min(table.cursor_row, len(self.shown) - 1)]

    def _show(self) -> None:
        """The table as the runs, the filter and the marks now are (the cursor stays on its run)."""
        table = self.query_one("#runs-table", DataTable)
        keep = self.selected.path if self.selected else None
        words = self.query_one("#runs-filter", Input).value.lower().split()
        self.shown = [run for run in self.runs if all(word in row_words(run) for word in words)]
        table.clear(columns=True)   # (a column keeps the widest it has been: names shortened to a width would not be)
        _add_columns(table)
        self._drawn_width = self.size.width or self.app.size.width
        rows = [self._cells(run) for run in self.shown]
        width = self.size.width or self.app.size.width   # (a pane not shown yet has no size: the screen's)
        if width < WIDE:   # the names give way to what follows them, up to the status, whole
            after = sum(max((row[n].cell_len for row in rows), default=0) + CELL_PADDING for n in (0, 2, 3, 4, 5))
            cells = max(width - after - CELL_PADDING - SCROLLBAR, MIN_NAME)
            for row, run in zip(rows, self.shown):
                row[1] = cell(shown_name(run.name, cells), row[1].style)
        for row, run in zip(rows, self.shown):
            table.add_row(*row, key=str(run.path))
        paths = [run.path for run in self.shown]
        if keep in paths:
            table.move_cursor(row=paths.index(keep), animate=False)
        marked = f" · {len(self.marks)} marked" if self.marks else ""
        listed = f"{len(self.shown)} of {len(self.runs)}" if words else f"{len(self.runs)}"
        self.query_one("#runs-folder", Static).update(Text.assemble(   # (the counts first: a long path is cut)
            f"{listed} run{'' if len(self.runs) == 1 else 's'}{marked} in ",
            (str(saves.runs_folder(self.saves_dir)), "bold")))
        empty = self.query_one("#runs-empty", Static)
        empty.update(Text(f"No run matches \"{' '.join(words)}\" (escape clears the filter).") if self.runs else
                     Text.assemble("No runs yet in ", str(saves.runs_folder(self.saves_dir)),
                                   ".\nEvery run is kept here: press ", ("space", "bold"), " to train one, or run ",
                                   ("nnstudio train", "bold"), "; then mark runs here with ", ("m", "bold"),
                                   " to compare them in the Monitor."))
        empty.display = not self.shown
        appeared = bool(self.shown) and not table.display
        table.display = bool(self.shown)
        focused = self.app.focused
        if appeared and self.is_on_screen and (focused is None or self not in focused.ancestors):
            table.focus()   # (shown before the runs were read: the keys go to the table once it is there)
        self._show_detail()
        self.refresh_bindings()

    def _mark_cell(self, run: RunSummary) -> Text:
        mono = bool(getattr(self.app, "no_color", False))
        if run.path == self.live_run:
            return RUN_LOOKS[0].legend_key(mono)
        if run.path in self.marks:
            return mark_look(self.marks.index(run.path)).legend_key(mono)
        return Text("")

    def _cells(self, run: RunSummary) -> list[Text]:
        status = "pruned" if run.pruned else run.shown_status
        if run.path == self.live_run and run.status == "running":
            status = "followed" if run.path == self.followed else "running here"
        name = shown_name(run.name) if (self.size.width or self.app.size.width) < WIDE else run.name
        return [self._mark_cell(run), cell(name, "bold" if run.path in self.marks else ""),
                cell(optimizer_text(run)), cell(epochs_text(run), right=True), cell(best_text(run), right=True),
                cell(status, STATUS_STYLES.get(status, "")), cell(run.dataset or "—"), cell(run.model or "—"),
                cell(size_text(run.size), right=True)]

    @on(DataTable.RowSelected, "#runs-table")
    def _row_selected(self) -> None:
        """Enter on a row: compare."""
        self.action_compare()

    @on(DataTable.RowHighlighted, "#runs-table")
    def _show_detail(self) -> None:
        """Under the table, the selected run in full."""
        run, detail = self.selected, self.query_one("#runs-detail", Static)
        detail.display = run is not None
        if run is None:
            return
        text = Text.assemble((f"{run.path}\n", "dim"), f"{run.dataset or '—'} · {run.model or '—'} · ",
                             f"{optimizer_text(run)} · {run.epochs_done} epochs · best {best_text(run)} · "
                             f"{run.shown_status} · ",
                             size_text(run.size))
        if run.path == self.followed:
            text.append(f" · followed here, trained by {run.info.holder} (o stops following)", style="bold")
        elif run.path == self.live_run:
            text.append(" · the run being trained here", style="bold")
        elif run.status == "running":
            text.append(f" · trained by {run.info.holder}: o follows it", style="bold")
        fork = origins.fork_of(run.origin, run.history.runs[0].get("config") if run.history and run.history.runs else None)
        if fork is not None:
            text.append(f"\n{fork}")
        if (trial := origins.trial_of(run.origin)) is not None:
            text.append(f"\n{trial}")
        if run.pruned:
            text.append("\npruned: its checkpoints were deleted; it can be compared, not resumed or forked", style="dim")
        if run.notes:
            text.append(f"\n✗ {'; '.join(run.notes)}", style="red")
        detail.update(text)

    # ================================================================== keys
    def refusal(self, action: str) -> str | None:
        """Why a key of the pane cannot act now (None if it can): the footer greys it, a press says why."""
        rule = _RULES.get(action)
        return rule(self) if rule is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":   # (otherwise escape is the app's: leave the field)
            found = self.query("#runs-filter")
            return bool(found) and (bool(found.first(Input).value) or found.first(Input).has_focus)
        return None if self.refusal(action) is not None else True

    def _set_marks(self, marks: list[Path]) -> None:
        self.marks = list(marks)
        self._stamps = {path: self._stamp(path) for path in self.marks}
        self._show()
        self.post_message(self.MarksChanged(tuple(self.marks)))

    def action_mark(self) -> None:
        """Mark the selected run, or unmark it; then the cursor moves to the next run."""
        run = self.selected
        self._set_marks([p for p in self.marks if p != run.path] if run.path in self.marks else
                        [*self.marks, run.path])
        table = self.query_one("#runs-table", DataTable)
        table.move_cursor(row=min(table.cursor_row + 1, table.row_count - 1), animate=False)

    def action_compare(self) -> None:
        """Show the marked runs in the Monitor (the selected one marked first when none is)."""
        if not self.marks:   # (`_compare` let it act: the selected run can be marked)
            self._set_marks([self.selected.path])
        self.app.action_show_pane("monitor")

    def action_clear_marks(self) -> None:
        self._set_marks([])

    def action_fork(self) -> None:
        """The fork dialog for the selected run: its epoch, the settings to change."""
        def answered(request: ForkRequest | None) -> None:
            if request is not None:
                self.post_message(self.ForkRequested(request))

        self.app.push_screen(ForkScreen(self.selected), answered)

    def action_follow(self) -> None:
        """Follow the selected run (another process trains it), or stop following it."""
        self.post_message(self.FollowRequested(self.selected.path))

    def mark(self, path: Path) -> None:
        """Mark the run at `path` (a fork's parent, to see where they branch), unless it is already."""
        if path not in self.marks and len(self.marks) < MAX_COMPARED:
            self._set_marks([*self.marks, path])
            self.refresh_runs()   # (a run just begun may not be listed yet)

    def clear_marks(self) -> None:
        """Unmark every run (the Monitor's `c`)."""
        if self.marks:
            self._set_marks([])

    def _show_filter(self, shown: bool) -> None:
        """The filter box is there while a filter is typed or in force; hidden, it cannot take the focus (a
        focused text box would take every letter key)."""
        box = self.query_one("#runs-filter", Input)
        box.display, box.disabled = shown, not shown

    def action_filter(self) -> None:
        self._show_filter(True)
        self._opening_filter = True
        self.query_one("#runs-filter", Input).focus()

    def on_key(self, event: events.Key) -> None:
        """`/` opens the filter here, as the key arrives, and the letters typed right after it, before the box has
        the focus (it moves at the next refresh), go into the box all the same: "/sgd" typed in one burst (or
        pasted) filters by "sgd". (A binding would act only once the keys after it had gone to the table.)"""
        box = self.query_one("#runs-filter", Input)
        if box.has_focus:
            self._opening_filter = False
            return
        if event.key == "slash":
            self.action_filter()
            event.stop()
            event.prevent_default()
        elif self._opening_filter and event.is_printable and event.character:
            box.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()

    def action_clear_filter(self) -> None:
        self.query_one("#runs-filter", Input).value = ""
        self._show_filter(False)
        self.query_one("#runs-table", DataTable).focus()

    def action_refresh(self) -> None:
        self.refresh_runs()

    @on(Input.Changed, "#runs-filter")
    def _filter_typed(self) -> None:
        self._show()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self) -> None:
        self._show_filter(bool(self.query_one("#runs-filter", Input).value))
        self.query_one("#runs-table", DataTable).focus()


# ====================================================================== why a key cannot act
def _mark(pane: RunsPane) -> str | None:
    run = pane.selected
    if run is None:
        return "No run to mark: train one (space), or clear the filter (escape)." if pane.runs else \
            "No runs yet: train one (space) and it is listed here."
    if run.path in pane.marks:
        return None   # (unmarking always acts)
    if run.path == pane.live_run:
        return ("This is the run followed here" if run.path == pane.followed else "This is the run being trained "
                "here") + ": the Monitor draws it live, marked or not."
    if run.history is None:
        return f"{run.name} has no history to draw ({'; '.join(run.notes) or 'it is older than run histories'})."
    if len(pane.marks) >= MAX_COMPARED:
        return f"{MAX_COMPARED} runs are marked, as many as the plots tell apart: unmark one first (m)."
    return None


def _compare(pane: RunsPane) -> str | None:
    if pane.marks:
        return None
    return _mark(pane) or None


def _clear_marks(pane: RunsPane) -> str | None:
    return None if pane.marks else "No run is marked (m marks the selected one)."


def _fork(pane: RunsPane) -> str | None:
    run = pane.selected
    if run is None:
        return "No run to fork: train one (space), or clear the filter (escape)." if pane.runs else \
            "No runs yet: train one (space), then fork it from one of its epochs here."
    if pane._status.busy:
        return "Stop following (o) before forking: the fork becomes the run trained here." if pane.followed else \
            "Stop training (x) before forking: the fork becomes the run trained here."
    if run.info.latest is None:
        why = "its checkpoints were pruned" if run.pruned else "it has no epoch checkpoint (it ended before one)"
        return f"{run.name} cannot be forked: {why}; a fork starts from a checkpoint of one of its epochs."
    return None


def _follow(pane: RunsPane) -> str | None:
    run = pane.selected
    if run is None:
        return "No run to follow: start one in the background (nnstudio train --detach), or clear the filter." \
            if pane.runs else "No runs yet: start one in the background (nnstudio train --detach) to follow it here."
    if run.path == pane.followed:
        return None   # (stop following)
    if run.path == pane.live_run and run.status == "running":
        return "This is the run being trained here: the Monitor shows it live."
    if run.status != "running":
        return (f"{run.name} is not training ({run.status}): o follows a run another process trains "
                "(nnstudio train --detach); enter compares it.")
    if pane._status.busy and pane.followed is None:
        return "Stop training (x) before following another run: the Monitor shows one run at a time."
    return None


_RULES = {"mark": _mark, "compare": _compare, "clear_marks": _clear_marks, "fork": _fork, "follow": _follow}
