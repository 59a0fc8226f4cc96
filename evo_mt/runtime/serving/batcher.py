"""Dynamic batching: the sentences of concurrent requests decoded together on one worker thread.

Requests put the units of their lines (sentences, or pieces of over-long ones, as source
pieces: evo_mt.runtime.text.pipeline.Plan) into one bounded queue. The worker takes the
oldest waiting unit, waits (at most `max_wait_ms` after it arrived) for the units of the same
beam size to fill a batch, then cuts batches by length by the rule `evo-mt translate` uses
(evo_mt.runtime.text.batching.length_batches) and decodes the one holding the oldest unit
with the pipeline's `translate_units`. Units of different beam sizes never share a batch
(beam search has one beam size per batch); n-best only slices the result, so it does not
split batches. The event loop never runs the model: it only routes finished results back.

A unit already decoded (the same model, source pieces, beam and required phrases) is answered
from the translation cache (cache.py) when it is submitted, and never queued; each decoded
unit goes into the cache.
"""

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence

from evo_mt.runtime.serving.cache import Key, TranslationCache, unit_key
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.text.batching import length_batches
from evo_mt.runtime.text.pipeline import Phrases, translate_units
from evo_mt.runtime.text.results import Scored
from evo_mt.runtime.text.translator import TextTranslator

logger = logging.getLogger("evo_mt")


class QueueFull(Exception):
    """The queue cannot take a request's lines now; the client should retry later."""


@dataclass(eq=False)
class Job:
    """One request's units on their way through the batcher."""

    beam: int
    nbest: int
    results: List[List[Scored]]  # each unit's n best
    future: asyncio.Future
    remaining: int = 0
    cancelled: bool = False

    def resolve(self) -> None:
        # Runs on the event loop: the request may have been given up meanwhile.
        if not self.future.done():
            self.future.set_result(self.results)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


@dataclass(eq=False)
class _Unit:
    """One unit of a request: a sentence, or a piece of one too long for the model."""

    job: Job
    index: int
    pieces: Sequence[str]
    phrases: Phrases  # required in its translation (glossary terms' targets), encoded
    key: Key  # its key in the translation cache
    arrived: float = field(default_factory=time.monotonic)

    @property
    def length(self) -> int:  # source tokens with </s>, as the model will see them
        return len(self.pieces) + 1


@dataclass
class Counters:
    requests: int = 0
    sentences: int = 0  # units decoded: sentences, or pieces of over-long ones
    batches: int = 0
    dropped_sentences: int = 0  # units of requests whose client left before they were decoded
    rejected_requests: int = 0  # turned away because the queue was full
    cache_hits: int = 0  # units answered from the translation cache
    cache_misses: int = 0  # units queued for the model (with the cache on)


class Batcher:
    """The worker thread and its queue; `submit` and `cancel` are called from the event loop."""

    def __init__(
        self,
        translator: TextTranslator,
        limits: ServerLimits,
        on_batch: Callable[[int], None] | None = None,
        cache: TranslationCache | None = None,
        on_cache: Callable[[int, int], None] | None = None,
    ) -> None:
        """`on_batch` gets the number of sentences of each batch decoded, on the worker thread;
        `cache`: the translation cache (default: one of `limits.cache_size` units); `on_cache`
        gets each request's cache hits and misses."""
        self.translator = translator
        self.limits = limits
        self.on_batch = on_batch
        self.cache = cache if cache is not None else TranslationCache(limits.cache_size)
        self.on_cache = on_cache
        described = translator.describe()
        self.model = str(described.get("model") or described.get("checkpoint"))  # the cache's key
        self.counters = Counters()
        self._searches: Dict[int, TextTranslator] = {}
        self._pending: List[_Unit] = []
        self._condition = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="evo-mt-batcher", daemon=True)

    @property
    def queued_sentences(self) -> int:
        return len(self._pending)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Decode what is still queued, then end the worker (blocks until it has ended)."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def submit(
        self,
        units: Sequence[Sequence[str]],
        *,
        beam: int,
        nbest: int,
        phrases: Sequence[Phrases] | None = None,
    ) -> Job:
        """Queue a request's units (source pieces, each within the model's positions), with
        each unit's required `phrases` (encoded: Plan.encoded). Raises QueueFull rather
        than grow."""
        job = Job(
            beam=beam,
            nbest=nbest,
            results=[[] for _ in units],
            future=asyncio.get_running_loop().create_future(),
            remaining=len(units),
        )
        wanted = phrases or [[] for _ in units]
        keys = [unit_key(self.model, unit, beam, wanted[i]) for i, unit in enumerate(units)]
        found = [self.cache.get(key) for key in keys]
        with self._condition:
            queued = [i for i, hypotheses in enumerate(found) if hypotheses is None]
            if len(self._pending) + len(queued) > self.limits.max_queued_sentences:
                self.counters.rejected_requests += 1
                raise QueueFull
            self.counters.requests += 1
            now = time.monotonic()
            for i, hypotheses in enumerate(found):
                if hypotheses is not None:
                    job.results[i] = hypotheses[:nbest]
            job.remaining = len(queued)
            self._pending.extend(_Unit(job, i, units[i], list(wanted[i]), keys[i], now) for i in queued)
            if self.cache.size:
                self.counters.cache_hits += len(units) - len(queued)
                self.counters.cache_misses += len(queued)
            self._condition.notify_all()
        if self.on_cache is not None and self.cache.size:
            self.on_cache(len(units) - len(queued), len(queued))
        if not queued:
            job.resolve()
        return job

    def cancel(self, job: Job) -> None:
        """Drop the job's units that are still waiting; a batch already decoding finishes."""
        with self._condition:
            job.cancelled = True
            kept = [unit for unit in self._pending if unit.job is not job]
            self.counters.dropped_sentences += len(self._pending) - len(kept)
            self._pending = kept

    def _work(self) -> None:
        while True:
            with self._condition:
                batch = self._next_batch()
            if batch is None:
                return
            self._decode(batch)

    def _next_batch(self) -> List[_Unit] | None:
        """The next batch to decode (waiting for company as the limits allow); None: stop."""
        while True:
            if not self._pending:
                if self._stopping:
                    return None
                self._condition.wait()
                continue
            oldest = self._pending[0]
            group = [unit for unit in self._pending if unit.job.beam == oldest.job.beam]
            left = oldest.arrived + self.limits.max_wait_ms / 1000 - time.monotonic()
            if self._stopping or left <= 0 or self._full(group):
                break
            self._condition.wait(left)
        group.sort(key=lambda unit: unit.length)
        batch = next(
            batch
            for batch in length_batches(
                group, self.limits.batch_size, self.limits.max_tokens, length=lambda unit: unit.length
            )
            if any(unit is oldest for unit in batch)
        )
        taken = {id(unit) for unit in batch}
        self._pending = [unit for unit in self._pending if id(unit) not in taken]
        return batch

    def _full(self, group: List[_Unit]) -> bool:
        longest = max(unit.length for unit in group)
        return len(group) >= self.limits.batch_size or longest * len(group) >= self.limits.max_tokens

    def _decode(self, batch: List[_Unit]) -> None:
        beam = batch[0].job.beam
        try:
            if beam not in self._searches:
                self._searches[beam] = self.translator.with_search(beam, nbest=beam)
            # The batch is already one batch by translate_units' own rule.
            # Required phrases do not split batches: the constrained search takes each
            # sentence's own, and searches a sentence without any as if none had.
            required = [unit.phrases for unit in batch]
            hypotheses = translate_units(
                self._searches[beam],
                [unit.pieces for unit in batch],
                required if any(required) else None,
                batch_size=len(batch),
                max_tokens=self.limits.max_tokens,
            )
        except Exception as error:  # one bad batch must not end the worker
            logger.exception("decoding a batch of %d sentences failed", len(batch))
            for job in {id(unit.job): unit.job for unit in batch}.values():
                job.future.get_loop().call_soon_threadsafe(job.fail, error)
            return
        finished = []
        with self._condition:
            self.counters.batches += 1
            self.counters.sentences += len(batch)
            for unit, best in zip(batch, hypotheses, strict=True):
                self.cache.put(unit.key, best)
                unit.job.results[unit.index] = best[: unit.job.nbest]
                unit.job.remaining -= 1
                if unit.job.remaining == 0 and not unit.job.cancelled:
                    finished.append(unit.job)
        if self.on_batch is not None:  # counted before anyone is answered
            self.on_batch(len(batch))
        for job in finished:
            job.future.get_loop().call_soon_threadsafe(job.resolve)
