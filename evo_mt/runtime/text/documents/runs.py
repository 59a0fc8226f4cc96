"""Runs of formatted text (a word processor's or a slide's) as one unit of prose, and back.

A stretch of runs between what is not plain text (a picture, a field, a link) is one unit per
line: its text is the runs' text, cut at line breaks and tabs; the formatting that covers
most of its characters is the stretch's own, and each stretch of runs formatted otherwise (a
bold word) is a span marked with its first run's index. The translation comes back as new
runs: each span's words formatted as its run, the rest as the stretch's own, and the old
runs are removed.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Callable, Collection, Dict, List, Sequence, Tuple

from evo_mt.runtime.text.inline import Marked, Span

_CUT = re.compile(r"[\t\n]")


@dataclass
class Stretch:
    """Consecutive runs of plain text: each run's text and its formatting (a key comparable
    for equality), and the index of the run whose formatting is the stretch's own."""

    texts: List[str]
    formats: List[bytes]

    @property
    def text(self) -> str:
        return "".join(self.texts)

    @property
    def own(self) -> int:
        counts: Dict[bytes, int] = {}
        for text, key in zip(self.texts, self.formats, strict=True):
            counts[key] = counts.get(key, 0) + len(text)
        best = max(counts, key=lambda key: counts[key])  # the first of equals, dicts keep order
        return self.formats.index(best)

    def spans(self) -> List[Span]:
        """The stretches of runs not formatted as the stretch's own, as spans of `text`."""
        own, spans, at = self.formats[self.own], [], 0
        for index, (text, key) in enumerate(zip(self.texts, self.formats, strict=True)):
            end = at + len(text)
            if key != own and text:
                if spans and spans[-1].end == at and self.formats[spans[-1].mark] == key:
                    spans[-1] = Span(spans[-1].start, end, spans[-1].mark)
                else:
                    spans.append(Span(at, end, index))
            at = end
        return spans

    def units(self) -> List[Tuple[int, Marked]]:
        """The stretch's lines (cut at tabs and line breaks) holding words, each with where it
        starts in `text`, and the spans inside it."""
        text, spans, found = self.text, self.spans(), []
        at = 0
        for piece in [*_CUT.split(text)]:
            end = at + len(piece)
            if piece.strip():
                inside = tuple(
                    Span(max(s.start, at) - at, min(s.end, end) - at, s.mark)
                    for s in spans
                    if s.start < end and s.end > at
                )
                found.append((at, Marked(piece, inside)))
            at = end + 1
        return found

    def translated(
        self, units: Sequence[Tuple[int, Marked]], found: Sequence[Marked]
    ) -> List[Tuple[int, str]]:
        """The stretch's new runs, (run whose formatting it takes, text), from its units'
        translations `found` (spans' marks are run indices)."""
        text, own = self.text, self.own
        out: List[Tuple[int, str]] = []
        at = 0

        def add(run: int, piece: str) -> None:
            if not piece:
                return
            if out and out[-1][0] == run:
                out[-1] = (run, out[-1][1] + piece)
            else:
                out.append((run, piece))

        for (start, unit), translation in zip(units, found, strict=True):
            add(own, text[at:start])
            for run, piece in _pieces(translation, own):
                add(run, piece)
            at = start + len(unit.text)
        add(own, text[at:])
        return out


def _pieces(found: Marked, own: int) -> List[Tuple[int, str]]:
    """`found`'s text cut where its marks change: (run index, text); a character takes the mark
    of the innermost span around it, else `own`."""
    marks = [own] * len(found.text)
    for span in sorted(found.spans, key=lambda s: (s.start, -s.end)):
        for at in range(max(0, span.start), min(span.end, len(found.text))):
            marks[at] = span.mark
    pieces: List[Tuple[int, str]] = []
    for mark, char in zip(marks, found.text, strict=True):
        if pieces and pieces[-1][0] == mark:
            pieces[-1] = (mark, pieces[-1][1] + char)
        else:
            pieces.append((mark, char))
    return pieces


def translate_stretches(stretches: Sequence[Stretch], translate: Callable[[List[Marked]], List[Marked]]):
    """Each stretch's new runs (Stretch.translated), its units translated all at once."""
    units = [stretch.units() for stretch in stretches]
    found = iter(translate([unit for each in units for _, unit in each]))
    pairs = zip(stretches, units, strict=True)
    return [stretch.translated(each, [next(found) for _ in each]) for stretch, each in pairs]


def element_stretches(
    paragraph, is_plain: Callable, between: Collection[str], text_of: Callable, format_of: Callable
) -> List[Tuple[Stretch, list]]:
    """A paragraph's (an lxml element's) stretches of consecutive plain runs (`is_plain(child)`),
    each with its runs; children tagged as in `between` (proofing marks, bookmarks) do not cut
    a stretch, anything else does. A run's text is `text_of(run)`, its formatting (bytes,
    equal for runs formatted alike) `format_of(run)`."""
    found: List[Tuple[Stretch, list]] = []
    open_stretch = False
    for child in paragraph:
        if is_plain(child):
            if not open_stretch:
                found.append((Stretch([], []), []))
                open_stretch = True
            stretch, runs = found[-1]
            stretch.texts.append(text_of(child))
            stretch.formats.append(format_of(child))
            runs.append(child)
        elif child.tag not in between:
            open_stretch = False
    return [(stretch, runs) for stretch, runs in found if stretch.text.strip()]


def properties_of(element, tag: str) -> bytes:
    """The XML of `element`'s child tagged `tag` (a run's formatting), b"" if none."""
    from lxml import etree

    found = element.find(tag)
    return b"" if found is None else etree.tostring(found)


def replace_runs(runs: list, new: List[Tuple[int, str]], make: Callable) -> None:
    """Put the new runs (index of the run whose formatting each takes, its text) where the
    lxml elements `runs` were, each made by `make(that run, text)`."""
    first = runs[0]
    for index, text in new:
        first.addprevious(make(runs[index], text))
    for run in runs:
        run.getparent().remove(run)


def bare_copy(element, kept: Collection[str]):
    """A copy of `element` with only its children tagged as in `kept` (its formatting)."""
    found = copy.deepcopy(element)
    for part in list(found):
        if part.tag not in kept:
            found.remove(part)
    return found
