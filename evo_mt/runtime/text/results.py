"""What a translation comes back as: each unit's scored hypotheses, joined into each line's
translations, and the JSON object that `evo-mt translate --json` writes and `evo-mt serve`
answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

from evo_mt.runtime.text.alignment import Alignment
from evo_mt.runtime.text.glossary import Term
from evo_mt.runtime.text.segmentation import Layout


@dataclass(frozen=True)
class Scored:
    """A translation and its score: the hypothesis' log-probability per token (length-
    normalised: over length ** lenpen, </s> included), at most 0; higher is more confident.
    A line of several sentences scores the mean of its sentences' scores weighted by their
    tokens; `tokens` counts them (</s> included)."""

    text: str
    score: float
    tokens: int = 0
    alignment: Alignment | None = None  # its word alignment, when asked for


@dataclass(frozen=True)
class JsonShape:
    """Which fields a line's JSON object holds beyond the translation and its score."""

    nbest: bool = False  # every hypothesis
    constrained: bool = False  # the phrases required
    glossary: bool = False  # the phrases required and the glossary terms found
    alignment: bool = False  # the best translation's word alignment

    @classmethod
    def of(cls, *, nbest: int, constrained: bool, glossary: bool, alignment: bool = False) -> JsonShape:
        return cls(nbest=nbest > 1, constrained=constrained, glossary=glossary, alignment=alignment)


@dataclass(frozen=True)
class LineTranslation:
    """A line's n best translations, the phrases it was required to hold (given and from the
    glossary), and the glossary terms found in it."""

    translations: List[Scored]
    constraints: List[str]
    terms: List[Term]

    @property
    def texts(self) -> List[str]:
        return [t.text for t in self.translations]

    def to_json(self, shape: JsonShape) -> Dict[str, Any]:
        """What `evo-mt translate --json` writes and `evo-mt serve` answers for the line."""
        best = self.translations[0]
        found: Dict[str, Any] = {"translation": best.text, "score": best.score}
        if shape.nbest:
            found["nbest"] = [{"translation": t.text, "score": t.score} for t in self.translations]
        if shape.constrained or shape.glossary:
            found["constraints"] = self.constraints
        if shape.glossary:
            found["glossary"] = [{"source": t.source, "target": t.target} for t in self.terms]
        if shape.alignment:  # a blank line has none
            found["alignment"] = best.alignment.text() if best.alignment is not None else ""
        return found


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
            aligned = [p.alignment for p in parts]
            known = aligned and all(a is not None for a in aligned)
            alignment = Alignment.joined(aligned) if known else None  # type: ignore[arg-type]
            best.append(Scored(found.join([p.text for p in parts]), score, tokens, alignment))
        phrases = list(dict.fromkeys(p for unit in constraints[start:end] for p in unit))
        line_terms = list(dict.fromkeys(t for unit in terms[start:end] for t in unit))
        joined.append(LineTranslation(best, phrases, line_terms))
        start = end
    return joined
