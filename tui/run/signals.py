"""The signals that end a run: Ctrl+C (SIGINT), a closed terminal (SIGHUP), a polite kill (SIGTERM).

Over SSH a dropped connection is the everyday way a run ends: the terminal hangs up and the
program gets SIGHUP; `kill`, systemd and batch schedulers send SIGTERM. All three mean "stop":
a run stops at the next batch boundary, writes its partial checkpoint and exits with the
conventional status, 128 + the signal's number (130, 129, 143), as a shell reports a process
the signal ended. A second Ctrl+C or SIGTERM means "now" (the run resumes from its last
checkpoint); a second SIGHUP is ignored: a shell passes the hangup on to its jobs after the
terminal sent it, so one dropped connection can deliver two.

After a hangup the terminal is gone: writing to it fails (EIO) and could kill the program before
its checkpoint is written. `forget_the_terminal` points the standard streams that were the
terminal at /dev/null first, so nothing is written to a terminal that is gone; output sent to
a file or a pipe still goes there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
from typing import Callable, Iterator

#: the signals that stop a run, and how a message names each
STOP_SIGNALS: dict[int, str] = {signal.SIGINT: "Ctrl+C", signal.SIGTERM: "SIGTERM"}
if hasattr(signal, "SIGHUP"):   # (not on Windows)
    STOP_SIGNALS[signal.SIGHUP] = "SIGHUP (the terminal closed)"
HANGUP = getattr(signal, "SIGHUP", None)


class StopSignal(KeyboardInterrupt):
    """A stop signal that must act at once (outside a run, or a second one during it): unwinds like Ctrl+C."""

    def __init__(self, signum: int) -> None:
        super().__init__(STOP_SIGNALS.get(signum, f"signal {signum}"))
        self.signum = signum


def exit_status(signum: int | None) -> int:
    """The conventional exit status of a program that a signal stopped (Ctrl+C's 130 when none is known)."""
    return 128 + (signum if signum is not None else signal.SIGINT)


def signal_of(interrupt: BaseException) -> int:
    """Which signal a KeyboardInterrupt stands for (a plain one is Ctrl+C)."""
    return getattr(interrupt, "signum", signal.SIGINT)


def forget_the_terminal() -> None:
    """Point stdin, stdout and stderr that were the (now gone) terminal at /dev/null; leave files and pipes.

    A terminal that hung up no longer answers `isatty` (the kernel fails its ioctls), so a terminal
    is told by what it still is: a character device, and not /dev/null itself.
    """
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    try:
        devnull = os.fstat(null).st_rdev
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                status = os.fstat(fd)
                if stat.S_ISCHR(status.st_mode) and status.st_rdev != devnull:
                    os.dup2(null, fd)
    finally:
        os.close(null)


@contextlib.contextmanager
def stop_signals_unwind() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP unwind the program like Ctrl+C does (as `StopSignal`), so
    that files being written are cleaned up and the exit status names the signal; the handlers before
    are put back after. Main thread only (elsewhere this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS if signum != signal.SIGINT}
    for signum in previous:
        signal.signal(signum, _raise)
    try:
        yield
    finally:
        _put_back(previous)


def _put_back(handlers: dict) -> None:
    for signum, handler in handlers.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _raise(signum: int, frame) -> None:
    if signum == HANGUP:
        forget_the_terminal()
    raise StopSignal(signum)


class GracefulStop:
    """While a run trains in the main thread: the first stop signal calls `stop()` (the run stops at the
    next batch boundary and writes its checkpoint), and `signum` records which signal it was."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self.stop = stop
        self.signum: int | None = None

    @property
    def name(self) -> str | None:
        """How a message names the signal that stopped the run (None: none did)."""
        return STOP_SIGNALS.get(self.signum) if self.signum is not None else None

    def handle(self, signum: int, frame=None) -> None:
        if signum == HANGUP:
            forget_the_terminal()
        if self.signum is None:
            self.signum = signum
            self.stop()
        elif signum != HANGUP:   # a second Ctrl+C or SIGTERM: now
            raise StopSignal(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator["GracefulStop"]:
        """Handle the stop signals while the block runs (signals reach only the main thread: elsewhere
        this does nothing), then put the previous handlers back."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.handle)
        try:
            yield self
        finally:
            _put_back(previous)
