"""Prose with marked stretches (an HTML element, a Markdown emphasis, a document run's
formatting) translated with its marks: the model gets the text alone, and each mark is put
back around the translation of what it marked.

    units = [Marked("a red car .", (Span(2, 5, "<b>"),))]
    translate_marked(translator, units)   # -> [Marked("ein rotes Auto .", (Span(4, 9, "<b>"),))]

A unit (a paragraph, a table cell, a subtitle cue) may hold several sentences: its text is
translated by the one pipeline (evo_mt.runtime.text.pipeline) exactly as the same text
given as a line, so marks never change a translation. A span's mark is opaque here: the
caller knows what it stands for and writes it back (`interleave` puts markup strings at
their positions).

Where a span goes: its text is also translated alone, and the span covers that translation
where it appears as whole words in the unit's translation (the occurrence nearest the span's
place in proportion), else the words at the span's place in proportion (the source's words
i..j of n become the translation's words i·m/n..j·m/n of m). An empty span (a line break, an
image) goes after the translation's word at its place in proportion. Every span comes back
once, in the order given, properly nested as the input's: a span inside another stays
inside its translation, a span after another stays after it (so a reordering translation
can leave a span over fewer words than it marked, or empty where no word is left for it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Sequence, Tuple

from evo_mt.runtime.text.batching import BATCH_SIZE, MAX_TOKENS
from evo_mt.runtime.text.pipeline import Engine, translate_lines

_LETTER = re.compile(r"[^\W\d_]")
# The characters str.splitlines breaks at: a unit's text reaches the model as one line.
_LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


@dataclass(frozen=True)
class Span:
    """A marked stretch of a unit's text: character offsets [start, end) into `Marked.text`;
    `mark` is the caller's (a tag, a run's formatting, an index)."""

    start: int
    end: int
    mark: object


@dataclass(frozen=True)
class Marked:
    """One unit of prose (a paragraph, a cell, a cue: several sentences allowed) and its
    marked spans, in document order (by start; of two spans starting together, the outer
    first) and properly nested, like tags."""

    text: str
    spans: Tuple[Span, ...] = ()

    def __post_init__(self) -> None:
        for number, span in enumerate(self.spans):
            if not 0 <= span.start <= span.end <= len(self.text):
                raise ValueError(f"span {number} ({span.start}, {span.end}) is outside the text")
            for earlier in self.spans[:number]:
                if span.start < earlier.start or earlier.start < span.start < earlier.end < span.end:
                    raise ValueError(f"span {number} is out of order or crosses an earlier span")
                if span.start == earlier.start < earlier.end < span.end:
                    raise ValueError(f"span {number} starts with a shorter, earlier span (outer first)")


def translate_marked(
    translator: Engine,
    units: Sequence[Marked],
    *,
    batch_size: int = BATCH_SIZE,
    max_tokens: int = MAX_TOKENS,
) -> List[Marked]:
    """Each unit translated by `translator` (its best translation), its spans placed on the
    translation; `batch_size` and `max_tokens` as for evo_mt.runtime.text.pipeline."""
    lines = [_LINE_BREAKS.sub(" ", unit.text) for unit in units]
    alone = {
        text: None
        for unit, line in zip(units, lines, strict=True)
        for span in unit.spans
        for text in [_own(line, span)]
        if text
    }
    wanted = lines + list(alone)
    found = translate_lines(translator, wanted, batch_size=batch_size, max_tokens=max_tokens)
    translations = [line.texts[0] for line in found]
    own: Dict[str, str] = dict(zip(alone, translations[len(lines) :], strict=True))
    return [
        Marked(translation, _placed(line, translation, unit.spans, own))
        for unit, line, translation in zip(units, lines, translations[: len(lines)], strict=True)
    ]


def interleave(text: str, marks: Iterable[Tuple[int, str]]) -> str:
    """`text` with each (position, markup) inserted, in the order given; a position before
    the previous one's is taken as the previous one's, so the markup keeps its order."""
    out, at = [], 0
    for position, markup in marks:
        position = min(max(position, at), len(text))
        out += [text[at:position], markup]
        at = position
    return "".join([*out, text[at:]])


def _own(line: str, span: Span) -> str:
    """What a span's text is translated as alone: its words, if it holds a letter."""
    text = line[span.start : span.end].strip()
    return text if _LETTER.search(text) else ""


def _words(text: str) -> List[Tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def _placed(line: str, translation: str, spans: Sequence[Span], own: Dict[str, str]) -> Tuple[Span, ...]:
    """`spans` (on `line`) placed on `translation`, nested as they were."""
    source_words, words = _words(line), _words(translation)
    placed: List[Span] = []
    for span in spans:
        low, high = 0, len(translation)
        for earlier, there in zip(spans, placed, strict=False):
            if earlier.start <= span.start and span.end <= earlier.end:
                low, high = max(low, there.start), min(high, there.end)
            else:  # the span comes after `earlier`: so does its translation
                low = max(low, there.end)
        start, end = _wanted(span, source_words, words, translation, own.get(_own(line, span), ""), low, high)
        start = min(max(start, low), high)
        placed.append(Span(start, min(max(end, start), high), span.mark))
    return tuple(placed)


def _wanted(
    span: Span,
    source_words: List[Tuple[int, int]],
    words: List[Tuple[int, int]],
    translation: str,
    own: str,
    low: int,
    high: int,
) -> Tuple[int, int]:
    """Where a span would go on the translation, between `low` and `high` if it can."""
    count = max(1, len(source_words))
    marked = [i for i, (a, b) in enumerate(source_words) if a < span.end and b > span.start]
    if span.start == span.end or not marked:  # empty: after the word before it, in proportion
        before = sum(1 for _, b in source_words if b <= span.start)
        k = round(before * len(words) / count)
        position = words[k - 1][1] if k > 0 else (words[0][0] if words else 0)
        return position, position
    first, last = marked[0] / count, (marked[-1] + 1) / count
    if own:
        pattern = r"(?<!\w)" + re.escape(own) + r"(?!\w)"
        found = [m for m in re.finditer(pattern, translation) if low <= m.start() and m.end() <= high]
        if found:
            best = min(found, key=lambda m: abs(m.start() / max(1, len(translation)) - first))
            return best.start(), best.end()
    inside = [i for i, (a, b) in enumerate(words) if low <= a and b <= high]
    if not inside:
        return low, low
    lowest = min(max(int(first * len(words)), inside[0]), inside[-1])
    highest = min(max(math.ceil(last * len(words)) - 1, lowest), inside[-1])
    return words[lowest][0], words[highest][1]
