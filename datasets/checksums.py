"""Checksums that decide whether a file is the canonical one, whether compressed or not.

A digest is taken either of the file's bytes (`of="file"`) or of its decompressed content
(`of="content"`). Content digests are the ones we rely on: they hold for the canonical `.gz`,
for a re-compressed copy of it (as the train-images file in shared/data/mnist, or the files
Debian ships) and for an unpacked raw file alike. File digests of the canonical `.gz` are kept
where they are published, and a file passes when any of the digests listed for it matches.

Given the `IdxContent` a file must hold, nothing is hashed before its header and size agree with
it (`idx.read_idx_header`), and the decompressed content is hashed up to the length its header
declares and one byte more, which is refused: a gzip bomb behind a right header costs 60 KB of
hashing, not 4 GB.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import DatasetError
from .idx import GZIP_MAGIC, IdxContent, read_idx_header

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Digest:
    """An expected digest: `algorithm` (a hashlib name), its hex value, and what it is taken of."""

    algorithm: str
    hexdigest: str
    of: str = "content"  # "content": the decompressed bytes; "file": the bytes on disk

    def __post_init__(self) -> None:
        if self.of not in ("content", "file"):
            raise ValueError(f"a digest is taken of 'content' or 'file', not {self.of!r}")
        hashlib.new(self.algorithm)  # fails early on an unknown algorithm
        object.__setattr__(self, "hexdigest", self.hexdigest.lower())

    def __str__(self) -> str:
        return f"{self.algorithm} of {self.of} {self.hexdigest}"


def content_sha256(hexdigest: str) -> Digest:
    """The sha256 of a file's decompressed content."""
    return Digest("sha256", hexdigest, "content")


def file_digests(path: str | os.PathLike, algorithms: set[str]) -> dict[str, str]:
    """Hex digests of the bytes of the file at `path`, for each algorithm, in one read."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def content_digests(path: str | os.PathLike, algorithms: set[str], *, name: str | None = None,
                    length: int | None = None) -> dict[str, str]:
    """Hex digests of the decompressed content of the file at `path` (its bytes if not gzip).

    `name` is what error messages call the file: the user's own file when `path` is a temporary
    copy of it (an import checks `X.gz.part` but must report `X.gz`). `length`, if given, is the
    content's length as its header declares it: content beyond it is refused as soon as one byte
    of it is read, so a decompression bomb is never hashed in full.
    """
    hashers = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
    done = 0
    with open(path, "rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
        handle.seek(0)
        stream = gzip.GzipFile(fileobj=handle, mode="rb") if compressed else handle
        try:
            while chunk := stream.read(_CHUNK if length is None else min(_CHUNK, length + 1 - done)):
                done += len(chunk)
                if length is not None and done > length:
                    raise DatasetError(f"{name or path}: has trailing bytes after the {length} bytes "
                                       "its header declares")
                for hasher in hashers.values():
                    hasher.update(chunk)
        except (OSError, EOFError, zlib.error) as error:
            raise DatasetError(f"{name or path}: damaged gzip data ({error})") from None
    if length is not None and done < length:
        raise DatasetError(f"{name or path}: truncated: its header declares {length} bytes, the file holds {done}")
    return {algorithm: hasher.hexdigest() for algorithm, hasher in hashers.items()}


def matching_digest(path: str | os.PathLike, expected: tuple[Digest, ...], *, name: str | None = None,
                    content: IdxContent | None = None) -> Digest | None:
    """The first expected digest that the file at `path` matches, or None.

    File digests are tried first (one plain read); content digests need a decompression, so
    they are computed only when no file digest matched. `name` is as for `content_digests`;
    `content` is what the file must hold: a file whose header or size disagrees is a DatasetError
    before anything is hashed.
    """
    return _match(path, expected, name=name, content=content, want_sha256=False)[0]


def _match(path: str | os.PathLike, expected: tuple[Digest, ...], *, name: str | None, content: IdxContent | None,
           want_sha256: bool) -> tuple[Digest | None, str | None]:
    """The first expected digest that the file at `path` matches (or None), and the sha256 of its
    content if that was computed: always when no file digest matched and `want_sha256` is set.

    The content is decompressed at most once, for the expected content digests and the sha256 alike.
    """
    length = None
    if content is not None:
        length = read_idx_header(path, content=content, name=name).content_size
    by_file = [digest for digest in expected if digest.of == "file"]
    if by_file:
        actual = file_digests(path, {digest.algorithm for digest in by_file})
        for digest in by_file:
            if actual[digest.algorithm] == digest.hexdigest:
                return digest, None
    by_content = [digest for digest in expected if digest.of == "content"]
    algorithms = {digest.algorithm for digest in by_content} | ({"sha256"} if want_sha256 else set())
    if not algorithms:
        return None, None
    actual = content_digests(path, algorithms, name=name, length=length)
    match = next((digest for digest in by_content if actual[digest.algorithm] == digest.hexdigest), None)
    return match, actual.get("sha256")


def verify(path: str | os.PathLike, expected: tuple[Digest, ...], *, name: str | None = None,
           content: IdxContent | None = None) -> None:
    """Raise `DatasetError` unless the file at `path` matches one of the `expected` digests.

    `name` names the file in every message (default: the file name of `path`), as for
    `content_digests`; `content` is as for `matching_digest`. With no expected digest there is
    nothing to check against and the file passes.
    """
    if not expected:
        return
    name = name or Path(path).name
    try:
        match, actual = _match(path, expected, name=name, content=content, want_sha256=True)
    except OSError as error:
        raise DatasetError(f"{name}: cannot read ({error.strerror or error})") from None
    if match is not None:
        return
    listed = "; ".join(str(digest) for digest in expected)
    raise DatasetError(f"{name}: checksum mismatch (content sha256 {actual}; expected {listed})")
