"""The studio app: nine panes in tabs, the run keys, and a router between the panes and the training session.

The app holds no training logic. It owns the run configuration (`self.config`) and a
`SessionRunner`, which holds the session and runs it in a thread worker. Keys become runner
commands; what the session reports reaches the panes as batch figures polled ten times a
second (`TrainingBridge`) and as `SessionEvent` messages for everything else. The `status`
reactive follows the session's own `Status` (after each command, and on each event). Panes
talk back with messages (`ConfigChanged`, `LiveSettingRequested`, `SaveRequested`,
`LoadRequested`, the Runs pane's `MarksChanged`); the app sets `pane.config` and calls `show_history`,
`on_session_event` and `set_running` on the panes that have them. A pane's key that cannot act now says
why when pressed (the pane's `refusal`), as the run keys do (`run_keys.py`).

Its parts: the run keys' commands and the requests that replace the run (`run_commands.RunCommands`),
the training thread's news (`session_news.SessionNews`), a run another process trains followed
(`run_following.RunFollowing`), and how a studio is made (`launch.create_app`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Header, TabbedContent, TabPane, Tabs

from nnstudio import saves
from nnstudio.datasets.dataset import Dataset

from ..run import ConfigError, SessionError, Status
from ..run.blas import limit_blas_threads
from ..run.config import RunConfig
from ..run.signals import HANGUP
from ..run.fitting import follow_data, model_name
from .builder_pane import BuilderPane
from .collector import restore_the_collector, spare_the_collector
from .commands import StudioCommands
from .draw_pane import DrawPane
from .footer import StudioFooter
from .help_screen import HelpScreen, binding_rows
from .inside_pane import InsidePane
from .inside_source import InsideSource
from .messages import ConfigChanged, LiveSettingRequested
from .monitor_pane import MonitorPane
from .predictions_pane import PredictionsPane
from .run_keys import RUN_ACTIONS, RunState, refusal
from .run_commands import RunCommands
from .run_following import RunFollowing
from .runner import Refused, SessionRunner, default_save_name, needs_new_session
from .runs_pane import RunsPane
from .saves_pane import SavesPane
from .session_news import SessionNews
from .settings_pane import SettingsPane
from .stop_signals import StopSignals, TerminalGone, hangup_safe
from .sweep_pane import SweepPane
from .welcome import Welcome

#: seconds between two polls of the training thread's latest batch (the redraw budget: 10 a second)
POLL_INTERVAL = 0.1
#: (TabPane id, tab title): key n shows the n-th
PANES = (("builder", "Model"), ("settings", "Settings"), ("monitor", "Monitor"), ("predictions", "Predict"),
         ("saves", "Saves"), ("runs", "Runs"), ("sweep", "Sweep"), ("inside", "Inside"), ("draw", "Draw"))
_PANE_KEYS = Binding.Group("Panes", compact=True)


class StudioApp(RunCommands, SessionNews, RunFollowing, App):
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
        self._last_refusal: tuple[tuple[str, str], float] | None = None   # ((action, reason), when): _not_now
        self.clock: Callable[[], float] = time.monotonic        # (a test's fake clock replaces it)
        self.runner = SessionRunner(self, dataset=dataset)
        self.stop_signals = StopSignals(self, self.runner.stop_and_wait)
        self.panes: dict[str, Widget] = {}
        self.welcome = Welcome(id="welcome")
        """In the Monitor's place until there is a run to watch (`_show_welcome`)."""
        self._collector: tuple[int, int, int] | None = None  # thresholds before spare_the_collector
        self._live_run_dir: tuple = (None, False, False)  # the run's folder (followed? still?), as last passed on
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
            "sweep": SweepPane(id="sweep-pane"),
            "inside": InsidePane(id="inside-pane"),
            "draw": DrawPane(id="draw-pane"),
        }
        source = InsideSource(lambda: self.session, lambda: self.config, self.runner.dataset)
        self.panes["inside"].subject_source = source
        self.panes["draw"].model_source = source.model   # (one source: the untrained model is prepared once)
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
        self.runner.quit_following.set()   # (a followed run trains on in its own process)
        if self.session is not None:
            self.session.stop("stopped: the studio was closed")
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
        followed = f"following {self.runner.followed.name} · " if self.runner.following else ""
        self.sub_title = f"{followed}{c.data.name} · {model_name(c)} · {c.optimizer.name} lr {c.optimizer.lr:g}"
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
        """The current run's folder (known once its training thread opened it: after any news of the session; or the
        followed run's) to the panes that compare runs: it is drawn live."""
        run_dir, followed, following = self.runner.run_dir, self.runner.followed is not None, self.runner.following
        if (run_dir, followed, following) == self._live_run_dir:
            return
        self._live_run_dir = (run_dir, followed, following)
        listed = saves.runs_folder(self.runs.saves_dir)
        if run_dir is not None and run_dir.parent.resolve() == listed.resolve():
            run_dir = listed / run_dir.name   # as the Runs pane lists it (the folder may be named another way)
        self.monitor.live_run = self.runs.live_run = run_dir
        self.runs.followed = run_dir if following else None   # (while it trains in its process)
        self.monitor.followed = followed   # (its status line's hints: ended too, it is not the studio's to save)
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
                self._not_now(action, why, markup=False)
            return why is not None
        name = action.partition("(")[0].removeprefix("app.")
        if name in RUN_ACTIONS and (why := refusal(name, self.run_state)) is not None:
            self._not_now(action, why)
            return True
        return False

    def _not_now(self, action: str, why: str, *, markup: bool = True) -> None:
        """Say why a key cannot act, once: the same key refused again while its notice is still up adds none (a
        key pressed three times at a limit stacked three notices over the pane)."""
        now = self.clock()
        if self._last_refusal is not None and self._last_refusal[0] == (action, why) and \
                now - self._last_refusal[1] < self.NOTIFICATION_TIMEOUT:
            return
        self._last_refusal = ((action, why), now)
        self.notify(why, title="Not now", severity="warning", markup=markup)

    def action_show_pane(self, pane_id: str) -> None:
        """Show a pane and put the keyboard focus in it."""
        self.query_one(TabbedContent).active = pane_id
        self.call_after_refresh(self._focus_pane, pane_id)

    def _focus_pane(self, pane_id: str) -> None:
        """The pane's own choice (`focus_target`, e.g. the Runs pane's table rather than its filter box), else
        the pane or the first thing in it that takes the focus."""
        pane = self.panes[pane_id]
        target = getattr(pane, "focus_target", None)
        if target is None or not target.focusable:
            target = pane if pane.focusable else next((w for w in pane.query("*") if w.focusable), None)
        if target is not None:
            target.focus()

    def action_leave_field(self) -> None:
        """Put the focus on the tab bar, where digits, space and the other run keys are not typed into a field."""
        self.query_one(TabbedContent).query_one(Tabs).focus()

    def action_help(self) -> None:
        """List every binding of the app and of the pane in use (and of what is focused inside it)."""
        pane = self.current_pane
        focused = [n for n in (self.focused.ancestors_with_self if self.focused else [])
                   if isinstance(n, Widget) and pane in n.ancestors]
        self.push_screen(HelpScreen(binding_rows([self, pane, *reversed(focused)], self.get_key_display)))

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
            value = self.runner.set_live(path, message.value)
            config = self.config.replace(**{path: value})
        except ConfigError as error:
            self.notify(str(error), title="Not applied", severity="error")
            if callable(show_error := getattr(self.panes["settings"], "show_error", None)):
                show_error(path, error.problem)
            return
        self.config = config
        self._push_config()

    def on_runs_pane_marks_changed(self, message: RunsPane.MarksChanged) -> None:
        """Runs were marked or unmarked (or a marked one changed on disk): the Monitor overlays them."""
        self.monitor.compare(list(message.paths))
        self._show_welcome()

    def on_sweep_pane_mark_run(self, message: SweepPane.MarkRun) -> None:
        """A sweep's trial started: it is marked in the Runs pane, so the Monitor overlays it as it trains."""
        if not self.is_running:
            return
        if message.first:
            self.runs.clear_marks()
        self.runs.mark(saves.runs_folder(self.runs.saves_dir) / message.run)

    def on_monitor_pane_stop_comparing(self) -> None:
        """The Monitor's c: every run unmarked."""
        self.runs.clear_marks()
