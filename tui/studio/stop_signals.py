"""The studio's answer to SIGHUP (its SSH connection dropped) and SIGTERM: stop the run gently, then leave.

As in `nnstudio train` (`nnstudio.tui.run.signals`): a run under way stops at its next batch
boundary and writes its checkpoint (a partial one mid-epoch), so `--resume` or the studio's
resume offer continues it exactly; then the studio exits with 128 + the signal's number. After a
hangup nothing more is drawn: the standard streams that were the terminal now go to /dev/null.
A second SIGTERM leaves at once; a second SIGHUP (a shell passes the hangup on) is ignored.

The handlers are the event loop's (`loop.add_signal_handler`), so they run as ordinary callbacks
on the interface's thread, never in the middle of a redraw.

The terminal may fail a write (EIO) before SIGHUP is handled. Textual's output thread dies of
that, and the interface then waits forever for it to take the next frame: no handler runs, and
the run trains on unwatched. So the studio's driver writes through `TerminalOrNothing`, which
takes a failed write as the hangup it is: the terminal is forgotten and `TerminalGone` posted.
"""

from __future__ import annotations

import asyncio
import signal
from typing import IO, Awaitable, Callable

from textual.app import App
from textual.driver import Driver
from textual.message import Message

from ..run.signals import HANGUP, STOP_SIGNALS, exit_status, forget_the_terminal


class StopSignals:
    """Installs the handlers on `app`'s loop; `stop_and_wait()` ends a run under way (its checkpoint written)."""

    def __init__(self, app: App, stop_and_wait: Callable[[], Awaitable[None]]) -> None:
        self.app = app
        self.stop_and_wait = stop_and_wait
        self.signum: int | None = None   # the first stop signal received: the studio is leaving

    def install(self) -> None:
        """Call from the app's loop (on mount). Ctrl+C is a key in the studio, not a signal."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            if signum != signal.SIGINT:
                try:
                    loop.add_signal_handler(signum, self.received, signum)
                except (NotImplementedError, RuntimeError, ValueError):   # Windows, or a loop off the main thread
                    return

    def received(self, signum: int) -> None:
        if signum == HANGUP:
            forget_the_terminal()
        if self.signum is None:
            self.signum = signum
            self.app.call_next(self._leave)
        elif signum != HANGUP:   # a second SIGTERM: now (the run resumes from its last checkpoint)
            self.app.exit(return_code=exit_status(signum))

    async def _leave(self) -> None:
        await self.stop_and_wait(f"stopped by {STOP_SIGNALS.get(self.signum, 'a signal')}")
        self.app.exit(return_code=exit_status(self.signum))


class TerminalGone(Message):
    """A write to the terminal failed: it hung up (posted from Textual's output thread)."""


class TerminalOrNothing:
    """The file the driver draws on, for as long as it is there: a write that fails forgets the terminal
    (later writes go to /dev/null) and tells the app, instead of killing the thread that writes."""

    def __init__(self, file: IO[str], app: App) -> None:
        self._file, self._app = file, app
        self._gone = False

    def write(self, text: str) -> int:
        try:
            return self._file.write(text)
        except OSError:
            self._lost()
            return len(text)

    def flush(self) -> None:
        try:
            self._file.flush()
        except OSError:
            self._lost()

    def _lost(self) -> None:
        forget_the_terminal()
        if not self._gone:
            self._gone = True
            self._app.post_message(TerminalGone())

    def __getattr__(self, name: str):
        return getattr(self._file, name)


def hangup_safe(driver_class: type[Driver]) -> type[Driver]:
    """The platform's terminal driver, drawing through `TerminalOrNothing` (others are left as they are)."""
    try:
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:   # (Windows)
        return driver_class
    if not issubclass(driver_class, LinuxDriver):
        return driver_class

    class HangupSafeDriver(driver_class):
        def __init__(self, app: App, *args, **kwargs) -> None:
            super().__init__(app, *args, **kwargs)
            self._file = TerminalOrNothing(self._file, app)

    return HangupSafeDriver
