"""Raw text in, raw text out: what every translator shares, whatever runs its model.

A `TextTranslator` cuts lines into sentences and those into sentencepiece pieces, batches
them by length, has its model generate, and puts pieces and sentences back together. A
subclass says how its model turns source pieces into indices and generates (the lab's
`Translator` on a checkpoint, the runtime's `ExportedTranslator` on an exported folder);
`translate`, `evo-mt serve` and scoring see only this interface.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

from evo_mt.runtime.constraint_input import encode_phrases, named
from evo_mt.runtime.decoding import Decoded
from evo_mt.runtime.errors import OptionError
from evo_mt.runtime.glossary import Glossary, Term
from evo_mt.runtime.segmentation import Layout, layout

logger = logging.getLogger("evo_mt")

# Sentences decoded together unless a caller says otherwise (CTranslate2's translate_file
# default too), shared out among the workers. The decoding state grows with sentences x
# beam x length: on the toy model at beam 5 the exported runtime peaks at ~170 MiB with 32
# and ~330 MiB with 128, for a few per cent more time (docs/export.md).
BATCH_SIZE = 32
MAX_TOKENS = 6000  # padded subword tokens of one batch's sources


@dataclass(frozen=True)
class Scored:
    """A translation and its score: the hypothesis' log-probability per token (length-
    normalised: over length ** lenpen, </s> included), at most 0; higher is more confident.
    A line of several sentences scores the mean of its sentences' scores weighted by their
    tokens; `tokens` counts them (</s> included)."""

    text: str
    score: float
    tokens: int = 0


@dataclass(frozen=True)
class LineTranslation:
    """A line's n best translations, the phrases it was required to hold (given and from the
    glossary), and the glossary terms found in it."""

    translations: List[Scored]
    constraints: List[str]
    terms: List[Term]

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
    """Lines to their n best translations; subclasses set `spm`, `nbest`, `beam`,
    `max_source_pieces` and `source_language` and implement `source_indices`, `generate` and
    `describe`.

    Each line is cut into sentences (evo_mt.runtime.segmentation), translated sentence by
    sentence, and joined back: one translation per line, its whitespace kept. `split`
    False takes each line as one sentence (a test set, one sentence a line)."""

    spm: Any  # sentencepiece.SentencePieceProcessor
    nbest: int
    beam: int
    max_source_pieces: int  # longer sentences are translated in pieces (room for </s>)
    source_language: str  # the language code the sentence segmenter is given
    split: bool = True
    # Batches generated at once, each in a thread of its own (`generate` must allow it).
    workers: int = 1
    _cut_lengths: Tuple[int, int] | None = None
    _warned_cut = False

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

    def with_split(self, split: bool) -> TextTranslator:
        """This translator cutting lines into sentences or not, sharing its model."""
        other = copy.copy(self)
        other.split = split
        return other

    def training_source_pieces(self) -> Dict[str, int] | None:
        """Subword pieces of the source sentences the model was trained on, if known: the
        "longest" and the 90th percentile ("p90")."""
        return None

    @property
    def sentence_pieces(self) -> int:
        """The longest sentence the model is given whole, in subword pieces."""
        return self._cutting()[0]

    def _cutting(self) -> Tuple[int, int]:
        """(the longest sentence given whole, the length of the pieces a longer one is cut into).

        A model trained on sentences of up to n pieces ends a much longer one early, dropping
        the rest, so a longer sentence is cut into pieces of a length most training sentences
        have. Without cutting lines into sentences (`split` False) only what exceeds the
        model's positions is cut."""
        if not self.split:
            return self.max_source_pieces, self.max_source_pieces
        if self._cut_lengths is None:
            trained = self.training_source_pieces() or {}
            longest = min(self.max_source_pieces, trained.get("longest") or self.max_source_pieces)
            self._cut_lengths = (longest, min(longest, trained.get("p90") or longest))
        return self._cut_lengths

    def layout(self, line: str) -> Layout:
        """How `line` is translated: its sentences, or pieces of those too long for the model."""
        found = layout(
            line,
            language=self.source_language,
            split=self.split,
            encode=lambda text: self.spm.encode(text, out_type=str),
            cutting=self._cutting(),
        )
        if found.cut_sentences and not self._warned_cut:
            logger.warning(
                "a sentence is longer than the %d subwords the model reads at once; it is "
                "translated in pieces, cut after clause punctuation or between words (said once)",
                self.sentence_pieces,
            )
            TextTranslator._warned_cut = True  # once per process, whichever copy translates
        return found

    def translate(
        self, lines: List[str], batch_size: int = BATCH_SIZE, max_tokens: int = MAX_TOKENS
    ) -> List[List[str]]:
        """The n best translations of each line, in input order; a blank line is given back.

        The k-th translation of a line of several sentences joins the k-th of each."""
        layouts = [self.layout(line) for line in lines]
        units = [unit for found in layouts for unit in found.units]
        found = self.translate_units_scored(units, batch_size=batch_size, max_tokens=max_tokens)
        return join_translations(layouts, found, self.nbest)

    def translate_units_scored(
        self,
        units: Sequence[Sequence[str]],
        constraints: Sequence[Sequence[str]] | None = None,
        *,
        mid_word: bool = False,
        batch_size: int = BATCH_SIZE,
        max_tokens: int = MAX_TOKENS,
    ) -> List[List[Scored]]:
        """The n best translations of each unit with their scores; `constraints`: each unit's
        required target phrases (evo_mt.runtime.constraint_input; a ConstraintError for one
        that cannot be searched for)."""
        check_batch_size(batch_size)
        if max_tokens < 1:
            raise OptionError("max_tokens", f"must be at least 1, not {max_tokens}")
        required = None
        if constraints is not None and any(constraints):
            required = [encode_phrases(self, phrases, mid_word=mid_word) for phrases in constraints]
        results: List[List[Scored]] = [[] for _ in units]
        encoded = [(i, self.source_indices(list(pieces))) for i, pieces in enumerate(units)]
        # Batches of similar length waste little on padding.
        encoded.sort(key=lambda item: len(item[1]))
        if self.workers > 1:
            # `batch_size` sentences decode at once, across the workers: each worker's batch
            # holds its share (as fast, and the memory one batch took); and with fewer
            # sentences than that, each worker still gets some.
            batch_size = -(-min(batch_size, len(encoded)) // self.workers)
        batches = list(length_batches(encoded, batch_size, max_tokens))

        def generate(batch: list) -> List[List[Decoded]]:
            wanted = None if required is None else [required[i] for i, _ in batch]
            return self.generate([indices for _, indices in batch], wanted)

        with contextlib.ExitStack() as stack:
            found_each: Iterator[List[List[Decoded]]] = map(generate, batches)
            if self.workers > 1 and len(batches) > 1:
                pool = stack.enter_context(ThreadPoolExecutor(self.workers, thread_name_prefix="evo-mt"))
                found_each = pool.map(generate, batches)
            for batch, found in zip(batches, found_each, strict=True):
                for (i, _), best in zip(batch, found, strict=True):
                    results[i] = [Scored(self.spm.decode(h.pieces), h.score, len(h.pieces) + 1) for h in best]
        return results

    def requirements(
        self,
        layouts: Sequence[Layout],
        labels: Sequence[str],
        *,
        constraints: Sequence[Sequence[str]] | None = None,
        glossary: Glossary | None = None,
        mid_word: bool = False,
        beam: int | None = None,
    ) -> Tuple[List[List[str]], List[List[Term]]]:
        """Each unit's required phrases and the glossary terms found in it, for lines laid out
        as `layouts` with `constraints` of their own; a ConstraintError starting with the
        line's label for a phrase that cannot be searched for (with `beam`, or this one's)."""
        wanted: List[List[str]] = []
        found_terms: List[List[Term]] = []
        for number, (found, label) in enumerate(zip(layouts, labels, strict=True)):
            given = list(constraints[number]) if constraints is not None else []
            for position, unit in enumerate(found.units):
                terms = glossary.find(self.spm.decode(list(unit))) if glossary else []
                # A line's own phrases go with its first unit (a line longer than the model's
                # positions is cut into several).
                phrases = list(dict.fromkeys((given if position == 0 else []) + [t.target for t in terms]))
                with named(label):
                    encode_phrases(self, phrases, mid_word=mid_word, beam=beam)
                wanted.append(phrases)
                found_terms.append(terms)
        return wanted, found_terms

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

        `constraints`: each line's required target phrases; such lines are taken as one
        sentence each (not split), as fairseq's format has them. `glossary`: terms whose
        target becomes a required phrase of each sentence holding the source term
        (evo_mt.runtime.glossary). `mid_word`: a phrase may also start inside a word
        (evo_mt.runtime.constraint_input). A ConstraintError names the line (counted from
        `first_line`) of a phrase that cannot be searched for. A blank line is given back,
        scored 0.
        """
        translator = self if constraints is None else self.with_split(False)
        layouts = [translator.layout(line) for line in lines]
        labels = [f"line {first_line + number}" for number in range(len(lines))]
        units = [unit for found in layouts for unit in found.units]
        wanted, found_terms = self.requirements(
            layouts, labels, constraints=constraints, glossary=glossary, mid_word=mid_word
        )
        scored = self.translate_units_scored(
            units, wanted, mid_word=mid_word, batch_size=batch_size, max_tokens=max_tokens
        )
        return join_scored(layouts, scored, wanted, found_terms, self.nbest)


def join_translations(
    layouts: Sequence[Layout], translations: Sequence[List[Scored]], nbest: int
) -> List[List[str]]:
    """The `nbest` translations of each line (texts, as join_scored joins them), from the
    translations of all lines' units in order."""
    none: List[List[Any]] = [[] for _ in translations]
    joined = join_scored(layouts, translations, none, none, nbest)
    return [[t.text for t in line.translations] for line in joined]


def join_scored(
    layouts: Sequence[Layout],
    translations: Sequence[List[Scored]],
    constraints: Sequence[List[str]],
    terms: Sequence[List[Term]],
    nbest: int,
) -> List[LineTranslation]:
    """Each line's translations from those of all lines' units in order, scored by the
    token-weighted mean of its units' scores, with the phrases and glossary terms of its
    units. The k-th translation of a line joins the k-th of each unit; a unit with fewer
    finished hypotheses than asked has its last stand in."""
    joined: List[LineTranslation] = []
    start = 0
    for found in layouts:
        end = start + len(found.units)
        mine = translations[start:end]
        best = []
        for k in range(nbest):
            parts = [hypotheses[min(k, len(hypotheses) - 1)] for hypotheses in mine]
            tokens = sum(p.tokens for p in parts)
            score = sum(p.score * p.tokens for p in parts) / tokens if tokens else 0.0
            best.append(Scored(found.join([p.text for p in parts]), score, tokens))
        phrases = list(dict.fromkeys(p for unit in constraints[start:end] for p in unit))
        line_terms = list(dict.fromkeys(t for unit in terms[start:end] for t in unit))
        joined.append(LineTranslation(best, phrases, line_terms))
        start = end
    return joined


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
