"""`nnstudio data list|fetch|import|info`, driven through a parser built from the command's `register`."""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import re
import socket
import threading
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nnstudio.datasets import FASHION_MNIST, IDX_DATASETS, MNIST, cache_dir, encode_idx, load_dataset
from nnstudio.datasets.checksums import content_sha256
from nnstudio.datasets.locations import display_path
from nnstudio.datasets.mnist_family import IdxDatasetSpec, IdxFile
from nnstudio.tui.cli import data as data_cmd
from real_mnist import MNIST_DIR, needs_mnist



@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NNSTUDIO_DATA_DIR", raising=False)
    monkeypatch.delenv("NNSTUDIO_MNIST_MIRRORS", raising=False)
    monkeypatch.setenv("NNSTUDIO_OFFLINE", "1")
    monkeypatch.setenv("COLUMNS", "120")
    # a machine with Debian's dataset-fashion-mnist installed must not change what these tests see
    monkeypatch.setitem(IDX_DATASETS, "fashion-mnist", replace(FASHION_MNIST, system_dirs=()))


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """An HTTP server on 127.0.0.1 serving `folder`; yields its URL and the list of paths requested."""
    requested: list[str] = []

    class Handler(_QuietHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """`mnist` replaced by a small set of random images in its format, with its own checksums.

    Returns the folder of the four .gz files (to serve or copy). About 300 KB of train images,
    incompressible, so a download takes several chunks.
    """
    root = tmp_path / "served"
    root.mkdir()
    rng = np.random.default_rng(5)
    arrays = {"train_images": rng.integers(0, 256, (400, 28, 28), dtype=np.uint8),
              "train_labels": (np.arange(400) % 10).astype(np.uint8),
              "test_images": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
              "test_labels": (np.arange(20) % 10).astype(np.uint8)}
    files = {}
    for role, array in arrays.items():
        name = MNIST.files[role].name
        (root / name).write_bytes(encode_idx(array, compress=True))
        files[role] = IdxFile(name, (content_sha256(hashlib.sha256(encode_idx(array)).hexdigest()),))
    spec = IdxDatasetSpec(name="mnist", title="tiny digits", files=files, class_names=MNIST.class_names,
                          train_size=400, test_size=20)
    monkeypatch.setitem(IDX_DATASETS, "mnist", spec)
    return root


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="nnstudio")
    data_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.handler(args)


def test_list_shows_every_data_set(capsys):
    assert run("data", "list") == 0
    out = capsys.readouterr().out
    for name in ("mnist", "fashion-mnist", "mnist-embedded", "spirals", "checkerboard", "sine2d"):
        assert name in out
    assert "built in" in out and "missing" in out and "nnstudio data fetch NAME" in out


@needs_mnist
def test_list_shows_where_a_data_set_is(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # a table that wide does not wrap the folder, wherever the data is
    assert run("data", "list", "--data-dir", str(MNIST_DIR)) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith("│ mnist ")]
    assert f" {display_path(MNIST_DIR)} (argument) " in row and " MB " in row


def test_info_draws_digits_and_counts_classes(capsys):
    assert run("data", "info", "mnist-embedded", "--samples", "3") == 0
    lines = capsys.readouterr().out.splitlines()
    data = load_dataset("mnist-embedded")

    counts = {}
    for line in lines:  # rows of the class counts table: class, name, train, test
        if match := re.fullmatch(r"│ (\d)\s+│ (\S+)\s+│\s+(\d+) │\s+(\d+) │", line):
            counts[int(match[1])] = (match[2], int(match[3]), int(match[4]))
    assert counts == {c: (str(c), 500, 100) for c in range(10)}

    captions = [i for i, line in enumerate(lines) if line.startswith("#0 ")]
    assert len(captions) == 1, "the three digits sit in one row at 120 columns"
    caption = captions[0]
    assert re.fullmatch(r"#0 7 {24}  #1 2 {24}  #2 1", lines[caption])
    drawing = [line.ljust(3 * 28 + 2 * 2) for line in lines[caption - 14:caption]]
    for k in range(3):  # each digit: 14 lines of exactly 28 columns, the glyphs of its pixels
        expected = data_cmd.digit_lines(data.x_test[k])
        assert [line[30 * k:30 * k + 28] for line in drawing] == expected
        assert all(len(row) == 28 for row in expected)
    assert all(line[28:30] == line[58:60] == "  " for line in drawing)


def test_info_of_a_missing_set_falls_back_with_a_notice(capsys):
    assert run("data", "info", "mnist", "--samples", "0") == 0
    captured = capsys.readouterr()
    assert "notice:" in captured.err and "embedded" in captured.err
    assert "mnist-embedded" in captured.out


@pytest.mark.parametrize("name, expected", [("spirals", "Class counts"), ("sine", "First samples")])
def test_info_of_synthetic_sets(name, expected, capsys):
    assert run("data", "info", name, "--seed", "3") == 0
    assert expected in capsys.readouterr().out


def test_bad_arguments_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("data", "fetch", "spirals")
    assert exit_info.value.code == 2
    assert run("data", "import", "mnist", str(tmp_path / "absent")) == 2
    assert run("data", "info", "mnist", "--data-dir", str(tmp_path / "absent")) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("nnstudio data: error:") for line in lines[-2:])
    with pytest.raises(SystemExit) as exit_info:   # read by the argument's field, as every setting is
        run("data", "info", "mnist-embedded", "--samples", "-1")
    assert exit_info.value.code == 2 and "--samples: must be a whole number >= 0, got '-1'" in capsys.readouterr().err


def test_import_of_wrong_files_fails_with_one_line(tmp_path, capsys):
    source = tmp_path / "src"
    source.mkdir()
    for role, spec_file in MNIST.files.items():
        shape = (3, 28, 28) if role.endswith("images") else (3,)
        (source / spec_file.name).write_bytes(encode_idx(np.zeros(shape, np.uint8), compress=True))
    assert run("data", "import", "mnist", str(source)) == 1
    err = capsys.readouterr().err
    assert err.startswith("nnstudio data: error:") and err.count("\n") == 1
    assert "its header declares shape 3x28x28, but mnist train images have shape 60000x28x28" in err


def test_import_of_files_of_the_right_sizes_but_wrong_content_is_a_checksum_mismatch(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(IDX_DATASETS, "mnist", replace(MNIST, train_size=3, test_size=3))
    source = tmp_path / "src"
    source.mkdir()
    for role, spec_file in MNIST.files.items():
        shape = (3, 28, 28) if role.endswith("images") else (3,)
        (source / spec_file.name).write_bytes(encode_idx(np.zeros(shape, np.uint8), compress=True))
    assert run("data", "import", "mnist", str(source)) == 1
    err = capsys.readouterr().err
    assert err.startswith("nnstudio data: error:") and "checksum mismatch" in err and err.count("\n") == 1


def test_import_of_a_damaged_gzip_names_the_source_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(IDX_DATASETS, "mnist", replace(MNIST, train_size=3, test_size=3))  # headers pass
    source = tmp_path / "src"
    source.mkdir()
    for role, spec_file in MNIST.files.items():
        shape = (3, 28, 28) if role.endswith("images") else (3,)
        (source / spec_file.name).write_bytes(encode_idx(np.zeros(shape, np.uint8), compress=True))
    damaged = source / MNIST.files["train_images"].name  # the first file checked
    damaged.write_bytes(damaged.read_bytes()[:-8])  # cut inside the deflate data and trailer
    assert run("data", "import", "mnist", str(source)) == 1
    err = capsys.readouterr().err
    assert f"{damaged}: damaged gzip data" in err and ".part" not in err
    assert not cache_dir("mnist").exists() or not any(cache_dir("mnist").iterdir())


def test_fetch_with_every_mirror_down_explains_the_offline_way(capsys, monkeypatch):
    monkeypatch.delenv("NNSTUDIO_OFFLINE")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mnist"
    assert run("data", "fetch", "mnist", "--mirror", url, "--timeout", "5") == 1
    err = capsys.readouterr().err
    assert url in err and "nnstudio data import mnist DIR" in err


@needs_mnist
def test_import_then_fetch_finds_it_cached_then_info_reads_it(capsys):
    assert run("data", "import", "mnist", str(MNIST_DIR)) == 0
    assert "checksums verified" in capsys.readouterr().out
    assert run("data", "fetch", "mnist", "--mirror", "http://127.0.0.1:9/never-asked") == 0
    assert "already in the cache" in capsys.readouterr().out
    assert run("data", "info", "mnist", "--samples", "1") == 0
    out = capsys.readouterr().out
    assert "5923" in out and "60000" in out and str(cache_dir("mnist").name) in out


@needs_mnist
def test_fetch_from_a_local_mirror_with_a_progress_bar(capsys, monkeypatch):
    monkeypatch.delenv("NNSTUDIO_OFFLINE")
    handler = functools.partial(_QuietHandler, directory=str(MNIST_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert run("data", "fetch", "mnist", "--mirror", url) == 0
    finally:
        server.shutdown()
        server.server_close()
    captured = capsys.readouterr()
    assert "fetched and verified" in captured.out and "4 files" in captured.out
    bar = next(line for line in captured.err.splitlines() if line.startswith("train-images-idx3-ubyte.gz "))
    assert re.search(r" 9\.\d/9\.\d MB ", bar), bar  # the size done / total (9.9 MB)
    assert re.search(r" \d+(\.\d+)? [kMG]?B/s ", bar), bar  # the transfer speed


def _copy_into_cache(root: Path) -> Path:
    folder = cache_dir("mnist")
    folder.mkdir(parents=True, exist_ok=True)
    for path in root.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_fetch_help_says_what_offline_does(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("data", "fetch", "--help")
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "With NNSTUDIO_OFFLINE set (to anything but 0), nothing is downloaded" in text
    assert "--force" in text and "nnstudio data import NAME DIR" in text


def test_fetch_offline_verifies_the_cache_and_never_asks_the_network(tiny_mnist, capsys):
    with serve(tiny_mnist) as (url, requested):
        assert run("data", "fetch", "mnist", "--mirror", url) == 1
        err = capsys.readouterr().err
        assert "NNSTUDIO_OFFLINE is set, so nothing is downloaded" in err and "missing from" in err
        _copy_into_cache(tiny_mnist)
        assert run("data", "fetch", "mnist", "--mirror", url) == 0
        assert "already in the cache, verified" in capsys.readouterr().out
        assert run("data", "fetch", "mnist", "--mirror", url, "--force") == 1
        assert "--force asks for a fresh download" in capsys.readouterr().err
    assert requested == []


def test_fetch_replaces_a_damaged_hand_copied_file_and_force_downloads_all(tiny_mnist, capsys, monkeypatch):
    monkeypatch.delenv("NNSTUDIO_OFFLINE")
    folder = _copy_into_cache(tiny_mnist)
    damaged = folder / "t10k-images-idx3-ubyte.gz"
    damaged.write_bytes(encode_idx(np.zeros((20, 28, 28), np.uint8), compress=True))  # valid, but not these images
    with serve(tiny_mnist) as (url, requested):
        assert run("data", "fetch", "mnist", "--mirror", url) == 0
        captured = capsys.readouterr()
        assert requested == ["/t10k-images-idx3-ubyte.gz"]
        assert "fetched 1 and verified (3 already in the cache)" in captured.out
        assert f"replaced: {damaged}: checksum mismatch" in " ".join(captured.err.split())
        assert damaged.read_bytes() == (tiny_mnist / damaged.name).read_bytes()
        assert run("data", "fetch", "mnist", "--mirror", url, "--force") == 0
        assert "fetched and verified" in capsys.readouterr().out and len(requested) == 5


def test_info_fetch_shows_the_download_progress(tiny_mnist, capsys, monkeypatch):
    monkeypatch.delenv("NNSTUDIO_OFFLINE")
    with serve(tiny_mnist) as (url, requested):
        monkeypatch.setenv("NNSTUDIO_MNIST_MIRRORS", url)
        assert run("data", "info", "mnist", "--fetch", "--samples", "0") == 0
    captured = capsys.readouterr()
    assert len(requested) == 4 and "tiny digits" in captured.out and "notice" not in captured.err
    bar = next(line for line in captured.err.splitlines() if line.startswith("train-images-idx3-ubyte.gz "))
    assert re.search(r" 31\d\.\d/31\d\.\d kB ", bar), bar


def test_a_data_dir_variable_naming_no_folder_is_noted(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "absent"))
    note = f"NNSTUDIO_DATA_DIR is set to {tmp_path / 'absent'}, which is a folder that does not exist"
    assert run("data", "list") == 0
    assert " ".join(capsys.readouterr().err.split()).count(note) == 1  # once, not once per data set
    assert run("data", "info", "mnist", "--samples", "0") == 0
    assert note in " ".join(capsys.readouterr().err.split())


def test_digit_lines():
    blank, full = np.zeros((28, 28), np.uint8), np.full((28, 28), 255, np.uint8)
    assert data_cmd.digit_lines(blank) == [" " * 28] * 14
    assert data_cmd.digit_lines(full) == ["@" * 28] * 14
