"""Whether each of the studio's run keys can act now, and if not, why: the one table of that.

The footer greys a key that cannot act (`StudioApp.check_action`), a press of it anyway shows
the reason (`StudioApp.run_action`), the command palette leaves it out, and the runner refuses
the command with the same words (`SessionRunner`), all from `refusal` below. A key that can act
always does something visible; one that cannot says what would let it ("stop the run first (x),
then r re-initialises"), never nothing.

The keys' actions are the app's: toggle_run (space), step (n, N), stop (x), reinitialise (r),
save (ctrl+s); load (ctrl+o), help (?), quit (q) and the pane keys always act.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..run import Status

class Refused(Exception):
    """A command that does not apply now; the message says what to do instead (`SessionRunner` raises it)."""


#: the actions whose availability depends on the run (every other action of the app always acts)
RUN_ACTIONS = ("toggle_run", "step", "stop", "reinitialise", "save")


@dataclass(frozen=True)
class RunState:
    """What the keys depend on: the run's status and a few facts about the session behind it."""

    status: Status
    opening: bool = False    # a save or an interrupted run is being opened: there is no session to command yet
    session: bool = False    # there is a session (trained, loaded, or failed to start)
    prepared: bool = False   # its data set is loaded and its model built (a start that failed to get there is redone)
    trained: int = 0         # epochs in its history, a loaded save's included
    planned: int = 0         # training.epochs: the epoch the run trains up to, counting those it has
    model_problem: str | None = None   # why the model on the Model pane cannot be trained (it does not build or fit)
    followed: str = ""       # who trains the run the studio follows ("pid 4242 on gpu-box"); "" when it follows none

    @property
    def epochs_left(self) -> int:
        return max(self.planned - self.trained, 0)


def refusal(action: str, state: RunState) -> str | None:
    """None when `action` can act in `state`; otherwise one sentence saying why not and what to do."""
    if action not in RUN_ACTIONS:
        return None
    if state.opening:
        return "A model is being opened: wait until it is shown."
    return _RULES[action](state)


def _start(state: RunState) -> str | None:
    """Starting or continuing the run (space or n when no training thread is alive)."""
    status = state.status
    if status is Status.PREPARING:
        return "The run is being prepared (the data set loaded, the model built): x stops it."
    if status is Status.STOPPING:
        return "The run is stopping after this batch: space continues it once it has stopped."
    if state.model_problem is not None:
        return (f"The model in 1 Model cannot be trained: {state.model_problem}. Fix it there (i fits its ends to "
                "the data set, u undoes the last change).")
    if status is Status.DIVERGED:
        return ("This run diverged: lower the learning rate in Settings (2), then press r to re-initialise and "
                "space to train afresh.")
    if status is Status.FAILED and state.prepared:
        return "This run failed: press r to re-initialise (fix what the message said first), then space."
    if state.prepared and not state.epochs_left:
        return (f"The run has trained its {state.trained} epochs, all that epochs asks for (it counts the epochs "
                f"done): raise epochs above {state.trained} in Settings (2) to train more, or press r to start "
                "afresh.")
    return None


def _toggle_run(state: RunState) -> str | None:
    if state.status in (Status.RUNNING, Status.STEPPING, Status.PAUSING, Status.PAUSED):
        return None   # pause, or resume
    return _start(state)


def _step(state: RunState) -> str | None:
    status = state.status
    if status is Status.PAUSED:
        return None
    if status in (Status.RUNNING, Status.STEPPING):
        return "n and N step while paused: pause first (space)."
    if status is Status.PAUSING:
        return "Pausing after this batch: n and N step once it is paused."
    return _start(state)


def _stop(state: RunState) -> str | None:
    status = state.status
    if status is Status.STOPPING:
        return "Already stopping after this batch."
    if status.busy:
        return None
    return "Nothing is training: x stops a run under way (space starts one)."


def _reinitialise(state: RunState) -> str | None:
    status = state.status
    if state.followed and status.busy:
        return (f"This run trains in another process ({state.followed}); the studio only follows it: x stops it, o in "
                "the Runs pane (6) stops following.")
    if status is Status.PAUSED:
        return "The run is paused, not stopped: stop it first (x), then r re-initialises."
    if status.busy:
        return "Training is under way: stop it first (x), then r re-initialises."
    if not state.session:
        return "Nothing to re-initialise: the model is not trained yet (space trains it)."
    return None


def _save(state: RunState) -> str | None:
    status = state.status
    if state.followed:
        return ("The followed run's weights are in its own process, not here: its checkpoints are in its run folder "
                "(f in the Runs pane, 6, forks it from one).")
    if not state.trained:
        return "Nothing trained to save yet: press space to train first."
    if status is Status.PAUSING:
        return "Pausing after this batch: ctrl+s saves once it is paused."
    if status is Status.STOPPING:
        return "Stopping after this batch: ctrl+s saves once it has stopped."
    if status is Status.FAILED:
        return "This run failed, so its weights are not saved: press r to start afresh."
    if not status.still:
        return "Training is under way: pause (space) or stop (x) first, then ctrl+s saves."
    return None


_RULES = {"toggle_run": _toggle_run, "step": _step, "stop": _stop, "reinitialise": _reinitialise, "save": _save}
