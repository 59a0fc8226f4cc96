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

Where a span goes: over the words of the translation aligned to the words it marks (from
the first to the last of them), by the model's word alignments (evo_mt.runtime.text.
alignment); an empty span (a line break, an image) after the words aligned to the word
before it. Where the translator gives no alignments, or a word has no aligned word, in
proportion: the source's words i..j of n become the translation's words i·m/n..j·m/n of m.
On the toy model, a mark around a source noun lands exactly around its counterpart 96.6%
of the time by the alignments, 49.4% in proportion, and 49.4% too by the way this module
placed marks before alignments (the span also translated alone, its translation found as
whole words in the unit's), which is therefore gone (`evo-mt bench alignment`).

Every span comes back once, in the order given, properly nested as the input's: a span
inside another stays inside its translation, a span after another stays after it (so a
reordering translation can leave a span over fewer words than it marked, or empty where no
word is left for it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

from evo_mt.runtime.text.alignment import Alignment
from evo_mt.runtime.text.batching import BATCH_SIZE, MAX_TOKENS
from evo_mt.runtime.text.pipeline import Engine, translate_lines
from evo_mt.runtime.text.results import Scored

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
    aligned: bool | None = None,
) -> List[Marked]:
    """Each unit translated by `translator` (its best translation), its spans placed on the
    translation; `batch_size` and `max_tokens` as for evo_mt.runtime.text.pipeline.
    `aligned`: spans placed by the model's word alignments (the default where the translator
    gives them), else in proportion."""
    aligned = translator.aligns if aligned is None else aligned
    lines = [_LINE_BREAKS.sub(" ", unit.text) for unit in units]
    distinct = list(dict.fromkeys(lines))  # a unit's text translated once, however often it comes
    found = translate_lines(translator, distinct, batch_size=batch_size, max_tokens=max_tokens, align=aligned)
    by_line: Dict[str, Scored] = dict(zip(distinct, (done.translations[0] for done in found), strict=True))
    placed = []
    for unit, line in zip(units, lines, strict=True):
        done = by_line[line]
        links = _links(done.alignment, line, done.text)
        placed.append(Marked(done.text, _placed(line, done.text, unit.spans, links)))
    return placed


def spans_of(
    marks: Sequence[Tuple[str, int]], length: int
) -> Tuple[Tuple[Span, ...], List[Tuple[int, bool]]]:
    """The spans of a text of `length` characters from its marks in the order written, each
    ("open" | "close" | "atom", position): a close ends the innermost open span, an atom is
    an empty span; a span never closed ends at `length`, a close never opened (its opening
    was in an earlier unit) ends a span from 0. Returns the spans in document order (each
    one's mark its first mark's number) and, for each mark, its span's number and whether it
    stands at the span's start."""
    # [start, end, order, first mark] of each span as opened; spans starting together come in
    # the order opened, after those closed without an opening (the outer the later closed).
    found: List[List[int]] = []
    ends: List[Tuple[int, bool]] = []
    opened: List[int] = []
    for number, (kind, at) in enumerate(marks):
        if kind == "close" and opened:
            found[opened[-1]][1] = at
            ends.append((opened.pop(), False))
        elif kind == "close":  # the outermost, from the start
            ends.append((len(found), False))
            found.append([0, at, -(at * (len(marks) + 1) + number) - 1, number])
        else:
            ends.append((len(found), True))
            found.append([at, at if kind == "atom" else -1, len(found), number])
            if kind == "open":
                opened.append(len(found) - 1)
    for number in opened:
        found[number][1] = length
    order = sorted(range(len(found)), key=lambda n: (found[n][0], found[n][2]))
    rank = {number: place for place, number in enumerate(order)}
    spans = tuple(Span(found[n][0], found[n][1], found[n][3]) for n in order)
    return spans, [(rank[number], at_start) for number, at_start in ends]


def interleave(
    text: str, marks: Iterable[Tuple[int, str]], escape: Callable[[str], str] = lambda text: text
) -> str:
    """`text` with each (position, markup) inserted, in the order given, and `escape`d between
    them; a position before the previous one's is taken as the previous one's, so the markup
    keeps its order."""
    out, at = [], 0
    for position, markup in marks:
        position = min(max(position, at), len(text))
        out += [escape(text[at:position]), markup]
        at = position
    return "".join([*out, escape(text[at:])])


def marks_placed(translated: Marked, ends: Sequence[Tuple[int, bool]]) -> List[int]:
    """Where each mark (`ends`, as `spans_of` gives them) stands in `translated`."""
    return [translated.spans[n].start if at_start else translated.spans[n].end for n, at_start in ends]


def _words(text: str) -> List[Tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def _links(alignment: Alignment | None, line: str, translation: str) -> Links | None:
    """Each source word's aligned target words (whitespace-separated words of `line` and
    `translation`), or None where the model's words are not those (or no alignment)."""
    if alignment is None:
        return None
    if (alignment.source_words, alignment.target_words) != (len(line.split()), len(translation.split())):
        return None
    links: Links = {}
    for source, target in alignment.pairs:
        links.setdefault(source, []).append(target)
    return links


Links = Dict[int, List[int]]  # each source word's aligned target words


def _placed(line: str, translation: str, spans: Sequence[Span], links: Links | None) -> Tuple[Span, ...]:
    """`spans` (on `line`) placed on `translation`, nested as they were."""
    source_words, words = _words(line), _words(translation)
    placed: List[Span] = []
    for number, span in enumerate(spans):
        inside = set(enclosing(spans, number))
        low, high = 0, len(translation)
        for earlier, there in enumerate(placed):
            if earlier in inside:
                low, high = max(low, there.start), min(high, there.end)
            else:  # the span comes after `earlier`: so does its translation
                low = max(low, there.end)
        wanted = _by_links(span, source_words, words, links or {}, low, high)
        start, end = _trimmed(line, translation, span, source_words, wanted)
        start = min(max(start, low), high)
        placed.append(Span(start, min(max(end, start), high), span.mark))
    return tuple(placed)


def _trimmed(
    line: str, translation: str, span: Span, source_words: List[Tuple[int, int]], where: Tuple[int, int]
) -> Tuple[int, int]:
    """`where` without the punctuation that the span left out of its first and last source
    words (`<a>stays</a>.`: the translation's word "bleibt." is marked without its ".")."""
    start, end = where
    words = [(a, b) for a, b in source_words if a < span.end and b > span.start]
    if not words or start >= end:
        return where
    before, after = line[words[0][0] : span.start], line[span.end : words[-1][1]]
    if before and not any(c.isalnum() for c in before) and translation.startswith(before, start, end):
        start += len(before)
    if after and not any(c.isalnum() for c in after) and translation.endswith(after, start, end):
        end -= len(after)
    return start, max(start, end)


def enclosing(spans: Sequence[Span], number: int) -> List[int]:
    """The spans that span `number` lies inside (earlier ones, as tags open before it and
    close after it). An empty span at the end of another lies after it, as a tag written
    after its closing tag does."""
    open_spans: List[int] = []
    for earlier, span in enumerate(spans[: number + 1]):
        while open_spans and spans[open_spans[-1]].end <= span.start:
            open_spans.pop()
        if earlier < number:
            open_spans.append(earlier)
    return open_spans


def _by_links(
    span: Span,
    source_words: List[Tuple[int, int]],
    words: List[Tuple[int, int]],
    links: Links,
    low: int,
    high: int,
) -> Tuple[int, int]:
    """Where a span goes by the alignment: over the target words aligned to the source words
    it marks (from the first to the last of them) between `low` and `high`, else over the
    word there nearest to them; an empty span after the last word aligned to the source word
    before it, else before the first aligned to the word after it. Where the words it marks
    have no aligned word, in proportion (`_in_proportion`)."""
    marked = [i for i, (a, b) in enumerate(source_words) if a < span.end and b > span.start]
    if span.start < span.end and marked:
        aligned = sorted(t for i in marked for t in links.get(i, ()))
        inside = [t for t in aligned if low <= words[t][0] and words[t][1] <= high]
        if inside:
            return words[inside[0]][0], words[inside[-1]][1]
        there = [t for t, (a, b) in enumerate(words) if low <= a and b <= high]
        if aligned and there:  # the words it marks went before (or after) where it may go
            nearest = min(there, key=lambda t: abs(t - aligned[0]))
            return words[nearest]
    elif span.start == span.end:
        before = sum(1 for _, b in source_words if b <= span.start)
        if links.get(before - 1):
            return words[max(links[before - 1])][1], words[max(links[before - 1])][1]
        if links.get(before):
            return words[min(links[before])][0], words[min(links[before])][0]
    return _in_proportion(span, source_words, words, low, high)


def _in_proportion(
    span: Span, source_words: List[Tuple[int, int]], words: List[Tuple[int, int]], low: int, high: int
) -> Tuple[int, int]:
    """Where a span goes in proportion, between `low` and `high` if it can: the source's words
    i..j of n become the translation's words i·m/n..j·m/n of m; an empty span goes after the
    word at its place."""
    count = max(1, len(source_words))
    marked = [i for i, (a, b) in enumerate(source_words) if a < span.end and b > span.start]
    if span.start == span.end or not marked:
        before = sum(1 for _, b in source_words if b <= span.start)
        k = round(before * len(words) / count)
        position = words[k - 1][1] if k > 0 else (words[0][0] if words else 0)
        return position, position
    inside = [i for i, (a, b) in enumerate(words) if low <= a and b <= high]
    if not inside:
        return low, low
    first, last = marked[0] / count, (marked[-1] + 1) / count
    lowest = min(max(int(first * len(words)), inside[0]), inside[-1])
    highest = min(max(math.ceil(last * len(words)) - 1, lowest), inside[-1])
    return words[lowest][0], words[highest][1]
