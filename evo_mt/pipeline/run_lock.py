"""One writer per run folder: `prepare` and `train` hold an exclusive lock on it while they run.

The lock is the kernel's (fcntl.flock on `Run.lock_file`), not a PID file: it is released
when the process ends in any way, kill -9 included, so a killed run never blocks the next.
The holder writes its process id and command line into the file for the error message.
"""

import fcntl
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator

from evo_mt.pipeline.run_folder import Run
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.files import make_folder

# Folders this process holds, with how many nested holds: `train` prepares under its own lock.
_held: Dict[Path, int] = {}


@contextmanager
def holding(run: Run) -> Iterator[None]:
    """Hold `run`'s folder for the block; UserError at once if another process holds it."""
    if run.root in _held:
        _held[run.root] += 1
        try:
            yield
        finally:
            _held[run.root] -= 1
        return
    make_folder(run.root)
    try:
        fd = os.open(run.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise UserError(f"{run.root}: cannot write into the run folder: {error.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
            raise UserError(f"{run.root} is in use by {holder}; wait for it to end") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} ({' '.join(sys.argv)})".encode(), 0)
        _held[run.root] = 1
        try:
            yield
        finally:
            del _held[run.root]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the lock
