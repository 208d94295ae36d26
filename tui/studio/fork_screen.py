"""The fork dialog (Runs pane, f): a run continued from one of its kept epochs with changed settings.

"What if I had lowered the learning rate at epoch 5?": pick the epoch (its latest kept one
first), type the new learning rate, press enter. The fields start at the parent's settings at
that epoch (read from its checkpoint's header, so a learning rate changed live is the one it
had then); what differs from them is what the fork changes, said as it is typed ("lr 0.1 →
0.01"). Each field is checked as it is typed by the setting's own rules (`Setting.parse`, then
`RunConfig.replace` for the rules between settings), the same as the Settings pane and the
command line's `--fork` flags. The dialog returns a `ForkRequest`; the app makes the fork the
studio's run (`SessionRunner.fork`) and trains it, its parent overlaid in the Monitor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static


from ..run import SessionError, saved_config
from ..run.config import ConfigError, RunConfig, flat_settings, setting_at
from ..run import origins
from ..run import forking
from ..run.forking import changes
from ..run.runs import RunSummary
from .cells import value_text

#: the settings a fork changes most (dotted path, label); others: `nnstudio train --fork RUN@EPOCH --flag ...`
FIELDS = (("optimizer.name", "optimizer"), ("optimizer.lr", "learning rate"), ("optimizer.momentum", "momentum"),
          ("optimizer.weight_decay", "weight decay"), ("training.batch_size", "batch size"),
          ("training.epochs", "epochs in all"))



@dataclass(frozen=True)
class ForkRequest:
    """Fork `run_dir` from its checkpoint of `epoch`, changing `changed` ({dotted path: value})."""

    run_dir: Path
    name: str
    epoch: int
    changed: dict[str, Any]


def field_id(path: str) -> str:
    return "fork-" + path.replace(".", "-").replace("_", "-")


def change_text(changed: dict[str, Any], before: dict[str, Any]) -> str:
    """ "lr 0.1 → 0.01, batch 64 → 128": what a fork changes from the settings `before` ({dotted path: value})."""
    return ", ".join(origins.change_text(path, before.get(path), value) for path, value in changed.items())


class ForkScreen(ModalScreen["ForkRequest | None"]):
    """Choose the epoch and the changed settings of a fork; dismiss with a ForkRequest, or None (escape)."""

    DEFAULT_CSS = Path(__file__).with_name("fork_screen.tcss").read_text(encoding="utf-8")
    HELP_TITLE = "Fork"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="fork.cancel", tooltip="Close without forking")]

    def __init__(self, run: RunSummary) -> None:
        super().__init__()
        self.run = run
        self.kept = forking.kept_checkpoints(run.path)
        """The epochs the run keeps a checkpoint of: those a fork can start from."""
        self.parent_config: RunConfig | None = None
        """The parent's settings at the chosen epoch (None: its checkpoint could not be read)."""
        self.problem: str | None = None
        self.changed: dict[str, Any] = {}
        self._filled: dict[str, Any] = {}   # each field's value as the parent's settings filled it in

    # ================================================================== drawing
    def compose(self) -> ComposeResult:
        with Vertical(id="fork-dialog"):
            yield Static(Text.assemble("Fork ", (self.run.name, "bold")), id="fork-title")
            yield Static("Go on from one of its epochs with changed settings, as a new run beside it.",
                         id="fork-about")
            with Horizontal(classes="fork-row"):
                yield Label("from epoch", classes="fork-name")
                yield Select(self._epoch_options(), value=max(self.kept), allow_blank=False, compact=True,
                             id="fork-epoch")
            for path, label in FIELDS:
                with Horizontal(classes="fork-row"):
                    yield Label(label, classes="fork-name")
                    setting = setting_at(path)
                    if setting.choices:
                        yield Select([(c, c) for c in setting.choices], allow_blank=False, compact=True,
                                     value=setting.default, id=field_id(path))
                    else:
                        yield Input(compact=True, id=field_id(path), select_on_focus=True)
            yield Static("", id="fork-changes")
            with Horizontal(id="fork-buttons"):
                yield Button("Fork and train (enter)", variant="primary", id="fork-go")
                yield Button("Cancel (escape)", id="fork-cancel")

    def _epoch_options(self) -> list[tuple[str, int]]:
        """ "10 · last", "7 · best val acc 97.4%": each kept epoch, with what it scored."""
        scores = {e.get("epoch"): e for e in (self.run.history.epochs if self.run.history else [])}
        last, best = max(self.kept), self.run.best_epoch
        options = []
        for epoch in sorted(self.kept, reverse=True):
            tags = [tag for tag, at in (("last", last), ("best", best)) if at == epoch]
            score = scores.get(epoch, {}).get(self.run.best_metric)
            if isinstance(score, (int, float)):
                tags.append(f"val acc {score:.2%}" if self.run.best_metric == "val_acc" else f"val loss {score:.4g}")
            options.append((" · ".join([str(epoch), *tags]), epoch))
        return options

    def on_mount(self) -> None:
        self._read_parent(self.epoch)
        self.query_one(f"#{field_id('optimizer.lr')}", Input).focus()

    @property
    def epoch(self) -> int:
        return int(self.query_one("#fork-epoch", Select).value)

    # ================================================================== the parent, the fields
    def _read_parent(self, epoch: int) -> None:
        """The parent's settings at `epoch` fill the fields (a header read: milliseconds)."""
        try:
            self.parent_config = saved_config(self.kept[epoch])
        except SessionError as error:
            self.parent_config, self.problem = None, f"Epoch {epoch}'s checkpoint cannot be read: {error}"
            self._show()
            return
        with self.prevent(Input.Changed, Select.Changed):
            for path, _ in FIELDS:
                value = self.parent_config.get(path)
                if path == "training.epochs":
                    value = forking.planned_epochs(value, epoch)   # (its plan done by then, a fork trains on)
                widget = self.query_one(f"#{field_id(path)}")
                if path in self._filled and widget.value != self._filled[path]:
                    continue   # typed by the user: kept
                if isinstance(widget, Select):
                    widget.value = value
                else:
                    widget.value = value_text(value)
                    if widget.has_focus:
                        widget.select_all()   # (as when it took the focus: typing replaces the parent's value)
                self._filled[path] = widget.value
        self._check()

    def _check(self) -> None:
        """What the fields change from the parent, or the first problem with them."""
        self.changed, self.problem = {}, None
        if self.parent_config is None:
            return
        typed: dict[str, Any] = {}
        for row in self.query(".fork-row"):
            row.remove_class("-invalid")
        for path, label in FIELDS:
            widget = self.query_one(f"#{field_id(path)}")
            try:
                typed[path] = widget.value if isinstance(widget, Select) else setting_at(path).parse(widget.value)
            except ConfigError as error:
                widget.parent.add_class("-invalid")
                self.problem = f"{label}: {error.problem}"
                break
        if self.problem is None:
            try:
                config = self.parent_config.replace(**typed)
            except ConfigError as error:
                self.problem = str(error)
            else:
                self.changed = changes(self.parent_config, config)
                if config.training.epochs <= self.epoch:
                    self.problem = (f"epochs in all: the fork starts after epoch {self.epoch}, so it must plan more "
                                    f"(e.g. {self.epoch + forking.EXTRA_EPOCHS})")
        self._show()

    def _show(self) -> None:
        line = self.query_one("#fork-changes", Static)
        self.query_one("#fork-go", Button).disabled = self.problem is not None
        if self.problem is not None:
            line.update(Text(f"✗ {self.problem}", style="bold red"))
        elif self.changed:
            before = flat_settings(self.parent_config.portable_dict())
            line.update(Text.assemble("changes: ", (change_text(self.changed, before), "bold")))
        else:
            line.update(Text(f"no change: it trains epochs {self.epoch + 1}-{self.parent_config.training.epochs} "
                             "again exactly as its parent did (same data order and seed)", style="dim"))

    @on(Select.Changed, "#fork-epoch")
    def _epoch_chosen(self) -> None:
        self._read_parent(self.epoch)

    @on(Input.Changed)
    @on(Select.Changed)
    def _field_changed(self, event: Input.Changed | Select.Changed) -> None:
        if event.control.id != "fork-epoch":
            self._check()

    # ================================================================== answers
    @on(Input.Submitted)
    @on(Button.Pressed, "#fork-go")
    def action_fork(self) -> None:
        """Enter in a field, or the button: fork, unless a field is wrong (it says what)."""
        self._check()
        if self.problem is None and self.epoch not in forking.kept_checkpoints(self.run.path):
            self._epoch_gone()
        if self.problem is not None:
            self.app.bell()
            return
        self.dismiss(ForkRequest(self.run.path, self.run.name, self.epoch, dict(self.changed)))

    def _epoch_gone(self) -> None:
        """The chosen epoch's checkpoint was deleted since the dialog opened (the run trains on elsewhere and keeps
        only its last few): the epochs it keeps now are offered, the fields as typed."""
        gone = self.epoch
        self.kept = forking.kept_checkpoints(self.run.path)
        if not self.kept:
            self.problem = f"{self.run.name} keeps no checkpoint any more (it was pruned): it cannot be forked"
        else:
            select = self.query_one("#fork-epoch", Select)
            with self.prevent(Select.Changed):
                select.set_options(self._epoch_options())
                select.value = max(self.kept)
            self._read_parent(self.epoch)
            self.problem = (f"epoch {gone}'s checkpoint was deleted as the run trained on (it keeps its last few "
                            f"and its best): epoch {self.epoch} is chosen now; enter forks from it")
        self._show()

    @on(Button.Pressed, "#fork-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
