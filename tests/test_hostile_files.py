"""Hostile files cost no more than the files they pose as (issue 12, item 5).

Each case is the real command line in a child process, on a file built in tmp_path: it must
refuse the file in one line naming it and the problem, exit non-zero, and stay under
PEAK_MB of memory. The files are small but honest (see hostile.py): the gzip bombs truly
hold gigabytes, so reading one in full would blow the bound, and the headers truly claim what
they claim. Before the bounds, the image bomb took 3.8 GB and 18 s, the 87 MB header 2.2 GB.
"""

from __future__ import annotations

import sys

import pytest

from hostile import idx_bomb, measure, measure_command, mnist_folder_with, padded_header_bomb, with_metadata
from nnstudio.engine import build_model
from nnstudio.saves import save_model
from real_mnist import MNIST_DIR, needs_mnist

PEAK_MB = 300
IMAGES, LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"


def refused_in_one_line(outcome, *phrases: str) -> str:
    """The one line of the refusal, after checking the status, the phrases and the memory bound."""
    lines = outcome.stderr.strip().splitlines()
    assert outcome.status != 0 and len(lines) == 1, (outcome.status, outcome.stderr[-2000:])
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    assert outcome.peak_mb < PEAK_MB, f"{outcome.peak_mb:.0f} MB"
    return lines[0]


# ------------------------------------------------------------------------------------ data sets
@needs_mnist
@pytest.mark.parametrize("name, shape, extra, action, phrases", [
    pytest.param(IMAGES, (5_000_000, 28, 28), 0, "info",  # 3.8 MB of gzip holding 3.9 GB
                 ("its header declares shape 5000000x28x28, but mnist train images have shape 60000x28x28",),
                 id="images-claiming-5M"),
    pytest.param(LABELS, (2 ** 32 - 1,), 0, "import",  # 4.2 MB holding 4.3 GB: was hashed in full
                 ("its header declares shape 4294967295, but mnist train labels have shape 60000",),
                 id="labels-claiming-4G"),
    pytest.param(LABELS, (60000,), 4 << 30, "info",  # the right header, then 4 GB more
                 ("gzip file is longer than any gzip of the 60008 bytes its header declares",),
                 id="labels-hiding-4G"),
    pytest.param(LABELS, (60000,), 256 << 20, "info",  # a file small enough for its header: hashing stops
                 ("has trailing bytes after the 60008 bytes its header declares",),
                 id="labels-hiding-256M"),
    pytest.param(IMAGES, (60000, 28, 28), 1 << 30, "info",  # read: 47 MB and one byte more
                 ("has trailing bytes after the 47040000 data bytes its header declares",),
                 id="images-hiding-1G"),
])
def test_a_data_set_file_that_is_not_what_it_poses_as_is_refused_at_once(tmp_path, name, shape, extra, action,
                                                                         phrases):
    folder = mnist_folder_with(tmp_path / "mnist", MNIST_DIR, {name: idx_bomb(tmp_path / "bomb.gz", shape, extra)})
    args = ["data", "info", "mnist", "--data-dir", str(folder)] if action == "info" else [
        "data", "import", "mnist", str(folder)]
    line = refused_in_one_line(measure(args, cwd=tmp_path, env={"XDG_CACHE_HOME": str(tmp_path / "cache")}), *phrases)
    assert line.startswith("nnstudio data: error:") and f"{folder / name}" in line


# ------------------------------------------------------------------------------------ saves
@pytest.fixture(scope="module")
def real_save(tmp_path_factory):
    spec = {"name": "tiny", "input_shape": [2], "layers": [{"type": "linear", "out": 3}]}
    return save_model(tmp_path_factory.mktemp("real") / "real.safetensors", build_model(spec), dataset="blobs",
                      history=[{"epoch": 1, "train_loss": 0.5}])


@pytest.fixture(scope="module")
def hostile_saves(tmp_path_factory, real_save):
    """A folder with the two hostile saves of the issue, a header of 87 MB of empty objects and a 9 MB
    history of three million entries, and a history of 2.5 million entries that fits in 8 MiB."""
    folder = tmp_path_factory.mktemp("saves")
    padded_header_bomb(folder / "padded.safetensors", 87_000_000)
    for name, entries in (("history", 3_000_000), ("entries", 2_500_000)):
        with_metadata(real_save, folder / f"{name}.safetensors", lambda document: {**document, "history": [{}] * entries})
    return folder


@pytest.mark.parametrize("args, phrases", [
    (["saves", "show", "padded"], ("padded.safetensors: its header is 86,999,997 bytes, over the limit of "
                                   "8,388,608 bytes (8 MiB) of a save's header",)),
    (["eval", "history"], ("history.safetensors: its header is 9,000,552 bytes, over the limit",)),
    (["eval", "entries"], ("entries.safetensors: its header holds 2,500,0", "JSON objects and lists, over the "
                           "limit of 50,000 of a save's header")),
])
def test_a_save_whose_header_is_too_big_is_refused_before_it_is_parsed(tmp_path, hostile_saves, args, phrases):
    outcome = measure([*args, "--saves-dir", str(hostile_saves)], cwd=tmp_path)
    refused_in_one_line(outcome, *phrases)


def test_the_listing_marks_hostile_saves_damaged_within_the_bound(tmp_path, hostile_saves):
    outcome = measure(["saves", "list", "--saves-dir", str(hostile_saves)], cwd=tmp_path)
    assert outcome.status == 0 and outcome.peak_mb < PEAK_MB, (outcome.stderr, outcome.peak_mb)
    notes = [line for line in outcome.stdout.splitlines() if line.startswith("damaged ")]
    assert len(notes) == 3 and sum("over the limit of 8,388,608 bytes" in line for line in notes) == 2


def test_the_costliest_header_within_the_limits_is_shown_within_the_bound(tmp_path, real_save):
    """A header just under 8 MiB of distinct keys: the JSON that costs Python most for its size, and that
    `saves show` would once have drawn as a table of 650,000 rows."""
    path = with_metadata(real_save, tmp_path / "keys.safetensors",
                         lambda document: {**document, "metrics": {f"{i:x}": 1 for i in range(650_000)}})
    assert 7 << 20 < path.stat().st_size <= 8 << 20  # just under the limit
    outcome = measure(["saves", "show", str(path)], cwd=tmp_path)
    assert outcome.status == 0 and outcome.peak_mb < PEAK_MB, (outcome.stderr, outcome.peak_mb)
    assert "and 649,960 more" in outcome.stdout


def test_the_measure_sees_a_command_s_memory(tmp_path):
    """The bound means something: a command that fills 400 MB is measured above it, a small one below."""
    big = measure_command([sys.executable, "-c", "x = b'\\1' * (400 << 20)"], cwd=tmp_path)
    small = measure_command([sys.executable, "-c", "pass"], cwd=tmp_path)
    assert big.peak_mb > 400 > PEAK_MB > 50 > small.peak_mb
