"""The studio's run commands: the run keys (space, n, x, r, ctrl+s, q) and the panes' requests that replace the
studio's run (load a save, fork a run), each asking first when trained epochs would go.

A mixin of `StudioApp` (app.py), which holds the runner, the config and `_attempt`: every command goes
through `_attempt`, so a refusal or a session error becomes a notification, and the status shown is
the session's afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from nnstudio import saves

from ..run.curves import origin_of
from ..run.origins import trial_of

from .confirm_screen import ConfirmScreen
from .messages import LoadRequested, SaveRequested
from .runner import ModelSaved
from .runs_pane import RunsPane


class RunCommands:
    """The run keys' actions and the requests that open, fork or save a run (mixed into StudioApp)."""

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

    async def action_quit(self) -> None:
        """Quit; ask first when epochs were trained since the last save (saying whether the run's checkpoints keep
        them), and stop a running session cleanly."""
        async def leave() -> None:
            await self.runner.stop_and_wait()
            self.exit()

        sweep = self.panes["sweep"].sweep
        training = f"The sweep {sweep.name} is training: quitting stops its trials at their next batch, each with a " \
            f"checkpoint (nnstudio sweep --resume {sweep.name} finishes it)." if sweep is not None else ""
        if not self.runner.unsaved_epochs and not training:
            await leave()
            return
        said = " ".join(part for part in (training, self.runner.unsaved_epochs and self.runner.unsaved_text()) if part)
        question = ConfirmScreen("Quit nnstudio?", detail=said)
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
        """Offer the latest run cut off before it finished; a sweep's trial is its sweep's to finish (`nnstudio
        sweep --resume`, which records its result), so a cut-off sweep is named instead."""
        run, sweeps = None, []
        for interrupted in saves.find_interrupted_runs(self.config.checkpoints.folder):
            trial = trial_of(origin_of(interrupted.path))
            if trial is None:
                run = interrupted
                break
            if trial.sweep not in sweeps:
                sweeps.append(trial.sweep)
        if sweeps:
            self.notify("\n".join(f"{name}: nnstudio sweep --resume {name} finishes it" for name in sweeps),
                        title=f"Sweep{'s' if len(sweeps) > 1 else ''} cut off", timeout=20, markup=False)
        if run is None:
            return
        self.push_screen(
            ConfirmScreen(f"Resume run {run.name} (epoch {run.last_epoch})?", yes="Resume", no="Not now",
                          detail="It stopped before it finished (stopped, or cut off); its last checkpoint is on disk.", default=True),
            lambda yes: self._attempt(self.runner.open, run.path, "resumed", self.config.checkpoints.folder)
            if yes else None)


    def on_save_requested(self, message: SaveRequested) -> None:
        self._save(message.name, overwrite=message.overwrite)

    def _save(self, name: str, note: str = "", overwrite: bool = False) -> None:
        path = self._attempt(self.runner.save, name, self.config.checkpoints.folder, overwrite)
        if path is not None:
            self.notify(f"Saved as {path.stem}{note}. ({path})", title="Saved", markup=False)
            self.panes["saves"].refresh_catalogue(select=path.stem)
            self._tell_panes("on_session_event", ModelSaved(path))

    def on_runs_pane_fork_requested(self, message: RunsPane.ForkRequested) -> None:
        """The fork dialog's answer: the fork becomes the studio's run (after a yes if unsaved epochs would go)."""
        request = message.request
        self._confirm_discard(f"Fork {request.name}?", lambda: self._attempt(
            self.runner.fork, request.run_dir, request.epoch, request.changed, self.config.checkpoints.folder))

    def on_load_requested(self, message: LoadRequested) -> None:
        path = Path(message.path)
        self._confirm_discard(f"Load {path.name}?", lambda: self._attempt(
            self.runner.open, path, "loaded", self.config.checkpoints.folder))
