"""Pane 7, sweeps: the studio's set-up trained many times with settings varied, the trials ranked as they end.

    ctrl+r run the sweep (again: stop it)    b use the best trial's settings    enter show a trial's run

Up to three settings are varied, each with its values as the command line takes them (`1e-3,1e-2`,
`1e-4..1e-1:4`: `nnstudio.tui.run.sweeps`); every other setting is the studio's own (its Model and
Settings panes). What would run is said as it is typed ("8 trials: 4 lr × 2 optimizer"), or the
first problem with it. The trials train in processes of their own (`LocalExecutor`, "at once" of
them side by side), each a kept run: as each starts it is marked in the Runs pane, so the Monitor
overlays the trials as they train. The table ranks them by validation accuracy (validation loss
without classes) as they end; `b` makes the best one's settings the studio's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Label, Select, Static

from ..run.arguments import CONFIG_FLAGS, UsageError
from ..run.config import ConfigError, RunConfig
from ..run.executors import LocalExecutor
from ..run.experiments import EXPERIMENTS, Experiment
from ..run.sweep_folder import Sweep
from ..run.sweeps import NOT_SWEPT, SweepPlan, axis, plan_sweep
from .cells import cell
from .messages import ConfigChanged
from .plots import MAX_COMPARED
from .sweep_texts import changes_text, form_words, shared_text

#: the settings a sweep may vary, as the command line names them (its flags), in its order
SWEPT = tuple(f.option for f in CONFIG_FLAGS if f.option not in NOT_SWEPT) + ("--model",)
#: rows of the form: settings varied at once
AXES = 3
#: seconds a closing studio waits for a sweep's trials to stop (each writes its checkpoint first)
STOP_WAIT = 30.0
#: how many trials train side by side (one per core is the most that helps)
WORKERS = (1, 2, 3, 4)
EXAMPLES = {"--lr": "1e-4..1e-1:4 or 1e-3,1e-2", "--optimizer": "sgd,adam", "--model": "logreg,mlp",
            "--batch-size": "32,64,128", "--weight-decay": "0,1e-4,1e-3", "--momentum": "0.5,0.9,0.99"}


@dataclass
class TrialNews(Message):
    """A trial's news, from the sweep's thread: started (its run), an epoch, a retry, its result."""

    number: int
    record: dict


@dataclass
class SweepEnded(Message):
    """The sweep's thread is done (every trial ended, or it was stopped)."""

    sweep: Sweep
    stopped: bool


class _Stop:
    """How far the sweep is asked to stop (0, 1 with checkpoints, 2 at once), and whether its thread is done."""

    def __init__(self) -> None:
        self.level = 0
        self.done = threading.Event()


class SweepPane(Vertical):
    """Vary settings of the studio's set-up; train the trials; rank them; take the best."""

    HELP_TITLE = "Sweep"
    DEFAULT_CSS = Path(__file__).with_name("sweep_pane.tcss").read_text(encoding="utf-8")
    BINDINGS = [
        Binding("ctrl+r", "run_sweep", "Run sweep", id="sweep.run",
                tooltip="Train every trial the form describes (again while it runs: stop it, with checkpoints)"),
        Binding("b", "use_best", "Use best", id="sweep.best",
                tooltip="Make the best trial's settings the studio's (the Model and Settings panes)"),
        Binding("escape", "to_table", "Leave the field", show=False, id="sweep.leave",
                tooltip="Leave the form for the trials' table, where ctrl+r, b and the studio's keys act"),
    ]

    config: reactive[RunConfig | None] = reactive(None, init=False)
    """The studio's run config (set by the app): the base every trial changes."""

    @dataclass
    class MarkRun(Message):
        """A trial's run started: the Runs pane marks it, so the Monitor overlays it (the sweep's first in place of
        the runs marked before: the overlay is the sweep's)."""

        run: str
        first: bool = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.plan: SweepPlan | None = None
        self.problem: str | None = None
        self.sweep: Sweep | None = None
        self.progress: dict[int, dict] = {}   # trial number -> its latest epoch record
        self._noticed: set[str] = set()        # the trials' notices said in this sweep
        self._marked = 0                         # its trials marked for the Monitor so far
        self._taking: tuple | None = None        # (trial, config, what it changes) `b` asked the studio to take
        self._stop = _Stop()
        self._last: Sweep | None = None   # the sweep that ran last (its best is `b`'s)

    # ================================================================== drawing
    def compose(self) -> ComposeResult:
        with Horizontal(classes="sweep-row"):
            yield Label("lesson", classes="sweep-name")
            yield Select([(f"{e.name}: {e.title}", e.name) for e in EXPERIMENTS.values()], compact=True,
                         prompt="(none: vary the settings below)", id="sweep-experiment")
        yield Static("", id="sweep-base")
        for n in range(AXES):
            with Horizontal(classes="sweep-row sweep-own"):
                yield Label("vary" if n == 0 else "and", classes="sweep-name")
                yield Select([(o.lstrip("-"), o) for o in SWEPT], prompt="(nothing)", compact=True,
                             value="--lr" if n == 0 else Select.NULL, id=f"sweep-setting-{n}")
                yield Input(compact=True, id=f"sweep-values-{n}", placeholder="values, e.g. " + EXAMPLES["--lr"],
                            value="1e-4..1e-1:4" if n == 0 else "")
        with Horizontal(classes="sweep-row"):
            yield Label("trials", classes="sweep-name sweep-own")
            yield Input(compact=True, id="sweep-trials", placeholder="all (the grid); or N drawn at random",
                        classes="sweep-own")
            yield Label("at once", classes="sweep-name sweep-workers-label")
            yield Select([(str(n), n) for n in WORKERS], value=1, allow_blank=False, compact=True, id="sweep-workers")
        yield Static("", id="sweep-plan")
        table: DataTable = DataTable(id="sweep-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="sweep-hint")

    def on_mount(self) -> None:
        self._check()

    def watch_config(self) -> None:
        self._check()
        if self._taking is not None and self.config is not None and changes_text(self.config, self._taking[1]) is None:
            trial, _, said = self._taking
            self._taking = None
            self._hint(f"The studio's settings are now trial {trial.number}'s ({trial.label}): {said}.")

    @property
    def focus_target(self):
        """What the keys go to when the pane is shown: the trials' table (b, enter, ctrl+r, and the studio's keys:
        space, the pane digits); tab reaches the form."""
        return self.query_one("#sweep-table", DataTable)

    # ================================================================== the form
    def _axes_typed(self) -> list[tuple[str, str]]:
        typed = []
        for n in range(AXES):
            option = self.query_one(f"#sweep-setting-{n}", Select).value
            values = self.query_one(f"#sweep-values-{n}", Input).value.strip()
            if option is not Select.NULL and values:
                typed.append((str(option), values))
        return typed

    def _trials_typed(self) -> str:
        return self.query_one("#sweep-trials", Input).value.strip()

    @property
    def experiment(self) -> Experiment | None:
        """The ready-made experiment chosen, if one is (its trials replace the rows of the form)."""
        chosen = self.query_one("#sweep-experiment", Select).value
        return EXPERIMENTS.get(chosen) if isinstance(chosen, str) else None

    def _experiment_base(self, exp: Experiment) -> RunConfig:
        """An experiment's shared settings, trained where the studio's runs are (and on its data folder when the
        experiment's data set is the studio's)."""
        base = exp.base_config().replace(**{"checkpoints.folder": self.config.checkpoints.folder})
        if base.data.name == self.config.data.name and self.config.data.data_dir:
            base = base.replace(**{"data.data_dir": self.config.data.data_dir})
        return base

    def _check(self) -> None:
        """What the form would run (`plan`), or the first problem with it."""
        self.plan, self.problem = None, None
        if self.config is None:
            return
        exp = self.experiment
        focused = self.app.focused if self.is_mounted else None
        for widget in self.query(".sweep-own"):   # (a lesson's trials are its own: the form's rows go)
            widget.display = exp is None
        if exp is not None and (focused is None or (self in focused.ancestors and not focused.is_on_screen)):
            self.query_one("#sweep-experiment", Select).focus()   # (keys reach the pane: ctrl+r runs the lesson)
        if exp is not None:
            try:
                self.plan = exp.plan(self._experiment_base(exp))
            except (UsageError, ConfigError) as error:
                self.problem = str(error)
            self._show_plan()
            return
        try:
            axes = [axis(option, values) for option, values in self._axes_typed()]
            trials_text = self._trials_typed()
            trials = None
            if trials_text:
                if not trials_text.isdigit():
                    raise UsageError(f"trials: a whole number, or nothing for the whole grid; got {trials_text!r}")
                trials = int(trials_text)
            self.plan = plan_sweep(self.config, axes, trials=trials, seed=self.config.training.seed)
        except (UsageError, ConfigError) as error:
            self.problem = form_words(str(error))
        self._show_plan()

    def _show_plan(self) -> None:
        line = self.query_one("#sweep-plan", Static)
        c, exp = self.config, self.experiment
        if exp is not None:
            shared = shared_text(self.plan.base, exp.varied) if self.plan is not None else ""
            self.query_one("#sweep-base", Static).update(Text.assemble(
                (exp.lesson, "bold"), f" Look at {exp.look_at}.",
                (f"\nEvery trial: {shared}." if shared else "", "dim")))
        elif c is not None:
            self.query_one("#sweep-base", Static).update(Text.assemble(
                "Every trial trains the studio's set-up: ",
                (f"{c.data.name} · {c.model.preset if c.model.spec is None else 'custom'} · {c.optimizer.name} "
                 f"lr {c.optimizer.lr:g} · {c.training.epochs} epochs", "bold"), ", with:"))
        if self.problem is not None:
            line.update(Text(f"✗ {self.problem}", style="bold red"))
        elif self.plan is not None:
            if exp is not None:
                sizes = "; ".join(trial.label for trial in self.plan.trials)
            elif self.plan.axes and all(a.values for a in self.plan.axes) and not self._trials_typed():
                sizes = " × ".join(f"{len(a.values)} {a.option.lstrip('-')}" for a in self.plan.axes
                                   if len(a.values) > 1)
                sizes += "".join(f", {a.option.lstrip('-')} {a.texts[0]} in each" for a in self.plan.axes
                                 if len(a.values) == 1)
            else:
                sizes = "drawn at random from " + ", ".join(a.option.lstrip("-") for a in self.plan.axes)
            line.update(Text.assemble((f"{len(self.plan.trials)} trials", "bold"), f": {sizes}",
                                      ("  ctrl+r runs them", "dim")))
        self.refresh_bindings()

    @on(Input.Changed)
    @on(Select.Changed)
    def _form_changed(self) -> None:
        if self.sweep is None and self.has_class("-with-results"):   # (another plan: the last one's table goes)
            self._table()
        self._check()

    # ================================================================== running
    def action_run_sweep(self) -> None:
        if self.sweep is not None:   # running: stop it
            self._stop.level = min(2, self._stop.level + 1)
            self._hint("Stopping: each running trial stops at its next batch, with a checkpoint "
                       f"(nnstudio sweep --resume {self.sweep.name} finishes it).")
            return
        folder = self.config.checkpoints.folder
        self.sweep = Sweep.create(self.plan, folder, workers=self._workers())   # (sweep --resume trains as many)
        self.progress, self._noticed, self._marked = {}, set(), 0
        self._stop = _Stop()
        self._table()
        shown = len(self.plan.trials) if len(self.plan.trials) <= MAX_COMPARED else \
            f"the first {MAX_COMPARED} of its trials (as many as the plots tell apart; mark others in 6 Runs)"
        self._hint(f"Sweep {self.sweep.name}: its trials train {self._workers()} at a time; ctrl+r stops it. "
                   f"3 Monitor overlays {'them' if isinstance(shown, int) else shown}, in place of the runs marked "
                   "before.")
        self._train(self.sweep, self._workers(), self._stop)
        self.query_one("#sweep-table", DataTable).focus()   # (the keys are the studio's again: 3 shows the Monitor)
        self.refresh_bindings()

    def action_to_table(self) -> None:
        """esc: out of the form, to the table (the pane's keys and the studio's act there; focus on nothing would
        take them all away)."""
        self.focus_target.focus()

    def _workers(self) -> int:
        return int(self.query_one("#sweep-workers", Select).value)

    @work(thread=True, exclusive=True, group="sweep", exit_on_error=False)
    def _train(self, sweep: Sweep, workers: int, stop: _Stop) -> None:
        try:
            sweep.run(LocalExecutor(workers), lambda n, r: self.post_message(TrialNews(n, r)), stop)
        finally:
            stop.done.set()
            self.post_message(SweepEnded(sweep, stop.level > 0))

    def on_unmount(self) -> None:
        """The studio is closing: a sweep under way stops its trials (each with a checkpoint: `nnstudio sweep
        --resume` finishes it), rather than leave processes training that nothing watches."""
        if self.sweep is not None:
            self._stop.level = max(self._stop.level, 1)
            self._stop.done.wait(STOP_WAIT)

    @on(TrialNews)
    def _trial_news(self, message: TrialNews) -> None:
        if not self.app.is_running:   # (closing: the trials' last news goes to their sweep's journal only)
            return
        record = message.record
        if record.get("kind") == "epoch":
            self.progress[message.number] = record
        elif record.get("kind") == "started" and record.get("run"):
            self.post_message(self.MarkRun(record["run"], first=not self._marked))
            self._marked += 1
        elif record.get("kind") == "notice" and (text := str(record.get("text"))) not in self._noticed:
            self._noticed.add(text)   # (every trial on the embedded digits says so: said once a sweep)
            self.notify(text, title=f"Sweep, trial {message.number}", severity="warning", timeout=10, markup=False)
        self._table()

    @on(SweepEnded)
    def _ended(self, message: SweepEnded) -> None:
        if message.sweep is not self.sweep:
            return
        self.sweep = None
        best = message.sweep.ranked()[0]
        said = [f"Best: trial {best[0].number} ({best[0].label}); b uses its settings."] if best[1] else []
        exp = EXPERIMENTS.get(message.sweep.plan.experiment or "")
        if message.stopped and message.sweep.tasks():
            said.append(f"nnstudio sweep --resume {message.sweep.name} finishes it.")
        elif exp is not None:
            said.append(exp.reading)
        self._hint(" ".join(["Stopped." if message.stopped else "Done.", *said]))
        self._last = message.sweep
        self._table(message.sweep)
        self.refresh_bindings()

    # ================================================================== the table
    def _table(self, sweep: Sweep | None = None) -> None:
        sweep = sweep or self.sweep
        table = self.query_one("#sweep-table", DataTable)
        table.clear(columns=True)
        self.set_class(sweep is not None, "-with-results")
        if sweep is None:
            return
        varied = sweep.plan.varied
        for heading in ("#", *(a.option.lstrip("-") for a in sweep.plan.axes), "status", "epoch", "best"):
            table.add_column(heading)
        for rank, (trial, result) in enumerate(sweep.ranked(), 1):
            result = result or {}
            status = result.get("status") or ("training" if trial.number in sweep.runs else "queued")
            epoch = self.progress.get(trial.number, {})
            shown = f"{epoch.get('epoch', '')}/{epoch.get('epochs', '')}" if epoch else str(result.get("epochs", ""))
            table.add_row(cell(str(trial.number), right=True), *(cell(trial.texts.get(p, "")) for p in varied),
                          cell(status.replace("_", " ")), cell(shown, right=True), cell(_score(result)),
                          key=str(trial.number))

    def _hint(self, text: str) -> None:
        self.query_one("#sweep-hint", Static).update(Text(text, style="dim"))

    # ================================================================== taking the best
    def action_use_best(self) -> None:
        trial, _ = self._last.ranked()[0]
        if trial.baseline is not None:
            self._hint(f"The best, trial {trial.number} ({trial.label}), is not a network the studio trains: its "
                       "run is kept in 6 Runs.")
            return
        config = self._last.plan.config(trial).replace(**{"checkpoints.folder": self.config.checkpoints.folder})
        said = changes_text(self.config, config)
        if said is None:
            self._hint(f"The studio's settings are trial {trial.number}'s ({trial.label}) already.")
            return
        if (refused := self.app.runner.refusal(self.config, config)) is not None:
            self._hint(f"Not taken: trial {trial.number}'s settings ({trial.label}) would change {said}. {refused}")
            return
        self._taking = (trial, config, said)
        self._hint(f"Asked the studio to take trial {trial.number}'s settings ({trial.label}): {said}.")
        self.post_message(ConfigChanged(config))   # (the studio may ask first, or refuse, and say why)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if self.refusal(action) is not None else True

    def refusal(self, action: str) -> str | None:
        """Why a key of the pane cannot act now (None if it can)."""
        if action == "run_sweep" and self.sweep is None and self.plan is None:
            return self.problem or "Choose a setting to vary and its values first."
        if action == "use_best":
            if self._last is None or not (self._last.ranked()[0][1] or {}).get("best"):
                return "No sweep has a best trial yet: run one (ctrl+r)."
        return None


def _score(result: dict) -> str:
    best = result.get("best")
    if not isinstance(best, (int, float)):
        return ""
    return f"{best:.2%}" if result.get("metric", "val_acc") == "val_acc" else f"loss {best:.4g}"
