"""A host app for testing one studio pane alone: the pane, a footer, and the messages it posted."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Footer


class PaneHost(App):
    """Shows `pane` with a footer; subclasses record in `posted` the messages they handle."""

    def __init__(self, pane: Widget) -> None:
        super().__init__()
        self.pane = pane
        self.posted: list = []

    def compose(self) -> ComposeResult:
        yield self.pane
        yield Footer()


def screen_text(app) -> str:
    """The screen as the terminal would show it, as plain text (one line per row): what a user can read."""
    return "\n".join("".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips())


WAIT = 60.0  # seconds: only a bound for a hung test, not a speed requirement


async def wait_for(pilot, condition, what: str) -> None:
    """Let the app run until `condition()` holds; fail naming `what` (and the run's status) if it never does."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            status = getattr(pilot.app, "status", None)
            raise AssertionError(f"timed out waiting for {what}" + (f" (status {status})" if status else ""))
        await pilot.pause(0.02)
