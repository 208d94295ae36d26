"""Downloading an IDX data set into the user cache: mirrors in turn, resumable, checksummed, atomic.

Each file is downloaded to `<name>.part` beside its final place. A dropped connection keeps the
part file, and the next attempt (a retry now, or a re-run later) asks only for the rest with an
HTTP Range request; a server that ignores Range sends the whole file and the part is rewritten.
A finished part is checked against the file's digests (see `checksums`) and only then renamed
into place. A file already in the cache may have been copied there by hand, so it is verified too
(its digests, or a full IDX read when it has none) and downloaded again when it fails; `force`
downloads every file again. With NNSTUDIO_OFFLINE set nothing is downloaded: the cache is only
verified, and a missing or damaged file is an error. Only urllib is used; progress goes to an
optional callback, which the command line turns into a progress bar.
"""

from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .checksums import Digest, verify
from .errors import DatasetError, FetchError
from .idx import IdxContent, max_gzip_size, read_idx
from .locations import OFFLINE_ENV, cache_dir, display_path, find_files, how_to_get, offline, remove_other_copies
from .mnist_family import ROLES, IdxDatasetSpec, IdxFile, idx_spec

DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for a connection or for the next bytes of a response."""

USER_AGENT = "nnstudio-datasets/1 (urllib)"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report: `done` bytes of `filename` are on disk (a resumed part counts)."""

    filename: str
    url: str
    done: int
    total: int | None


ProgressCallback = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class FetchResult:
    """What a fetch did: the folder, the files it downloaded, those the cache already held intact,
    and a note for each cached file that failed verification (and was downloaded again)."""

    folder: Path
    downloaded: tuple[str, ...]
    kept: tuple[str, ...]
    replaced: tuple[str, ...]


class _MirrorFailed(Exception):
    """This mirror cannot deliver the file now; the message says why. The next mirror is tried."""


class _Interrupted(Exception):
    """The response stopped before its end; the part file is kept for a resume."""


def fetch_dataset(dataset: str | IdxDatasetSpec, **options) -> Path:
    """Download the files of `dataset` that the cache lacks (or holds damaged), and return the cache folder.

    `fetch_files(dataset, **options).folder`: see `fetch_files` for the options.
    """
    return fetch_files(dataset, **options).folder


def fetch_files(
    dataset: str | IdxDatasetSpec,
    *,
    mirrors: list[str] | tuple[str, ...] | None = None,
    checksums: dict | None = None,
    folder: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 2,
    force: bool = False,
) -> FetchResult:
    """Bring the cache folder of `dataset` to four verified files, downloading only what is needed.

    `mirrors` (base URLs) replace the spec's list and the `NNSTUDIO_<NAME>_MIRRORS` variable;
    `checksums` replace expected digests (see `IdxDatasetSpec.with_checksums`); `folder` replaces
    the cache folder. A file already there is verified and kept, or downloaded again if it fails;
    `force` downloads every file again. `retries` is how many times a dropped transfer is resumed
    on one mirror before the next mirror is tried. With NNSTUDIO_OFFLINE set, a file that would
    need downloading is a `FetchError` and no request is made.
    """
    spec = idx_spec(dataset)
    if checksums:
        spec = spec.with_checksums(checksums)
    target = Path(folder) if folder is not None else cache_dir(spec.name)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or error
        raise DatasetError(f"cannot create the cache folder {display_path(target)}: {reason}") from None
    present = {} if force else find_files(target, spec)
    needed, missing, kept, replaced = [], [], [], []
    for role in ROLES:
        file, cached = spec.files[role], present.get(role)
        if cached is None:
            missing.append(file.name)
        else:
            problem = _cached_problem(cached, file, spec.content(role))
            if problem is None:
                kept.append(cached.name)
                continue
            replaced.append(problem)
        needed.append(role)
    files = [spec.files[role] for role in needed]
    if needed:
        _check_can_download(spec, target, files, missing, replaced, force)
        urls = tuple(mirrors) if mirrors is not None else spec.effective_mirrors()
        if not urls:
            raise FetchError(f"no mirrors are configured for {spec.name}. {how_to_get(spec)}")
        for role in needed:
            download_file(spec.files[role], urls, target, progress=progress, timeout=timeout, retries=retries,
                          spec=spec, content=spec.content(role))
    return FetchResult(target, tuple(file.name for file in files), tuple(kept), tuple(replaced))


def _cached_problem(path: Path, file: IdxFile, content: IdxContent) -> str | None:
    """Why the cached file at `path` cannot be kept (it names the file), or None if it is intact.

    Its header and size must fit `content`; then its digests decide (the `.gz` digest first, then
    that of the decompressed content, which a re-compressed copy keeps); a file without digests
    must at least read as a whole IDX file.
    """
    try:
        if file.digests:
            verify(path, file.digests, name=display_path(path), content=content)
        else:
            read_idx(path, content=content)
    except DatasetError as error:
        return str(error)
    return None


def _check_can_download(spec: IdxDatasetSpec, target: Path, needed: list[IdxFile], missing: list[str],
                        replaced: list[str], force: bool) -> None:
    """Refuse, with what would have been downloaded and why, when NNSTUDIO_OFFLINE forbids the network.

    `missing` are the names of the needed files not in `target`; `replaced` says, for each needed
    file that is there, why it cannot be kept (each reason names its file).
    """
    if not offline():
        return
    names = ", ".join(file.name for file in needed)
    if force:
        why = "--force asks for a fresh download"
    else:
        reasons = []
        if missing:
            reasons.append(f"{', '.join(missing)} missing from {display_path(target)}")
        reasons += replaced
        why = "; ".join(reasons)
    raise FetchError(f"{OFFLINE_ENV} is set, so nothing is downloaded, and {names} would need it ({why}). "
                     f"{how_to_get(spec)}")


def download_file(
    file: IdxFile,
    mirrors: tuple[str, ...],
    folder: Path,
    *,
    progress: ProgressCallback | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 2,
    spec: IdxDatasetSpec | None = None,
    content: IdxContent | None = None,
) -> Path:
    """Download one file into `folder` from the first mirror that delivers it intact (its digests, and
    `content`, what it must hold: see `checksums.verify`)."""
    final = folder / file.name
    part = folder / (file.name + ".part")
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + file.name
        try:
            _download_verified(url, part, file.digests, content, progress, timeout, retries)
        except _MirrorFailed as failure:
            failures.append(f"{url}: {failure}")
            continue
        except OSError as error:
            raise DatasetError(f"cannot write {display_path(part)}: {error.strerror or error}") from None
        try:
            os.replace(part, final)
            remove_other_copies(folder, file, keep=final.name)  # a damaged or older copy under another name
        except OSError as error:
            raise DatasetError(f"cannot write {display_path(final)}: {error.strerror or error}") from None
        return final
    advice = how_to_get(spec) if spec is not None else f"Copy {file.name} into {display_path(folder)}/."
    raise FetchError(f"could not download {file.name} from any mirror ({'; '.join(failures)}). {advice}")


def _download_verified(
    url: str, part: Path, digests: tuple[Digest, ...], content: IdxContent | None,
    progress: ProgressCallback | None, timeout: float, retries: int,
) -> None:
    """Bring `part` to the verified full file from `url`, resuming and retrying as needed."""
    interruptions = 0
    restarted = False
    while True:
        try:
            resumed = _transfer(url, part, progress, timeout, None if content is None or not content.known
                                else max_gzip_size(content.size))
        except _Interrupted as interruption:
            interruptions += 1
            if interruptions > retries:
                raise _MirrorFailed(f"{interruption}; the partial download is kept and a re-run resumes it") from None
            continue
        try:
            verify(part, digests, name=url, content=content)
        except DatasetError as mismatch:
            part.unlink(missing_ok=True)
            if resumed and not restarted:  # the earlier bytes may be from another copy: start afresh once
                restarted = True
                continue
            raise _MirrorFailed(f"rejected: {mismatch}") from None
        return


def _transfer(url: str, part: Path, progress: ProgressCallback | None, timeout: float, limit: int | None) -> bool:
    """One HTTP request that appends the rest of the file to `part` (or rewrites it whole).

    `limit` is the most bytes the file can have (see `idx.max_gzip_size`): a server that sends
    more is refused, and the part deleted, as soon as it does. Returns whether bytes from an
    earlier transfer were kept (a resume).
    """
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing after `offset`: the part is whole (the checksum decides)
            return True
        raise _MirrorFailed(f"HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        raise _MirrorFailed(_reason(error)) from None

    with response:
        status = getattr(response, "status", None) or 200
        if offset and status == 206:
            start = _range_start(response.headers.get("Content-Range"))
            if start != offset:
                part.unlink(missing_ok=True)
                raise _Interrupted(f"the server answered a different range ({start} instead of {offset})")
            mode = "ab"
        else:  # a whole file: the server ignores Range, or we had nothing yet
            offset, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        done = offset
        name = part.name[: -len(".part")]
        with open(part, mode) as out:
            if progress:
                progress(DownloadProgress(name, url, done, total))
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (http.client.HTTPException, OSError) as error:
                    raise _Interrupted(f"transfer broken after {done} bytes ({_reason(error)})") from None
                if not chunk:
                    break
                if limit is not None and done + len(chunk) > limit:
                    out.close()
                    part.unlink(missing_ok=True)
                    raise _MirrorFailed(f"rejected: it sends more than the {limit} bytes the file can have")
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(DownloadProgress(name, url, done, total))
            out.flush()
            os.fsync(out.fileno())
    if total is not None and done < total:
        raise _Interrupted(f"connection closed after {done} of {total} bytes")
    return offset > 0


def _range_start(content_range: str | None) -> int | None:
    """The first byte position of a `Content-Range: bytes START-END/TOTAL` header."""
    match = re.match(r"\s*bytes\s+(\d+)-", content_range or "")
    return int(match.group(1)) if match else None


def _reason(error: BaseException) -> str:
    """A short human reason for a network error (urllib wraps the useful part)."""
    reason = getattr(error, "reason", None)
    if isinstance(error, TimeoutError) or isinstance(reason, TimeoutError):
        return "timed out"
    if reason is not None:
        return str(getattr(reason, "strerror", None) or reason)
    return str(error) or type(error).__name__
