"""Getting corpus archives onto disk: resumable, checksummed downloads and safe extraction."""

import http.client
import os
import sys
import tarfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path, PurePosixPath
from typing import Sequence
from urllib.parse import urlparse

from tqdm import tqdm

from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.files import atomic_dir, digest, discard

URL_SCHEMES = ("http", "https", "ftp")
CHUNK = 1 << 20
TIMEOUT_S = 60  # per blocking socket operation, not for the whole download
EXTRACTED_FROM = ".extracted-from"  # inside an extracted folder: which archive it came from


def is_url(text: str) -> bool:
    return urlparse(text).scheme in URL_SCHEMES


def url_basename(url: str) -> str:
    name = PurePosixPath(urlparse(url).path).name
    if not name:
        raise UserError(f"{url}: the URL does not name a file")
    return name


def fetch(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    mirrors: Sequence[str] = (),
) -> Path:
    """Download `url` (or, failing that, each mirror in turn) to `dest`, resuming a previous attempt.

    The bytes go to `dest`.part, which is renamed to `dest` only when whole and matching the checksums
    given; an existing `dest` that matches them is returned at once.
    """
    checksums = {name: value.lower() for name, value in (("sha256", sha256), ("md5", md5)) if value}
    if dest.is_file():
        if all(digest(dest, name) == value for name, value in checksums.items()):
            return dest
        discard(dest)  # stale or corrupt: fetch it again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures = []
    for candidate in (url, *mirrors):
        try:
            _download(candidate, part)
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{candidate}: {_reason(error)}" if candidate != url else _reason(error))
            continue
        for name, expected in checksums.items():
            actual = digest(part, name)
            if actual != expected:
                discard(part)
                raise UserError(f"{candidate}: {name} mismatch: expected {expected}, got {actual}")
        os.replace(part, dest)
        return dest
    raise UserError(f"could not download {url}: {'; '.join(failures)}")


def _download(url: str, part: Path) -> None:
    """Append the rest of `url` to `part` (all of it if the server cannot resume)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "evo-mt"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not have:
            raise
        discard(part)  # the server has nothing past our bytes: they are not a prefix of its file
        return _download(url, part)
    with response:
        resumed = have and response.status == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
            raise OSError(f"the server resumed at another byte than {have}")
        start = have if resumed else 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        bar = tqdm(
            total=total,
            initial=start,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.stem,
            file=sys.stderr,
            disable=None,  # a bar on a terminal, nothing in a log file
        )
        with open(part, "ab" if resumed else "wb") as f, bar:
            while chunk := response.read(CHUNK):
                f.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise OSError(f"connection closed after {size} of {total} bytes (run again to resume)")


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__


def obtain(source: str | None, url: str, downloads: Path, **checksums: str | None) -> Path:
    """A local path for the corpus `source`: an existing file or folder as it is, a URL downloaded into
    `downloads`, and without a source the official `url` downloaded into `downloads`."""
    if source is None or is_url(source):
        remote = url if source is None else source
        return fetch(remote, downloads / url_basename(remote), **checksums)
    path = Path(source).expanduser()
    if not path.exists():
        raise OptionError("source", f"{source}: no such file or folder")
    return path


def extract(archive: Path, into: Path) -> Path:
    """Unpack a .tgz/.tar.gz/.tar archive into the folder `into`, which appears only when whole.

    Skipped when `into` already holds this very archive (same path, size and time) unpacked.
    """
    stat = archive.stat()
    identity = f"{archive.resolve()} {stat.st_size} {stat.st_mtime_ns}\n"
    stamp = into / EXTRACTED_FROM
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == identity:
        return into
    if not hasattr(tarfile, "data_filter"):  # pyproject's requires-python rules such a Python out
        raise UserError(f"{archive}: unpacking safely needs Python 3.10.12, 3.11.4 or newer")
    with atomic_dir(into) as scratch:
        try:
            with tarfile.open(archive) as tar:
                # "data" refuses members that would land outside `into`, links out of it, devices...
                tar.extractall(scratch, filter="data")
        except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
            raise UserError(f"{archive}: cannot unpack it: {error}") from error
        (scratch / EXTRACTED_FROM).write_text(identity, encoding="utf-8")
    return into
