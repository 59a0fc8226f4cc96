"""A Markdown document translated as Markdown: its prose translated by paragraph, its
structure and inline markup kept.

markdown-it-py (a CommonMark parser, with tables) finds the blocks and their inline tokens.
What holds no prose is kept byte for byte: code blocks, HTML blocks, link reference
definitions, thematic breaks, a setext heading's underline, table delimiter rows, blank
lines. A paragraph, a heading or a table cell is one piece of prose however many lines it
is wrapped over: the model gets the sentences it holds, and a paragraph comes back re-flowed
on one line after its first line's block marker (quote marks, list marker, indentation);
hard line breaks are kept.

Inline markup is kept out of the model's input and put back, so that the prose is
translated exactly as the same text without markup: for each marked span (emphasis `*`,
`_`, `**`, `__`, or a link's text; marks nested around the same words count as one) the
span is also translated alone, and its marks wrap that translation where it appears as
whole words in the whole translation (the occurrence nearest the span's place in the
source), else the words at the span's place in proportion (no alignment is used yet: a
model that reorders words may move a mark by a word or two). Marks nested around different
words (`**a *b* c**`) are the exception: that stretch is translated in parts cut at its
marks. Code spans, inline HTML, images, autolinks and bare URLs are kept as they are; the
prose on either side is translated on its own. Escapes and entities reach the model as the
characters they stand for and come back as such.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence, Tuple

Translate = Callable[[List[str]], List[str]]

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

    def spans(self) -> List[Span] | None:
        """Each marked span's (opening marks, start, end in `plain`, closing marks), in order;
        None when marks nest around different words (`**a *b* c**`): such a stretch is
        translated in parts."""
        kinds = "".join({"text": "t", "open": "(", "close": ")"}[kind] for kind, _, _ in self.items)
        if not re.fullmatch(r"t*(?:\(+t+\)+t*)*", kinds):
            return None
        found, plain, at = [], "", 0
        for group in re.finditer(r"(t*)(\(+)(t+)(\)+)", kinds):
            if len(group.group(2)) != len(group.group(4)):
                return None
            items = self.items[group.start(2) : group.end(4)]
            plain += "".join(text for _, text, _ in self.items[at : group.start(3)])
            start = len(plain)
            plain += "".join(text for _, text, _ in self.items[group.start(3) : group.end(3)])
            marks = [source for kind, _, source in items if kind != "text"]
            opens = len(group.group(2))
            found.append(("".join(marks[:opens]), start, len(plain), "".join(marks[opens:])))
            at = group.end(3)
        return found

    def pieces(self) -> List[Tuple[str, str]]:
        """The stretch cut at its marks: (the marks before a text, the text)."""
        found: List[Tuple[str, str]] = [("", "")]
        for kind, text, source in self.items:
            if kind == "text":
                found[-1] = (found[-1][0], found[-1][1] + text)
            elif found[-1][1]:
                found.append((source, ""))
            else:
                found[-1] = (found[-1][0] + source, "")
        return found


Span = Tuple[str, int, int, str]  # (opening marks, start, end in the plain text, closing marks)

# A segment (a block's prose up to a hard break): stretches of prose and kept atoms (str).
Segment = List["_Stretch | str"]
Segments = List[Tuple[Segment, int]]  # each with the number of source lines it spans


def translate_markdown(lines: Sequence[str], translate: Translate) -> List[str]:
    """The document's lines translated by `translate` (texts -> their translations, in
    order), its structure kept; a paragraph wrapped over several lines comes back on one."""
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
    marked = [(item, item.spans()) for item in prose]
    spanned = [(item, found) for item, found in marked if found is not None]
    # Marks nested around different words: the stretch is translated in parts only.
    in_parts = [item for item, found in marked if found is None]
    wholes = [item.plain.strip() for item, _ in spanned]
    alone = [item.plain[s[1] : s[2]].strip() for item, found in spanned for s in found]
    translated = translate(wholes + alone) if spanned else []
    by_itself = iter(translated[len(wholes) :])
    for (item, found), translation in zip(spanned, translated[: len(wholes)], strict=True):
        lead, trail = _around(item.plain)
        placed = _placed(translation, [next(by_itself) for _ in found], item.plain, found)
        rendered[id(item)] = lead + placed + trail
    pieces = [item.pieces() for item in in_parts]
    texts = [text.strip() for piece in pieces for _, text in piece if _LETTER.search(text)]
    done = iter(translate(texts) if texts else [])
    for item, piece in zip(in_parts, pieces, strict=True):
        out = ""
        for marks, text in piece:
            if _LETTER.search(text):
                lead, trail = _around(text)
                text = lead + next(done) + trail
            out += marks + text
        rendered[id(item)] = out
    return rendered


def _around(text: str) -> Tuple[str, str]:
    """The whitespace before and after `text`'s words."""
    body = text.strip()
    if not body:
        return text, ""
    start = text.find(body)
    return text[:start], text[start + len(body) :]


def _placed(translation: str, alone: List[str], plain: str, spans: List[Span]) -> str:
    """`translation` with each span's marks put back, in order: around the span's own
    translation (`alone`) where it appears as whole words (the occurrence nearest the span's
    place in the source), else around the words at the span's place in proportion (the
    source's words i..j of n become the translation's words i·m/n..j·m/n of m)."""
    source_words = [(m.start(), m.end()) for m in re.finditer(r"\S+", plain)]
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", translation)]
    out, at = "", 0
    for (opening, start, end, closing), own in zip(spans, alone, strict=True):
        marked = [i for i, (a, b) in enumerate(source_words) if a < end and b > start] or [0]
        first, last = marked[0] / len(source_words), (marked[-1] + 1) / len(source_words)
        found = list(re.finditer(r"(?<!\w)" + re.escape(own.strip()) + r"(?!\w)", translation[at:]))
        if own.strip() and found:
            best = min(found, key=lambda m: abs((at + m.start()) / max(1, len(translation)) - first))
            begin, finish = at + best.start(), at + best.end()
        else:
            left = [i for i, (a, _) in enumerate(words) if a >= at]
            if not left:  # no word left to mark: the marks close the translation
                out += translation[at:] + opening + closing
                at = len(translation)
                continue
            low = max(left[0], min(int(first * len(words)), len(words) - 1))
            high = max(low, min(math.ceil(last * len(words)) - 1, len(words) - 1))
            begin, finish = words[low][0], words[high][1]
        out += translation[at:begin] + opening + translation[begin:finish] + closing
        at = finish
    return out + translation[at:]
