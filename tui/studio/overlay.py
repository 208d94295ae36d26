"""Which runs an overlay draws, how each looks, what names it, and what it leaves out and why; and the line above
the Monitor's plots that names them (`ComparedRuns`, which reads the marked runs' histories in a worker).

    overlay = arrange(current, marked)       # marked: RunCurves, or why a run's history could not be read
    overlay.shown                            # [Shown(curves, look, label)], the current run first
    overlay.left_out                         # [("moons-mlp-...", "data set moons, not spirals")]
    legend(overlay, width, mono)             # the line above the plots that names the runs
    left_out_text(overlay)                   # the line under it: the runs not drawn, and why

Runs compare only with runs of the same kind: the same data set and, where known, the same task
(the loss of a regression run is not a classifier's, and it has no accuracy). The kind is the
current run's when it has anything to show, else the one most marked runs share; a run of another
kind is named as left out, with its kind, rather than drawn.

Each marked run has the look of its place among the marks (`RUN_LOOKS[1:]`, so the Runs pane's
mark column shows the same key); the current run has the first look. Labels say what differs
between the runs drawn (`curves.labels`: "lr 0.01" / "lr 0.1"), else when each started; a fork's label
says whose fork it is and where it branched ("lr 0.01 (fork of lr 0.1 at epoch 5)": the parent by its
label when it is drawn too, else by its run's name).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from nnstudio import saves

from ..run.curves import CurveCache, RunCurves, labels
from ..run.origins import trial_of
from .monitor_plots import Shown
from .plots import RUN_LOOKS, SeriesLook, legend_text

#: what the current run is called beside its label
THIS_RUN = "this run"


def mark_look(index: int) -> SeriesLook:
    """The look of the `index`-th marked run (0-based), the same in the plots and in the Runs pane."""
    return RUN_LOOKS[1 + index % (len(RUN_LOOKS) - 1)]


@dataclass
class Overlay:
    """The runs an overlay draws (`shown`, the current run first if it has anything to show) and those it
    does not (`left_out`: run name, why)."""

    shown: list[Shown] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)
    has_accuracy: bool = True


def _kind_text(curves: RunCurves) -> str:
    return " ".join(part for part in (curves.dataset and f"data set {curves.dataset}", curves.task) if part) or \
        "unknown data"


def _same_kind(a: RunCurves, b: RunCurves) -> bool:
    if a.dataset and b.dataset and a.dataset != b.dataset:
        return False
    return not (a.task and b.task and a.task != b.task)


def _started(curves: RunCurves) -> str:
    """When a run started, to tell apart runs whose settings are the same ("started 13:02")."""
    try:
        return "started " + datetime.fromisoformat(curves.started or "").astimezone().strftime("%m-%d %H:%M:%S")
    except ValueError:
        return curves.name


def arrange(current: RunCurves | None, marked: list[RunCurves | tuple[str, str]]) -> Overlay:
    """The overlay of `current` (None: nothing to show yet) and the marked runs, in mark order; a marked run whose
    history could not be read is given as (name, why)."""
    readable = [(i, c) for i, c in enumerate(marked) if isinstance(c, RunCurves)]
    overlay = Overlay(left_out=[(c[0], c[1]) for c in marked if not isinstance(c, RunCurves)])
    if current is not None:
        reference = current
    elif readable:
        kinds = Counter(c.kind for _, c in readable)
        reference = next(c for _, c in readable if kinds[c.kind] == max(kinds.values()))
    else:
        return overlay
    drawn = [(i, c) for i, c in readable if _same_kind(c, reference)]
    for _, c in readable:
        if not _same_kind(c, reference):
            overlay.left_out.append((c.name, f"{_kind_text(c)}, not {_kind_text(reference).removeprefix('data set ')}"))
    runs = ([current] if current is not None else []) + [c for _, c in drawn]
    names = labels([c.config for c in runs], [THIS_RUN if c is current else _started(c) for c in runs])
    trials = [trial_of(c.origin) for c in runs if c is not current]
    if trials and all(t is not None and t.label and t.sweep == trials[0].sweep for t in trials):
        # one sweep's trials: named by what the sweep varied ("sigmoid ×8, He", not "model 3")
        labelled = iter(t.label for t in trials)
        names = [name if c is current else next(labelled) for c, name in zip(runs, names)]
    by_run = {c.name: name for c, name in zip(runs, names) if c is not current}
    notes = [_fork_note(c, by_run) for c in runs]
    if current is not None:   # "lr 0.03 (this run)"; alike in what is named: "this run"
        name, note = names.pop(0).removesuffix(f" · {THIS_RUN}"), notes.pop(0)
        said = ", ".join(part for part in (THIS_RUN, note) if part)
        overlay.shown.append(Shown(current, RUN_LOOKS[0], said if name == THIS_RUN else f"{name} ({said})"))
    overlay.shown += [Shown(c, mark_look(i), f"{name} ({note})" if note else name)
                      for (i, c), name, note in zip(drawn, names, notes)]
    overlay.has_accuracy = reference.has_accuracy
    return overlay


def _fork_note(curves: RunCurves, by_run: dict[str, str]) -> str:
    """"fork of lr 0.003 at epoch 5" for a fork: its parent by its label when the parent is drawn too, else by
    its run's name; "" for any other run."""
    if curves.fork is None:
        return ""
    parent, epoch = curves.fork
    return f"fork of {by_run.get(parent, parent)} at epoch {epoch}"


def legend(overlay: Overlay, width: int, mono: bool) -> Text:
    """"comparing  ━ lr 0.03 (this run)  ━ lr 0.01"."""
    return legend_text("comparing", [(s.look, s.label) for s in overlay.shown], width, mono)


def left_out_text(overlay: Overlay) -> Text:
    """"not drawn: moons-mlp-... (data set moons classification, not spirals)"; empty when every run is drawn."""
    text = Text()
    if overlay.left_out:
        text.append("not drawn: ", style="bold")
        text.append("; ".join(f"{name} ({why})" for name, why in overlay.left_out), style="dim")
    return text


class ComparedRuns(Vertical):
    """The lines above the plots naming the runs compared, and under them the marked runs not drawn and why (a line
    of its own, so that runs named at length never push it out of sight); it reads their histories (in a
    thread worker, and again only for files that changed: `CurveCache`) and says once in a notification
    which runs it leaves out."""

    @dataclass
    class Read(Message):
        """The marked runs' histories were read: their curves, or (name, why) for one that could not be."""

        paths: tuple[Path, ...]
        curves: list

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.paths: tuple[Path, ...] = ()
        """The run folders marked for comparison, in mark order."""
        self.reads = 0
        self._read: tuple[tuple[Path, ...], list] = ((), [])
        self._cache = CurveCache()
        self._told: set[tuple[str, str]] = set()
        self._shown_text: tuple[str, str] | None = None
        self._arranged: tuple | None = None   # (runs read, what else it depends on, the overlay, the current run)

    def compare(self, paths: list[Path]) -> None:
        """Compare these runs ([]: none): their histories are read in a worker, then `Read` is posted."""
        self.paths = tuple(Path(p) for p in paths)
        if not self.paths:
            self._told.clear()
        else:
            self._read_histories(self.paths)

    @work(thread=True, exclusive=True, group="overlay", exit_on_error=False)
    def _read_histories(self, paths: tuple[Path, ...]) -> None:
        worker, read = get_current_worker(), []
        for path in paths:
            if worker.is_cancelled:
                return
            try:
                read.append(self._cache.get(path))
            except saves.SaveError as error:
                read.append((path.name, str(error)))
        self.post_message(self.Read(paths, read))

    @on(Read)
    def _have_read(self, message: Read) -> None:
        """Keep what was read (unless the marks changed meanwhile: that read is coming); the Monitor, to which
        the message goes on, draws it."""
        if message.paths != self.paths:
            message.stop()
            return
        self._read = (message.paths, message.curves)
        self.reads += 1

    def overlay(self, current: RunCurves | None, live_run: Path | None) -> Overlay | None:
        """The overlay of the current run and the marked ones (the current run's own folder left out: it is drawn
        live); None when no run is marked. Arranged again only when what names the runs may have changed: the
        runs read, or the current run's kind, settings or whether it has an accuracy (not its figures)."""
        if not self.paths:
            return None
        paths, read = self._read
        about = None if current is None else (current.kind, id(current.config), current.has_accuracy)
        key = (self.paths, live_run, about)
        if self._arranged is not None and self._arranged[0] is read and self._arranged[1] == key and \
                (current is None or self._arranged[3].config is current.config):
            was, overlay = self._arranged[3], self._arranged[2]
            return Overlay([replace(s, curves=current) if s.curves is was else s for s in overlay.shown],
                           overlay.left_out, overlay.has_accuracy)
        overlay = arrange(current, [curves for path, curves in zip(paths, read) if path in self.paths and
                                    path != live_run])
        self._arranged = (read, key, overlay, current)
        return overlay

    def compose(self) -> ComposeResult:
        yield Static(id="overlay-runs")
        yield Static(id="overlay-left-out")

    def show(self, overlay: Overlay | None, width: int, mono: bool) -> None:
        """Name the runs compared (hidden when none is) and those not drawn and why; say the latter once each in a
        notification too."""
        self.display = overlay is not None
        if overlay is None:
            return
        text, left_out = legend(overlay, width, mono), left_out_text(overlay)
        if not self.reads:
            text, left_out = Text("comparing: reading the marked runs' histories...", style="dim"), Text()
        if (text.plain, left_out.plain) != self._shown_text:
            self._shown_text = (text.plain, left_out.plain)
            self.query_one("#overlay-runs", Static).update(text)
            line = self.query_one("#overlay-left-out", Static)
            line.display = bool(left_out.plain)
            line.update(left_out)
        news = [left for left in overlay.left_out if left not in self._told]
        if news:
            self._told.update(news)
            self.notify("; ".join(f"{name}: {why}" for name, why in news), title="Not compared",
                        severity="warning", timeout=10, markup=False)
