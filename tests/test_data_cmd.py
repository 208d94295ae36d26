"""`nnstudio data list|fetch|import|info`, driven through a parser built from the command's `register`."""

from __future__ import annotations

import argparse
import functools
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nnstudio.datasets import MNIST, cache_dir, encode_idx
from nnstudio.tui import data_cmd

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared/data/mnist"
needs_mnist = pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"real MNIST not found at {MNIST_DIR}")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NNSTUDIO_DATA_DIR", raising=False)
    monkeypatch.delenv("NNSTUDIO_MNIST_MIRRORS", raising=False)
    monkeypatch.setenv("NNSTUDIO_OFFLINE", "1")
    monkeypatch.setenv("COLUMNS", "120")


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
def test_list_shows_where_a_data_set_is(capsys):
    assert run("data", "list", "--data-dir", str(MNIST_DIR)) == 0
    out = capsys.readouterr().out
    assert "/mnist" in out and "MB" in out


def test_info_draws_digits_and_counts_classes(capsys):
    assert run("data", "info", "mnist-embedded", "--samples", "3") == 0
    out = capsys.readouterr().out
    assert "500" in out and "100" in out and "Pixel statistics" in out
    assert "@" in out and "#0 7" in out and "#2 1" in out


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
    assert run("data", "info", "mnist-embedded", "--samples", "-1") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("nnstudio data: error:") for line in lines[-3:])


def test_import_of_wrong_files_fails_with_one_line(tmp_path, capsys):
    source = tmp_path / "src"
    source.mkdir()
    for role, spec_file in MNIST.files.items():
        shape = (3, 28, 28) if role.endswith("images") else (3,)
        (source / spec_file.name).write_bytes(encode_idx(np.zeros(shape, np.uint8), compress=True))
    assert run("data", "import", "mnist", str(source)) == 1
    err = capsys.readouterr().err
    assert err.startswith("nnstudio data: error:") and "checksum mismatch" in err and err.count("\n") == 1


def test_import_of_a_damaged_gzip_names_the_source_file(tmp_path, capsys):
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


def test_fetch_with_every_mirror_down_explains_the_offline_way(capsys):
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
def test_fetch_from_a_local_mirror_with_a_progress_bar(capsys):
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(MNIST_DIR))
    handler.log_message = lambda *args: None
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
    assert "train-images-idx3-ubyte.gz" in captured.err  # the progress bar's description


def test_digit_lines():
    blank, full = np.zeros((28, 28), np.uint8), np.full((28, 28), 255, np.uint8)
    assert data_cmd.digit_lines(blank) == [" " * 28] * 14
    assert data_cmd.digit_lines(full) == ["@" * 28] * 14
