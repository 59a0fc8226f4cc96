"""Raw text in, raw text out: what every translator shares, whatever runs its model.

A `TextTranslator` cuts lines into sentences and those into sentencepiece pieces, batches
them by length, has its model generate, and puts pieces and sentences back together. A
subclass says how its model turns source pieces into indices and generates (the lab's
`Translator` on a checkpoint, the runtime's `ExportedTranslator` on an exported folder);
`translate`, `evo-mt serve` and scoring see only this interface.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

from evo_mt.runtime.errors import OptionError
from evo_mt.runtime.segmentation import Layout, layout

logger = logging.getLogger("evo_mt")

# Sentences decoded together unless a caller says otherwise (CTranslate2's translate_file
# default too). The decoding state grows with sentences x beam x length: on the toy model at
# beam 5 the exported runtime peaks at ~170 MiB with 32 and ~330 MiB with 128, for a few
# per cent more time (docs/export.md).
BATCH_SIZE = 32
MAX_TOKENS = 6000  # padded subword tokens of one batch's sources


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
    _cut_lengths: Tuple[int, int] | None = None
    _warned_cut = False

    def source_indices(self, pieces: List[str]) -> List[int]:
        raise NotImplementedError

    def generate(self, sources: List[List[int]]) -> List[List[List[str]]]:
        """The `nbest` best hypotheses (as pieces) of each source (indices ending in </s>)."""
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
        return join_translations(layouts, self.translate_units(units, batch_size, max_tokens), self.nbest)

    def translate_units(
        self, units: Sequence[Sequence[str]], batch_size: int = BATCH_SIZE, max_tokens: int = MAX_TOKENS
    ) -> List[List[str]]:
        """The n best translations of each unit (source pieces within the model's positions)."""
        check_batch_size(batch_size)
        if max_tokens < 1:
            raise OptionError("max_tokens", f"must be at least 1, not {max_tokens}")
        results: List[List[str]] = [[] for _ in units]
        encoded = [(i, self.source_indices(list(pieces))) for i, pieces in enumerate(units)]
        # Batches of similar length waste little on padding.
        encoded.sort(key=lambda item: len(item[1]))
        for batch in length_batches(encoded, batch_size, max_tokens):
            found = self.generate([indices for _, indices in batch])
            for (i, _), best in zip(batch, found, strict=True):
                results[i] = [self.spm.decode(pieces) for pieces in best]
        return results


def join_translations(
    layouts: Sequence[Layout], translations: Sequence[List[str]], nbest: int
) -> List[List[str]]:
    """The `nbest` translations of each line, from the translations of all lines' units in order."""
    joined: List[List[str]] = []
    start = 0
    for found in layouts:
        mine = translations[start : start + len(found.units)]
        start += len(found.units)
        # A unit may have fewer finished hypotheses than asked: its last stands in.
        joined.append([found.join([best[min(k, len(best) - 1)] for best in mine]) for k in range(nbest)])
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
