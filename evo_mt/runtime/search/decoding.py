"""Decoding settings, and the rule for how long a translation may grow: one definition for
every engine (the lean engine, fairseq's generator, the exported model) and every command
(score, translate, serve, export).

The longest translation of a source of n tokens (its </s> included) has a x n + b tokens
before its </s>, as fairseq's `--max-len-a`/`--max-len-b`, and never more than the decoder's
positions allow. The limit is each sentence's own, so that a translation does not depend on
the sentences it was batched with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

from evo_mt.runtime.base.errors import OptionError


@dataclass(frozen=True)
class DecodingSettings:
    """How beam search runs: beam size, length penalty, and the length limit a x n + b."""

    beam: int = 5
    lenpen: float = 1.0
    max_len_a: float = 1.2
    max_len_b: int = 10

    def __post_init__(self) -> None:
        if self.beam < 1:
            raise OptionError("beam", f"must be at least 1, not {self.beam}")
        if not math.isfinite(self.lenpen):
            raise OptionError("lenpen", f"must be a finite number, not {self.lenpen}")
        if not (math.isfinite(self.max_len_a) and self.max_len_a >= 0):
            raise OptionError("max_len_a", f"must be a finite number >= 0, not {self.max_len_a}")
        if self.max_len_b < 1:
            raise OptionError("max_len_b", f"must be at least 1, not {self.max_len_b}")

    def max_length(self, source_length: int, max_target_positions: int, constraint_tokens: int = 0) -> int:
        """Most target tokens before </s> for a source of `source_length` tokens (</s> included);
        a translation that must hold required phrases of `constraint_tokens` tokens gets room
        for them too.

        fairseq keeps 2 of the decoder's positions back (the start symbol and </s>)."""
        wanted = int(self.max_len_a * source_length + self.max_len_b) + constraint_tokens
        return min(wanted, max_target_positions - 2)

    def max_lengths(
        self,
        sources: Sequence[Sequence[int]],
        max_target_positions: int,
        constraints: Sequence[Sequence[Sequence[int]]] | None = None,
    ) -> np.ndarray:
        """`max_length` of each source of a batch, with room for its required phrases."""
        extra = [0] * len(sources) if constraints is None else [sum(map(len, c)) for c in constraints]
        return np.array(
            [self.max_length(len(s), max_target_positions, n) for s, n in zip(sources, extra, strict=True)]
        )


@dataclass(frozen=True)
class Hypothesis:
    """One finished hypothesis of beam search, in target indices."""

    tokens: List[int]  # ends with </s>
    score: float  # sum of log-probabilities / length ** lenpen


@dataclass(frozen=True)
class Decoded:
    """One hypothesis of a sentence as a model's vocabulary spells it, with its score (the
    sum of its tokens' log-probabilities over length ** lenpen; </s> included)."""

    pieces: List[str]
    score: float


def check_search(beam: int, nbest: int) -> None:
    """Refuse a beam size or n-best that beam search cannot use."""
    if beam < 1:
        raise OptionError("beam", f"must be at least 1, not {beam}")
    if not 1 <= nbest <= beam:
        raise OptionError("nbest", f"({nbest}) must lie between 1 and the beam size ({beam})")
