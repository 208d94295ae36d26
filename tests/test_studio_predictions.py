"""The predictions pane: digits and their captions, the confusion matrix, an autoencoder's reconstructions, a
regression's errors, and the whole test set evaluated in a thread.

Each figure on the pane says which examples it counts (the probe's test sample, the validation
set, the whole test set); a model without classes shows errors where a classifier shows mistakes.
"""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from rich.console import Console
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from nnstudio.datasets import load_dataset
from nnstudio.tui.render import digit_lines
from nnstudio.tui.run import Session, Status
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio.launch import create_app
from nnstudio.tui.studio.digit_grid import DigitCard, DigitGrid, halfblock_rows
from nnstudio.tui.studio.predictions_pane import PAGE_SIZE, ProbeSet
from studio_host import screen_text
from studio_recorded import feed, mnist_probe
from test_studio_app import wait_for



def studio(tmp_path, **config):
    base = {"training": {"epochs": 10}}
    return create_app(config=RunConfig.from_dict({**base, **config}), saves_dir=tmp_path / "saves",
                      offer_resume=False)


def summary(app) -> str:
    return str(app.predictions.query_one("#probe-summary").render())


def footer_keys(app) -> set[str]:
    return {key.description for key in app.query_one(Footer).query(FooterKey)}


# ====================================================================== digits
def test_a_digit_is_14_lines_of_28_half_blocks_with_grey_levels():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[10:18, 12:16] = 255
    rows = halfblock_rows(image)
    texts = ["".join(segment.text for segment in row) for row in rows]
    assert len(rows) == 14 and all(len(text) == 28 and set(text) == {"▀"} for text in texts)
    styles = {segment.style for row in rows for segment in row}
    assert len(styles) >= 2  # ink and background differ
    ascii_art = digit_lines(image, mode="ascii")
    assert len(ascii_art) == 14 and "@" in "".join(ascii_art) and ascii_art[0].strip() == ""


def test_captions_mark_right_and_wrong_with_a_symbol_not_only_a_colour():
    image = np.zeros((28, 28), dtype=np.uint8)
    right, wrong = DigitCard(image, "7", "7", 0.98).caption(28), DigitCard(image, "3", "5", 0.61).caption(28)
    assert right.plain.startswith("✓ 7 → 7") and "98%" in right.plain and right.cell_len == 28
    assert wrong.plain.startswith("✗ 3 → 5") and "61%" in wrong.plain
    assert DigitCard(image, "4").caption(28).plain.strip() == "label 4"


async def test_no_color_draws_digits_with_the_ascii_ramp(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.press("4")
        await pilot.pause()
        grid = app.predictions.query_one(DigitGrid)
        assert grid.ascii
        drawn = "\n".join("".join(segment.text for segment in line) for line in grid.lines(120))
        assert "▀" not in drawn and "@" in drawn and "✗" in drawn and "✓" in drawn


async def test_predictions_keys_resample_and_show_only_mistakes(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.press("4")
        await pilot.pause()
        grid = app.predictions.query_one(DigitGrid)
        first = [card.true_label for card in grid.cards]
        assert len(first) == PAGE_SIZE
        await pilot.press("s")  # the next page of the probe set
        assert app.predictions.page == 1 and [c.true_label for c in grid.cards] != first

        await pilot.press("m")  # mistakes only, from the first page
        assert app.predictions.mistakes_only and app.predictions.page == 0
        assert grid.cards and all(card.correct is False for card in grid.cards)
        text = summary(app)
        assert "100 wrong" in text and "of 100 mistakes" in text
        app.predictions.page = 100 // PAGE_SIZE  # the last page of mistakes: the next one wraps around
        await pilot.press("s")
        assert app.predictions.page == 0
        await pilot.press("m")
        assert not app.predictions.mistakes_only


async def test_the_confusion_matrix_has_per_class_accuracy(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.press("4")
        await pilot.pause()
        console = Console(width=80, file=io.StringIO(), record=True, color_system=None)
        console.print(app.predictions.query_one("#confusion").content)
        lines = console.export_text().splitlines()
        assert lines[0].startswith("confusion · validation set (1,100)") and lines[1].split() == [*"0123456789", "acc"]
        rows = [line.split() for line in lines[2:12]]
        assert [row[0] for row in rows] == list("0123456789")
        assert all(row[-1] == "84%" for row in rows)  # 92 right of 110 in each class, as recorded


async def test_non_image_data_is_shown_as_a_table_of_inputs(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        probe = ProbeSet(np.array([0, 1, 2, 1]), ("0", "1", "2"), inputs=np.array([[0.5, 1.0]] * 4))
        app.predictions.show_probe(probe)
        outputs = np.eye(3)[[0, 1, 2, 2]] * 0.9 + 0.03
        app.predictions.show_outputs(outputs)  # no confusion given: made from the probe set
        await pilot.press("4")
        await pilot.pause()
        assert not app.predictions.query_one(DigitGrid).display
        assert app.predictions.confusion.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
        assert "3 right (75%), 1 wrong" in summary(app)


def test_the_probe_set_reads_raw_test_pixels_from_a_session(tmp_path):
    from nnstudio.datasets import load_dataset
    from nnstudio.tui.run import Session

    config = RunConfig.from_dict({"data": {"name": "mnist-embedded"}, "training": {"epochs": 1},
                                  "checkpoints": {"folder": str(tmp_path)}})
    session = Session(config, dataset=load_dataset("mnist-embedded"), checkpoints=False)
    session.prepare()
    probe = ProbeSet.from_session(session)
    assert probe.images.shape == (len(session.probe_index), 28, 28) and probe.images.dtype == np.uint8
    assert probe.labels.tolist() == session.dataset.y_test[session.probe_index].tolist()



# ====================================================================== what each figure counts
async def test_each_figure_says_which_examples_it_counts(tmp_path):
    """The probe's test sample, the validation set's confusion matrix: never "of 500 test examples" beside
    an unnamed validation figure."""
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app)
        await pilot.press("4")
        text = summary(app)
        assert text.startswith("500-image test sample: 400 right (80%), 100 wrong")
        assert "whole test set: press t" in text
        assert "confusion · validation set (1,100)" in screen_text(app)


@pytest.fixture(scope="module")
def blobs():
    return load_dataset("blobs", size=300, classes=3)


def blobs_studio(tmp_path, dataset):
    config = RunConfig.from_dict({
        "data": {"name": "blobs", "size": 300, "classes": 3},
        "model": {"spec": {"input_shape": [2], "layers": [{"type": "linear", "out": 8}, {"type": "relu"},
                                                          {"type": "linear", "out": 3}]}},
        "training": {"epochs": 3, "batch_size": 16, "seed": 3}})
    app = create_app(config=config, dataset=dataset, saves_dir=tmp_path / "saves", offer_resume=False)
    app.warnings = []
    notify = app.notify
    app.notify = lambda message, **options: (app.warnings.append(str(message)), notify(message, **options))[1]
    return app


async def test_t_evaluates_the_whole_test_set_in_a_thread(tmp_path, blobs, monkeypatch):
    """`t` shows the whole test set's accuracy ("test set: 93.3% of 60") and its confusion matrix, worked out
    in a thread worker on the weights as they were, never on the interface thread; new weights drop it."""
    threads = []
    evaluate = Session.evaluate_test
    monkeypatch.setattr(Session, "evaluate_test",
                        lambda self, model=None: (threads.append(threading.current_thread()), evaluate(self, model))[1])
    app = blobs_studio(tmp_path, blobs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        app.simulate_key("t")
        await pilot.pause()
        assert any("press space to train first" in w for w in app.warnings)  # nothing trained: says so
        app.simulate_key("n")  # one epoch, then paused
        await wait_for(pilot, lambda: app.status == "paused" and app.predictions.outputs is not None,
                       "one epoch's predictions")
        await pilot.press("t")
        await wait_for(pilot, lambda: app.predictions.test_result is not None, "the test set's figures")
        expected = app.session.evaluate_test()
        assert threads[0] is not threading.main_thread()
        text = summary(app)
        assert f"test set: {expected['test_acc']:.1%} of {expected['test_size']:,}" in text
        assert f"confusion · whole test set ({expected['test_size']:,})" in screen_text(app)
        assert app.predictions.test_result["confusion"] == expected["confusion"]

        app.predictions.set_running(Status.RUNNING)  # the weights move: refused, and said why
        await pilot.press("t")
        assert any("Pause training (space) first" in w for w in app.warnings)
        app.predictions.show_outputs(app.predictions.outputs * 0.5 + 0.1)  # another epoch's outputs
        assert app.predictions.test_result is None and "whole test set: press t" in summary(app)
        await app.runner.stop_and_wait()


async def test_the_confusion_matrix_is_one_key_away_in_a_narrow_terminal(tmp_path):
    """At 80 columns a matrix of full MNIST counts goes under the digits; `c` (named in the footer) scrolls
    to it and back. Where it fits beside the digits, there is no such key."""
    app = studio(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app)
        probe, outputs = mnist_probe()
        app.predictions.show_outputs(outputs, app.predictions.confusion * 60)  # 6,000-image counts: 4 digits
        await pilot.press("4")
        await wait_for(pilot, lambda: "Confusion" in footer_keys(app), "the footer to offer c")
        assert "rows: true" not in screen_text(app)
        await pilot.press("c")
        await pilot.pause()
        assert "confusion · validation set (66,000)" in screen_text(app) and "rows: true" in screen_text(app)
        await pilot.press("c")
        await pilot.pause()
        assert "rows: true" not in screen_text(app)
    app = studio(tmp_path)
    async with app.run_test(size=(200, 60)) as pilot:
        feed(app)
        await pilot.press("4")
        await pilot.pause()
        assert "rows: true" in screen_text(app) and "Confusion" not in footer_keys(app)


# ====================================================================== models without classes
async def test_an_autoencoder_shows_each_input_beside_its_reconstruction(tmp_path):
    """Not inputs captioned "label 1" and "500 mistakes": each input beside its reconstruction (drawn alike)
    with its error; `m` the worst reconstructions first, and the footer says "Worst"."""
    dataset = load_dataset("mnist-embedded")
    config = RunConfig.from_dict({"data": {"name": "mnist-embedded"}, "model": {"preset": "autoencoder"},
                                  "training": {"epochs": 1}, "checkpoints": {"folder": str(tmp_path)}})
    session = Session(config, dataset=dataset, checkpoints=False)
    session.prepare()
    probe = ProbeSet.from_session(session)
    outputs = session.predict_test(session.probe_index)
    targets = session.data.x_test[session.probe_index].reshape(len(probe), -1)
    errors = ((outputs - targets) ** 2).mean(axis=1)
    assert probe.task == "reconstruction"

    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.predictions.show_probe(probe)
        app.predictions.show_outputs(outputs)
        await pilot.press("4")
        await pilot.pause()
        grid = app.predictions.query_one(DigitGrid)
        first = grid.cards[0]
        assert first.reconstruction.shape == (28, 28) and first.error == pytest.approx(errors[0])
        assert first.caption(57).plain.startswith(f"{probe.label_name(0)} · input → output · MSE {errors[0]:.4f}")
        drawn = grid.lines(120)
        assert sum(segment.cell_length for segment in drawn[0]) == 2 * (28 * 2 + 1) + 2  # two pairs a row
        assert f"test sample: MSE {errors.mean():.4f}" in summary(app) and "mistakes" not in summary(app)
        assert "Worst" in footer_keys(app) and "Mistakes" not in footer_keys(app)

        await pilot.press("m")
        shown = [card.error for card in grid.cards]
        assert shown == pytest.approx(sorted(errors, reverse=True)[:PAGE_SIZE])
        assert f"1-{PAGE_SIZE} of {len(probe)} test images, worst first" in summary(app)


async def test_a_regression_shows_each_example_s_error_and_the_worst_first(tmp_path):
    app = studio(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        x = np.linspace(-1, 1, 20).reshape(-1, 1)
        probe = ProbeSet(np.sin(3 * x), (), inputs=x, task="regression")
        off = np.where(np.arange(20) % 5 == 0, 0.5, 0.01) * np.arange(20) / 20  # every fifth far off
        outputs = np.sin(3 * x) + off.reshape(-1, 1)
        app.predictions.show_probe(probe)
        app.predictions.show_outputs(outputs)
        await pilot.press("4", "m")
        await pilot.pause()
        errors = ((outputs - np.sin(3 * x)) ** 2).reshape(-1)
        text = screen_text(app)
        assert "sq. error" in text and f"MSE {errors.mean():.4f}" in summary(app) and "worst first" in summary(app)
        rows = [line.split() for line in text.splitlines() if line.strip().startswith(("-", "0."))][:3]
        assert [float(row[-1]) for row in rows] == [round(e, 4) for e in sorted(errors, reverse=True)[:3]]
