"""Sentences in batches: how many decode at once, batches cut by length, and the workers
that decode batches side by side. `evo-mt translate` and the server's batcher cut batches by
the same rule (`length_batches`)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple, TypeVar

from evo_mt.runtime.base.errors import OptionError

# Sentences decoded together unless a caller says otherwise (CTranslate2's translate_file
# default too), shared out among the workers. The decoding state grows with sentences x
# beam x length: on the toy model at beam 5 the exported runtime peaks at ~170 MiB with 32
# and ~330 MiB with 128, for a few per cent more time (docs/export.md).
BATCH_SIZE = 32
MAX_TOKENS = 6000  # padded subword tokens of one batch's sources

Item = TypeVar("Item")
Found = TypeVar("Found")

_pools: Dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def check_batching(batch_size: int, max_tokens: int = MAX_TOKENS) -> None:
    """Refuse a batch size or token budget no batch can have."""
    if batch_size < 1:
        raise OptionError("batch_size", f"must be at least 1, not {batch_size}")
    if max_tokens < 1:
        raise OptionError("max_tokens", f"must be at least 1, not {max_tokens}")


def length_batches(
    items: Sequence[Item],
    batch_size: int,
    max_tokens: int,
    length: Callable[[Any], int] = lambda item: len(item[1]),
) -> Iterator[List[Item]]:
    """Consecutive batches of `items` (sorted by length) of at most `batch_size` items and
    `max_tokens` padded tokens; a single item longer than `max_tokens` is a batch alone."""
    batch: List[Item] = []
    longest = 0
    for item in items:
        longest = max(longest, length(item))
        if batch and (len(batch) >= batch_size or longest * (len(batch) + 1) > max_tokens):
            yield batch
            batch, longest = [], length(item)
        batch.append(item)
    if batch:
        yield batch


def decode_batches(
    encoded: Sequence[List[int]],
    generate: Callable[[List[int]], List[Found]],
    *,
    batch_size: int,
    max_tokens: int,
    workers: int = 1,
) -> List[Found]:
    """`generate` (the positions of a batch's sources -> what it found for each) over batches
    of `encoded` sources of similar length; what was found for each source, in input order.

    With several workers, `batch_size` sentences decode at once across them: each worker's
    batch holds its share (as fast, and the memory one batch took), and with fewer
    sentences than that each worker still gets some."""
    check_batching(batch_size, max_tokens)
    # Batches of similar length waste little on padding.
    order: List[Tuple[int, List[int]]] = sorted(enumerate(encoded), key=lambda item: len(item[1]))
    if workers > 1:
        batch_size = -(-min(batch_size, len(order)) // workers)
    batches = [[i for i, _ in batch] for batch in length_batches(order, batch_size, max_tokens)]
    found_each = map(generate, batches)
    if workers > 1 and len(batches) > 1:
        found_each = _pool(workers).map(generate, batches)
    results: List[Found | None] = [None] * len(encoded)
    for batch, found in zip(batches, found_each, strict=True):
        for i, each in zip(batch, found, strict=True):
            results[i] = each
    return results  # type: ignore[return-value]


def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool of `workers` threads per process, made on first use (not on every call)."""
    with _pools_lock:
        if workers not in _pools:
            _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="evo-mt")
        return _pools[workers]
