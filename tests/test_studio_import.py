"""The import dialog of the Settings pane (i): a CSV imported from the keyboard becomes the run's data set."""

from __future__ import annotations


import pytest
from textual import on
from textual.widgets import Input, Select, Static

from nnstudio.datasets import imported_names
from nnstudio.datasets.imported import imported_root
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio import import_screen
from nnstudio.tui.studio.import_screen import ImportScreen
from nnstudio.tui.studio.messages import ConfigChanged
from nnstudio.tui.studio.settings_pane import SettingsPane
from studio_host import PaneHost, screen_text, wait_for
from test_cli_data_import import loans_csv


class _Host(PaneHost):
    def __init__(self) -> None:
        super().__init__(SettingsPane(RunConfig().replace(**{"data.name": "spirals"}), id="settings"))

    @on(ConfigChanged)
    def record(self, message) -> None:
        self.posted.append(message)


async def open_dialog(pilot) -> ImportScreen:
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ImportScreen), "the import dialog")
    return pilot.app.screen


async def fill(pilot, screen: ImportScreen, field: str, text: str) -> None:
    box = screen.query_one(f"#import-{field}", Input)
    box.value = text
    box.focus()
    await pilot.pause()


def problem(screen: ImportScreen) -> str:
    return str(screen.query_one("#import-problem", Static).render())


async def test_a_csv_imported_from_the_dialog_becomes_the_data_set(tmp_path):
    path = loans_csv(tmp_path / "Loans 2024.csv")
    app = _Host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dialog(pilot)
        await fill(pilot, screen, "file", str(path))
        assert screen.query_one("#import-name", Input).value == "loans-2024"   # proposed from the file's name
        columns = str(screen.query_one("#import-columns", Static).render())
        assert "columns: age, income, debt, score, approved" in columns
        assert "target: approved (text: class names); features: the 4 others" in columns
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ImportScreen), "the dialog to close")
        await wait_for(pilot, lambda: app.posted, "the new data set applied")
        assert app.posted[-1].config.data.name == "loans-2024"
        select = app.query_one("#data-name", Select)
        assert select.value == "loans-2024" and ("loans-2024", "loans-2024") in select._options
        assert imported_names() == ["loans-2024"]


async def test_a_bad_file_says_why_in_the_dialog_and_keeps_what_was_typed(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,0\n3,oops,1\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(10)))
    app = _Host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dialog(pilot)
        await fill(pilot, screen, "file", str(bad))
        columns = str(screen.query_one("#import-columns", Static).render())
        assert "text in b: features must be numbers; name them in ignore" in columns   # (flagged before the import)
        await fill(pilot, screen, "name", "mine")
        await pilot.press("enter")
        await wait_for(pilot, lambda: problem(screen), "the problem shown")
        assert f"{bad}, line 3, column 'b': 'oops' is not a number" in problem(screen)
        assert app.screen is screen and screen.query_one("#import-file", Input).value == str(bad)
        assert screen.query_one("#import-name", Input).value == "mine" and not app.posted
        await fill(pilot, screen, "image", "28 by 28")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "images: an image size is HEIGHTxWIDTH" in problem(screen), "the field named")
        await fill(pilot, screen, "image", "")
        assert problem(screen) == ""   # (what was typed since makes the old problem stale)
        await fill(pilot, screen, "ignore", "b")
        assert "text in" not in str(screen.query_one("#import-columns", Static).render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ImportScreen), "the import without column b")
        assert imported_names() == ["mine"]


async def test_escape_closes_without_importing(tmp_path):
    app = _Host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dialog(pilot)
        await fill(pilot, screen, "file", str(loans_csv(tmp_path / "loans.csv")))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ImportScreen), "the dialog to close")
        assert imported_names() == [] and not app.posted


async def test_escape_during_an_import_stops_it_and_leaves_nothing(tmp_path, monkeypatch):
    """The import checks for a cancel at every chunk; the test presses escape at the first one."""
    path = loans_csv(tmp_path / "loans.csv")
    real_import = import_screen.import_file
    app = _Host()

    def escape_at_first_chunk(*args, progress, **kwargs):
        def pressed(done, total):
            app.screen.cancel.set()   # as escape does, from the interface thread
            progress(done, total)
        return real_import(*args, progress=pressed, **kwargs)

    monkeypatch.setattr(import_screen, "import_file", escape_at_first_chunk)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dialog(pilot)
        await fill(pilot, screen, "file", str(path))
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ImportScreen), "the dialog to close")
        assert imported_names() == [] and list(imported_root().iterdir()) == [] and not app.posted


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_the_dialog_fits(tmp_path, size):
    app = _Host()
    async with app.run_test(size=size) as pilot:
        await open_dialog(pilot)
        text = screen_text(app)
        for label in ("file", "name", "target", "ignore", "task", "test share", "images", "drop missing", "replace", "Import",
                      "Cancel"):
            assert label in text, label
