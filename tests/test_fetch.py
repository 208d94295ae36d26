"""Fetching against real HTTP servers on 127.0.0.1 serving files from temporary folders.

A mirror down (a closed port), a corrupted payload rejected by the checksum, an interrupted
download resumed (by a re-run and within one run), servers that ignore Range or answer 416,
a timeout, and the cache reused without a second download. Nothing here reaches the internet.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import socket
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nnstudio.datasets import (MNIST, DatasetError, EMBEDDED_NAME, FetchError, cache_dir, encode_idx,
                               fetch_dataset, fetch_files, load_dataset)
from nnstudio.datasets.checksums import Digest, content_sha256
from nnstudio.datasets.loader import load_idx_dataset
from nnstudio.datasets.mnist_family import ROLES, IdxDatasetSpec, IdxFile
from real_mnist import MNIST_DIR, needs_mnist



class Mirror:
    """An HTTP server on 127.0.0.1 serving `root`, with Range support, request counting, and faults.

    `cut[name] = n` makes the next response for `name` stop after n body bytes (then close);
    `ignore_range` makes it answer every request with the whole file.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str | None]] = []
        self.sent: dict[str, int] = {}
        self.cut: dict[str, int] = {}
        self.ignore_range = False
        self.stall = False
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.handle(self)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/data"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        name = request.path.rsplit("/", 1)[-1]
        range_header = request.headers.get("Range")
        self.requests.append((name, range_header))
        path = self.root / name
        if not request.path.startswith("/data/") or not path.is_file():
            request.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and not self.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                request.send_response(416)
                request.send_header("Content-Range", f"bytes */{len(data)}")
                request.send_header("Content-Length", "0")
                request.end_headers()
                return
            request.send_response(206)
            request.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            request.send_response(200)
        body = data[start:]
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if name in self.cut:
            body = body[: self.cut.pop(name)]
        request.wfile.write(body)
        request.wfile.flush()
        self.sent[name] = self.sent.get(name, 0) + len(body)

    def count(self, name: str) -> int:
        return sum(1 for requested, _ in self.requests if requested == name)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _dead_url() -> str:
    """The URL of a port where nothing listens: a mirror that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/data"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NNSTUDIO_DATA_DIR", raising=False)
    monkeypatch.delenv("NNSTUDIO_OFFLINE", raising=False)
    for name in ("MNIST", "FASHION_MNIST", "TINY"):
        monkeypatch.delenv(f"NNSTUDIO_{name}_MIRRORS", raising=False)


@pytest.fixture
def tiny(tmp_path):
    """A small data set in MNIST's format (about 50 KB of incompressible train images) and its spec."""
    root = tmp_path / "served"
    root.mkdir()
    rng = np.random.default_rng(1)
    arrays = {
        "train_images": rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(60) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "test_labels": np.arange(10, dtype=np.uint8),
    }
    files = {}
    for role, array in arrays.items():
        name = MNIST.files[role].name
        (root / name).write_bytes(encode_idx(array, compress=True))
        files[role] = IdxFile(name, (content_sha256(hashlib.sha256(encode_idx(array)).hexdigest()),))
    spec = IdxDatasetSpec(name="tiny", title="tiny digits", files=files, class_names=MNIST.class_names)
    return spec, root


@pytest.fixture
def mirror(tiny):
    server = Mirror(tiny[1])
    yield server
    server.close()


def _corrupt_copy(source: Path, target: Path, name: str) -> None:
    """`target` holds the files of `source`, one of them with a valid gzip of different content."""
    target.mkdir()
    for path in source.iterdir():
        data = path.read_bytes()
        if path.name == name:
            raw = bytearray(gzip.decompress(data))
            raw[-1] ^= 0xFF
            data = gzip.compress(bytes(raw))
        (target / path.name).write_bytes(data)


TRAIN_IMAGES = MNIST.files["train_images"].name


def test_fetch_downloads_verifies_and_reports_progress(tiny, mirror):
    spec, root = tiny
    events = []
    folder = fetch_dataset(spec, mirrors=[mirror.url], progress=events.append)
    assert folder == cache_dir("tiny")
    for role in ROLES:
        assert (folder / spec.files[role].name).read_bytes() == (root / spec.files[role].name).read_bytes()
    assert not list(folder.glob("*.part"))
    images = [e for e in events if e.filename == TRAIN_IMAGES]
    size = (root / TRAIN_IMAGES).stat().st_size
    assert images[0].done == 0 and images[-1].done == images[-1].total == size
    assert [e.done for e in images] == sorted(e.done for e in images)
    data = load_idx_dataset(spec, allow_fetch=False, fallback=False)
    assert data.x_train.shape == (60, 784) and data.source == str(folder)


def test_one_mirror_down_the_next_one_serves(tiny, mirror):
    spec, _ = tiny
    fetch_dataset(spec, mirrors=[_dead_url(), mirror.url], timeout=5)
    assert all(mirror.count(spec.files[role].name) == 1 for role in ROLES)


def test_all_mirrors_down_says_what_failed_and_what_to_do(tiny):
    spec, _ = tiny
    dead = [_dead_url(), _dead_url()]
    with pytest.raises(FetchError) as error:
        fetch_dataset(spec, mirrors=dead, timeout=5)
    message = str(error.value)
    assert all(url in message for url in dead) and "refused" in message.lower()
    assert "nnstudio data import tiny DIR" in message
    assert str(cache_dir("tiny")) in message.replace("~", str(Path.home()))


def test_missing_file_on_a_mirror_tries_the_next(tiny, mirror, tmp_path):
    spec, root = tiny
    partial = tmp_path / "partial"
    partial.mkdir()
    other = Mirror(partial)  # serves nothing: every request is a 404
    try:
        fetch_dataset(spec, mirrors=[other.url, mirror.url])
    finally:
        other.close()
    assert other.count(TRAIN_IMAGES) == 1 and mirror.count(TRAIN_IMAGES) == 1


def test_corrupted_payload_is_rejected_and_the_next_mirror_used(tiny, mirror, tmp_path):
    spec, root = tiny
    _corrupt_copy(root, tmp_path / "bad", TRAIN_IMAGES)
    bad = Mirror(tmp_path / "bad")
    try:
        with pytest.raises(FetchError, match=r"rejected: .*checksum mismatch"):
            fetch_dataset(spec, mirrors=[bad.url])
        assert not (cache_dir("tiny") / TRAIN_IMAGES).exists()
        assert not (cache_dir("tiny") / (TRAIN_IMAGES + ".part")).exists()
        fetch_dataset(spec, mirrors=[bad.url, mirror.url])
    finally:
        bad.close()
    assert (cache_dir("tiny") / TRAIN_IMAGES).read_bytes() == (root / TRAIN_IMAGES).read_bytes()


def test_interrupted_download_is_resumed_by_a_rerun(tiny, mirror):
    spec, root = tiny
    size = (root / TRAIN_IMAGES).stat().st_size
    half = size // 2
    mirror.cut[TRAIN_IMAGES] = half
    with pytest.raises(FetchError, match="re-run resumes"):
        fetch_dataset(spec, mirrors=[mirror.url], retries=0)
    part = cache_dir("tiny") / (TRAIN_IMAGES + ".part")
    assert part.stat().st_size == half
    fetch_dataset(spec, mirrors=[mirror.url], retries=0)
    assert (cache_dir("tiny") / TRAIN_IMAGES).read_bytes() == (root / TRAIN_IMAGES).read_bytes()
    assert not part.exists()
    assert [r for n, r in mirror.requests if n == TRAIN_IMAGES] == [None, f"bytes={half}-"]
    assert mirror.sent[TRAIN_IMAGES] == size  # the first half was never sent again


def test_interrupted_download_is_resumed_within_one_run(tiny, mirror):
    spec, root = tiny
    mirror.cut[TRAIN_IMAGES] = 1000
    events = []
    fetch_dataset(spec, mirrors=[mirror.url], progress=events.append)
    assert [r for n, r in mirror.requests if n == TRAIN_IMAGES] == [None, "bytes=1000-"]
    resumed = [e for e in events if e.filename == TRAIN_IMAGES and e.done == 1000]
    assert resumed and resumed[-1].total == (root / TRAIN_IMAGES).stat().st_size


def test_a_server_that_ignores_range_restarts_the_file(tiny, mirror):
    spec, root = tiny
    folder = cache_dir("tiny")
    folder.mkdir(parents=True)
    (folder / (TRAIN_IMAGES + ".part")).write_bytes(b"stale bytes from somewhere else")
    mirror.ignore_range = True
    fetch_dataset(spec, mirrors=[mirror.url])
    assert (folder / TRAIN_IMAGES).read_bytes() == (root / TRAIN_IMAGES).read_bytes()
    assert mirror.count(TRAIN_IMAGES) == 1


def test_a_complete_part_answered_with_416_is_verified_and_kept(tiny, mirror):
    spec, root = tiny
    folder = cache_dir("tiny")
    folder.mkdir(parents=True)
    (folder / (TRAIN_IMAGES + ".part")).write_bytes((root / TRAIN_IMAGES).read_bytes())
    fetch_dataset(spec, mirrors=[mirror.url])
    assert (folder / TRAIN_IMAGES).read_bytes() == (root / TRAIN_IMAGES).read_bytes()
    assert mirror.sent.get(TRAIN_IMAGES, 0) == 0


def test_a_bad_resumed_part_is_discarded_and_downloaded_afresh(tiny, mirror):
    spec, root = tiny
    folder = cache_dir("tiny")
    folder.mkdir(parents=True)
    (folder / (TRAIN_IMAGES + ".part")).write_bytes(b"\x1f\x8b garbage that is not the start of the file")
    fetch_dataset(spec, mirrors=[mirror.url])
    assert (folder / TRAIN_IMAGES).read_bytes() == (root / TRAIN_IMAGES).read_bytes()
    assert [r for n, r in mirror.requests if n == TRAIN_IMAGES][-1] is None


def test_the_cache_is_reused_without_a_second_download(tiny, mirror):
    spec, _ = tiny
    fetch_dataset(spec, mirrors=[mirror.url])
    before = len(mirror.requests)
    fetch_dataset(spec, mirrors=[mirror.url])
    load_idx_dataset(spec, mirrors=[mirror.url], fallback=False)
    assert len(mirror.requests) == before == 4


def test_a_silent_server_times_out(tiny):
    spec, _ = tiny
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/data"
        with pytest.raises(FetchError, match="timed out"):
            fetch_dataset(spec, mirrors=[url], timeout=0.3)


def test_mirrors_from_the_environment(tiny, mirror, monkeypatch):
    spec, _ = tiny
    monkeypatch.setenv("NNSTUDIO_TINY_MIRRORS", f"{_dead_url()}, {mirror.url}")
    assert spec.effective_mirrors()[1] == mirror.url
    fetch_dataset(spec, timeout=5)
    assert mirror.count(TRAIN_IMAGES) == 1


def test_loader_fetches_when_allowed_and_falls_back_when_it_cannot(tiny, mirror):
    spec, _ = tiny
    dead = _dead_url()
    fallback = load_idx_dataset(spec, mirrors=[dead], timeout=5)
    assert fallback.name == EMBEDDED_NAME and dead in fallback.notice
    assert "nnstudio data import tiny DIR" in fallback.notice
    with pytest.raises(FetchError):
        load_idx_dataset(spec, mirrors=[dead], fallback=False, timeout=5)
    data = load_idx_dataset(spec, mirrors=[mirror.url], fallback=False)
    assert data.name == "tiny" and data.notice is None


def test_offline_setting_never_touches_the_network(tiny, mirror, monkeypatch):
    spec, _ = tiny
    monkeypatch.setenv("NNSTUDIO_OFFLINE", "1")
    data = load_idx_dataset(spec, mirrors=[mirror.url])
    assert data.name == EMBEDDED_NAME and mirror.requests == []


@needs_mnist
def test_real_mnist_over_http_with_injected_checksums():
    """Injected digests replace the catalogue's, and a "file" digest is checked against the bytes served.

    Both are made from the copy the tests were pointed at (the shared one was re-compressed: its
    content sha256 is canonical, its file digests are not the canonical .gz's): a file digest of
    other bytes makes the mirror's payload fail; one of this copy passes.
    """
    copy = (MNIST_DIR / TRAIN_IMAGES).read_bytes()
    other_bytes = Digest("md5", hashlib.md5(copy[:-1]).hexdigest(), "file")
    this_copy = Digest("sha256", hashlib.sha256(copy).hexdigest(), "file")
    server = Mirror(MNIST_DIR)
    try:
        with pytest.raises(FetchError, match="checksum mismatch"):
            fetch_dataset("mnist", mirrors=[server.url], checksums={TRAIN_IMAGES: other_bytes})
        fetch_dataset("mnist", mirrors=[server.url], checksums={TRAIN_IMAGES: this_copy})
        data = load_dataset("mnist", allow_fetch=False, fallback=False)
    finally:
        server.close()
    assert data.source == str(cache_dir("mnist")) and data.x_train.shape == (60000, 784)


def _cache_copy(root: Path, spec: IdxDatasetSpec) -> Path:
    """The served files copied by hand into the cache folder of `spec`."""
    folder = cache_dir(spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    for role in ROLES:
        name = spec.files[role].name
        (folder / name).write_bytes((root / name).read_bytes())
    return folder


@pytest.mark.parametrize("damage", ["other content", "truncated"])
def test_a_damaged_file_in_the_cache_is_verified_and_downloaded_again(tiny, mirror, tmp_path, damage):
    spec, root = tiny
    folder = _cache_copy(root, spec)
    if damage == "truncated":
        (folder / TRAIN_IMAGES).write_bytes((root / TRAIN_IMAGES).read_bytes()[:5000])
    else:  # a valid gzip of other bytes: a hand-copied file of another data set
        _corrupt_copy(root, tmp_path / "other", TRAIN_IMAGES)
        (folder / TRAIN_IMAGES).write_bytes((tmp_path / "other" / TRAIN_IMAGES).read_bytes())
    result = fetch_files(spec, mirrors=[mirror.url])
    assert result.downloaded == (TRAIN_IMAGES,) and len(result.kept) == 3
    assert len(result.replaced) == 1 and str(folder / TRAIN_IMAGES) in result.replaced[0]
    assert ("checksum mismatch" if damage == "other content" else "damaged gzip data") in result.replaced[0]
    assert (folder / TRAIN_IMAGES).read_bytes() == (root / TRAIN_IMAGES).read_bytes()
    assert [name for name, _ in mirror.requests] == [TRAIN_IMAGES]


def test_a_cached_file_without_digests_must_read_as_a_whole_idx_file(tiny, mirror):
    spec, root = tiny
    unchecked = IdxDatasetSpec(name="tiny", title="tiny", class_names=spec.class_names,
                               files={role: IdxFile(spec.files[role].name) for role in ROLES})
    folder = _cache_copy(root, spec)
    unpacked = folder / TRAIN_IMAGES[:-3]  # a damaged unpacked copy, shadowing nothing yet
    (folder / TRAIN_IMAGES).unlink()
    unpacked.write_bytes(gzip.decompress((root / TRAIN_IMAGES).read_bytes())[:-1])
    result = fetch_files(unchecked, mirrors=[mirror.url])
    assert result.downloaded == (TRAIN_IMAGES,) and "truncated" in result.replaced[0]
    assert not unpacked.exists(), "the damaged copy under the other name is removed"
    assert fetch_files(unchecked, mirrors=[mirror.url]).downloaded == ()


def test_force_downloads_every_file_again(tiny, mirror):
    spec, root = tiny
    _cache_copy(root, spec)
    assert fetch_files(spec, mirrors=[mirror.url]).downloaded == () and mirror.requests == []
    result = fetch_files(spec, mirrors=[mirror.url], force=True)
    assert sorted(result.downloaded) == sorted(spec.files[role].name for role in ROLES)
    assert all(mirror.count(spec.files[role].name) == 1 for role in ROLES)


def test_offline_fetch_verifies_the_cache_and_never_downloads(tiny, mirror, monkeypatch):
    spec, root = tiny
    monkeypatch.setenv("NNSTUDIO_OFFLINE", "1")
    with pytest.raises(FetchError, match=r"NNSTUDIO_OFFLINE is set, .*train-images-idx3-ubyte.gz.*missing from"):
        fetch_dataset(spec, mirrors=[mirror.url])
    folder = _cache_copy(root, spec)
    assert fetch_files(spec, mirrors=[mirror.url]).kept  # all four verified, nothing asked for
    with pytest.raises(FetchError, match="--force"):
        fetch_dataset(spec, mirrors=[mirror.url], force=True)
    (folder / TRAIN_IMAGES).write_bytes(b"\x1f\x8b\x08\x00 not gzip")
    with pytest.raises(FetchError, match=re.escape(f"{folder / TRAIN_IMAGES}: damaged gzip data")):
        fetch_dataset(spec, mirrors=[mirror.url])
    assert mirror.requests == []


def test_offline_fetch_names_missing_and_damaged_files_each_with_its_own_reason(tiny, mirror, monkeypatch):
    spec, root = tiny
    monkeypatch.setenv("NNSTUDIO_OFFLINE", "1")
    folder = _cache_copy(root, spec)
    test_labels = spec.files["test_labels"].name
    (folder / test_labels).unlink()
    (folder / TRAIN_IMAGES).write_bytes(b"\x1f\x8b\x08\x00 not gzip")
    with pytest.raises(FetchError) as caught:
        fetch_dataset(spec, mirrors=[mirror.url])
    message = str(caught.value)
    assert f"and {TRAIN_IMAGES}, {test_labels} would need it (" in message
    assert f"({test_labels} missing from {folder}; {folder / TRAIN_IMAGES}: damaged gzip data" in message
    assert f"{TRAIN_IMAGES} missing" not in message and f"{folder / test_labels}:" not in message
    assert mirror.requests == []


def test_loader_falls_back_when_the_cache_cannot_be_created(tiny, mirror, tmp_path, monkeypatch):
    spec, _ = tiny
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file" / "x"))
    data = load_idx_dataset(spec, mirrors=[mirror.url])
    assert data.name == EMBEDDED_NAME and mirror.requests == []
    assert f"cannot create the cache folder {tmp_path / 'a-file' / 'x'}" in data.notice
    assert "Not a directory. Using the embedded" in data.notice
    with pytest.raises(DatasetError, match="cannot create the cache folder"):
        load_idx_dataset(spec, mirrors=[mirror.url], fallback=False)


def test_unknown_names_are_refused():
    with pytest.raises(DatasetError, match="not a downloadable data set"):
        fetch_dataset("spirals")


def test_a_mirror_sending_more_than_the_file_can_have_is_cut_off(tiny, mirror, tmp_path):
    """With the sizes known, a file can be no longer than a gzip of its content: a server sending more (2 MB
    for 47 KB of images) is refused as soon as it does, and the next mirror serves."""
    spec, root = tiny
    spec = replace(spec, train_size=60, test_size=10)
    (tmp_path / "long").mkdir()
    for path in root.iterdir():
        (tmp_path / "long" / path.name).write_bytes(path.read_bytes())
    noise = np.random.default_rng(0).integers(0, 256, 2 << 20, dtype=np.uint8).tobytes()
    (tmp_path / "long" / TRAIN_IMAGES).write_bytes((root / TRAIN_IMAGES).read_bytes() + noise)
    long = Mirror(tmp_path / "long")
    try:
        with pytest.raises(FetchError, match=r"rejected: it sends more than the 1095677 bytes the file can have"):
            fetch_dataset(spec, mirrors=[long.url])
        assert not (cache_dir("tiny") / (TRAIN_IMAGES + ".part")).exists()
        fetch_dataset(spec, mirrors=[long.url, mirror.url])
    finally:
        long.close()
    assert (cache_dir("tiny") / TRAIN_IMAGES).read_bytes() == (root / TRAIN_IMAGES).read_bytes()
