"""What the training thread reports, as the studio shows it: a session opened (loaded, resumed, forked), the
run's events, a worker that failed.

A mixin of `StudioApp` (app.py): batches are polled (`TrainingBridge.take`), everything else arrives
here as a message, on the interface thread, and goes to the runner and the panes.
"""

from __future__ import annotations

from pathlib import Path

from textual.worker import Worker

from nnstudio import saves
from nnstudio.engine import events

from ..run import Notice, Prepared, StatusChanged
from ..run.config import flat_settings
from .fork_screen import change_text
from .messages import SessionEvent, SessionReady
from .predictions_pane import ProbeSet


class SessionNews:
    """The handlers of the training thread's messages (mixed into StudioApp)."""

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
        if self.on_run_news(event):   # (a followed run's, or a run steered from another process: run_following.py)
            return
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
                self._tell_panes("new_model")   # (Inside and Draw: the untrained model looked at before is not it)
            return
        if isinstance(event, Notice):
            self.notify(event.text, title="Note", severity="warning", timeout=10)
        elif isinstance(event, (events.Diverged, events.Failed)):
            title = ("Training diverged" if isinstance(event, events.Diverged) else
                     "Could not start training" if self.session is None or self.session.trainer is None
                     else "Training failed")
            self.notify(event.message, title=title, severity="error", timeout=20)
        elif isinstance(event, events.Finished):
            self.notify(event.message or self.runner.trained_text(event.epochs_done), title="Finished")
        self.runner.record(event)
        self._tell_panes("on_session_event", event)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed prepare or load becomes a message and a status, never a crash."""
        problem = self.runner.worker_changed(event.worker, event.state)
        self._follow_status()
        if problem is not None:
            self.notify(problem, title="Could not open", severity="error", timeout=15)
