"""A Markdown document translated as Markdown: its prose translated by paragraph, its
structure and inline markup kept.

markdown-it-py (a CommonMark parser, with tables) finds the blocks and their inline tokens.
What holds no prose is kept byte for byte: code blocks, HTML blocks, link reference
definitions, thematic breaks, a setext heading's underline, table delimiter rows, blank
lines. A paragraph, a heading or a table cell is one piece of prose however many lines it
is wrapped over: the model gets the sentences it holds, and a paragraph comes back re-flowed
on one line after its first line's block marker (quote marks, list marker, indentation);
hard line breaks are kept.

Inline markup is kept out of the model's input and put back by
evo_mt.runtime.text.inline.translate_marked, so that the prose is translated exactly as
the same text without markup: each marked span (emphasis `*`, `_`, `**`, `__`, or a link's
text) wraps the translation of the words it marked. Code spans, inline HTML, images,
autolinks and bare URLs are kept as they are; the prose on either side is translated on its
own (a mark around such an atom marks the prose up to it and after it). Escapes and
entities reach the model as the characters they stand for and come back as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence, Tuple

from evo_mt.runtime.text.inline import Marked, interleave, marks_placed, spans_of

# Units of prose to their translations, marks placed (evo_mt.runtime.text.inline.translate_marked).
Translate = Callable[[List[Marked]], List[Marked]]

_MARKS = {"strong_open", "strong_close", "em_open", "em_close", "link_open", "link_close"}
_BARE_URL = re.compile(r"https?://[^\s<>]*[^\s<>.,;:!?'\")\]]")
_LINK_TAIL = re.compile(r"\]\((?:[^()\\\n]|\\.|\([^()\n]*\))*\)|\]\[[^\]]*\]|\]")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass
class _Stretch:
    """Prose between kept atoms, as items (kind, text for the model, source): kind "text",
    or "open"/"close" for a mark (its text empty)."""

    items: List[Tuple[str, str, str]] = field(default_factory=list)  # (kind, text, source)

    @property
    def plain(self) -> str:
        return "".join(text for kind, text, _ in self.items if kind == "text")

    @property
    def source(self) -> str:
        return "".join(source for _, _, source in self.items)

    def marked(self) -> Tuple[Marked, List[Tuple[int, bool]]]:
        """The stretch's prose with a span for each pair of marks (inline.spans_of: a mark left
        open, where a code span or an image cut the stretch inside it, marks the rest of the
        stretch), and where each mark stands on its span."""
        marks, at = [], 0
        for kind, text, _ in self.items:
            if kind == "text":
                at += len(text)
            else:
                marks.append((kind, at))
        spans, ends = spans_of(marks, at)
        return Marked(self.plain, spans), ends


# A segment (a block's prose up to a hard break): stretches of prose and kept atoms (str).
Segment = List["_Stretch | str"]
Segments = List[Tuple[Segment, int]]  # each with the number of source lines it spans


def translate_markdown(lines: Sequence[str], translate: Translate) -> List[str]:
    """The document's lines translated by `translate` (units of prose -> their translations
    with their spans placed, in order: translate_marked), its structure kept; a paragraph
    wrapped over several lines comes back on one."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark").enable("table")
    parser.disable("text_join")  # escapes and entities stay tokens of their own, with their source
    blocks: List[Tuple[int, List[str], Segments]] = []  # (first line, content lines, segments)
    cells: Dict[int, List[Tuple[str, Segment]]] = {}  # a table row's line -> its cells
    in_cell = False
    for token in parser.parse("\n".join(lines) + "\n"):
        if token.type in ("th_open", "td_open", "th_close", "td_close"):
            in_cell = token.type.endswith("_open")
        elif token.type == "inline" and token.map:
            segments = _segments(token.content, token.children or [])
            if in_cell:
                cells.setdefault(token.map[0], []).append((token.content, segments[0][0]))
            else:
                blocks.append((token.map[0], token.content.split("\n"), segments))
    stretches = [item for *_, segments in blocks for segment, _ in segments for item in segment]
    stretches += [item for row in cells.values() for _, segment in row for item in segment]
    rendered = _translated([item for item in stretches if isinstance(item, _Stretch)], translate)

    def render(segment: Segment) -> str:
        return "".join(item if isinstance(item, str) else rendered[id(item)] for item in segment)

    replaced: Dict[int, Tuple[int, str]] = {}  # first line -> (lines replaced, their text)
    for start, contents, segments in blocks:
        first = lines[start]
        text = first[: first.find(contents[0].strip())] + render(segments[0][0])
        line = start
        for (segment, _), (_, spanned) in zip(segments[1:], segments, strict=False):
            line += spanned
            text += ("\\" if lines[line - 1].rstrip().endswith("\\") else "  ") + "\n"
            text += _indent(lines[line]) + render(segment)
        last = lines[start + len(contents) - 1]
        text += _closing(last, contents[-1])
        replaced[start] = (len(contents), text)
    for row, found in cells.items():
        line, at = lines[row], 0
        for source, segment in found:
            where = line.find(source, at)
            translation = render(segment)
            line = line[:where] + translation + line[where + len(source) :]
            at = where + len(translation)
        replaced[row] = (1, line)
    out: List[str] = []
    number = 0
    while number < len(lines):
        count, text = replaced.get(number, (1, lines[number]))
        out.extend(text.split("\n"))
        number += count
    return out


def _segments(raw: str, children: list) -> Segments:
    """An inline token's prose (`raw`: its source, lines joined by \\n) as segments split at
    hard breaks; each segment's stretches split at the atoms kept as they are. A soft break
    becomes a space: the paragraph is re-flowed."""
    segments: Segments = [([_Stretch()], 1)]
    at = 0  # how far `raw` is accounted for
    autolink = False

    def add(kind: str, text: str, source: str) -> None:
        segments[-1][0][-1].items.append((kind, text, source))  # type: ignore[union-attr]

    def atom(source: str) -> None:
        segments[-1][0].extend([source, _Stretch()])

    for child in children:
        kind = child.type
        if autolink:
            autolink = kind != "link_close"
            continue
        if kind in ("softbreak", "hardbreak"):
            at = raw.index("\n", at) + 1
            if kind == "softbreak":
                add("text", " ", " ")
                segments[-1] = (segments[-1][0], segments[-1][1] + 1)
            else:
                segments.append(([_Stretch()], 1))
            continue
        if kind == "text":
            where = raw.index(child.content, at)
            for text, is_url in _urls(child.content):
                if is_url:
                    atom(text)
                else:
                    add("text", text, text)
            at = where + len(child.content)
        elif kind == "text_special":  # an escape or an entity: the character to the model
            at = raw.index(child.markup, at) + len(child.markup)
            add("text", child.content, child.markup)
        elif kind == "link_open" and child.markup == "autolink":
            where = raw.index("<", at)
            at = raw.index(">", where) + 1
            atom(raw[where:at])
            autolink = True
        elif kind in _MARKS:
            where, at = _mark(raw, at, child)
            add("open" if kind.endswith("_open") else "close", "", raw[where:at])
        else:  # code spans, inline HTML, images: kept as they are
            where, at = _kept(raw, at, child)
            atom(raw[where:at])
    return segments


def _urls(text: str) -> List[Tuple[str, bool]]:
    """`text` cut into (text, is a bare URL) runs."""
    found, at = [], 0
    for url in _BARE_URL.finditer(text):
        found += [(text[at : url.start()], False), (url.group(0), True)]
        at = url.end()
    return [run for run in [*found, (text[at:], False)] if run[0]]


def _mark(raw: str, at: int, child) -> Tuple[int, int]:
    """Where an emphasis mark or a link's brackets (with its destination) stand in `raw`."""
    if child.type == "link_open":
        where = raw.index("[", at)
        return where, where + 1
    if child.type == "link_close":
        where = raw.index("]", at)
        return where, _LINK_TAIL.match(raw, where).end()
    where = raw.index(child.markup, at)
    return where, where + len(child.markup)


def _kept(raw: str, at: int, child) -> Tuple[int, int]:
    """Where a code span, inline HTML or an image stands in `raw`."""
    if child.type == "code_inline":
        fence = re.compile(rf"(?<!`){re.escape(child.markup)}(?!`)")
        where = fence.search(raw, at).start()
        return where, fence.search(raw, where + len(child.markup)).end()
    if child.type == "image":
        where, depth = raw.index("![", at), 0
        for end in range(where + 2, len(raw)):
            if raw[end] == "[":
                depth += 1
            elif raw[end] == "]":
                if depth == 0:
                    return where, _LINK_TAIL.match(raw, end).end()
                depth -= 1
        return where, len(raw)
    where = raw.index(child.content, at)
    return where, where + len(child.content)


def _indent(line: str) -> str:
    """A continuation line's block marker: quote marks and indentation."""
    return line[: len(line) - len(line.lstrip(" \t>"))]


def _closing(line: str, content: str) -> str:
    """What follows a block's content on its last line: an ATX heading's closing #s."""
    stripped = content.strip()
    rest = line[line.rfind(stripped) + len(stripped) :] if stripped else ""
    return rest.rstrip() and rest


def _translated(stretches: List[_Stretch], translate: Translate) -> Dict[int, str]:
    """Each stretch's Markdown in the target language, by id."""
    rendered = {id(item): item.source for item in stretches}
    prose = [item for item in stretches if _LETTER.search(item.plain)]
    laid_out = [item.marked() for item in prose]
    translated = translate([marked for marked, _ in laid_out]) if prose else []
    for item, (_, marks), done in zip(prose, laid_out, translated, strict=True):
        sources = [source for kind, _, source in item.items if kind != "text"]
        rendered[id(item)] = interleave(done.text, zip(marks_placed(done, marks), sources, strict=True))
    return rendered
