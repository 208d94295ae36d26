"""Hostile files for the memory-bound tests, built in a fraction of a second, and a way to measure a command.

The data bombs are well-formed gzip files (valid deflate, CRC and size trailer) whose content is
gigabytes of zeros: one deflate run of 64 MiB of zeros is compressed once and repeated (each copy
starts after a full flush, so it never refers to what came before), and the CRC of the zeros is
computed with zlib's GF(2) method instead of hashing them. So a 4 MB file honestly holds 4 GB.

`measure` runs the real command line in a child process and reports the child's own peak RSS
(from `os.wait4`, so no other child of the test process counts) and its exit status and output.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

_RUN = 64 << 20  # zeros per repeated deflate run
_CRC_POLY = 0xEDB88320
_MASK = 0xFFFFFFFF


# ------------------------------------------------------------------------------------ gzip bombs
def _gf2_times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[n]) for n in range(32)]


def crc32_of_zeros(n: int, crc: int = 0) -> int:
    """`zlib.crc32(bytes(n), crc)` without touching n bytes (the register is linear in zero bits)."""
    register = crc ^ _MASK
    odd = [_CRC_POLY] + [1 << row for row in range(31)]  # one zero bit
    even = _gf2_square(odd)  # two
    odd = _gf2_square(even)  # four
    while n:
        even = _gf2_square(odd)  # eight, then 32, 512...: the byte count's bits in turn
        if n & 1:
            register = _gf2_times(even, register)
        n >>= 1
        if not n:
            break
        odd = _gf2_square(even)
        if n & 1:
            register = _gf2_times(odd, register)
        n >>= 1
    return register ^ _MASK


def _deflated(data: bytes) -> bytes:
    """Raw deflate of `data` ending in a full flush: byte-aligned, referring to nothing before it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


_ZERO_RUN: bytes | None = None


def write_gzip(path: Path, prefix: bytes, zeros: int) -> Path:
    """A valid single-member gzip file of `prefix` followed by `zeros` zero bytes."""
    global _ZERO_RUN
    if _ZERO_RUN is None:
        _ZERO_RUN = _deflated(bytes(_RUN))
    runs, rest = divmod(zeros, _RUN)
    with open(path, "wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # magic, deflate, no flags, mtime 0
        out.write(_deflated(prefix))
        for _ in range(runs):
            out.write(_ZERO_RUN)
        out.write(_deflated(bytes(rest)))
        out.write(zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH))  # the final, empty block
        crc = crc32_of_zeros(zeros, zlib.crc32(prefix))
        out.write(struct.pack("<II", crc, (len(prefix) + zeros) & _MASK))
    return path


def idx_header(shape: tuple[int, ...], code: int = 0x08) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def idx_bomb(path: Path, shape: tuple[int, ...], extra: int = 0) -> Path:
    """A gzip IDX file of uint8 zeros that truly holds `shape` (and `extra` bytes more than it declares)."""
    return write_gzip(path, idx_header(shape), _prod(shape) + extra)


def _prod(dims: tuple[int, ...]) -> int:
    total = 1
    for dim in dims:
        total *= dim
    return total


def mnist_folder_with(folder: Path, mnist_dir: Path, replaced: dict[str, Path]) -> Path:
    """`folder` holding the real MNIST's files (as links) except those in `replaced` (file name -> hostile file)."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in mnist_dir.iterdir():
        target = folder / source.name
        if source.name in replaced:
            os.replace(replaced[source.name], target)
        else:
            target.symlink_to(source)
    return folder


# ------------------------------------------------------------------------------------ hostile saves
def write_safetensors(path: Path, header_text: bytes, data: bytes = b"") -> Path:
    """A safetensors file with exactly this header text (no checks: a hostile writer)."""
    with open(path, "wb") as out:
        out.write(len(header_text).to_bytes(8, "little"))
        out.write(header_text)
        out.write(data)
    return path


def padded_header_bomb(path: Path, size: int) -> Path:
    """A safetensors file whose header is one JSON object holding a list of `size` bytes of empty objects."""
    count = (size - len('{"pad":[]}')) // 3
    text = b'{"pad":[' + b"{}," * (count - 1) + b"{}]}"
    return write_safetensors(path, text)


def with_metadata(source: Path, path: Path, change) -> Path:
    """A copy of the save `source` whose nnstudio document is passed through `change` (document -> document)."""
    blob = source.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    document = change(json.loads(header["__metadata__"]["nnstudio"]))
    header["__metadata__"]["nnstudio"] = json.dumps(document, separators=(",", ":"))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    return write_safetensors(path, text, blob[8 + n:])


# ------------------------------------------------------------------------------------ measuring
#: runs the command given after its first argument (a file) and writes the command's peak RSS (KiB) to that
#: file. A child's ru_maxrss starts at the RSS of the process that forked it (Linux carries it over exec),
#: so the test process (hundreds of MB after other tests) must not start the command itself: this small one does.
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
child.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
sys.exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)
"""


@dataclass(frozen=True)
class Outcome:
    """How a command ended: its status, output, and peak resident memory in MB."""

    status: int
    stdout: str
    stderr: str
    peak_mb: float


def measure(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> Outcome:
    """Run `python -m nnstudio.tui ARGS` (the `nnstudio` command) in `cwd` and measure its peak RSS."""
    return measure_command([sys.executable, "-m", "nnstudio.tui", *args], cwd=cwd, env=env, timeout=timeout)


def measure_command(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> Outcome:
    """Run `argv` in `cwd` and measure its peak RSS (Linux reports ru_maxrss in KiB)."""
    environment = {key: value for key, value in os.environ.items() if key not in ("NNSTUDIO_DATA_DIR", "COLUMNS")}
    environment.update({"COLUMNS": "200", "NNSTUDIO_OFFLINE": "1", **(env or {})})
    report = cwd / ".peak-rss"
    report.unlink(missing_ok=True)
    result = subprocess.run([sys.executable, "-c", _LAUNCHER, str(report), *argv], cwd=cwd, env=environment,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=timeout)
    return Outcome(result.returncode, result.stdout, result.stderr, int(report.read_text()) / 1024)
