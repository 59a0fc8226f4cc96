"""A line of text as the units a model translates, and the translations put back in its shape.

The models are trained on single sentences: given a paragraph, a model ends its translation
after the first sentence, and a source longer than its positions cannot be read whole. So a
line is cut into sentences (sentencex, Wikimedia's rule-based segmenter for ~300 languages;
docs/translation-and-serving.md compares it with pysbd and syntok), a sentence longer than
the model reads whole (the longest it was trained on, at most its positions) into pieces
(after clause punctuation, else before a word), and
each unit is translated alone. Joined back, the translation keeps the line's leading and
trailing whitespace and the whitespace between its sentences; the pieces of one sentence are
joined by a space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

from evo_mt.runtime.base.vocabulary import WORD_START

# A piece that is (or ends in) one of these closes a clause: a long sentence is cut after it.
CLAUSE_ENDS = frozenset(",;:)]}\u2013\u2014\u060c\u3001\uff0c\uff1b\uff1a")


@dataclass(frozen=True)
class Layout:
    """How a line is translated: its units (source pieces, each within the model's positions)
    and what stands around their translations."""

    lead: str  # the line's whitespace before its first unit
    units: Tuple[Tuple[str, ...], ...]
    glue: Tuple[str, ...]  # after each unit: its whitespace in the line, " " inside a sentence
    cut_sentences: int = 0  # sentences longer than the model reads whole, translated in pieces

    def join(self, translations: Sequence[str]) -> str:
        """The line's translation from its units' translations, in order."""
        if not self.units:
            return self.lead
        return self.lead + "".join(text + glue for text, glue in zip(translations, self.glue, strict=True))


def sentences(line: str, language: str) -> List[Tuple[str, str]]:
    """The sentences of `line` (without surrounding whitespace), each with the whitespace
    that follows it; the line's leading whitespace is not in them."""
    from sentencex import segment

    found = []
    for segment_text in segment(language, line.lstrip()):
        text = segment_text.rstrip()
        if text:
            found.append((text, segment_text[len(text) :]))
        elif found:  # whitespace alone belongs to the sentence before it
            found[-1] = (found[-1][0], found[-1][1] + segment_text)
    return found


def cut(pieces: Sequence[str], limit: int) -> List[List[str]]:
    """`pieces` in consecutive runs of at most `limit`: each run ends after the last clause
    punctuation in the second half of its window, else before the last word start, else at
    the limit."""
    runs: List[List[str]] = []
    rest = list(pieces)
    while len(rest) > limit:
        at = _cut_point(rest, limit)
        runs.append(rest[:at])
        rest = rest[at:]
    runs.append(rest)
    return runs


def _cut_point(pieces: List[str], limit: int) -> int:
    for at in range(limit, limit // 2, -1):
        if pieces[at - 1][-1:] in CLAUSE_ENDS:
            return at
    for at in range(limit, 0, -1):
        if pieces[at].startswith(WORD_START):
            return at
    return limit


def cut_lengths(max_pieces: int, trained: Dict[str, int] | None, split: bool) -> Tuple[int, int]:
    """(the longest sentence given whole, the length of the pieces a longer one is cut into),
    for a model that reads `max_pieces` source pieces and was trained on sentences of
    `trained` lengths ("longest", 90th percentile "p90"; None: unknown).

    A model trained on sentences of up to n pieces ends a much longer one early, dropping
    the rest, so a longer sentence is cut into pieces of a length most training sentences
    have. Without cutting lines into sentences (`split` False) only what exceeds the
    model's positions is cut."""
    if not split:
        return max_pieces, max_pieces
    trained = trained or {}
    longest = min(max_pieces, trained.get("longest") or max_pieces)
    return longest, min(longest, trained.get("p90") or longest)


def layout(
    line: str, *, language: str, split: bool, encode: Callable[[str], List[str]], cutting: Tuple[int, int]
) -> Layout:
    """The layout of `line`: cut into sentences (unless `split` is False: the line is one
    sentence), each encoded into pieces by `encode`; by `cutting` (longest, piece), a sentence
    of more than `longest` pieces is cut into runs of at most `piece`."""
    longest, piece = cutting
    body = line.strip()
    if not body:
        return Layout(line, (), ())
    lead = line[: len(line) - len(line.lstrip())]
    found = sentences(line, language) if split else [(body, line[len(lead) + len(body) :])]
    units: List[Tuple[str, ...]] = []
    glue: List[str] = []
    cut_sentences = 0
    for text, after in found:
        pieces = encode(text)
        runs = cut(pieces, piece) if len(pieces) > longest else [pieces]
        cut_sentences += len(runs) > 1
        units += [tuple(run) for run in runs]
        glue += [" "] * (len(runs) - 1) + [after]
    return Layout(lead, tuple(units), tuple(glue), cut_sentences)
