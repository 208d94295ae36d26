"""Following, in the studio, a run that another process trains (`nnstudio train --detach`, another studio): its
history so far and then live in the Monitor, as if it trained here, and the run keys sent to it.

    o in the Runs pane (6)   follow the selected run (running in another process); again: stop following

A thread worker (`follow_run`) reads the run's history as it grows (`run.following.FollowedRun`) and
hands it on as a session's news would come: batches through the runner's bridge, everything else
as `SessionEvent` messages, which the app handles as its own session's (`session_news.py`), and the
few kinds only a followed run sends here (`RunFollowing.on_run_news`). Space, n, x and the live
settings of the Settings pane go to the run through its folder (`SessionRunner`); what came of
them shows when the run's history says so. Following ends when the run ends (its status stays
shown: space then resumes a stopped run here, or trains a finished one's settings afresh) or when
the studio is told to stop (o again); the run itself goes on in its process.

Two mixins: `RunFollowing` of `StudioApp` (app.py), as `run_commands.RunCommands` is, and `FollowingRunner` of
`SessionRunner` (runner.py), which holds the followed run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from textual.message import Message

from ..run import ConfigError, SessionError
from ..run.config import LIVE_SETTINGS
from ..run.following import BatchRows, FollowedRun, FollowEnded, SettingChanged
from ..run.history import RunHistory
from ..run.steering import Steered
from .messages import SessionEvent
from .run_keys import Refused

#: seconds between two reads of the followed run's history (the run flushes it about once a second)
FOLLOW_SECONDS = 0.2


@dataclass
class FollowReady(Message):
    """The followed run's history so far was read (in the follower's thread): show it; its news follow."""

    followed: FollowedRun
    history: RunHistory
    quit: threading.Event   # set if the studio stopped following meanwhile: then this is old news


def follow_run(followed: FollowedRun, bridge: Any, post: Callable[[Message], object], quit: threading.Event) -> None:
    """The follower's thread: the history so far (FollowReady; SessionError if the run cannot be followed), then
    every FOLLOW_SECONDS what came since, until the run ends or `quit` is set."""
    history = followed.open()
    post(FollowReady(followed, history, quit))
    while followed.ended is None and not quit.wait(FOLLOW_SECONDS):
        for event in followed.poll():
            if isinstance(event, BatchRows):
                bridge.feed(event.latest, event.rows)
            else:
                post(SessionEvent(event, bridge))


class FollowingRunner:
    """The runner's side (mixed into `SessionRunner`): the followed run, the thread that reads it, the run keys'
    commands sent to it. The runner's `status`, `state` and `run_dir` are the followed run's while there is one.

    (The runner's `__init__` sets `followed`, the run followed, and `quit_following`, the event that ends the
    follower's thread; each follow gets one of its own.)
    """

    @property
    def following(self) -> bool:
        """A run another process trains is followed, and has not ended: the run keys steer it."""
        return self.followed is not None and self.followed.busy

    def follow(self, run_dir: Path) -> None:
        """Follow a run another process trains, in a thread worker (`follow_run`): FollowReady follows, then its
        news. The studio's own session, which must not be training, is let go."""
        if self.busy and not self.following:
            raise Refused("Stop training (x) before following another run: the Monitor shows one run at a time.")
        self.let_go()
        self.session, self.unsaved_epochs, self.saved_as = None, 0, None
        self.bridge = self.new_bridge()
        self.quit_following = threading.Event()
        self.opening = True
        self.host.run_worker(partial(follow_run, FollowedRun(run_dir), self.bridge, self.host.post_message,
                                     self.quit_following), thread=True, exclusive=True, group="follow",
                             exit_on_error=False, name="follow")

    def adopt_followed(self, followed: FollowedRun) -> None:
        """The followed run's history is shown: from now on the run keys go to it."""
        self.followed, self.opening = followed, False

    def let_go(self) -> None:
        """Stop following (the run goes on in its process); the followed run is no longer the studio's."""
        self.quit_following.set()
        self.followed = None

    def _steer(self, command: str, *args) -> None:
        """A run key's command to the followed run, through its run folder (Refused if it cannot be sent)."""
        try:
            getattr(self.followed, command)(*args)
        except SessionError as error:
            raise Refused(str(error)) from None


class RunFollowing:
    """The studio's handlers of a followed run (mixed into StudioApp)."""

    def on_runs_pane_follow_requested(self, message) -> None:
        """o in the Runs pane: follow the run (after a yes if unsaved epochs would go), or stop following it."""
        path = Path(message.path)
        followed = self.runner.followed
        if followed is not None and self.runner.following and self.runs.followed == path:
            self.stop_following()
            return
        self._confirm_discard(f"Follow {path.name}?", lambda: self._attempt(self.runner.follow, path))

    def on_follow_ready(self, message: FollowReady) -> None:
        """The followed run's history is read: it becomes the run the studio shows, its settings the studio's."""
        if message.quit.is_set() or not self.is_running:
            return
        followed, history = message.followed, message.history
        self.runner.adopt_followed(followed)
        self.config = followed.config.replace(**{"checkpoints.folder": self.config.checkpoints.folder})
        self._push_config()
        self._clear_displays(history.epochs, history.batches, followed.train_size)
        first = history.runs[0] if history.runs else {}
        self.monitor.task = first.get("task") if first.get("task") in ("classification", "regression",
                                                                        "reconstruction") else None
        self._follow_status()
        self.action_show_pane("monitor")
        self.notify(f"{followed.name} trains in {followed.holder}. Space pauses or resumes it, x stops it, live "
                    f"settings (2) go to it; o in the Runs pane (6) stops following.", title="Following",
                    markup=False, timeout=10)

    def stop_following(self) -> None:
        """Let go of the followed run (it trains on in its process); the studio shows no run."""
        followed = self.runner.followed
        self.runner.let_go()
        self._clear_displays()
        self._follow_status()
        self._push_config()
        if followed is not None:
            self.notify(f"{followed.name} trains on in {followed.holder}.", title="Stopped following", markup=False)

    def on_run_news(self, event) -> bool:
        """News only a followed run (or a run steered from another process) sends: True once handled."""
        if isinstance(event, SettingChanged):
            self._take_setting(event.path, event.value)
            return True
        if isinstance(event, Steered):   # the studio's own run, steered from another process (runs pause, ...)
            if event.ok and event.do == "set" and event.path is not None:
                self._take_setting(event.path, event.value)
            self.notify(event.text, title="From another process", severity="information" if event.ok else "warning",
                        markup=False, timeout=10)
            return True
        if isinstance(event, FollowEnded):
            self.notify(event.text, title="Followed run " + ("cut off" if event.cut_off else "ended"), markup=False,
                        severity="warning" if event.cut_off or event.status.ended else "information", timeout=15)
            self._follow_status()
            self._push_config()   # (the title no longer says it is followed)
            self.runs.refresh_runs()
            return True
        return False

    def _take_setting(self, path: str, value: Any) -> None:
        """A live setting the run took: the studio's config shows it (the Settings pane too)."""
        if path not in LIVE_SETTINGS or self.config.get(path) == value:
            return
        try:
            self.config = self.config.replace(**{path: value})
        except ConfigError:
            return
        self._push_config()
