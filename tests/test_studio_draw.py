"""Pane 9, Draw: the canvas from the keys and the mouse (Textual Pilot), the model's reading following it, what the
pane says for a model that cannot read drawings, an autoencoder's reconstruction; snapshots at 80x24."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from rich.text import Text
from textual.widgets import Static

from nnstudio.datasets import load_dataset
from nnstudio.tui.run import Session
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.drawing import DigitReader
from nnstudio.tui.run.inside import NotApplicable
from nnstudio.tui.studio.draw_canvas import DrawCanvas
from nnstudio.tui.studio.draw_pane import Picture
from nnstudio.tui.studio.launch import create_app

from studio_host import wait_for

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@pytest.fixture(scope="module")
def digits():
    """The embedded MNIST, its classes named in words (as an imported image set's may be)."""
    return dataclasses.replace(load_dataset("mnist-embedded"), class_names=WORDS)


def studio(tmp_path, dataset, preset="logreg", name="mnist-embedded", **data):
    config = RunConfig.from_dict({"data": {"name": name, **data}, "model": {"preset": preset},
                                  "training": {"epochs": 3, "batch_size": 128, "seed": 1},
                                  "checkpoints": {"folder": str(tmp_path / "saves")}})
    app = create_app(config=config, dataset=dataset, saves_dir=tmp_path / "saves", offer_resume=False)
    app.seen_notifications = []
    notify = app.notify

    def recording_notify(message, **options):
        app.seen_notifications.append(str(message))
        return notify(message, **options)

    app.notify = recording_notify
    return app


def pane(app):
    return app.panes["draw"]


def canvas(app) -> DrawCanvas:
    return app.query_one(DrawCanvas)


def caught_up(app) -> bool:
    """The reading shown is of the canvas as it is, with the model as it is."""
    draw = pane(app)
    return not draw.busy and draw.shown == (canvas(app).version, draw.generation)


def text_of(app, selector: str) -> str:
    content = app.query_one(selector, Static).render()
    return content.plain if isinstance(content, Text) else str(content)


async def draw_a_seven(pilot) -> None:
    """A seven from the keys alone: the pen lowered, moved along the strokes."""
    await pilot.press(*["up"] * 8, *["left"] * 5, "p", *["right"] * 10, *(["down", "down", "left"] * 6), "p")


# ---------------------------------------------------------------------------------------------- the keys
async def test_the_keys_draw_erase_and_clear(tmp_path, digits):
    app = studio(tmp_path, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        board = canvas(app)
        await wait_for(pilot, lambda: app.focused is board, "the canvas to have the focus")
        assert board.cursor == (14, 14) and not board.pixels.any()
        await pilot.press("space")
        assert board.pixels[14, 14] == 1.0 and app.status == "idle"   # space paints here: it does not train
        await pilot.press("right", "right")
        assert board.cursor == (14, 16) and not board.pixels[14, 16]   # pen up: moving draws nothing
        await pilot.press("p", "right", "right", "right")
        np.testing.assert_array_equal(board.pixels[14, 16:20], 1.0)    # pen down: the way is drawn
        await pilot.press("shift+left", "shift+left")
        assert board.cursor == (14, 17) and not board.pixels[14, 17:20].any()
        assert 0 < board.pixels[14, 16] < 1 and board.pixels[14, 14] == 1.0   # the brush's soft edge, and beyond it
        await pilot.press("p", "e", "left", "left", "space")
        assert board.cursor == (14, 15) and board.pixels[14, 15] == 0.0   # the eraser's dab
        await pilot.press("e", "space", "backspace")
        assert board.pixels[14, 15] == 0.0
        await pilot.press("c")
        assert not board.pixels.any()


async def test_the_brush_sizes_and_the_keys_that_cannot_act_say_why(tmp_path, digits):
    app = studio(tmp_path, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        board = canvas(app)
        await wait_for(pilot, lambda: app.focused is board, "the canvas to have the focus")
        await pilot.press("c")
        assert app.seen_notifications[-1] == "The canvas is empty already: there is nothing to clear."
        await pilot.press("plus")
        assert board.brush == 3
        app.clock = lambda: 100.0   # (a fake clock: the notice is still up when the key is pressed again)
        await pilot.press("plus", "plus", "plus")
        assert board.brush == 3 and "at its largest (3)" in app.seen_notifications[-1]
        assert sum("at its largest" in said for said in app.seen_notifications) == 1   # said once, not stacked
        app.clock = lambda: 100.0 + app.NOTIFICATION_TIMEOUT   # its notice gone: said again
        await pilot.press("plus")
        assert sum("at its largest" in said for said in app.seen_notifications) == 2
        await pilot.press("space")
        assert np.count_nonzero(board.pixels >= 0.5) == 9   # the largest brush: a 3x3 dab
        await pilot.press("c", "minus", "minus", "minus")
        assert board.brush == 1 and "at its smallest (1)" in app.seen_notifications[-1]
        await pilot.press("space")
        assert np.count_nonzero(board.pixels >= 0.5) == 1
        mode = text_of(app, "#draw-mode")
        assert "pen up · paints · brush 1 of 3" in mode and "escape: the run keys" in mode


async def test_escape_gives_space_back_to_the_run(tmp_path, digits):
    app = studio(tmp_path, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        await wait_for(pilot, lambda: app.focused is canvas(app), "the canvas to have the focus")
        await pilot.press("escape", "space")
        await wait_for(pilot, lambda: app.status in ("running", "finished"), "training to start")
        assert not canvas(app).pixels.any()
        await pilot.press("space")


# ---------------------------------------------------------------------------------------------- the mouse
async def test_the_mouse_paints_by_dragging_and_the_right_button_erases(tmp_path, digits):
    app = studio(tmp_path, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        board = canvas(app)
        # offsets are of the widget, border included: cell (x, y) is offset (1 + x, 1 + y), pixel rows 2y and 2y+1
        await pilot.mouse_down(DrawCanvas, offset=(1 + 10, 1 + 2))
        assert board.pixels[4:6, 10].min() > 0.5 and board.cursor == (5, 10)
        await pilot.hover(DrawCanvas, offset=(1 + 10, 1 + 9))
        await pilot.mouse_up(DrawCanvas, offset=(1 + 10, 1 + 9))
        assert board.pixels[4:20, 10].min() > 0.5   # the whole way, not only the two ends
        assert app.focused is board
        await pilot.hover(DrawCanvas, offset=(1 + 20, 1 + 5))
        assert not board.pixels[:, 15:].any()   # moving without a button draws nothing
        await pilot.click(DrawCanvas, offset=(1 + 10, 1 + 5), button=3)
        assert board.pixels[10:12, 10].max() == 0.0 and board.pixels[4:6, 10].min() > 0.5
        await pilot.click(DrawCanvas, offset=(1 + 3, 1 + 3), shift=True)
        assert not board.pixels[6:8, 3].any()   # shift erases too (nothing was there)


# ---------------------------------------------------------------------------------------------- the reading
async def test_the_reading_is_drawn_again_to_fit_a_resized_terminal(tmp_path, digits):
    """Bars drawn for 120 columns would wrap at 80 (and push classes off the screen); the picture the model sees
    is drawn full size only where there is room for it."""
    app = studio(tmp_path, digits)

    def fits() -> bool:
        answer = app.query_one("#draw-answer", Static)
        lines = text_of(app, "#draw-answer").splitlines()
        return len(lines) > 0 and max(map(len, lines)) <= answer.content_size.width

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("9")
        await draw_a_seven(pilot)
        await wait_for(pilot, lambda: caught_up(app) and "%" in text_of(app, "#draw-answer"), "the drawing read")
        assert fits() and app.query_one("#draw-seen", Static).styles.width.value == 30
        for size, seen_width in (((80, 24), 16), ((120, 40), 30)):
            await pilot.resize_terminal(*size)
            await wait_for(pilot, lambda: fits() and app.query_one("#draw-seen", Static).styles.width.value ==
                           seen_width, f"the reading drawn for {size}")
            assert text_of(app, "#draw-answer").count("%") == 10


async def test_the_reading_follows_the_canvas_live_with_the_classes_named(tmp_path, digits):
    app = studio(tmp_path, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        await wait_for(pilot, lambda: caught_up(app), "the empty canvas to be read")
        assert "Draw a digit on the canvas" in text_of(app, "#draw-answer")
        assert "untrained" in text_of(app, "#draw-title")
        await draw_a_seven(pilot)
        await wait_for(pilot, lambda: caught_up(app), "the drawing to be read")
        answer = text_of(app, "#draw-answer")
        assert all(word in answer for word in WORDS) and answer.count("%") == 10
        readings = pane(app).readings
        await pilot.press("space")   # one more dab: read again
        await wait_for(pilot, lambda: caught_up(app) and pane(app).readings > readings, "the dab to be read")
        # trained a little (escape, then n: one epoch), the same drawing is read by the trained model
        await pilot.press("escape", "n")
        await wait_for(pilot, lambda: app.status == "paused", "an epoch to be trained")
        await wait_for(pilot, lambda: caught_up(app) and "trained 1 epoch" in text_of(app, "#draw-title"),
                       "the trained model's reading")
        title = text_of(app, "#draw-title")
        assert "mnist-embedded, trained 1 epoch · reads " in title and title.split("reads ")[1].split()[0] in WORDS


async def test_a_loaded_save_is_the_model_that_reads(tmp_path, digits):
    config = RunConfig.from_dict({"data": {"name": "mnist-embedded"}, "model": {"preset": "logreg"},
                                  "training": {"epochs": 2, "batch_size": 128, "seed": 5}})
    session = Session(config, dataset=digits, checkpoints=False)
    session.run()
    path = session.save("digits", folder=tmp_path / "saves")
    app = create_app(config=config, dataset=digits, saves_dir=tmp_path / "saves", open_path=path, offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.session is not None and app.status == "idle", "the save to be loaded")
        await pilot.press("9")
        await draw_a_seven(pilot)
        await wait_for(pilot, lambda: caught_up(app) and "trained 2 epochs" in text_of(app, "#draw-title"),
                       "the loaded model's reading")
        expected = DigitReader.of_session(session).read(canvas(app).pixels).probabilities
        np.testing.assert_allclose(pane(app).reading.probabilities, expected, rtol=1e-5)


async def test_a_model_of_points_says_what_it_needs(tmp_path):
    app = studio(tmp_path, load_dataset("blobs", size=200, classes=3), preset="mlp", name="blobs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9", "space")
        await wait_for(pilot, lambda: caught_up(app), "the canvas to be read")
        answer = " ".join(text_of(app, "#draw-answer").split())
        assert answer == ("Reading a drawing needs a model of 28x28 grey images (MNIST, Fashion-MNIST, an imported "
                          "image set); this one learns blobs (2 numbers per example). Choose one in 2 Settings (data) "
                          "and train, or load such a save in 5 Saves.")
        assert not app.query_one("#draw-seen").display


async def test_an_autoencoder_draws_its_reconstruction(tmp_path, digits):
    app = studio(tmp_path, digits, preset="autoencoder")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        await draw_a_seven(pilot)
        await wait_for(pilot, lambda: caught_up(app) and canvas(app).pixels.any(), "the drawing to be read")
        content = app.query_one("#draw-answer", Static).content
        assert isinstance(content, Picture) and len(content.rows) == 14 + 2
        assert "what it makes of it" in "".join(segment.text for segment in content.rows[14])
        reading = pane(app).reading
        assert reading.probabilities is None and reading.reconstruction.shape == (28, 28)
        assert reading.reconstruction.max() > 0.1 and "reads" not in text_of(app, "#draw-title")


async def test_a_reading_never_queues_only_the_latest_canvas_is_read(tmp_path, digits):
    app = studio(tmp_path, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        await wait_for(pilot, lambda: caught_up(app), "the empty canvas to be read")
        before = pane(app).readings
        board = canvas(app)
        for col in range(5, 25):   # twenty changes at once, faster than any reading
            board.draw((14.5, col + 0.5))
        await wait_for(pilot, lambda: caught_up(app), "the last change to be read")
        assert pane(app).readings - before <= 3 and pane(app).shown[0] == board.version
        seen = app.query_one("#draw-seen", Static).content
        assert isinstance(seen, Picture) and len(seen.rows) == 7 + 2   # half size and a caption, however often drawn


async def test_no_model_yet_says_why(tmp_path, digits):
    app = studio(tmp_path, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        def no_model(purpose):
            raise NotApplicable(f"There is no model to {purpose} yet: layer 2 does not fit (a test)")
        pane(app).model_source = no_model
        await pilot.press("9", "space")
        await wait_for(pilot, lambda: caught_up(app), "the canvas to be read")
        assert text_of(app, "#draw-answer") == "There is no model to read your drawing yet: layer 2 does not fit (a test)"


async def test_without_colour_the_canvas_is_block_characters_and_the_cursor_reverse(tmp_path, digits, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = studio(tmp_path, digits)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9", "space", "up", "up")   # a dab at (14, 14); the cursor moved to (12, 14)
        board = canvas(app)
        line = board.render_line(7)    # pixel rows 14 and 15
        assert line.text[13:16] == "▀█▀" and line.text.count(" ") == 25   # (row 15 inked beneath the dab)
        cursor = board.render_line(6)  # pixel rows 12 and 13: the cursor's cell is reversed
        assert [segment.style.reverse for segment in cursor if segment.text.strip() or segment.style.reverse] == [True]
        assert cursor.text[14] == "▄"   # (the dab's edge on row 13, under the cursor on row 12)


# ---------------------------------------------------------------------------------------------- snapshots
def drawn_seven():
    async def run_before(pilot) -> None:
        await pilot.press("9")
        await draw_a_seven(pilot)
        await wait_for(pilot, lambda: caught_up(pilot.app), "the drawing to be read")
        await pilot.pause()
    return run_before


def test_snapshot_a_drawn_seven_80x24(snap_compare, tmp_path, digits):
    assert snap_compare(studio(tmp_path, digits), terminal_size=(80, 24), run_before=drawn_seven())


def test_snapshot_a_model_of_points_80x24(snap_compare, tmp_path):
    app = studio(tmp_path, load_dataset("blobs", size=200, classes=3), preset="mlp", name="blobs")

    async def run_before(pilot) -> None:
        await pilot.press("9")
        await wait_for(pilot, lambda: caught_up(pilot.app), "the canvas to be read")
        await pilot.pause()
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)

