"""Raw text in, raw text out: what every translator shares, whatever runs its model.

A `TextTranslator` cuts lines into sentencepiece pieces, batches them by length, has its
model generate, and puts the pieces back together. A subclass says how its model turns
source pieces into indices and generates (the lab's `Translator` on a checkpoint, the
runtime's `ExportedTranslator` on an exported folder); `translate`, `evo-mt serve` and
scoring see only this interface.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

from evo_mt.runtime.constraint_input import ConstraintError, encode_phrases
from evo_mt.runtime.decoding import Decoded
from evo_mt.runtime.errors import OptionError
from evo_mt.runtime.glossary import Glossary, Term

logger = logging.getLogger("evo_mt")

# Sentences decoded together unless a caller says otherwise (CTranslate2's translate_file
# default too). The decoding state grows with sentences x beam x length: on the toy model at
# beam 5 the exported runtime peaks at ~170 MiB with 32 and ~330 MiB with 128, for a few
# per cent more time (docs/export.md).
BATCH_SIZE = 32
MAX_TOKENS = 6000  # padded subword tokens of one batch's sources


@dataclass(frozen=True)
class Scored:
    """A translation and its score: the hypothesis' log-probability per token (length-
    normalised: over length ** lenpen, </s> included), at most 0; higher is more confident."""

    text: str
    score: float


@dataclass(frozen=True)
class LineTranslation:
    """A line's n best translations, the phrases it was required to hold (given and from the
    glossary), and the glossary terms found in it."""

    translations: List[Scored]
    constraints: List[str]
    terms: List[Term]

    @classmethod
    def empty(cls, nbest: int) -> LineTranslation:
        """What an empty line translates to."""
        return cls([Scored("", 0.0)] * nbest, [], [])

    def to_json(self, *, nbest: bool, constrained: bool, glossary: bool) -> Dict[str, Any]:
        """What `evo-mt translate --json` writes and `evo-mt serve` answers for the line."""
        best = self.translations[0]
        found: Dict[str, Any] = {"translation": best.text, "score": best.score}
        if nbest:
            found["nbest"] = [{"translation": t.text, "score": t.score} for t in self.translations]
        if constrained or glossary:
            found["constraints"] = self.constraints
        if glossary:
            found["glossary"] = [{"source": t.source, "target": t.target} for t in self.terms]
        return found


def check_batch_size(batch_size: int) -> int:
    if batch_size < 1:
        raise OptionError("batch_size", f"must be at least 1, not {batch_size}")
    return batch_size


def check_search(beam: int, nbest: int) -> None:
    """Refuse a beam size or n-best that beam search cannot use."""
    if beam < 1:
        raise OptionError("beam", f"must be at least 1, not {beam}")
    if not 1 <= nbest <= beam:
        raise OptionError("nbest", f"({nbest}) must lie between 1 and the beam size ({beam})")


class TextTranslator:
    """Lines to their n best translations; subclasses set `spm`, `nbest`, `beam` and
    `max_source_pieces` and implement `source_indices`, `generate` and `describe`."""

    spm: Any  # sentencepiece.SentencePieceProcessor
    nbest: int
    beam: int
    max_source_pieces: int  # longer inputs are cut to this many pieces (room for </s>)
    _warned_truncation = False

    def source_indices(self, pieces: List[str]) -> List[int]:
        raise NotImplementedError

    def target_indices(self, pieces: List[str]) -> List[int]:
        """Target vocabulary indices of `pieces` (unknown ones as <unk>), no </s>."""
        raise NotImplementedError

    def generate(
        self, sources: List[List[int]], constraints: Sequence[Sequence[Sequence[int]]] | None = None
    ) -> List[List[Decoded]]:
        """The `nbest` best hypotheses of each source (indices ending in </s>), with
        `constraints`: each source's required target phrases (indices, no </s>)."""
        raise NotImplementedError

    def describe(self) -> Dict[str, Any]:
        """What the model is, for `evo-mt serve`'s /info."""
        raise NotImplementedError

    def with_search(self, beam: int, nbest: int) -> TextTranslator:
        """This translator with another beam size and n-best, sharing its model (no reload)."""
        check_search(beam, nbest)
        other = copy.copy(self)
        other.beam, other.nbest = beam, nbest
        return other

    def count_pieces(self, line: str) -> int:
        return len(self.spm.encode(line))

    def encode(self, line: str) -> List[int]:
        """The source indices of a raw line (ending in </s>), cut to the model's positions."""
        pieces = self.spm.encode(line, out_type=str)
        if len(pieces) > self.max_source_pieces:
            if not self._warned_truncation:
                logger.warning(
                    "a line of %d subwords is longer than the model's %d positions; "
                    "it is truncated (further such lines are truncated silently)",
                    len(pieces),
                    self.max_source_pieces,
                )
                self._warned_truncation = True
            pieces = pieces[: self.max_source_pieces]
        return self.source_indices(pieces)

    def translate(
        self, lines: List[str], batch_size: int = BATCH_SIZE, max_tokens: int = MAX_TOKENS
    ) -> List[List[str]]:
        """The n best translations of each line, in input order; empty lines give empty ones."""
        found = self.translate_scored(lines, batch_size=batch_size, max_tokens=max_tokens)
        return [[t.text for t in line.translations] for line in found]

    def translate_scored(
        self,
        lines: List[str],
        *,
        constraints: Sequence[Sequence[str]] | None = None,
        glossary: Glossary | None = None,
        mid_word: bool = False,
        batch_size: int = BATCH_SIZE,
        max_tokens: int = MAX_TOKENS,
        first_line: int = 1,
    ) -> List[LineTranslation]:
        """Each line's n best translations with their scores, in input order.

        `constraints`: each line's required target phrases; `glossary`: terms whose target
        becomes a required phrase of each line holding the source term (evo_mt.runtime.glossary);
        `mid_word`: a phrase may also continue a word (evo_mt.runtime.constraint_input). A
        ConstraintError names the line (counted from `first_line`) of a phrase that cannot be
        searched for. An empty line gives empty translations scored 0.
        """
        check_batch_size(batch_size)
        if max_tokens < 1:
            raise OptionError("max_tokens", f"must be at least 1, not {max_tokens}")
        required = self._required(lines, constraints, glossary, mid_word, first_line)
        results = [LineTranslation.empty(self.nbest) for _ in lines]
        encoded = [(i, self.encode(line)) for i, line in enumerate(lines) if line.strip()]
        # Batches of similar length waste little on padding.
        encoded.sort(key=lambda item: len(item[1]))
        for batch in length_batches(encoded, batch_size, max_tokens):
            wanted = None if required is None else [required[i][1] for i, _ in batch]
            found = self.generate([indices for _, indices in batch], wanted)
            for (i, _), best in zip(batch, found, strict=True):
                phrases, terms = ([], []) if required is None else (required[i][0], required[i][2])
                translations = [Scored(self.spm.decode(h.pieces), h.score) for h in best]
                results[i] = LineTranslation(translations, phrases, terms)
        return results

    def _required(
        self,
        lines: List[str],
        constraints: Sequence[Sequence[str]] | None,
        glossary: Glossary | None,
        mid_word: bool,
        first_line: int,
    ) -> List[Tuple[List[str], List[List[int]], List[Term]]] | None:
        """Per line: its required phrases (text, then target indices) and the glossary terms
        they came from; None when no line has any (the unconstrained search runs)."""
        if not constraints and not glossary:
            return None
        required = []
        for number, line in enumerate(lines):
            phrases = list(constraints[number]) if constraints else []
            terms = glossary.find(line) if glossary else []
            phrases += [term.target for term in terms if term.target not in phrases]
            try:
                required.append((phrases, encode_phrases(self, phrases, mid_word=mid_word), terms))
            except ConstraintError as error:
                raise ConstraintError(f"line {first_line + number}: {error}") from None
        return required if any(indices for _, indices, _ in required) else None


def length_batches(
    items: list, batch_size: int, max_tokens: int, length: Callable[[Any], int] = lambda item: len(item[1])
) -> Iterator[list]:
    """Consecutive batches of `items` (sorted by length) of at most `batch_size` items and
    `max_tokens` padded tokens; a single item longer than `max_tokens` is a batch alone."""
    batch: list = []
    longest = 0
    for item in items:
        longest = max(longest, length(item))
        if batch and (len(batch) >= batch_size or longest * (len(batch) + 1) > max_tokens):
            yield batch
            batch, longest = [], length(item)
        batch.append(item)
    if batch:
        yield batch
