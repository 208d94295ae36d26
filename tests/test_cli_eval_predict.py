"""`nnstudio eval` and `nnstudio predict` on saves from quick training runs, and the digit drawing they share."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from rich.text import Text

from nnstudio.tui.render import GREY_RAMP, default_mode, digit_lines, side_by_side
from nnstudio.tui.run import Session

from cli_run import quick_saves, run_cli

BLOCK_CHARACTERS = set("▀▄█")


@pytest.fixture(scope="module")
def saves_dir(tmp_path_factory) -> Path:
    """Saves from quick runs of `nnstudio train`: a 2-D classifier, a regressor, a digit classifier, an autoencoder."""
    runs = {
        "blobs": ["--dataset", "blobs", "--epochs", "3", "--batch-size", "32"],
        "sine": ["--dataset", "sine", "--epochs", "2"],
        "digits": ["--dataset", "mnist-embedded", "--model", "logreg", "--epochs", "1"],
        "auto": ["--dataset", "mnist-embedded", "--model", "autoencoder", "--epochs", "1", "--batch-size", "128"],
    }
    return quick_saves(tmp_path_factory, runs)


def eval_json(saves_dir: Path, name: str, capsys, *extra: str) -> dict:
    assert run_cli("eval", name, "--saves-dir", str(saves_dir), "--json", *extra) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    return json.loads(out)


# ---------------------------------------------------------------------------------------- eval

def test_eval_reports_accuracy_per_class_and_confusion(saves_dir, capsys):
    assert run_cli("eval", "blobs", "--saves-dir", str(saves_dir)) == 0
    out = capsys.readouterr().out
    for text in ("blobs: mlp 2-128-64-3", "250 test samples", "accuracy", "loss", "Per-class accuracy",
                 "Confusion matrix", "true\\pred"):
        assert text in out


def test_eval_json_agrees_with_the_session(saves_dir, capsys):
    record = eval_json(saves_dir, "blobs", capsys)
    confusion = np.array(record["confusion"])
    assert record["task"] == "classification" and record["test_size"] == 250 == confusion.sum()
    assert record["test_acc"] == pytest.approx(np.trace(confusion) / 250)
    assert record["test_acc"] > 0.8 and record["test_loss"] > 0 and len(record["per_class_acc"]) == 3
    session = Session.from_save(saves_dir / "blobs.safetensors")
    predicted = session.predict_test().argmax(axis=1)
    assert record["test_acc"] == pytest.approx(np.mean(predicted == session.data.y_test))


def test_eval_of_a_regressor_reports_mse(saves_dir, capsys):
    record = eval_json(saves_dir, "sine", capsys)
    assert record["task"] == "regression" and 0 < record["test_mse"] < 1 and "test_acc" not in record
    assert run_cli("eval", "sine", "--saves-dir", str(saves_dir)) == 0
    assert "mean squared error" in capsys.readouterr().out


def test_eval_on_real_mnist(saves_dir, mnist_dir, capsys):
    record = eval_json(saves_dir, "digits", capsys, "--dataset", "mnist", "--data-dir", str(mnist_dir))
    assert record["dataset"] == "mnist" and record["test_size"] == 10_000 and record["test_acc"] > 0.8


@pytest.mark.parametrize("args, status, expected", [
    (["absent"], 2, "no save named 'absent'"),
    (["blobs", "--dataset", "imagenet"], 2, "data.name: must be one of"),
    (["blobs", "--dataset", "sine2d"], 2, "layer 6 (linear): the model outputs 3 values per sample, but sine2d needs 1"),
    (["blobs", "--dataset", "mnist-embedded"], 2, "the model's input is 2, but mnist-embedded has images 1x28x28"),
    (["blobs", "--data-dir", "nowhere"], 2, "--data-dir: data.data_dir: nowhere does not exist"),
    (["{saves}"], 2, "{saves} is a folder, not a save; name one of the saves in it: {saves}/auto.safetensors, "
                     "{saves}/blobs.safetensors, {saves}/digits.safetensors, {saves}/sine.safetensors"),
    (["blobs", "--bogus"], 2, "unrecognized arguments: --bogus"),
])
def test_eval_failures_are_one_line(args, status, expected, saves_dir, capsys):
    args = [arg.format(saves=saves_dir) for arg in args]
    assert run_cli("eval", *args, "--saves-dir", str(saves_dir)) == status
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnstudio eval: error: ")
    assert expected.format(saves=saves_dir) in lines[0]
    assert captured.out == ""


# ---------------------------------------------------------------------------------------- predict

def captions(out: str) -> list[str]:
    return [part.strip() for line in out.splitlines() for part in line.split("  ")
            if part.strip().startswith(("✓", "✗"))]


def test_predict_draws_digits_with_verdicts(saves_dir, capsys):
    assert run_cli("predict", "digits", "--saves-dir", str(saves_dir), "--count", "5") == 0
    out = capsys.readouterr().out
    verdicts = captions(out)
    assert len(verdicts) == 5 and all(v[0] in "✓✗" for v in verdicts)
    assert not BLOCK_CHARACTERS & set(out)  # not a terminal: the ASCII ramp
    assert set("".join(out.split())) - set(GREY_RAMP) - set("✓✗#()%,pred0123456789")  == set()
    assert sum(1 for line in out.splitlines() if set(line.strip()) & set("%@")) >= 10  # digits were drawn


def test_predict_mistakes_shows_only_wrong_ones(saves_dir, capsys):
    assert run_cli("predict", "digits", "--saves-dir", str(saves_dir), "--count", "4", "--mistakes") == 0
    out = capsys.readouterr().out
    verdicts = captions(out)
    assert len(verdicts) == 4 and all(v.startswith("✗") and "(pred " in v for v in verdicts)
    assert "test samples are misclassified" in out


def test_predict_blocks_style_and_a_seed_picks_other_samples(saves_dir, capsys):
    assert run_cli("predict", "digits", "--saves-dir", str(saves_dir), "--count", "2", "--style", "blocks") == 0
    first = capsys.readouterr().out
    assert BLOCK_CHARACTERS & set(first)
    assert run_cli("predict", "digits", "--saves-dir", str(saves_dir), "--count", "2", "--style", "blocks",
                   "--seed", "5") == 0
    assert capsys.readouterr().out != first


def test_predict_on_points_prints_a_table(saves_dir, capsys):
    assert run_cli("predict", "blobs", "--saves-dir", str(saves_dir), "--count", "6") == 0
    out = capsys.readouterr().out
    assert all(text in out for text in ("x1", "x2", "truth", "prediction", "confidence"))
    assert sum(out.count(mark) for mark in "✓✗") == 6


def test_predict_regression_mistakes_are_the_worst(saves_dir, capsys):
    assert run_cli("predict", "sine", "--saves-dir", str(saves_dir), "--count", "3", "--mistakes") == 0
    out = capsys.readouterr().out
    assert "the 3 worst" in out and "sq. error" in out


def test_predict_autoencoder_draws_reconstructions(saves_dir, capsys):
    assert run_cli("predict", "auto", "--saves-dir", str(saves_dir), "--count", "2") == 0
    out = capsys.readouterr().out
    assert out.count(" input") == 2 and out.count("output (mse ") == 2


@pytest.mark.parametrize("args, status, expected", [
    (["absent"], 2, "no save named 'absent'"),
    (["digits", "--count", "0"], 2, "argument --count: must be a whole number >= 1, got '0'"),
    (["digits", "--count", "many"], 2, "argument --count: must be a whole number >= 1, got 'many'"),
    (["digits", "--seed", "-2"], 2, "argument --seed: must be a whole number >= 0, got '-2'"),
])
def test_predict_failures_are_one_line(args, status, expected, saves_dir, capsys):
    assert run_cli("predict", *args, "--saves-dir", str(saves_dir)) == status
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnstudio predict: error: ") and expected in lines[0]


# ---------------------------------------------------------------------------------------- drawing

def test_digit_lines_are_28_by_14_in_both_modes():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    for mode in ("ascii", "blocks"):
        lines = digit_lines(image, mode)
        assert len(lines) == 14 and {len(line) for line in lines} == {28}
    assert digit_lines(np.zeros((28, 28), np.uint8)) == [" " * 28] * 14
    assert digit_lines(np.full(784, 255, np.uint8)) == ["@" * 28] * 14  # flat images too
    assert digit_lines(image.reshape(1, 28, 28)) == digit_lines(image.astype(np.float32) / 255)


def test_blocks_keep_both_pixel_rows():
    image = np.zeros((28, 28), np.uint8)
    image[0, 0] = image[1, 1] = image[2, 2] = image[3, 2] = 255
    assert digit_lines(image, "blocks")[:2] == ["▀▄" + " " * 26, "  █" + " " * 25]


def test_standardised_floats_are_stretched():
    image = np.linspace(-1, 3, 784, dtype=np.float32).reshape(28, 28)
    lines = digit_lines(image)
    assert lines[0][0] == " " and lines[-1][-1] == "@"


def test_side_by_side_fits_the_width_and_keeps_captions():
    cells = [digit_lines(np.ones((28, 28))) + [f"#{i}"] for i in range(5)]
    text = side_by_side(cells, width=90)  # three 28-wide cells and two gaps of 2 = 88
    rows = text.plain.split("\n\n")
    assert len(rows) == 2 and all(len(line) <= 90 for line in text.plain.splitlines())
    assert "#0" in rows[0] and "#2" in rows[0] and "#3" in rows[1]
    assert rows[0].splitlines()[-1] == "#0" + " " * 28 + "#1" + " " * 28 + "#2"
    assert side_by_side(cells[:1], width=10).plain.splitlines()[-1] == "#0"  # one per row however narrow
    styled = side_by_side([["ab", Text("✗ 7", style="red")]], width=40)
    assert styled.plain == "ab\n✗ 7" and any(span.style == "red" for span in styled.spans)


def test_default_mode_is_ascii_off_a_terminal_and_with_no_color():
    assert default_mode(Console(file=io.StringIO())) == "ascii"
    assert default_mode(Console(force_terminal=True, no_color=True, file=io.StringIO())) == "ascii"
    assert default_mode(Console(force_terminal=True, file=io.StringIO(), color_system="truecolor")) == "blocks"
