"""Writing files and folders so that an interruption never leaves a half-written one, and
hashing files: the one place for both, for the runtime and the lab.

Each writer writes under a scratch name of its own in the target's folder (`.NAME.<pid>.
<random>.partial`) and renames it into place when whole, so two commands writing the same
output at once never write into each other's scratch: the last one to finish wins, whole.

An output path is honoured as the user means it: a symbolic link is written through (its
target is replaced, the link stays), a terminal, pipe or character device such as
/dev/stdout is written to directly (it cannot be replaced, and need not be), and a socket or
block device is refused. A missing folder is an error, never created silently: a typo in a
folder name must not go unnoticed. Only commands that make their own run folder create one,
with `make_folder`.
"""

import errno
import hashlib
import os
import secrets
import shutil
import stat
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Iterable, Iterator

from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.lines import read_lines

__all__ = [
    "atomic_dir", "atomic_file", "atomic_file_in_own_folder", "digest", "discard", "make_folder",
    "read_lines", "write_lines", "write_lines_in_own_folder",
]

# Errors of writing that the user can act on (room, rights, a read-only disk), not bugs.
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def _scratch(final: Path) -> Path:
    """A name beside `final` that no other writer, in this process or another, will choose."""
    return final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")


def digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file's bytes, read in blocks (a checkpoint may not fit in memory)."""
    found = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            found.update(block)
    return found.hexdigest()


def discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def make_folder(folder: Path) -> Path:
    """Create `folder` (and its parents) if needed: for a command's own run folder only."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: exists and is not a folder; name a folder or a new path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"{folder}: cannot create the folder: {error.strerror}") from None
    return folder


def _cannot_write(path: Path, error: OSError) -> UserError:
    return UserError(f"{path}: cannot write it: {error.strerror or error}")


def _destination(path: Path) -> tuple:
    """(where the bytes go, whether to write there directly rather than replace it)."""
    final = Path(os.path.realpath(path))  # through every symbolic link, a dangling one too
    try:
        mode = os.stat(final).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise _cannot_write(path, error) from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise UserError(f"{path}: a folder; name a file to write")
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return final, True
        if not stat.S_ISREG(mode):
            raise UserError(f"{path}: a socket or block device, which evo-mt does not overwrite")
    if not final.parent.is_dir():
        raise UserError(f"{final.parent}: no such folder (for {path}); create it first")
    if not os.access(final.parent, os.W_OK):
        raise UserError(f"{final.parent}: cannot write into this folder (for {path}): permission denied")
    return final, False


@contextmanager
def atomic_file(path: Path, *, own_folder: bool = False) -> Iterator[Path]:
    """Yield a path to write whose content replaces `path` (atomically) only if the block completes.

    Writing to a device or pipe goes straight to it. An error of writing (disk full, no right
    to write) is a one-line UserError naming `path`, and nothing already there is changed.
    `own_folder`: the folder is the command's own (a run's scores/), created if missing."""
    if own_folder:
        make_folder(Path(path).parent)
    final, direct = _destination(Path(path))
    scratch = final if direct else _scratch(final)
    try:
        yield scratch
        if not direct:
            os.replace(scratch, final)
    except BaseException as error:
        if not direct:
            discard(scratch)
        if isinstance(error, OSError) and error.errno in _WRITE_ERRORS:
            if error.filename in (None, str(scratch), str(final)):
                raise _cannot_write(Path(path), error) from None
        raise


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty scratch folder that becomes `final` only if the block completes,
    replacing what `final` held (whole: another writer's folder, finished meanwhile, is
    replaced whole too)."""
    scratch = _scratch(final)
    try:
        scratch.mkdir(parents=True)  # stages of a run folder: its own folders
    except OSError as error:
        raise UserError(f"{final.parent}: cannot create {scratch.name} in it: {error.strerror}") from None
    try:
        yield scratch
    except BaseException:
        discard(scratch)
        raise
    _replace_folder(scratch, final)


def _replace_folder(scratch: Path, final: Path) -> None:
    """Rename `scratch` to `final`; a folder there is set aside first and removed after, so
    that `final` is at every moment absent, the old folder, or the new one."""
    while True:
        aside = None
        if final.is_dir() and not final.is_symlink():
            aside = _scratch(final)
            try:
                final.rename(aside)
            except FileNotFoundError:  # another writer set it aside first
                continue
        elif final.exists() or final.is_symlink():
            final.unlink()
        try:
            os.replace(scratch, final)
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            continue  # another writer's folder arrived in between: set it aside too
        finally:
            if aside is not None:
                shutil.rmtree(aside, ignore_errors=True)
        return


def write_lines(path: Path, lines: Iterable[str], *, own_folder: bool = False) -> int:
    """Write `lines` (without newlines) atomically; return how many were written."""
    count = 0
    with atomic_file(path, own_folder=own_folder) as scratch, open(scratch, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
            count += 1
    return count


# For the commands that fill folders of their own making (`bench --quality` and its --results).
atomic_file_in_own_folder = partial(atomic_file, own_folder=True)
write_lines_in_own_folder = partial(write_lines, own_folder=True)
