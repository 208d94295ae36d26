"""Pictures made as MNIST made its digits (datasets/digit_style.py), and a model reading them (tui/run/drawing.py).

A digit moved about the canvas, or drawn small, must come out as the same 28x28 picture, centred
by its centre of mass, so a model trained on MNIST reads it the same.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnstudio.datasets import load_dataset
from nnstudio.engine.evaluation import predict
from nnstudio.datasets.digit_style import FIELD, area_weights, as_ink, centre_of_mass, ink_box, ink_on_dark, mnist_style
from nnstudio.tui.run import Session
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.drawing import DigitReader, NotDrawable

CENTRE = (FIELD - 1) / 2


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """Real test digits (the embedded MNIST subset), uint8 28x28."""
    return load_dataset("mnist-embedded").x_test[::25][:40].reshape(-1, 28, 28)


def trained(preset: str = "logreg", epochs: int = 3, **data) -> Session:
    config = RunConfig.from_dict({"data": {"name": "mnist-embedded", **data}, "model": {"preset": preset},
                                  "training": {"epochs": max(epochs, 1), "batch_size": 64, "seed": 0}})
    session = Session(config, checkpoints=False)
    session.prepare()
    if epochs:
        session.run()
    return session


@pytest.fixture(scope="module")
def reader() -> DigitReader:
    """A logistic regression trained on the embedded MNIST, standardised inputs (about 90% right)."""
    return DigitReader.of_session(trained(standardize=True))


def placed(digit: np.ndarray, row: int, col: int, side: int = 40) -> np.ndarray:
    """The digit's ink at (row, col) of an empty side x side canvas, as floats in [0, 1]."""
    box = ink_box(as_ink(digit))
    ink = as_ink(digit)[box]
    canvas = np.zeros((side, side), np.float32)
    canvas[row:row + ink.shape[0], col:col + ink.shape[1]] = ink
    return canvas


# ---------------------------------------------------------------------------------------------- moved, scaled
def test_a_digit_moved_about_the_canvas_comes_out_the_same_and_reads_the_same(digits, reader):
    misread_in_a_corner = 0
    for digit in digits:
        pictures = [placed(digit, row, col) for row, col in ((0, 0), (9, 4), (17, 18))]
        styled = [mnist_style(p) for p in pictures]
        for other in styled[1:]:
            np.testing.assert_allclose(other, styled[0], atol=1e-5)
        answers = {int(np.argmax(reader.read(p).probabilities)) for p in pictures}
        assert len(answers) == 1
        # the same digit in a corner, not centred, is another input altogether: the centring is what reads it
        corner = predict(reader.model, reader.model_input(placed(digit, 0, 0, side=FIELD)))
        misread_in_a_corner += int(np.argmax(corner) not in answers)
    assert misread_in_a_corner >= len(digits) // 4


def test_the_centred_digit_reads_as_mnist_labels_it(reader):
    dataset = load_dataset("mnist-embedded")
    x, y = dataset.x_test[:300].reshape(-1, 28, 28), dataset.y_test[:300]
    right = sum(int(np.argmax(reader.read(picture).probabilities)) == label for picture, label in zip(x, y))
    assert right / len(y) > 0.8   # MNIST's digits already are so made: the steps change them little


def test_a_small_digit_is_scaled_up_to_twenty_pixels(digits, reader):
    digit = as_ink(digits[3])
    small = digit.reshape(14, 2, 14, 2).mean(axis=(1, 3))   # drawn at half the size, in a corner
    canvas = np.zeros((28, 28), np.float32)
    canvas[:14, :14] = small
    styled = mnist_style(canvas)
    rows, cols = ink_box(styled)
    assert max(rows.stop - rows.start, cols.stop - cols.start) in (20, 21)   # (+1: a fraction of a pixel's move)
    assert np.argmax(reader.read(canvas).probabilities) == np.argmax(reader.read(digit).probabilities)


@pytest.mark.parametrize("height, width", [(10, 4), (4, 10), (30, 6), (7, 7)])
def test_the_aspect_is_kept(height, width):
    canvas = np.zeros((40, 40), np.float32)
    canvas[3:3 + height, 5:5 + width] = 1.0
    styled = mnist_style(canvas)
    rows, cols = ink_box(styled)
    long, short = max(height, width), min(height, width)
    got = sorted((rows.stop - rows.start, cols.stop - cols.start))
    assert got[1] in (20, 21) and abs(got[0] - short * 20 / long) <= 1.5


def test_an_empty_picture_stays_empty():
    for empty in (np.zeros((28, 28)), np.zeros((3, 90), np.uint8), np.zeros((1, 1))):
        styled = mnist_style(empty)
        assert styled.shape == (28, 28) and styled.dtype == np.float32 and not styled.any()


def test_a_digit_is_placed_by_its_centre_of_mass_not_its_box():
    """An L's mass sits in its long stroke: the stroke, not the box's middle, goes to the centre."""
    canvas = np.zeros((28, 28), np.float32)
    canvas[4:20, 4:6] = 1.0
    canvas[18:20, 4:14] = 1.0
    styled = mnist_style(canvas)
    assert centre_of_mass(styled) == pytest.approx((CENTRE, CENTRE), abs=1e-3)
    box = ink_box(styled)
    assert abs((box[1].start + box[1].stop - 1) / 2 - CENTRE) > 1   # the box itself is off-centre


def test_values_of_0_to_255_read_as_0_to_1():
    canvas = np.zeros((28, 28), np.float32)
    canvas[5:20, 10:14] = 255.0
    np.testing.assert_allclose(mnist_style(canvas), mnist_style(canvas / 255.0), atol=1e-6)
    np.testing.assert_allclose(mnist_style(canvas.astype(np.uint8)), mnist_style(canvas / 255.0), atol=1e-6)


def test_area_weights_average_shrinking_and_share_a_fractional_move():
    np.testing.assert_allclose(area_weights(4, 0.5, 0.0, 2), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    np.testing.assert_allclose(area_weights(2, 1.0, 0.25, 3), [[0.75, 0, ], [0.25, 0.75], [0, 0.25]])


# ---------------------------------------------------------------------------------------------- properties
pictures = st.one_of(
    arrays(np.float32, st.tuples(st.integers(1, 50), st.integers(1, 50)),
           elements=st.floats(0, 1, width=32, allow_subnormal=False)),
    arrays(np.uint8, st.tuples(st.integers(1, 50), st.integers(1, 50))),
)


@settings(max_examples=200, deadline=None)
@given(pictures)
def test_any_picture_gives_28x28_in_0_1_centred_on_its_centre_of_mass(picture):
    styled = mnist_style(picture)
    assert styled.shape == (FIELD, FIELD) and styled.dtype == np.float32
    assert np.isfinite(styled).all() and styled.min() >= 0.0 and styled.max() <= 1.0
    assert styled.any() == bool(as_ink(picture).any())
    if not styled.any():
        return
    rows, cols = ink_box(styled)
    assert max(rows.stop - rows.start, cols.stop - cols.start) <= 21
    inked = styled > 0
    for axis, com in enumerate(centre_of_mass(styled)):
        used = np.flatnonzero(inked.any(axis=1 - axis))
        at_edge = used[0] == 0 or used[-1] == FIELD - 1   # pushed against the edge rather than cut off
        assert abs(com - CENTRE) < 1e-3 or at_edge


@settings(max_examples=100, deadline=None)
@given(pictures, st.integers(0, 20), st.integers(0, 20))
def test_moving_a_picture_on_a_larger_canvas_changes_nothing(picture, row, col):
    canvas = np.zeros((picture.shape[0] + 20, picture.shape[1] + 20), picture.dtype)
    canvas[row:row + picture.shape[0], col:col + picture.shape[1]] = picture
    np.testing.assert_allclose(mnist_style(canvas), mnist_style(picture), atol=1e-5)


# ---------------------------------------------------------------------------------------------- dark on light
def test_dark_ink_on_light_paper_is_inverted_and_its_grey_ground_taken_away():
    scan = np.full((30, 20), 200, np.uint8)   # grey paper
    scan[5:25, 8:12] = 30                      # dark ink
    ink = ink_on_dark(scan)
    assert ink[0, 0] == 0.0 and ink[10, 9] == pytest.approx(1.0)
    np.testing.assert_array_equal(ink_on_dark(scan, invert=True), ink)
    assert not ink_on_dark(scan, invert=False).any()   # forced the wrong way: no ink stands out
    bright = 255 - scan
    np.testing.assert_allclose(ink_on_dark(bright), ink, atol=1e-6)


# ---------------------------------------------------------------------------------------------- the reader
def test_a_cnn_reads_the_picture_laid_out_as_an_image():
    session = trained("cnn", epochs=0)
    reader = DigitReader.of_session(session)
    canvas = np.zeros((28, 28), np.float32)
    canvas[4:24, 12:16] = 1.0
    assert reader.layout == "image" and reader.model_input(mnist_style(canvas)).shape == (1, 1, 28, 28)
    reading = reader.read(canvas)
    assert reading.probabilities.shape == (10,) and reading.probabilities.sum() == pytest.approx(1.0)
    assert reading.class_names == tuple(str(k) for k in range(10)) and reader.epochs == 0


def test_the_reader_standardises_as_the_session_prepared_its_training_data(reader):
    session = trained(standardize=True, epochs=0)
    digit = session.dataset.x_test[0].reshape(28, 28)
    made = DigitReader.of_session(session).model_input(digit.astype(np.float32) / 255)
    np.testing.assert_allclose(made[0], session.data.x_test[0], atol=1e-5)


def test_an_image_set_kept_in_its_own_units_gets_a_drawing_in_them():
    """An imported set of 0..255 floats (not uint8 pixels) is trained on as it is: full ink is 255 to its model."""
    embedded = load_dataset("mnist-embedded")
    floats = dataclasses.replace(embedded, x_train=embedded.x_train.astype(np.float32),
                                 x_test=embedded.x_test.astype(np.float32))
    config = RunConfig.from_dict({"data": {"name": "mnist-embedded"}, "model": {"preset": "logreg"},
                                  "training": {"epochs": 1}})
    session = Session(config, dataset=floats, checkpoints=False)
    session.prepare()
    reader = DigitReader.of_session(session)
    assert reader.ink_range == (0.0, 255.0)
    np.testing.assert_allclose(reader.model_input(embedded.x_test[0].reshape(28, 28) / 255.0)[0],
                               session.data.x_test[0], atol=1e-3)


def test_an_autoencoder_gives_back_a_picture():
    session = trained("autoencoder", epochs=1, standardize=True)
    canvas = np.zeros((28, 28), np.float32)
    canvas[4:24, 12:16] = 1.0
    reading = DigitReader.of_session(session).read(canvas)
    assert reading.probabilities is None and reading.reconstruction.shape == (28, 28)
    assert 0.0 <= reading.reconstruction.min() and reading.reconstruction.max() <= 1.0
    assert reading.reconstruction.any() and reading.best is None


def test_a_model_of_points_cannot_read_a_drawing():
    config = RunConfig.from_dict({"data": {"name": "spirals"}, "training": {"epochs": 1}})
    session = Session(config, checkpoints=False)
    session.prepare()
    with pytest.raises(NotDrawable, match="a model of 28x28 grey images .* this one learns spirals \\(2 numbers per example\\)"):
        DigitReader.of_session(session)


def test_an_empty_canvas_asks_nothing_of_the_model(reader):
    reading = reader.read(np.zeros((28, 28)))
    assert reading.empty and reading.probabilities is None and reading.best is None
