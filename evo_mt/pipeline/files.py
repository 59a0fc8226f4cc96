"""Writing files and folders so that an interruption never leaves a half-written one."""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator


def _scratch(final: Path) -> Path:
    return final.with_name(f".{final.name}.partial")


def discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty scratch folder that becomes `final` only if the block completes.

    A scratch folder left by an interrupted run is removed first: the stage is redone.
    """
    scratch = _scratch(final)
    discard(scratch)
    scratch.mkdir(parents=True)
    try:
        yield scratch
    except BaseException:
        discard(scratch)
        raise
    discard(final)
    os.replace(scratch, final)


@contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a scratch path that replaces `final` (atomically) only if the block completes."""
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = _scratch(final)
    discard(scratch)
    try:
        yield scratch
    except BaseException:
        discard(scratch)
        raise
    os.replace(scratch, final)


def write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write `lines` (without newlines) atomically; return how many were written."""
    count = 0
    with atomic_file(path) as scratch, open(scratch, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
            count += 1
    return count


def read_lines(path: Path) -> list:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()
