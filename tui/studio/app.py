"""The studio app: six panes in tabs, the run keys, and a router between the panes and the training session.

The app holds no training logic. It owns the run configuration (`self.config`) and a
`SessionRunner`, which holds the session and runs it in a thread worker. Keys become runner
commands; what the session reports reaches the panes as batch figures polled ten times a
second (`TrainingBridge`) and as `SessionEvent` messages for everything else. The `status`
reactive follows the session's own `Status` (after each command, and on each event). Panes
talk back with messages (`ConfigChanged`, `LiveSettingRequested`, `SaveRequested`,
`LoadRequested`, the Runs pane's `MarksChanged`); the app sets `pane.config` and calls `show_history`,
`on_session_event` and `set_running` on the panes that have them. A pane's key that cannot act now says
why when pressed (the pane's `refusal`), as the run keys do (`run_keys.py`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Header, TabbedContent, TabPane, Tabs
from textual.worker import Worker

from nnstudio import saves
from nnstudio.datasets import EMBEDDED_NAME, MNIST, DatasetError
from nnstudio.datasets.dataset import Dataset
from nnstudio.datasets.locations import locate
from nnstudio.engine import events

from ..run import ConfigError, Notice, Prepared, SessionError, Status, StatusChanged
from ..run.blas import limit_blas_threads
from ..run.config import RunConfig, flat_settings
from ..run.signals import HANGUP
from ..run.fitting import follow_data, model_name
from .builder_pane import BuilderPane
from .collector import restore_the_collector, spare_the_collector
from .commands import StudioCommands
from .confirm_screen import ConfirmScreen
from .footer import StudioFooter
from .fork_screen import change_text
from .help_screen import HelpScreen, binding_rows
from .messages import ConfigChanged, LiveSettingRequested, LoadRequested, SaveRequested, SessionEvent, SessionReady
from .monitor_pane import MonitorPane
from .predictions_pane import PredictionsPane, ProbeSet
from .run_keys import RUN_ACTIONS, RunState, refusal
from .runner import ModelSaved, Refused, SessionRunner, default_save_name, needs_new_session
from .runs_pane import RunsPane
from .saves_pane import SavesPane
from .settings_pane import SettingsPane
from .stop_signals import StopSignals, TerminalGone, hangup_safe
from .welcome import Welcome

#: seconds between two polls of the training thread's latest batch (the redraw budget: 10 a second)
POLL_INTERVAL = 0.1
#: (TabPane id, tab title): key n shows the n-th
PANES = (("builder", "Model"), ("settings", "Settings"), ("monitor", "Monitor"), ("predictions", "Predictions"),
         ("saves", "Saves"), ("runs", "Runs"))
_PANE_KEYS = Binding.Group("Panes", compact=True)


class StudioApp(App):
    """Build, train, watch and save models from the keyboard."""

    TITLE = "nnstudio"
    CSS_PATH = "app.tcss"  # the frame; each pane and screen brings its own styles
    COMMANDS = App.COMMANDS | {StudioCommands}
    HELP_TITLE = "Studio"
    HELP_GROUPS = {"pane": "Panes", "run": "The run", "app": "Studio"}
    """Sections of the `?` screen, by the first word of a binding's id."""
    BINDINGS = [
        *(Binding(str(n), f"show_pane('{pane_id}')", title, id=f"pane.{pane_id}", group=_PANE_KEYS,
                  tooltip=f"Show pane {n}: {title.lower()}") for n, (pane_id, title) in enumerate(PANES, 1)),
        Binding("space", "toggle_run", "Run/Pause", id="run.toggle", tooltip="Start training, or pause / resume it"),
        Binding("n", "step('epoch')", "Step", id="run.step-epoch", tooltip="Train one epoch, then pause"),
        Binding("N,shift+n", "step('batch')", "Step batch", show=False, id="run.step-batch",
                tooltip="Train one batch, then pause"),
        Binding("x", "stop", "Stop", id="run.stop", tooltip="Stop training (continue with space, or save it)"),
        Binding("r", "reinitialise", "Re-init", show=False, id="run.reinit",
                tooltip="Re-initialise: discard the trained weights and start afresh"),
        Binding("ctrl+s", "save", "Save", id="run.save", tooltip="Save the trained model to the saves folder"),
        Binding("ctrl+o", "load", "Load", show=False, id="run.load", tooltip="Load a save (opens the saves pane)"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help", tooltip="Show every key"),
        # Ctrl+C quits as q does (Textual's own only says how to quit): an SSH user's first reflex, never ignored
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.quit-ctrl-c",
                tooltip="Quit (asks first when trained work is unsaved)"),
        Binding("escape", "leave_field", "Tab bar", show=False, id="app.leave-field",
                tooltip="Leave the field being edited: the keys above act again (a pane may use escape first)"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (asks first when trained work is unsaved)"),
    ]

    status: reactive[Status] = reactive(Status.IDLE)
    """What the run is doing: the session's status, followed by `_follow_status` (it drives the panes' locks
    and the keys' availability)."""

    def __init__(self, config: RunConfig, *, dataset: Dataset | None = None, open_path: Path | None = None,
                 offer_resume: bool = True, embedded_default: bool = False) -> None:
        super().__init__()
        self.config = config
        self.open_path, self.offer_resume = open_path, offer_resume
        self.embedded_default = embedded_default
        """True when the studio opened on the embedded MNIST subset because the full set is not here (create_app)."""
        self.runner = SessionRunner(self, dataset=dataset)
        self.stop_signals = StopSignals(self, self.runner.stop_and_wait)
        self.panes: dict[str, Widget] = {}
        self.welcome = Welcome(id="welcome")
        """In the Monitor's place until there is a run to watch (`_show_welcome`)."""
        self._collector: tuple[int, int, int] | None = None  # thresholds before spare_the_collector
        self._live_run_dir: Path | None = None  # the session's run folder, as last passed to the panes
        self.poll_timer: Timer | None = None
        """Calls `poll_training` every POLL_INTERVAL seconds (from on_mount); tests pause it and call it themselves."""

    @property
    def session(self):
        """The training session, if there is one (the runner owns it)."""
        return self.runner.session

    def compose(self) -> ComposeResult:
        yield Header()
        self.panes = {
            "builder": BuilderPane(self.config, id="builder-pane"),
            "settings": SettingsPane(self.config, id="settings-pane"),
            "monitor": MonitorPane(id="monitor-pane"),
            "predictions": PredictionsPane(id="predictions-pane"),
            "saves": SavesPane(self.config.checkpoints.folder, id="saves-pane"),
            "runs": RunsPane(self.config.checkpoints.folder, id="runs-pane"),
        }
        with TabbedContent(initial="monitor", id="panes"):
            for n, (pane_id, title) in enumerate(PANES, 1):
                with TabPane(f"{n} {title}", id=pane_id):
                    if pane_id == "monitor":
                        yield self.welcome
                    yield self.panes[pane_id]
        yield StudioFooter(show_command_palette=False)  # ctrl+p still works; `?` lists it (80 columns are precious)

    def on_mount(self) -> None:
        limit_blas_threads()  # the interface thread keeps a core (see nnstudio.tui.run.blas)
        self.stop_signals.install()   # SIGHUP, SIGTERM: stop gently, then leave
        self.call_after_refresh(self._spare_the_collector)
        self._push_config()
        self.watch_status(self.status)
        self.poll_timer = self.set_interval(POLL_INTERVAL, self.poll_training, name="poll-training")
        if self.open_path is not None:
            self._attempt(self.runner.open, self.open_path, "loaded", self.config.checkpoints.folder)
        elif self.offer_resume:
            self._offer_resume()

    def poll_training(self) -> None:
        """The poll of the training thread: the batches reported since the last poll, to the monitor.

        Called by `poll_timer`, so the monitor's progress line changes at most 1 / POLL_INTERVAL
        times a second however many batches go by.
        """
        self.monitor.tick(*self.runner.bridge.take())

    def get_driver_class(self):
        """The terminal's driver, surviving a terminal that hangs up (`stop_signals.hangup_safe`)."""
        return hangup_safe(super().get_driver_class())

    def on_terminal_gone(self, message: TerminalGone) -> None:
        """The terminal failed a write: it hung up, whether or not SIGHUP has come yet."""
        self.stop_signals.received(HANGUP)

    def on_unmount(self) -> None:
        """Never leave a training thread behind (a stopped run writes its checkpoint first).

        The session is told directly: the panes are being taken down, so no status is shown.
        """
        if self.session is not None:
            self.session.stop()
        if self._collector is not None:
            restore_the_collector(self._collector)

    def _spare_the_collector(self) -> None:
        """Once the studio is up: no long pause of the garbage collector inside a key press (collector.py)."""
        self._collector = spare_the_collector()

    # ================================================================== panes
    @property
    def monitor(self) -> MonitorPane:
        return self.panes["monitor"]

    @property
    def predictions(self) -> PredictionsPane:
        return self.panes["predictions"]

    @property
    def runs(self) -> RunsPane:
        return self.panes["runs"]

    @property
    def current_pane(self) -> Widget:
        return self.panes[self.query_one(TabbedContent).active]

    def _tell_panes(self, method: str, *args) -> None:
        """Call `method(*args)` on every pane that has it."""
        for pane in self.panes.values():
            if callable(handler := getattr(pane, method, None)):
                handler(*args)

    def _push_config(self) -> None:
        for pane in (*self.panes.values(), self.welcome):
            pane.config = self.config
        saves_pane, folder = self.panes["saves"], saves.folder_or_default(self.config.checkpoints.folder)
        saves_pane.suggested_name = default_save_name(self.config, folder)
        if saves_pane.saves_dir != folder:  # the saves folder was changed in the settings
            saves_pane.saves_dir = folder
            saves_pane.refresh_catalogue()
            self.runs.set_folder(folder)
        c = self.config
        self.sub_title = f"{c.data.name} · {model_name(c)} · {c.optimizer.name} lr {c.optimizer.lr:g}"
        self.refresh_bindings()   # the keys' availability depends on the config too (its epochs)

    def _clear_displays(self, history: list[dict] | None = None, batches=None, train_size: int | None = None) -> None:
        """Show a run's history (a loaded or resumed one's, with its per-batch `batches` if found, or none for a
        fresh run) on every pane that plots it."""
        self._tell_panes("show_history", list(history or []), batches, train_size)
        self.predictions.show_probe(None)
        self._follow_live_run()

    def _follow_status(self) -> None:
        """Take the run's status from the session (through the runner): after a command, and on its news.

        The keys are looked at again even when the status stays: what they can do depends on the
        session too (a save loaded, a run discarded); the footer folds the two into one rebuild.
        """
        self.status = self.runner.status
        if self.is_running:
            self.refresh_bindings()
            self._follow_live_run()
            self._show_welcome()

    def _follow_live_run(self) -> None:
        """The current run's folder (known once its training thread opened it: after any news of the session) to
        the panes that compare runs: it is drawn live."""
        run_dir = self.session.run_dir if self.session is not None else None
        if run_dir == self._live_run_dir:
            return
        self._live_run_dir = run_dir
        listed = saves.runs_folder(self.runs.saves_dir)
        if run_dir is not None and run_dir.parent.resolve() == listed.resolve():
            run_dir = listed / run_dir.name   # as the Runs pane lists it (the folder may be named another way)
        self.monitor.live_run = self.runs.live_run = run_dir
        self.runs.refresh_runs()

    def _show_welcome(self) -> None:
        """The welcome in the Monitor's place while there is no run to watch (nor one being opened, nor runs
        compared); the plots once there is."""
        welcome = self.session is None and self.status is Status.IDLE and not self.monitor.compared
        if self.welcome.display != welcome or self.monitor.display == welcome:
            self.welcome.display, self.monitor.display = welcome, not welcome

    def watch_status(self, status: Status) -> None:
        """Called when status is updated: panes lock or unlock fields, the footer greys out keys.

        Once the app is shutting down (its widgets are being taken away) a status that still
        arrives changes nothing.
        """
        if not self.is_running:
            return
        for pane in self.panes.values():
            if callable(getattr(pane, "set_running", None)):
                pane.set_running(status)
        self.refresh_bindings()
        self._show_welcome()

    def _attempt(self, command: Callable, *args):
        """Run a runner command; a refusal or a session error becomes a notification, not a crash.
        Either way the status shown is the session's afterwards."""
        try:
            return command(*args)
        except Refused as refusal:
            self.notify(str(refusal), severity="warning")
        except SessionError as error:
            self.notify(str(error), title="Not done", severity="error")
        finally:
            self._follow_status()
        return None

    # ================================================================== keys
    @property
    def run_state(self) -> RunState:
        """What the run keys depend on: the runner's state, and whether the model on the Model pane can train
        (a draft that does not build or fit the data set stays on that pane, and space must not train the
        last valid model in its place)."""
        builder = self.panes.get("builder")
        problem = builder.error_text if isinstance(builder, BuilderPane) and not builder.valid else None
        return replace(self.runner.state(self.config), model_problem=problem)

    def on_builder_pane_validity_changed(self) -> None:
        """The model became trainable or not: the footer greys or ungreys space and n."""
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A run key that cannot act now is shown greyed out (None); `run_action` says why when it is pressed."""
        if action in RUN_ACTIONS and refusal(action, self.run_state) is not None:
            return None
        return True

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:
        """Run an action; a run key that cannot act now (greyed in the footer) says why instead of nothing.

        Textual runs a key's action only when `check_action` allows it and otherwise treats the
        key as unhandled, which would lose the press silently: here it is answered with the
        reason (`run_keys.refusal`), and counts as handled.
        """
        if await super().run_action(action, default_namespace, namespaces):
            return True
        if not isinstance(action, str):
            return False
        if default_namespace not in (None, self):   # a pane's key: its own table of reasons
            explain = getattr(default_namespace, "refusal", None)
            why = explain(action.partition("(")[0]) if callable(explain) else None
            if why is not None:
                self.notify(why, title="Not now", severity="warning", markup=False)
            return why is not None
        name = action.partition("(")[0].removeprefix("app.")
        if name in RUN_ACTIONS and (why := refusal(name, self.run_state)) is not None:
            self.notify(why, title="Not now", severity="warning")
            return True
        return False

    def action_show_pane(self, pane_id: str) -> None:
        """Show a pane and put the keyboard focus in it."""
        self.query_one(TabbedContent).active = pane_id
        self.call_after_refresh(self._focus_pane, pane_id)

    def _focus_pane(self, pane_id: str) -> None:
        pane = self.panes[pane_id]
        target = pane if pane.focusable else next((w for w in pane.query("*") if w.focusable), None)
        if target is not None:
            target.focus()

    def action_leave_field(self) -> None:
        """Put the focus on the tab bar, where digits, space and the other run keys are not typed into a field."""
        self.query_one(TabbedContent).query_one(Tabs).focus()

    def action_toggle_run(self) -> None:
        """Space: start (or continue) training, pause it, or resume it."""
        if self._attempt(self.runner.toggle, self.config):
            self._clear_displays()

    def action_step(self, size: str) -> None:
        """Train one epoch (n) or one batch (shift+n), then pause; from idle, the run starts that way."""
        if self._attempt(self.runner.step, size, self.config):
            self._clear_displays()

    def action_stop(self) -> None:
        """Stop training at the next batch boundary; the run stays resumable and can be saved."""
        self._attempt(self.runner.stop)

    def action_reinitialise(self) -> None:
        """Discard the session: the next start builds the model afresh from the config."""
        self._confirm_discard("Re-initialise the weights?", self._reinitialise)

    def _reinitialise(self) -> None:
        if self._attempt(self.runner.discard):
            self._clear_displays()

    def action_save(self) -> None:
        """Quick save under a free name made from the data set and the model; nothing new when nothing changed
        since the last save, and a numbered name said as such when the plain one is taken."""
        if (name := self.runner.already_saved(self.config.checkpoints.folder)) is not None:
            self.notify(f"Already saved as {name}: nothing has changed since.", title="Saved")
            return
        self._save(*self.runner.quick_save_name(self.config))

    def action_load(self) -> None:
        """Loading is chosen from the catalogue: show the saves pane."""
        self.action_show_pane("saves")

    def action_help(self) -> None:
        """List every binding of the app and of the pane in use (and of what is focused inside it)."""
        pane = self.current_pane
        focused = [n for n in (self.focused.ancestors_with_self if self.focused else [])
                   if isinstance(n, Widget) and pane in n.ancestors]
        self.push_screen(HelpScreen(binding_rows([self, pane, *reversed(focused)], self.get_key_display)))

    async def action_quit(self) -> None:
        """Quit; ask first when epochs were trained since the last save (saying whether the run's checkpoints keep
        them), and stop a running session cleanly."""
        async def leave() -> None:
            await self.runner.stop_and_wait()
            self.exit()

        if not self.runner.unsaved_epochs:
            await leave()
            return
        question = ConfirmScreen("Quit nnstudio?", detail=self.runner.unsaved_text())
        self.push_screen(question, lambda yes: self.call_next(leave) if yes else None)

    def _confirm_discard(self, question: str, then: Callable[[], None],
                         otherwise: Callable[[], None] | None = None, *, no: str = "") -> None:
        """Run `then()` at once, or after a yes when trained epochs would be lost (`otherwise()` after a no, which
        `no` describes). The dialog's "no" has the focus: an enter does not throw the epochs away."""
        if not self.runner.unsaved_epochs or self.runner.busy:
            then()
            return
        detail = f"{self.runner.unsaved_text()}{' ' + no if no else ''}"

        def answered(yes: bool) -> None:
            if yes:
                then()
            elif otherwise is not None:
                otherwise()

        self.push_screen(ConfirmScreen(question, detail=detail), answered)

    def _offer_resume(self) -> None:
        run = saves.latest_interrupted_run(self.config.checkpoints.folder)
        if run is None:
            return
        self.push_screen(
            ConfirmScreen(f"Resume run {run.name} (epoch {run.last_epoch})?", yes="Resume", no="Not now",
                          detail="It was cut off before it finished; its last checkpoint is on disk.", default=True),
            lambda yes: self._attempt(self.runner.open, run.path, "resumed", self.config.checkpoints.folder)
            if yes else None)

    # ================================================================== from the training thread
    def on_session_ready(self, message: SessionReady) -> None:
        """A session was loaded or resumed: show its model, settings, history and predictions."""
        session = message.session
        self.config = session.config   # opened under this studio's saves folder (SessionRunner.open)
        self._push_config()
        self._clear_displays(session.history, message.batches, len(session.data.x_train))
        self.predictions.show_probe(ProbeSet.from_session(session))
        self.monitor.task = session.task
        if message.outputs is not None:
            self.predictions.show_outputs(message.outputs, source="probe test images")
        problem = session.match_blas_threads()   # (here: the interface's thread is the one that may set it)
        if problem is not None:
            self.notify(problem, title="Not bit-identical", severity="warning", timeout=20)
        self._attempt(self.runner.adopt, session, message.origin, self.config, message.bridge)
        if message.origin == "forked":
            self._show_fork(session)
            return
        self.notify(f"{len(session.history)} epoch(s) trained so far." +
                    (" Press space to continue." if message.origin == "resumed" else ""),
                    title="Resumed" if message.origin == "resumed" else "Loaded")

    def _show_fork(self, session) -> None:
        """A fork trains: its parent is overlaid in the Monitor, where the two branch."""
        origin = session.origin
        parent = Path(origin["path"])
        listed = saves.runs_folder(self.runs.saves_dir)
        self.runs.mark(listed / parent.name if parent.parent.resolve() == listed.resolve() else parent)
        self.action_show_pane("monitor")
        changed = change_text(origin["changed"], flat_settings(session.inherited[0])) or "no change"
        self.notify(f"From {origin['run']} at epoch {origin['epoch']}: {changed}. Training epochs "
                    f"{origin['epoch'] + 1}-{self.config.training.epochs}; its parent is drawn beside it.",
                    title="Forked", markup=False, timeout=10)

    def on_session_event(self, message: SessionEvent) -> None:
        """An event from the training thread (not a batch: those are polled): to the runner and the panes."""
        event = message.event
        if not self.is_running:  # shutting down: the run's last events (its checkpoint is written) go nowhere
            return
        if message.source is not self.runner.bridge:  # from a session let go since (re-initialised, replaced)
            return
        self._follow_live_run()   # (its folder is opened in the training thread, after the status says running)
        if isinstance(event, StatusChanged):
            self._follow_status()
            if self.status.ended and self.session is not None and self.session.close_problem:
                self.notify(self.session.close_problem, title="Run folder", severity="warning", timeout=20)
            return
        if isinstance(event, Prepared):   # a new run's data and model are ready: its probe digits can be drawn
            if event.session is self.session:
                self.predictions.show_probe(ProbeSet.from_session(event.session))
                self.monitor.task = event.session.task
                self.monitor.train_size = len(event.session.data.x_train)
            return
        if isinstance(event, Notice):
            self.notify(event.text, title="Note", severity="warning", timeout=10)
        elif isinstance(event, (events.Diverged, events.Failed)):
            title = ("Training diverged" if isinstance(event, events.Diverged) else
                     "Could not start training" if self.session is None or self.session.trainer is None
                     else "Training failed")
            self.notify(event.message, title=title, severity="error", timeout=20)
        elif isinstance(event, events.Finished):
            self.notify(event.message or f"Trained {event.epochs_done} epochs.", title="Finished")
        self.runner.record(event)
        self._tell_panes("on_session_event", event)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed prepare or load becomes a message and a status, never a crash."""
        problem = self.runner.worker_changed(event.worker, event.state)
        self._follow_status()
        if problem is not None:
            self.notify(problem, title="Could not open", severity="error", timeout=15)

    # ================================================================== from the panes
    def on_config_changed(self, message: ConfigChanged) -> None:
        """A pane committed a change. A new data set takes the model with it (`follow_data` fits its input and
        output, and says so). One the session cannot take (another model, data set or set-up) starts the run
        afresh, after a yes when trained epochs would be lost; a no puts the panes back."""
        config, note = follow_data(self.config, message.config)
        if config == self.config:
            return

        def apply() -> None:
            if self._apply_config(config) and note is not None:
                self.notify(note, title="Model", markup=False, timeout=10)

        if self.session is not None and needs_new_session(self.config, config):
            what = "model" if config.model != self.config.model and config.data == self.config.data else "settings"
            self._confirm_discard(f"Start afresh with the changed {what}?", apply, otherwise=self._push_config,
                                  no=f"No keeps the run and puts the {what} back.")
            return
        apply()

    def _apply_config(self, config: RunConfig) -> bool:
        """Make `config` the studio's; False (and the panes put back) if the runner refused it."""
        lost = self._attempt(self.runner.apply_config, self.config, config)
        if lost is None:  # refused: put the panes back to the config in use
            self._push_config()
            return False
        if self.session is None:
            self._clear_displays()
        if lost:
            self.notify("The run starts afresh with the changed settings: the trained weights were discarded.",
                        severity="warning")
        self.config = config
        self._push_config()
        return True

    def on_live_setting_requested(self, message: LiveSettingRequested) -> None:
        """A typed value for a live setting: the session checks it against its config and takes it at the next
        batch; only a value it took becomes the studio's config. A refused one is shown beside its field."""
        path = message.path
        try:
            value = self.session.set_live(path, message.value) if self.session is not None else message.value
            config = self.config.replace(**{path: value})
        except ConfigError as error:
            self.notify(str(error), title="Not applied", severity="error")
            if callable(show_error := getattr(self.panes["settings"], "show_error", None)):
                show_error(path, error.problem)
            return
        self.config = config
        self._push_config()

    def on_save_requested(self, message: SaveRequested) -> None:
        self._save(message.name, overwrite=message.overwrite)

    def _save(self, name: str, note: str = "", overwrite: bool = False) -> None:
        path = self._attempt(self.runner.save, name, self.config.checkpoints.folder, overwrite)
        if path is not None:
            self.notify(f"Saved as {path.stem}{note}. ({path})", title="Saved", markup=False)
            self.panes["saves"].refresh_catalogue(select=path.stem)
            self._tell_panes("on_session_event", ModelSaved(path))

    def on_runs_pane_marks_changed(self, message: RunsPane.MarksChanged) -> None:
        """Runs were marked or unmarked (or a marked one changed on disk): the Monitor overlays them."""
        self.monitor.compare(list(message.paths))
        self._show_welcome()

    def on_monitor_pane_stop_comparing(self) -> None:
        """The Monitor's c: every run unmarked."""
        self.runs.clear_marks()

    def on_runs_pane_fork_requested(self, message: RunsPane.ForkRequested) -> None:
        """The fork dialog's answer: the fork becomes the studio's run (after a yes if unsaved epochs would go)."""
        request = message.request
        self._confirm_discard(f"Fork {request.name}?", lambda: self._attempt(
            self.runner.fork, request.run_dir, request.epoch, request.changed, self.config.checkpoints.folder))

    def on_load_requested(self, message: LoadRequested) -> None:
        path = Path(message.path)
        self._confirm_discard(f"Load {path.name}?", lambda: self._attempt(
            self.runner.open, path, "loaded", self.config.checkpoints.folder))


def create_app(*, config: RunConfig | None = None, dataset: Dataset | None = None, saves_dir: str | Path | None = None,
               data_dir: str | Path | None = None, open_path: str | Path | None = None,
               offer_resume: bool = True, default_data: bool | None = None) -> StudioApp:
    """The studio, configured: the default run (MNIST, the MLP preset, Adam) unless `config` says otherwise;
    when the data set is the default one (`default_data`, true when no `config` is given) and no folder of
    IDX files is named, MNIST is the embedded subset unless the full set is at hand.

    `dataset` replaces the configured data set for every run (tests inject a tiny one);
    `saves_dir` is where saves and checkpoints go (default: the config's, else the default saves
    folder, `saves.default_folder()`); `data_dir` is the folder of IDX files to train on (the settings pane's
    data.data_dir); `open_path` opens a save at once; `offer_resume` asks to resume the
    latest interrupted run found in the saves folder.
    """
    embedded_default = False
    if default_data is None:
        default_data = config is None
    config = config or RunConfig()
    if default_data and data_dir is None and not config.data.data_dir and not mnist_at_hand():
        config, embedded_default = config.replace(**{"data.name": EMBEDDED_NAME}), True
    if saves_dir is None and not config.checkpoints.folder:
        saves_dir = saves.default_folder()
    if saves_dir is not None:
        config = config.replace(**{"checkpoints.folder": str(saves_dir)})
    if data_dir is not None:
        config = config.replace(**{"data.data_dir": str(data_dir)})
    return StudioApp(config, dataset=dataset, open_path=Path(open_path) if open_path else None,
                     offer_resume=offer_resume, embedded_default=embedded_default)


def mnist_at_hand() -> bool:
    """Whether the full MNIST is on this machine already (NNSTUDIO_DATA_DIR, the cache, a system folder).

    The studio opens on it if so, and otherwise on the embedded subset, so that the first key
    press trains at once: the full set is downloaded only when asked for (data.name mnist).
    """
    try:
        return locate(MNIST).found is not None
    except DatasetError:
        return False
