"""The studio's footer folds a burst of binding changes into one rebuild of its keys.

Every change of the bindings (a focus move, a pane shown, a key greyed out) notifies the footer
through the screen's `bindings_updated_signal`, and Textual's own Footer rebuilds all its keys
for each. How many of a pane switch's changes land between two screen refreshes depends on how
busy the machine is, so the tests here never count what happens to fall into real refresh
cycles: they publish a known number of notifications with no refresh between them (one
synchronous burst, exactly as Textual publishes them), let the refresh come, and count.
"""

from __future__ import annotations

import asyncio
from typing import Callable

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from nnstudio.tui.studio.footer import StudioFooter

WAIT = 60.0  # seconds: only a bound for a hung test, not a speed requirement


class Host(App):
    """One key, greyed out or not (`allowed`), and a footer to show it."""

    BINDINGS = [Binding("s", "save", "Save")]

    def __init__(self, footer: type[Footer]) -> None:
        super().__init__()
        self.footer_class = footer
        self.allowed = True

    def compose(self) -> ComposeResult:
        yield self.footer_class()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return True if action != "save" else (self.allowed or None)


class Rebuilds:
    """Counts the rebuilds of a footer class's keys (its `recompose`), and lets a test await the next one."""

    def __init__(self, monkeypatch, footer: type[Footer]) -> None:
        self.count = 0
        self._done = asyncio.Event()
        recompose = footer.recompose

        async def counting(footer_self):
            self.count += 1
            try:
                return await recompose(footer_self)
            finally:
                self._done.set()

        monkeypatch.setattr(footer, "recompose", counting)

    async def after(self, burst: Callable[[], None]) -> None:
        """Run `burst` (synchronous: no refresh can come in between), then wait until a rebuild has run."""
        self._done.clear()
        burst()
        await asyncio.wait_for(self._done.wait(), WAIT)


async def settle(pilot) -> None:
    """Let every callback already due run (a rebuild is scheduled after one refresh and runs after the next)."""
    for _ in range(3):
        await pilot.pause()


def burst(app: App, notifications: int) -> None:
    """`notifications` changes of the bindings with no refresh between them (nothing here awaits),
    the last one leaving the key enabled when `notifications` is odd."""
    for n in range(notifications):
        app.allowed = n % 2 == 0
        app.screen.refresh_bindings()  # what Textual calls on every change: publishes bindings_updated_signal


def save_key_greyed(app: App) -> bool:
    """Whether the footer shows the save key greyed out (it always shows it)."""
    (key,) = [key for key in app.query(FooterKey) if key.action == "save"]
    return key.has_class("-disabled")


@pytest.mark.parametrize("notifications", [1, 2, 3, 12])
async def test_a_burst_of_binding_changes_rebuilds_the_footer_once(monkeypatch, notifications):
    rebuilds = Rebuilds(monkeypatch, StudioFooter)
    app = Host(StudioFooter)
    async with app.run_test() as pilot:
        await settle(pilot)
        before = rebuilds.count
        await rebuilds.after(lambda: burst(app, notifications))
        await settle(pilot)  # a second rebuild, had one been scheduled, would have run by now
        assert rebuilds.count - before == 1
        # the one rebuild shows the bindings as the burst left them
        assert save_key_greyed(app) is (notifications % 2 == 0)


async def test_each_burst_after_a_refresh_gets_its_own_rebuild(monkeypatch):
    """Folding never swallows a later change: a burst that comes after the rebuild is shown too."""
    rebuilds = Rebuilds(monkeypatch, StudioFooter)
    app = Host(StudioFooter)
    async with app.run_test() as pilot:
        await settle(pilot)
        before = rebuilds.count
        for notifications in (3, 1, 2, 5):
            await rebuilds.after(lambda: burst(app, notifications))  # noqa: B023 (called at once)
            await settle(pilot)
            assert save_key_greyed(app) is (notifications % 2 == 0)
        assert rebuilds.count - before == 4


async def test_textual_s_own_footer_rebuilds_once_per_notification(monkeypatch):
    """Why StudioFooter exists, and proof that the counting above can see more than one rebuild."""
    rebuilds = Rebuilds(monkeypatch, Footer)
    app = Host(Footer)
    async with app.run_test() as pilot:
        await settle(pilot)
        before = rebuilds.count
        await rebuilds.after(lambda: burst(app, 5))
        await settle(pilot)
        assert rebuilds.count - before == 5
