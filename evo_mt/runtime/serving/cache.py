"""The translation cache: units already decoded answered again without the model.

A unit's key is everything its hypotheses depend on: the model, its source pieces, the beam
and its required phrases as encoded (the glossary's targets, a request's constraints). The
value is the whole beam's hypotheses, as the batcher's worker decodes them (nbest = beam), so
a request for fewer takes the first n of them, as it would from a fresh decoding. The cache is
cachetools' LRU, bounded in entries (units); a size of 0 turns it off.
"""

import threading
from typing import Hashable, List, Sequence, Tuple

from cachetools import LRUCache

from evo_mt.runtime.text.pipeline import Phrases
from evo_mt.runtime.text.results import Scored

Key = Tuple[Hashable, ...]


def unit_key(model: str, pieces: Sequence[str], beam: int, phrases: Phrases) -> Key:
    return (model, tuple(pieces), beam, tuple(tuple(phrase) for phrase in phrases))


class TranslationCache:
    """A bounded map of unit keys to their beam's hypotheses, safe to share between threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: LRUCache = LRUCache(maxsize=max(size, 1))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries) if self.size else 0

    def get(self, key: Key) -> List[Scored] | None:
        if not self.size:
            return None
        with self._lock:
            return self._entries.get(key)

    def put(self, key: Key, hypotheses: List[Scored]) -> None:
        if self.size:
            with self._lock:
                self._entries[key] = list(hypotheses)
