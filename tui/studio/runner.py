"""Driving a training session from the studio: its threads and its commands.

`SessionRunner` holds the studio's one `Session` and runs it in thread workers; it holds no
widgets and no status of its own: what the run is doing is the session's `Status` (while a
save or a run is being opened in a thread, before there is a session to ask, it is
"preparing"). The app turns key presses into runner commands and shows the status.

The session reports every event through one callback, called on the training thread. Widgets
must never be touched from there, and a fast model on a small data set produces thousands of
batch events a second: posting each one as a message would flood the UI queue and redraw far
more often than a slow SSH link can carry. So `TrainingBridge` splits the stream:

* batch events only overwrite a lock-protected "latest batch" slot and append to a list of
  losses; the UI polls them on a timer (`take`) at its own pace (~10 times a second);
* every other event (epoch ends, status changes, the end of the run, notices) is rare and
  important, so it is posted as a `SessionEvent` message, which is thread-safe and keeps their order.

A run that another process trains can be followed instead (`follow`): then there is no session, and
the run keys go to the followed run through its run folder (`FollowedRun`); what it does arrives
through a bridge as a session's news would (`run_following.follow_run` reads it in a thread).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from textual.dom import DOMNode
from textual.worker import Worker, WorkerState

from nnstudio import saves
from nnstudio.datasets import DownloadProgress
from nnstudio.datasets.dataset import Dataset
from nnstudio.engine import events

from ..run import Session, SessionError, Status, forking, outputs_problem, saved_config
from ..run.config import LIVE_SETTINGS, ConfigError, RunConfig
from ..run.settings import SHORT_NAMES
from ..run.curves import restore_batches
from ..run.fitting import model_name
from ..run.following import FollowedRun
from .messages import SessionEvent, SessionReady
from .run_following import FollowingRunner
from .run_keys import Refused, RunState, refusal

#: seconds between two download progress reports passed on to the interface, at least
DOWNLOAD_INTERVAL = 0.25
#: settings that change nothing about the model or data: a session survives changes to them
_SESSION_SAFE = set(LIVE_SETTINGS) | {"training.epochs"}


@dataclass(frozen=True)
class ModelSaved:
    """The studio saved the trained model (forwarded to the panes, e.g. so the saves list refreshes)."""

    path: Path


class TrainingBridge:
    """Receives a session's events on the training thread and hands them safely to the UI thread."""

    def __init__(self, post: Callable[[SessionEvent], object]) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._latest: events.BatchEnd | None = None
        self._losses: list[tuple[int, int, int, float, int]] = []
        self._download_posted = 0.0  # when a download's progress was last passed on

    def on_event(self, event) -> None:
        """The session's callback (training thread): batches into the slot, everything else as a message
        (a download's progress reports, which come per chunk, at most a few a second)."""
        if isinstance(event, events.BatchEnd):
            with self._lock:
                self._latest = event
                self._losses.append((event.epoch, event.batch, event.batches, event.loss, event.seen))
            return
        if isinstance(event, DownloadProgress):
            now = time.monotonic()
            if now - self._download_posted < DOWNLOAD_INTERVAL and event.done != event.total:
                return
            self._download_posted = now
        self._post(SessionEvent(event, self))

    def feed(self, latest: events.BatchEnd, losses: list[tuple[int, int, int, float, int]]) -> None:
        """Batches of a followed run, read from its history (the follower's thread), as a session's would come."""
        with self._lock:
            self._latest = latest
            self._losses.extend(losses)

    def take(self) -> tuple[events.BatchEnd | None, list[tuple[int, int, int, float, int]]]:
        """The newest batch event since the last call (or None) and the (epoch, batch, batches, loss, examples seen
        in the epoch) since."""
        with self._lock:
            latest, losses = self._latest, self._losses
            self._latest, self._losses = None, []
        return latest, losses


class SessionRunner(FollowingRunner):
    """The studio's one training session: built, trained, paused, stepped, stopped, saved, loaded (or a run another
    process trains, followed: `FollowingRunner`)."""

    def __init__(self, host: DOMNode, *, dataset: Dataset | None = None) -> None:
        self.host = host  # runs the workers; the thread's messages are posted to it
        self.dataset = dataset  # injected (tests): stands in for every run's data set
        self.session: Session | None = None
        self.opening = False  # a save or a run is being opened in a thread
        self.unsaved_epochs = 0  # trained since the last save or load: what quitting would lose
        self.saved_as: str | None = None   # the name this run was last saved under
        self.started_from = 0   # the epochs the session had done when it last started training (a fork's parent's)
        self._saved_mark: tuple | None = None   # the run as it was then (`_mark`)
        self.bridge = TrainingBridge(host.post_message)
        self.followed: FollowedRun | None = None
        """The run another process trains that the studio follows (or followed, until something else is shown)."""
        self.quit_following = threading.Event()   # tells the follower's thread to end

    @property
    def status(self) -> Status:
        """What the run is doing: the session's status ("preparing" while one is being opened, "idle" without one)."""
        if self.opening:
            return Status.PREPARING
        if self.followed is not None:
            return self.followed.status
        return self.session.status if self.session is not None else Status.IDLE

    @property
    def run_dir(self) -> Path | None:
        """The folder of the run shown: the session's (once its thread opened it), or the followed run's."""
        if self.followed is not None:
            return self.followed.run_dir
        return self.session.run_dir if self.session is not None else None

    @property
    def busy(self) -> bool:
        return self.status.busy

    def state(self, config: RunConfig | None = None) -> RunState:
        """What the run keys depend on (`run_keys.refusal`); `config` is the studio's, whose training.epochs
        the next start plans (default: the session's plan)."""
        session, followed = self.session, self.followed
        planned = config.training.epochs if config is not None else session.epochs_planned if session else 0
        if followed is not None:
            return RunState(self.status, opening=self.opening, trained=followed.epochs_done, planned=planned,
                            followed=followed.holder or "another process")
        return RunState(self.status, opening=self.opening, session=session is not None,
                        prepared=session is not None and session.trainer is not None,
                        trained=session.epochs_done if session is not None else 0, planned=planned)

    def _check(self, action: str, config: RunConfig | None = None) -> None:
        """Refused (with the reason the footer's greyed key gives) unless `action` can act now."""
        if (why := refusal(action, self.state(config))) is not None:
            raise Refused(why)

    # ================================================================== commands (UI thread)
    def toggle(self, config: RunConfig) -> bool:
        """Space: start or continue training, pause it, or resume it. True when a new session was built."""
        self._check("toggle_run", config)
        status = self.status
        if self.following:
            self._steer("pause" if status in (Status.RUNNING, Status.STEPPING) else "resume")
            return False
        if self.followed is not None and status is Status.STOPPED:   # (it let go of its lock: it resumes here)
            self.open(self.followed.run_dir, "resumed", config.checkpoints.folder)
            return False
        if status in (Status.RUNNING, Status.STEPPING):
            self.session.pause()
        elif status in (Status.PAUSED, Status.PAUSING):
            self.session.resume()
        elif not status.busy:
            return self.start(config)
        return False

    def step(self, size: str, config: RunConfig) -> bool:
        """Train one "epoch" or one "batch", then pause (starting the run first if need be)."""
        self._check("step", config)
        if self.following:
            self._steer("step", size)
            return False
        if self.status is Status.PAUSED:
            getattr(self.session, f"step_{size}")()
        elif not self.busy:
            return self.start(config, step=size)
        return False

    def stop(self) -> None:
        """Stop at the next batch boundary (the run writes a checkpoint and stays resumable)."""
        self._check("stop")
        if self.following:
            self._steer("stop", "stopped from a studio following it (x)")
            return
        self.session.stop("stopped from the studio (x)")

    def new_bridge(self) -> TrainingBridge:
        """A bridge for a new session's (or followed run's) news: what an earlier one still sends is dropped."""
        return TrainingBridge(self.host.post_message)

    def discard(self) -> bool:
        """Forget the session: the next start builds the model afresh (re-initialised weights)."""
        self._check("reinitialise")
        self.session, self.unsaved_epochs, self.saved_as = None, 0, None
        self.bridge = TrainingBridge(self.host.post_message)
        return True

    def start(self, config: RunConfig, step: str | None = None) -> bool:
        """Train in a thread worker: the current session, or a new one. True when a new one was built.

        A session that never got prepared (its data set failed to load, say) is built again from
        the config, which the user may have corrected since. The caller has checked that the run
        can start (`toggle`, `step`): it has epochs left up to `training.epochs`, which counts those done.
        """
        session = self.session
        new = session is None or session.trainer is None
        self.let_go()   # (a followed run that ended: the studio's own run takes the Monitor)
        if new:
            self.bridge = TrainingBridge(self.host.post_message)   # news of an earlier session is not this one's
            session = self.session = Session(config, on_event=self.bridge.on_event, dataset=self.dataset)
            self.unsaved_epochs = 0
        self.started_from = session.epochs_done
        if step is not None:
            session.pause()
            getattr(session, f"step_{step}")()
        session.starting()   # under way from now: a second press before the thread starts starts nothing
        self._run_worker(session.run, config.training.epochs, name="train")
        return new

    def open(self, path: Path, origin: str, folder: str) -> None:
        """Load a save ("loaded") or resume an interrupted run ("resumed") in a worker; SessionReady follows."""
        if self.busy:
            raise Refused("Stop following this run (o in the Runs pane, 6) before opening another model." if
                          self.following else "Stop training (x) before opening another model.")
        self.let_go()
        self.opening = True
        self._run_worker(self._open, Path(path), origin, folder, name="open")

    def fork(self, run_dir: Path, epoch: int, changed: dict, folder: str) -> None:
        """Fork `run_dir` from its checkpoint of `epoch` with the settings `changed`, in a worker; SessionReady
        ("forked") follows, and the fork trains at once."""
        if self.busy:
            raise Refused("Stop following this run (o in the Runs pane, 6) before forking: the fork becomes the run "
                          "trained here." if self.following else
                          "Stop training (x) before forking: the fork becomes the run trained here.")
        self.let_go()
        self.opening = True
        self._run_worker(self._fork, Path(run_dir), epoch, dict(changed), folder, name="open")

    def adopt(self, session: Session, origin: str, config: RunConfig, bridge: TrainingBridge) -> None:
        """A loaded, resumed or forked session (from `open` or `fork`, with its bridge) becomes the studio's; a
        resumed run waits paused, a fork trains."""
        self.session, self.bridge, self.unsaved_epochs, self.opening = session, bridge, 0, False
        self.saved_as, self.started_from = None, session.epochs_done
        if origin in ("resumed", "forked"):
            if origin == "resumed":
                session.pause()
            session.starting()
            self._run_worker(session.run, config.training.epochs, name="train")

    def unsaved_text(self) -> str:
        """What the epochs trained since the last save would become if the session went: kept by the run's
        checkpoints (resumable or forkable from the Runs pane), or lost."""
        n, session = self.unsaved_epochs, self.session
        epochs = f"{n} epoch{'' if n == 1 else 's'} trained since the last save"
        run_dir = session.run_dir if session is not None else None
        kept = [e for e, _ in saves.checkpoints.epoch_checkpoints(run_dir)] if run_dir is not None else []
        if session is not None and kept and max(kept) >= session.epochs_done and not session.checkpoint_problem:
            again = "resume or fork" if session.status is Status.STOPPED or session.status.busy else "fork"
            return (f"The {epochs} {'is' if n == 1 else 'are'} kept only as checkpoints of run {run_dir.name} "
                    f"({again} it from the Runs pane, 6); ctrl+s saves them by name.")
        return f"The {epochs} will be lost (ctrl+s saves them first)."

    def save(self, name: str, folder: str, overwrite: bool = False) -> Path:
        """Save the trained model (only while its weights are still); SessionError if it cannot be written."""
        self._check("save")
        path = self.session.save(name, folder=folder, overwrite=overwrite)
        self.unsaved_epochs, self.saved_as, self._saved_mark = 0, path.stem, self._mark()
        return path

    def already_saved(self, folder: str | Path) -> str | None:
        """The name the run was last saved under, if it has not changed since (and that save is still there)."""
        if self.saved_as is None or self._saved_mark != self._mark():
            return None
        return self.saved_as if saves.save_path(self.saved_as, folder).exists() else None

    def quick_save_name(self, config: RunConfig) -> tuple[str, str]:
        """ctrl+s: a free name for the run (`default_save_name`) and what to say about it when it is numbered
        ("; NAME holds this run's earlier state", or that NAME is another save)."""
        base, name = base_save_name(config), default_save_name(config, config.checkpoints.folder)
        earlier = self.saved_as
        if name == base:
            return name, ""
        if earlier is not None and (earlier == base or earlier.startswith(f"{base}-")):
            return name, f"; {earlier} holds this run's earlier state"
        return name, f" ({base} was taken by another save)"

    def _mark(self) -> tuple | None:
        """What a save of the run holds, as far as it can change: which session, where it is (only training moves
        the weights), and its settings (a live setting changed since is recorded by the next save)."""
        session = self.session
        if session is None:
            return None
        return session, session.epochs_done, session.batches_into_epoch, session.config

    def apply_config(self, old: RunConfig, new: RunConfig) -> bool:
        """A committed config change: live settings go to the session; a new model or data set discards it.

        Returns True when trained work was discarded. Refused while training, for changes
        that cannot apply to a running session.
        """
        if self.followed is not None:
            if self.following:   # (the panes lock all but live settings: those go through `set_live`)
                raise Refused("The followed run's settings are its own: only live ones can change (Settings, 2).")
            self.let_go()
        if self.session is None:
            return False
        if (refused := self.refusal(old, new)) is not None:
            raise Refused(refused)
        if needs_new_session(old, new):
            lost = self.unsaved_epochs > 0
            self.discard()
            return lost
        for path, value in changed_live_settings(self.session.config, new).items():
            self.session.set_live(path, value)
        return False

    def refusal(self, old: RunConfig, new: RunConfig) -> str | None:
        """Why a run under way (training, or paused) cannot take `new` (None if it can): it takes only its live
        settings; the rest, its planned epochs too (the Settings pane locks them), need it stopped first."""
        if self.session is None or not self.busy:
            return None
        fixed = session_changes(old, new) + (["training.epochs"] if old.training.epochs != new.training.epochs else [])
        if not fixed:
            return None
        named = ", ".join(SHORT_NAMES.get(path, path) for path in fixed)
        live = ", ".join(SHORT_NAMES.get(path, path) for path in LIVE_SETTINGS)
        return (f"Stop the run (x) before changing {named}: a run under way changes only its live settings ({live}); "
                "the rest starts it afresh.")

    def trained_text(self, epochs_done: int) -> str:
        """ "Trained 10 epochs.", or for a run that went on from others' epochs "Trained epochs 6-10 (10 in all)." """
        first = self.started_from + 1
        if self.started_from and epochs_done >= first:
            return f"Trained epochs {first}-{epochs_done} ({epochs_done} in all)."
        return f"Trained {epochs_done} epoch{'' if epochs_done == 1 else 's'}."

    # ================================================================== what comes back (UI thread)
    def set_live(self, path: str, value):
        """A live setting typed in the Settings pane: to the session (or the followed run), checked there first
        (ConfigError: not applied); the value as the config holds it. Without a run, the value as it is."""
        if self.following:
            try:
                return self.followed.set_live(path, value)
            except SessionError as error:
                raise ConfigError(path, str(error)) from None
        return self.session.set_live(path, value) if self.session is not None else value

    def record(self, event) -> None:
        """An event from the training thread: count trained epochs (unsaved work; a followed run's are its own)."""
        if isinstance(event, events.EpochEnd) and self.followed is None:
            self.unsaved_epochs += 1

    def worker_changed(self, worker: Worker, state: WorkerState) -> str | None:
        """A worker ended: the text of its error (for the user) if an open failed; the studio stays as it was.
        (A training thread's failure the session reports itself, as a `Failed` event and its status.)"""
        opening = (worker.group, worker.name) in (("training", "open"), ("follow", "follow"))
        if state != WorkerState.ERROR or not opening:
            return None
        if worker.name == "follow":
            self.followed = None
        self.opening = False
        error = worker.error
        return str(error) if isinstance(error, SessionError) else f"{type(error).__name__}: {error}"

    async def stop_and_wait(self, why: str = "stopped: the studio was closed") -> None:
        """Stop a live run and wait for its thread to end (its last checkpoint is then on disk); `why` is what its
        history records."""
        self.quit_following.set()   # (a followed run goes on in its own process)
        if self.session is None or not self.busy:
            return
        self.session.stop(why)   # also while already stopping, or while another model is being opened
        for worker in [w for w in self.host.workers if w.group == "training"]:
            try:
                await worker.wait()
            except Exception:  # its error was already shown; the caller is leaving anyway
                pass

    # ================================================================== the threads
    def _run_worker(self, work: Callable, *args, name: str) -> None:
        self.host.run_worker(partial(work, *args), thread=True, exclusive=True, group="training",
                             exit_on_error=False, name=name)

    def _open(self, path: Path, origin: str, folder: str) -> None:
        """Loading thread: a save (continue from its weights) or an interrupted run (resume it exactly)."""
        bridge = TrainingBridge(self.host.post_message)
        if origin == "resumed":
            session = Session.open_checkpoint(path, on_event=bridge.on_event, dataset=self.dataset, folder=folder)
        else:
            config = saved_config(path).replace(**{"checkpoints.folder": folder})
            session = Session.from_save(path, config=config, on_event=bridge.on_event, dataset=self.dataset)
        probe = session.predict_test(session.probe_index)
        problem = outputs_problem(probe)
        if problem is not None:   # (weights that are not finite were refused on loading)
            raise SessionError(f"{path}: {problem}")
        batches, _ = restore_batches(session.history, folder, run_dir=session.run_dir, position=session.position)
        self.host.post_message(SessionReady(session, origin, bridge, probe if session.classes else None, batches))

    def _fork(self, run_dir: Path, epoch: int, changed: dict, folder: str) -> None:
        """Forking thread: the parent's checkpoint restored, the changes applied (`forking.fork`)."""
        bridge = TrainingBridge(self.host.post_message)
        session = forking.fork(run_dir, epoch, {**changed, "checkpoints.folder": folder}, on_event=bridge.on_event,
                               dataset=self.dataset)
        probe = session.predict_test(session.probe_index)
        batches, _ = restore_batches(session.history, folder, run_dir=run_dir, position=session.position)
        self.host.post_message(SessionReady(session, "forked", bridge, probe if session.classes else None, batches))


# ====================================================================== rules
def needs_new_session(old: RunConfig, new: RunConfig) -> bool:
    """True when a config change alters the model, data or training set-up, so the session must be rebuilt.

    Live settings and the number of epochs apply to an existing session; the checkpoints folder
    only matters when a run opens its checkpoints.
    """
    return bool(session_changes(old, new))


def session_changes(old: RunConfig, new: RunConfig) -> list[str]:
    """The changed settings (dotted paths) that a session cannot take: each needs it rebuilt."""
    before, after = old.to_dict(), new.to_dict()
    return [f"{section}.{name}" for section, values in after.items() for name, value in values.items()
            if before[section][name] != value and f"{section}.{name}" not in _SESSION_SAFE and section != "checkpoints"]


def changed_live_settings(old: RunConfig, new: RunConfig) -> dict[str, object]:
    """The live settings whose values differ between two configs."""
    return {path: new.get(path) for path in LIVE_SETTINGS if old.get(path) != new.get(path)}


def base_save_name(config: RunConfig) -> str:
    """The name a quick save (ctrl+s) is given when it is free: the data set and the model."""
    return saves.sanitize_name(f"{config.data.name}-{model_name(config)}")


def default_save_name(config: RunConfig, folder: str | Path) -> str:
    """A free save name for a quick save (ctrl+s): `base_save_name`, numbered (-2, -3, ...) if taken."""
    base = base_save_name(config)
    name, n = base, 1
    while saves.save_path(name, folder).exists():
        n += 1
        name = f"{base}-{n}"
    return name
