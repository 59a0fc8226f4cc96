"""The translator interface: raw text in, raw text out, whatever runs the model.

A subclass says how its model turns source pieces into indices and generates (the lab's
`Translator` on a checkpoint, the runtime's `ExportedTranslator` on an exported folder);
the rest is the pipeline's (evo_mt.runtime.text.pipeline), the same for every engine.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.search.decoding import Decoded, check_search
from evo_mt.runtime.text.batching import BATCH_SIZE, MAX_TOKENS
from evo_mt.runtime.text.pipeline import Phrases, translate_lines, translate_units
from evo_mt.runtime.text.segmentation import Layout, cut_lengths, layout

logger = logging.getLogger("evo_mt")


class TextTranslator:
    """Lines to their n best translations; subclasses set `spm`, `nbest`, `beam`,
    `max_source_pieces` and `source_language` and implement `source_indices`,
    `target_indices`, `generate` and `describe`.

    Each line is cut into sentences (evo_mt.runtime.text.segmentation), translated sentence by
    sentence, and joined back: one translation per line, its whitespace kept. `split`
    False takes each line as one sentence (a test set, one sentence a line)."""

    spm: Any  # sentencepiece.SentencePieceProcessor
    nbest: int
    beam: int
    max_source_pieces: int  # longer sentences are translated in pieces (room for </s>)
    source_language: str  # the language code the sentence segmenter is given
    split: bool = True
    aligns: bool = False  # whether `attention` gives word alignments (evo_mt.runtime.text.alignment)
    # Batches generated at once, each in a thread of its own (`generate` must allow it).
    workers: int = 1
    _cut_lengths: Tuple[int, int] | None = None
    _warned_cut = False  # the warning of a cut sentence is given once per process

    def source_indices(self, pieces: List[str]) -> List[int]:
        raise NotImplementedError

    def target_indices(self, pieces: List[str]) -> List[int]:
        """Target vocabulary indices of `pieces` (unknown ones as <unk>), no </s>."""
        raise NotImplementedError

    def generate(
        self, sources: List[List[int]], constraints: Sequence[Phrases] | None = None
    ) -> List[List[Decoded]]:
        """The `nbest` best hypotheses of each source (indices ending in </s>), with
        `constraints`: each source's required target phrases (indices, no </s>)."""
        raise NotImplementedError

    def describe(self) -> Dict[str, Any]:
        """What the model is, for `evo-mt serve`'s /info."""
        raise NotImplementedError

    def attention(self, sources: List[List[int]], targets: List[List[int]]) -> List[np.ndarray]:
        """For each source and its translation (indices, each ending in </s>), the aligning
        layer's cross-attention before each target token, (target tokens, source tokens): one
        forced pass (evo_mt.runtime.text.alignment)."""
        raise OptionError("alignment", f"is not given by this engine ({type(self).__name__})")

    def training_source_pieces(self) -> Dict[str, int] | None:
        """Subword pieces of the source sentences the model was trained on, if known: the
        "longest" and the 90th percentile ("p90")."""
        return None

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
        other._cut_lengths = None
        return other

    @property
    def sentence_pieces(self) -> int:
        """The longest sentence the model is given whole, in subword pieces."""
        return self._cutting()[0]

    def _cutting(self) -> Tuple[int, int]:
        if self._cut_lengths is None:
            self._cut_lengths = cut_lengths(self.max_source_pieces, self.training_source_pieces(), self.split)
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
        if found.cut_sentences and not TextTranslator._warned_cut:
            logger.warning(
                "a sentence is longer than the %d subwords the model reads at once; it is "
                "translated in pieces, cut after clause punctuation or between words (said once)",
                self.sentence_pieces,
            )
            TextTranslator._warned_cut = True
        return found

    def translate(
        self, lines: Sequence[str], batch_size: int = BATCH_SIZE, max_tokens: int = MAX_TOKENS
    ) -> List[List[str]]:
        """The n best translations of each line, in input order; a blank line is given back.

        The k-th translation of a line of several sentences joins the k-th of each."""
        found = translate_lines(self, lines, batch_size=batch_size, max_tokens=max_tokens)
        return [line.texts for line in found]

    # The pipeline's steps as methods, one definition each (evo_mt.runtime.text.pipeline):
    # `translator.translate_scored(lines, constraints=..., glossary=...)` gives each line's
    # LineTranslation; `translator.translate_units(units)` each unit's scored hypotheses.
    translate_scored = translate_lines
    translate_units = translate_units
