"""The saves pane, driven by keys in a tiny host app: the catalogue, load, save as, delete, refresh.

The saves are real files written by `nnstudio.saves.save_model` from small models, with their
creation time fixed (and the clock's time zone set to UTC) so the table is the same on every
machine; a damaged file sits beside them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from textual import on
from textual.widgets import DataTable, Static

from nnstudio import saves
from nnstudio.engine import build_model, manual_seed
from nnstudio.saves import schema
from nnstudio.tui.render import size_text
from nnstudio.tui.studio.confirm_screen import ConfirmScreen
from nnstudio.tui.studio.messages import LoadRequested, SaveRequested
from nnstudio.tui.studio.saves_pane import SaveNameScreen, SavesPane
from studio_host import PaneHost

SIZES = [(80, 24), (120, 40)]


def small_spec(name: str, hidden: int) -> dict:
    return {"name": name, "input_shape": [2], "layers": [{"type": "linear", "out": hidden}, {"type": "relu"},
                                                         {"type": "linear", "out": 3}]}


def write_save(folder: Path, name: str, *, created: str, hidden: int = 8, accuracy: float = 0.9,
               epochs: int = 3, monkeypatch=None) -> Path:
    """A real save of a small model, as if written at `created` (UTC)."""
    monkeypatch.setattr(schema, "utc_now", lambda: created)
    manual_seed(0)
    history = [{"epoch": e + 1, "val_acc": accuracy * (e + 1) / epochs} for e in range(epochs)]
    return saves.save_model(folder / f"{name}{saves.SUFFIX}", build_model(small_spec("mlp", hidden)),
                            dataset="spirals", history=history, metrics={"val_acc": accuracy})


@pytest.fixture
def utc(monkeypatch):
    """Show times in UTC whatever the machine's zone (the pane shows local time)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def folder(tmp_path, monkeypatch, utc) -> Path:
    """A saves folder, given by a relative path (the pane shows it) with two saves and a damaged file."""
    monkeypatch.chdir(tmp_path)
    folder = Path("saves")
    folder.mkdir()
    write_save(folder, "spirals-small", created="2025-01-31T12:00:00.000Z", hidden=8, accuracy=0.9125,
               monkeypatch=monkeypatch)
    write_save(folder, "spirals-wide", created="2025-02-14T09:30:00.000Z", hidden=64, accuracy=0.975,
               epochs=12, monkeypatch=monkeypatch)
    (folder / f"truncated{saves.SUFFIX}").write_bytes(b"\x10\x00\x00")
    os.utime(folder / f"truncated{saves.SUFFIX}", (1_700_000_000, 1_700_000_000))   # 2023-11-14 22:13 UTC
    return folder


class _Host(PaneHost):
    """The saves pane alone, with a footer; remembers the LoadRequested and SaveRequested it gets."""

    def __init__(self, folder: Path) -> None:
        super().__init__(SavesPane(folder, id="saves-pane"))

    @on(LoadRequested)
    @on(SaveRequested)
    def record(self, message) -> None:
        self.posted.append(message)


def names(app: _Host) -> list[str]:
    table = app.query_one("#saves", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def row(app: _Host, name: str) -> list[str]:
    table = app.query_one("#saves", DataTable)
    return [str(cell) for cell in table.get_row(name)]


# ====================================================================== the catalogue
@pytest.mark.parametrize("size", SIZES)
async def test_the_catalogue_lists_real_saves_newest_first(folder, size):
    app = _Host(folder)
    async with app.run_test(size=size):
        assert names(app) == ["spirals-wide", "spirals-small", "truncated"]
        wide = row(app, "spirals-wide")
        assert wide[:6] == ["spirals-wide", "12", "97.50%", wide[3], "02-14 09:30", "spirals"]
        assert wide[3].endswith(" kB") and wide[6] == "mlp 2-64-3, 387 params"
        assert row(app, "spirals-small")[2] == "91.25%"
        damaged = row(app, "truncated")
        assert damaged[6].startswith("damaged: ") and damaged[1:3] == ["", ""]
        assert "3 files" in str(app.query_one("#saves-folder", Static).render())


async def test_at_80_columns_the_columns_that_tell_saves_apart_are_whole(folder):
    app = _Host(folder)
    async with app.run_test(size=(80, 24)):
        table = app.query_one("#saves", DataTable)
        widths = [column.get_render_width(table) for column in table.ordered_columns]
        keys = [column.key.value for column in table.ordered_columns]
        assert keys[:5] == ["name", "epochs", "accuracy", "size", "saved"]
        assert sum(widths[:5]) <= table.scrollable_content_region.width


async def test_the_selected_save_is_described_in_full(folder):
    app = _Host(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        detail = app.query_one("#saves-detail", Static)
        assert "mlp 2-64-3, 387 params · data spirals · saved 2025-02-14 09:30" in str(detail.render())
        await pilot.press("down", "down")
        assert "cannot be read" in str(detail.render())


async def test_an_empty_folder_says_what_to_do(tmp_path):
    app = _Host(tmp_path / "nothing-here")
    async with app.run_test(size=(80, 24)):
        hint = app.query_one("#saves-empty", Static)
        assert hint.display and "No saves yet" in str(hint.render()) and "press s" in str(hint.render())
        assert not app.query_one("#saves", DataTable).display


def test_sizes_read_like_a_file_manager():
    assert [size_text(n) for n in (830, 12_345, 4_200_000, 3_000_000_000)] == ["830 B", "12.3 kB", "4.2 MB",
                                                                               "3.0 GB"]


# ====================================================================== load
async def test_enter_or_l_asks_the_app_to_load_the_selected_save(folder):
    app = _Host(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await pilot.press("down", "l")
        assert app.posted == [LoadRequested(folder / f"spirals-wide{saves.SUFFIX}"),
                              LoadRequested(folder / f"spirals-small{saves.SUFFIX}")]
        await pilot.press("down", "l")          # the damaged file: refused here, with its reason
        assert len(app.posted) == 2


async def test_a_save_whose_tensors_do_not_fit_its_model_is_marked_and_not_loaded(folder):
    """The header reads, but a tensor's shape disagrees with the spec: listed, marked, refused."""
    import json

    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    good = folder / f"spirals-small{saves.SUFFIX}"
    with safe_open(str(good), framework="numpy") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(good))
    name = next(key for key in tensors if key.endswith("weight"))
    tensors[name] = np.zeros((tensors[name].shape[0] + 1, tensors[name].shape[1]), dtype=tensors[name].dtype)
    save_file(tensors, str(folder / f"misfit{saves.SUFFIX}"), metadata=metadata)
    json.loads(next(iter(metadata.values())))  # still a readable nnstudio header
    app = _Host(folder)
    async with app.run_test(size=(120, 40)) as pilot:
        assert "will not load" in " ".join(row(app, "misfit"))
        pane = app.query_one(SavesPane)
        pane.query_one("#saves", DataTable).move_cursor(row=names(app).index("misfit"), animate=False)
        await pilot.pause()
        assert "will not load" in str(pane.query_one("#saves-detail").render())
        await pilot.press("l")
        assert app.posted == []


# ====================================================================== save as
async def test_save_as_refuses_a_name_with_nothing_usable(folder):
    app = _Host(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s", *"../..", "enter")
        dialog = app.screen
        assert isinstance(dialog, SaveNameScreen)            # still asking
        assert "no usable characters" in str(dialog.query_one("#save-target", Static).render())
        assert dialog.query_one("#save").disabled
        await pilot.press("escape")
        assert app.posted == []


async def test_save_as_shows_the_file_and_posts_the_name(folder):
    app = _Host(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s", *"my model")
        target = str(app.screen.query_one("#save-target", Static).render())
        assert target == f"→ {Path('saves') / 'my-model.safetensors'}"
        await pilot.press("enter")
        assert app.posted == [SaveRequested("my-model", overwrite=False)]


async def test_save_as_an_existing_name_asks_before_replacing(folder):
    app = _Host(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s", *"spirals-small", "enter")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")                               # keep it: back to the name, to choose another
        assert isinstance(app.screen, SaveNameScreen) and app.posted == []
        await pilot.press("enter", "y")
        assert app.posted == [SaveRequested("spirals-small", overwrite=True)]


# ====================================================================== delete and refresh
async def test_delete_asks_first(folder):
    app = _Host(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        wide = folder / f"spirals-wide{saves.SUFFIX}"
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert wide.exists() and names(app)[0] == "spirals-wide"
        await pilot.press("d", "y")
        assert not wide.exists() and names(app) == ["spirals-small", "truncated"]
        assert app.posted == []


async def test_delete_in_the_pane_refuses_a_file_nnstudio_did_not_write(folder):
    """The pane deletes only nnstudio saves, as `nnstudio saves rm` does (a foreign .safetensors stays)."""
    from safetensors.numpy import save_file

    foreign = folder / f"theirs{saves.SUFFIX}"
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(foreign))
    app = _Host(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(SavesPane)
        pane.query_one("#saves", DataTable).move_cursor(row=names(app).index("theirs"), animate=False)
        await pilot.pause()
        await pilot.press("d", "y")
        await pilot.pause()
        assert foreign.exists() and "theirs" in names(app)


async def test_a_question_about_a_name_with_brackets_quotes_it_exactly(folder):
    """Names are any file's names: the dialog shows them as they are, never as markup."""
    app = _Host(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ConfirmScreen("Delete the save old[bold]run?", detail="saves/old[bold]run.safetensors"))
        await pilot.pause()
        assert "old[bold]run?" in str(app.screen.query_one("#confirm-question").render())
        assert "saves/old[bold]run" in str(app.screen.query_one("#confirm-detail").render())


async def test_refresh_reads_the_folder_again(folder, monkeypatch):
    app = _Host(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        write_save(folder, "newer", created="2025-03-01T08:00:00.000Z", monkeypatch=monkeypatch)
        assert "newer" not in names(app)
        await pilot.press("R")
        assert names(app)[0] == "newer"
        app.query_one(SavesPane).refresh_catalogue(select="spirals-small")   # what the app calls after a save
        await pilot.pause()
        assert app.query_one("#saves", DataTable).cursor_row == 2


# ====================================================================== snapshots
class TestSavesSnapshots:
    """The catalogue as a user sees it, with fixed dates: two saves and a damaged file."""

    def test_catalogue_80x24(self, snap_compare, folder):
        assert snap_compare(_Host(folder), terminal_size=(80, 24))

    def test_catalogue_120x40(self, snap_compare, folder):
        assert snap_compare(_Host(folder), terminal_size=(120, 40))

    def test_save_as_80x24(self, snap_compare, folder):
        async def save_as(pilot):
            await pilot.press("s", *"spirals-small")

        assert snap_compare(_Host(folder), terminal_size=(80, 24), run_before=save_as)
