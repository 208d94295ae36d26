"""`nnstudio predict SAVE --image FILE`: a digit of your own from a PGM or a text file, read as the Draw pane reads
a drawing; every bad file or model is one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnstudio.datasets import load_dataset
from nnstudio.datasets.picture_files import RAMP
from nnstudio.tui.run import Session
from nnstudio.tui.run.drawing import DigitReader

from cli_run import quick_saves, run_cli


@pytest.fixture(scope="module")
def saves_dir(tmp_path_factory) -> Path:
    """Saves from quick runs: a digit classifier (standardised inputs), an autoencoder, a 2-D classifier."""
    runs = {
        "digits": ["--dataset", "mnist-embedded", "--model", "logreg", "--epochs", "2"],
        "auto": ["--dataset", "mnist-embedded", "--model", "autoencoder", "--epochs", "1", "--batch-size", "128"],
        "blobs": ["--dataset", "blobs", "--epochs", "1"],
    }
    return quick_saves(tmp_path_factory, runs)


@pytest.fixture(scope="module")
def seven() -> np.ndarray:
    """A real test seven (the embedded MNIST subset), in [0, 1]."""
    dataset = load_dataset("mnist-embedded")
    return dataset.x_test[list(dataset.y_test).index(7)].reshape(28, 28) / 255.0


def as_text(picture: np.ndarray) -> str:
    """28 lines of ramp characters, one per pixel."""
    levels = np.minimum((picture * len(RAMP)).astype(int), len(RAMP) - 1)
    return "\n".join("".join(RAMP[v] for v in row).rstrip() for row in levels) + "\n"


def as_pgm(picture: np.ndarray, maxval: int = 255) -> bytes:
    height, width = picture.shape
    return f"P5\n# {width}x{height}\n{width} {height}\n{maxval}\n".encode() + np.rint(picture * maxval).astype(
        np.uint8).tobytes()


def predict(saves_dir: Path, capsys, *args: str) -> tuple[int, str, str]:
    status = run_cli("predict", "--saves-dir", str(saves_dir), *args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def the_reader(saves_dir: Path, name: str) -> DigitReader:
    return DigitReader.of_session(Session.from_save(saves_dir / f"{name}.safetensors"))


def test_a_text_picture_is_read_as_the_reader_reads_it(saves_dir, capsys, tmp_path, seven):
    path = tmp_path / "seven.txt"
    path.write_text(as_text(seven))
    status, out, err = predict(saves_dir, capsys, "digits", "--image", str(path))
    assert status == 0 and not err
    name, probability = the_reader(saves_dir, "digits").read(seven).best
    assert name == "7" and f"prediction: {name} ({probability:.0%})" in out
    assert "as the model sees it" in out and "seven.txt read by digits (mnist-embedded, 2 epoch(s) trained)" in out
    bars = [line for line in out.splitlines() if line.rstrip().endswith("%") and "prediction" not in line]
    assert len(bars) == 10   # a bar per class


def test_a_scan_dark_on_light_is_inverted_of_itself_and_may_be_forced(saves_dir, capsys, tmp_path, seven):
    big = np.kron(seven, np.ones((3, 3)))   # 84x84, as a scan might be
    scan = np.full((120, 100), 0.85)        # grey paper
    scan[10:94, 5:89] -= 0.8 * big          # dark ink, off-centre
    path = tmp_path / "scan.pgm"
    path.write_bytes(as_pgm(np.clip(scan, 0, 1)))
    status, out, err = predict(saves_dir, capsys, "digits", "--image", str(path))
    assert status == 0 and "prediction: 7" in out
    status, forced, err = predict(saves_dir, capsys, "digits", "--image", str(path), "--invert")
    assert status == 0 and forced == out
    status, out, err = predict(saves_dir, capsys, "digits", "--image", str(path), "--no-invert")
    assert status == 1 and err.strip() == (f"nnstudio predict: error: {path}: no ink stands out of the picture's "
                                           "ground with --no-invert: try it without --no-invert")


def test_an_autoencoder_shows_its_reconstruction(saves_dir, capsys, tmp_path, seven):
    path = tmp_path / "seven.pgm"
    path.write_bytes(as_pgm(seven, 255))
    status, out, err = predict(saves_dir, capsys, "auto", "--image", str(path), "--style", "ascii")
    assert status == 0 and "reconstruction (mse " in out and "prediction" not in out
    drawn = [line for line in out.splitlines()[1:15]]
    assert any(set(line[40:].strip()) - set(" ") for line in drawn)   # the reconstruction has ink


def test_a_model_of_points_says_what_it_would_need(saves_dir, capsys, tmp_path, seven):
    path = tmp_path / "seven.txt"
    path.write_text(as_text(seven))
    status, out, err = predict(saves_dir, capsys, "blobs", "--image", str(path))
    assert status == 2 and not out and len(err.strip().splitlines()) == 1
    assert "blobs.safetensors: reading a drawing needs a model of 28x28 grey images" in err
    assert "this one learns blobs (2 numbers per example)" in err and "nnstudio train --dataset mnist" in err


@pytest.mark.parametrize("content, problem, status", [
    (b"P5\n28 28\n255\n\x00\x00", "truncated PGM: 2 of 784 bytes of pixels", 1),
    (b"@\n" * 20, "a text picture has 28 lines (one per pixel row), this one 20", 1),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG picture", 1),
    (b"\n" * 28, "there is no digit in the picture (it is one grey all over)", 1),
])
def test_a_bad_file_is_one_line_naming_it(saves_dir, capsys, tmp_path, content, problem, status):
    path = tmp_path / "picture.txt"
    path.write_bytes(content)
    code, out, err = predict(saves_dir, capsys, "digits", "--image", str(path))
    assert code == status and not out
    assert err.count("\n") == 1 and err.startswith(f"nnstudio predict: error: {path}: ") and problem in err


def test_misused_flags_are_one_line(saves_dir, capsys, tmp_path):
    code, _, err = predict(saves_dir, capsys, "digits", "--image", str(tmp_path / "nothere.pgm"))
    assert code == 2 and "--image" in err and "nothere.pgm: no such file" in err
    code, _, err = predict(saves_dir, capsys, "digits", "--invert")
    assert code == 2 and "--invert and --no-invert apply to a picture: give it with --image FILE" in err
    (tmp_path / "seven.txt").write_text("@\n" * 28)
    code, _, err = predict(saves_dir, capsys, "digits", "--image", str(tmp_path / "seven.txt"), "--mistakes")
    assert code == 2 and "--mistakes" in err and err.count("\n") == 1
