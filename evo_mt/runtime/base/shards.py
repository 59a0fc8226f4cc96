"""One shard of an input's lines, for translating a corpus as several jobs (a cluster's job
array), as fairseq-generate's `--shard-id/--num-shards` do.

Shard I of N holds one contiguous block of lines: lines [I * n // N, (I + 1) * n // N) of
the n lines, counted as evo_mt.runtime.base.lines counts them. Blocks, not every N-th line,
so that the shards' outputs joined in order (`cat out.0 out.1 out.2`) are one process's
output, with no tool to interleave them, and a line's neighbours stay in the same job. The
cost is one pass counting the lines before the shard's own are read: a file is counted and
read again; a pipe is copied to a temporary file as it is counted.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import BinaryIO, Iterator, Tuple

from evo_mt.runtime.base.errors import OptionError

_COPY_CHUNK = 1 << 20


def check_shard(shard_id: int, num_shards: int) -> None:
    """Refuse a shard that no split of lines has."""
    if num_shards < 1:
        raise OptionError("num_shards", f"must be at least 1, not {num_shards}")
    if not 0 <= shard_id < num_shards:
        last = num_shards - 1
        raise OptionError("shard_id", f"must be from 0 to {last} (--num-shards {num_shards}), not {shard_id}")


def shard_bounds(lines: int, shard_id: int, num_shards: int) -> Tuple[int, int]:
    """(first, end): the block of `lines` lines that shard `shard_id` of `num_shards` holds.
    The blocks follow each other, cover every line once and differ in size by one at most."""
    check_shard(shard_id, num_shards)
    return shard_id * lines // num_shards, (shard_id + 1) * lines // num_shards


def shard_of(stream: BinaryIO, shard_id: int, num_shards: int) -> Tuple[int, Iterator[bytes]]:
    """(first, raw lines): the number of the shard's first line (counted from 0) and its
    lines, each with its ending, as iterating `stream` gives them (evo_mt.runtime.base.lines.
    stream_lines reads them)."""
    check_shard(shard_id, num_shards)
    if not _rewindable(stream):
        spool = tempfile.TemporaryFile()
        shutil.copyfileobj(stream, spool, _COPY_CHUNK)
        spool.seek(0)
        stream = spool
    start = stream.tell()
    total = sum(1 for _ in stream)
    stream.seek(start)
    first, end = shard_bounds(total, shard_id, num_shards)
    return first, _block(stream, first, end)


def _block(stream: BinaryIO, first: int, end: int) -> Iterator[bytes]:
    for number, raw in enumerate(stream):
        if number >= end:
            return
        if number >= first:
            yield raw


def _rewindable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, OSError, ValueError):
        return False
