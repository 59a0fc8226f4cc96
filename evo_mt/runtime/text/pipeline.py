"""The one translation pipeline: what `evo-mt translate`, `evo-mt serve` (through its
batcher) and scoring share, whatever engine runs the model.

    plan = plan_lines(engine, lines, glossary=...)   # lines -> units, required phrases, terms
    found = translate_units(engine, plan.units, plan.constraints)   # batched decoding
    lines = plan.joined(found, engine.nbest)         # units -> lines, LineTranslation each

Each line is cut into units (sentences, or pieces of those too long for the model:
evo_mt.runtime.text.segmentation); each unit's required phrases (given, and the targets of
the glossary terms it holds) are checked and encoded once; the units are decoded in
batches of similar length (evo_mt.runtime.text.batching); the units' hypotheses are joined
back into each line's (evo_mt.runtime.text.results).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import List, Protocol, Sequence

import numpy as np

from evo_mt.runtime.base.vocabulary import EOS
from evo_mt.runtime.search.decoding import Decoded
from evo_mt.runtime.text.alignment import word_alignment
from evo_mt.runtime.text.batching import BATCH_SIZE, MAX_TOKENS, decode_batches
from evo_mt.runtime.text.glossary import Glossary, Term
from evo_mt.runtime.text.phrases import TargetSide, encode_phrases, named
from evo_mt.runtime.text.results import LineTranslation, Scored, join_scored
from evo_mt.runtime.text.segmentation import Layout

Phrases = List[List[int]]  # a unit's required phrases, as target indices (no </s>)


class Engine(TargetSide, Protocol):
    """What the pipeline needs of a translator (evo_mt.runtime.text.translator.TextTranslator)."""

    nbest: int
    workers: int
    aligns: bool  # whether `attention` gives word alignments

    def layout(self, line: str) -> Layout: ...

    def with_split(self, split: bool) -> Engine: ...

    def source_indices(self, pieces: List[str]) -> List[int]: ...

    def generate(
        self, sources: List[List[int]], constraints: Sequence[Phrases] | None = None
    ) -> List[List[Decoded]]: ...

    def attention(self, sources: List[List[int]], targets: List[List[int]]) -> List[np.ndarray]: ...


@dataclass(frozen=True)
class Plan:
    """Lines laid out for translation: their units, and each unit's requirements."""

    layouts: List[Layout]
    labels: List[str]  # how an error or a warning names each line ("line 3")
    phrases: List[List[str]]  # each unit's required phrases, as given
    encoded: List[Phrases]  # the same, encoded
    terms: List[List[Term]]  # each unit's glossary terms

    @property
    def units(self) -> List[Sequence[str]]:
        return [unit for found in self.layouts for unit in found.units]

    @property
    def constraints(self) -> List[Phrases] | None:
        """Each unit's encoded phrases, or None when no unit has any (searched unconstrained)."""
        return self.encoded if any(self.encoded) else None

    @property
    def cut_labels(self) -> List[str]:
        """The lines holding a sentence too long for the model, translated in pieces."""
        pairs = zip(self.labels, self.layouts, strict=True)
        return [label for label, found in pairs if found.cut_sentences]

    def joined(self, results: Sequence[List[Scored]], nbest: int) -> List[LineTranslation]:
        """Each line's `nbest` translations, from the units' `results` in order."""
        return join_scored(self.layouts, results, self.phrases, self.terms, nbest)


def plan_lines(
    engine: Engine,
    lines: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    first_line: int = 1,
    constraints: Sequence[Sequence[str]] | None = None,
    glossary: Glossary | None = None,
    mid_word: bool = False,
    beam: int | None = None,
) -> Plan:
    """How `lines` are translated. `constraints`: each line's required target phrases; such
    lines are taken as one sentence each (not split), as fairseq's format has them; a line's
    own phrases go with its first unit. `glossary`: terms whose target becomes a required
    phrase of each unit holding the source term. `mid_word`: a phrase may also start inside a
    word (evo_mt.runtime.text.phrases). A ConstraintError names the line (`labels`, else
    "line N" counted from `first_line`) of a phrase that cannot be searched for with `beam`
    (None: the engine's)."""
    cutter = engine if constraints is None else engine.with_split(False)
    layouts = [cutter.layout(line) for line in lines]
    labels = list(labels) if labels is not None else [f"line {first_line + n}" for n in range(len(lines))]
    phrases: List[List[str]] = []
    encoded: List[Phrases] = []
    terms: List[List[Term]] = []
    for number, (found, label) in enumerate(zip(layouts, labels, strict=True)):
        given = list(constraints[number]) if constraints is not None else []
        for position, unit in enumerate(found.units):
            unit_terms = glossary.find(engine.spm.decode(list(unit))) if glossary else []
            # A line longer than the model's positions is cut into several units.
            own = given if position == 0 else []
            wanted = list(dict.fromkeys(own + [t.target for t in unit_terms]))
            with named(label):
                encoded.append(encode_phrases(engine, wanted, mid_word=mid_word, beam=beam))
            phrases.append(wanted)
            terms.append(unit_terms)
    return Plan(layouts, labels, phrases, encoded, terms)


def translate_units(
    engine: Engine,
    units: Sequence[Sequence[str]],
    constraints: Sequence[Phrases] | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    max_tokens: int = MAX_TOKENS,
    align: bool = False,
) -> List[List[Scored]]:
    """The n best translations of each unit (source pieces) with their scores, in order;
    `constraints`: each unit's encoded required phrases (Plan.constraints); `align`: the best
    one's word alignment too (evo_mt.runtime.text.alignment: one forced pass more)."""
    encoded = [engine.source_indices(list(pieces)) for pieces in units]

    def generate(batch: List[int]) -> List[List[Scored]]:
        wanted = None if constraints is None else [constraints[i] for i in batch]
        sources = [encoded[i] for i in batch]
        found = engine.generate(sources, wanted)
        decode = engine.spm.decode
        scored = [[Scored(decode(h.pieces), h.score, len(h.pieces) + 1) for h in best] for best in found]
        if align:
            targets = [engine.target_indices(best[0].pieces) + [EOS] for best in found]
            for i, best, found_best, attention in zip(
                batch, scored, found, engine.attention(sources, targets), strict=True
            ):
                aligned = word_alignment(attention, units[i], found_best[0].pieces)
                best[0] = dataclasses.replace(best[0], alignment=aligned)
        return scored

    return decode_batches(
        encoded, generate, batch_size=batch_size, max_tokens=max_tokens, workers=engine.workers
    )


def translate_lines(
    engine: Engine,
    lines: Sequence[str],
    *,
    constraints: Sequence[Sequence[str]] | None = None,
    glossary: Glossary | None = None,
    mid_word: bool = False,
    batch_size: int = BATCH_SIZE,
    max_tokens: int = MAX_TOKENS,
    first_line: int = 1,
    labels: Sequence[str] | None = None,
    align: bool = False,
) -> List[LineTranslation]:
    """Each line's n best translations with their scores, in input order (plan_lines,
    translate_units, Plan.joined); a blank line is given back, scored 0. `align`: the best
    translation's word alignment too (LineTranslation.alignment)."""
    plan = plan_lines(
        engine, lines, labels=labels, first_line=first_line, constraints=constraints, glossary=glossary,
        mid_word=mid_word,
    )
    found = translate_units(
        engine, plan.units, plan.constraints, batch_size=batch_size, max_tokens=max_tokens, align=align
    )
    return plan.joined(found, engine.nbest)
