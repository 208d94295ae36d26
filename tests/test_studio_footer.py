"""The studio's footer: what it shows in a narrow terminal, and how it folds a burst of binding changes
into one rebuild of its keys.

At 80 columns it always shows space, `?` and `q` and the pane keys as one item, on every pane,
and drops the keys that matter least first (those that cannot act now, then the secondary ones).

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

from nnstudio.tui.studio.footer import FooterItem, StudioFooter, choose

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


# ====================================================================== what fits
def item(key: str, description: str, rank: int, order: int, enabled: bool = True) -> FooterItem:
    return FooterItem(key, key, description, key, enabled, "", rank, order)


def test_choose_keeps_the_essentials_and_drops_the_lowest_ranks_first():
    items = [item("a", "Add layer", 2, 0), item("m", "Move up", 4, 1), item("M", "Move down", 4, 2),
             item("u", "Undo", 5, 3, enabled=False), item("1-5", "Panes", 1, 4), item("space", "Run/Pause", 0, 5),
             item("n", "Step", 3, 6), item("?", "Help", 0, 7), item("q", "Quit", 0, 8)]
    everything = sum(i.width(False) for i in items)
    assert choose(items, everything) == (items, False)   # all of it fits as Textual draws it
    shown, compact = choose(items, 52)   # drawn compact: 30 cells for the essentials, 10 the panes, 12 the pane's key
    assert compact and [i.key for i in shown] == ["a", "1-5", "space", "?", "q"]
    assert sum(i.width(True) for i in shown) == 52
    shown, _ = choose(items, 81)   # the two secondary keys go together (22 cells)...
    assert [i.key for i in shown] == ["a", "m", "M", "1-5", "space", "n", "?", "q"]
    shown, _ = choose(items, 80)   # ...or not at all; a key that cannot act fills what is left
    assert [i.key for i in shown] == ["a", "u", "1-5", "space", "n", "?", "q"]
    assert [i.key for i in choose(items, 10)[0]] == ["space", "?", "q"]   # never fewer than these


def studio_app(tmp_path):
    from nnstudio.tui.run.config import RunConfig
    from nnstudio.tui.studio.launch import create_app

    return create_app(config=RunConfig(), saves_dir=tmp_path / "saves", offer_resume=False)


def footer_items(app) -> dict[str, tuple[str, int, int]]:
    """key as displayed -> (description, first column, column after it) of the keys the footer shows."""
    return {key.key_display: (key.description, key.region.x, key.region.right)
            for key in app.query_one(Footer).query(FooterKey)}


#: pane key -> the first key of that pane the footer must still show at 80 columns
PANE_FIRST_KEY = {"1": "a", "2": "esc", "3": "e", "4": "s", "5": "l", "6": "/", "7": "^r", "8": "["}


@pytest.mark.parametrize("pane", list(PANE_FIRST_KEY))
async def test_at_80_columns_the_footer_shows_space_help_and_quit_on_every_pane(tmp_path, pane):
    app = studio_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(pane)
        await settle(pilot)
        shown = footer_items(app)
        for key, description in (("space", "Run/Pause"), ("?", "Help"), ("q", "Quit"), ("1-9", "Panes")):
            assert shown.get(key, ("",))[0] == description, (key, shown)
        assert all(0 <= left < right <= 80 for _, left, right in shown.values()), shown   # nothing cut off
        if PANE_FIRST_KEY[pane]:
            assert PANE_FIRST_KEY[pane] in shown


async def test_a_wide_footer_shows_every_key_and_a_narrower_one_chooses_again(tmp_path):
    app = studio_app(tmp_path)
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.press("1")
        await settle(pilot)
        wide = footer_items(app)
        assert {"a", "e", "d", "⇧↑", "⇧↓", "p", "1-9", "space", "n", "x", "^s", "?", "q"} <= set(wide)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        narrow = footer_items(app)
        assert {"space", "?", "q", "1-9"} <= set(narrow) and len(narrow) < len(wide)
        assert all(right <= 80 for _, _, right in narrow.values())


async def test_a_notification_that_changes_no_key_keeps_the_keys_as_they_are():
    """A focus move notifies twice, a refresh apart, and a status change notifies whether or not it greys a
    key out: rebuilding identical keys (a dozen widgets mounted and styled) was most of a pane switch."""
    app = Host(StudioFooter)
    async with app.run_test() as pilot:
        await settle(pilot)
        keys = list(app.query(FooterKey))
        app.screen.refresh_bindings()  # nothing changed
        await settle(pilot)
        assert list(app.query(FooterKey)) == keys and all(key.is_attached for key in keys)
        app.allowed = False
        app.screen.refresh_bindings()  # the key is greyed out: rebuilt
        await settle(pilot)
        assert list(app.query(FooterKey)) != keys and save_key_greyed(app)
