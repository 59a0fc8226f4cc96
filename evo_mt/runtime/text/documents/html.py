"""An HTML document translated as HTML: each block's text translated as one unit, its inline
elements kept around the translation of the words they marked, everything else kept byte
for byte.

Python's own HTML parser (`html.parser`, maintained with CPython, no dependency) reads the
document as the tokens it is written in, each with its place in the source, so that what is
not translated is written back exactly as it was: tags with their attributes and quoting,
comments, the doctype, entities outside translated text, whitespace between blocks. (lxml
rebuilds a tree and writes it anew, which normalises quoting, entities and whitespace.)

- A block is the text between two tags that are not inline (`p`, `li`, `td`, `h1`, `div`,
  ...): one unit (evo_mt.runtime.text.inline.Marked), translated as the same text without
  its markup would be, sentence by sentence.
- Inline elements (`b`, `i`, `em`, `strong`, `a`, `span`, `sub`, `q`, ...) are spans: their
  tags go around the translation of the words they marked (by the model's alignments).
  `br`, `img`, `wbr`, comments, and `code`, `kbd`, `samp`, `var`, `svg` and `math` elements
  inside a block are kept whole where they stood, between the words' translations.
- Kept as they are, with what they hold: `script`, `style`, `pre`, `textarea`, `template`,
  and any element marked `translate="no"` (HTML's own attribute) or `class="notranslate"`.
- Attributes are never translated (`alt` and `title` included): every tag comes back byte
  for byte, in the order it was written, so the output's tag tree is the input's.
- Entities in translated text reach the model as the characters they stand for; a character
  that the block wrote as an entity comes back as that entity, and `&`, `<`, `>` are escaped.
"""

from __future__ import annotations

import html as entities
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Callable, Dict, List, Tuple

from evo_mt.runtime.text.batching import BATCH_SIZE
from evo_mt.runtime.text.inline import Marked, interleave, marks_placed, spans_of, translate_marked
from evo_mt.runtime.text.pipeline import Engine

Translate = Callable[[List[Marked]], List[Marked]]

INLINE = frozenset(
    "a abbr b bdi bdo big cite data del dfn em font i ins label mark q s small span strike strong "
    "sub sup time tt u".split()
)
# Kept whole where they stand inside a block: an atom between the words' translations.
ATOMS = frozenset("br img wbr code kbd samp var svg math".split())
# Kept as they are with all they hold; they end a block.
KEPT = frozenset("script style pre textarea template".split())
VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class _Token:
    kind: str  # start, startend, end, data, ref (an entity or a character reference), other
    value: str  # a tag's name, data's text, the character a reference stands for
    source: str  # as written
    attributes: Tuple[Tuple[str, str | None], ...] = ()


@dataclass
class _Block:
    """A block as it is read: its text for the model, the entity each character that was
    written as one was written as, its markup in order (kind "open", "close" or "atom",
    position in the text, source), and all of it as written."""

    text: str = ""
    written_as: Dict[str, str] = field(default_factory=dict)
    markup: List[Tuple[str, int, str]] = field(default_factory=list)
    source: str = ""

    def add(self, kind: str, source: str) -> None:
        self.markup.append((kind, len(self.text), source))
        self.source += source

    def settle(self) -> None:
        """An atom with whitespace on both sides takes the space before it along (the model
        reads one space there, and the atom comes back between the words it stood between)."""
        for number in range(len(self.markup)):
            (kind, at, source), text = self.markup[number], self.text
            if kind == "atom" and 0 < at < len(text) and text[at - 1].isspace() and text[at].isspace():
                self.text = text[: at - 1] + text[at:]
                self.markup = [(k, a - 1 if a >= at else a, s) for k, a, s in self.markup]
                self.markup[number] = (kind, at - 1, text[at - 1] + source)

    def marked(self) -> Tuple[Marked, List[Tuple[int, bool]]]:
        """The block's prose without the whitespace around it, with its spans (inline.spans_of),
        and where each piece of markup stands on its span."""
        body = self.text.strip()
        lead = len(self.text) - len(self.text.lstrip())
        marks = [(kind, min(max(at - lead, 0), len(body))) for kind, at, _ in self.markup]
        spans, ends = spans_of(marks, len(body))
        return Marked(body, spans), ends

    def rendered(self, translated: Marked, ends: List[Tuple[int, bool]]) -> str:
        """The block with `translated` for its prose, its markup where `translated` placed it
        (markup in the whitespace around the prose where it was)."""
        lead = len(self.text) - len(self.text.lstrip())
        body = len(self.text.strip())
        grown = len(translated.text) - body
        positions = [
            at if at < lead else at + grown if at > lead + body else lead + placed
            for (_, at, _), placed in zip(self.markup, marks_placed(translated, ends), strict=True)
        ]
        text = self.text[:lead] + translated.text + self.text[lead + body :]
        marks = zip(positions, [source for _, _, source in self.markup], strict=True)
        return interleave(text, marks, self._escape)

    def _escape(self, text: str) -> str:
        """`text` as HTML: &, <, > escaped, and a character the block wrote as an entity so."""
        found = entities.escape(text, quote=False)
        for character, source in self.written_as.items():
            if character not in "&<>":
                found = found.replace(character, source)
        return found


class _Reader:
    """The document's tokens in order: blocks of prose, and what lies between them as written."""

    def __init__(self) -> None:
        self.out: List[str | _Block] = []
        self.block = _Block()
        self.kept: List[str] = []  # the element being kept whole: its tag, once per level
        self.kept_in_block = False  # whether it is an atom of the block

    def read(self, tokens: List[_Token]) -> List[str | _Block]:
        for token in tokens:
            if self.kept:
                self._inside_kept(token)
            elif token.kind in ("start", "startend") and _kept_whole(token):
                self.kept_in_block = token.value in ATOMS or token.value in INLINE
                if not self.kept_in_block:
                    self._end_block()
                self._keep(token.source)
                if token.kind == "start" and token.value not in VOID:
                    self.kept.append(token.value)
            else:
                self._read(token)
        self._end_block()
        return self.out

    def _read(self, token: _Token) -> None:
        block = self.block
        if token.kind == "data":
            block.text += token.value
            block.source += token.source
        elif token.kind == "ref" and token.value == token.source:  # unknown to HTML: kept as written
            block.add("atom", token.source)
        elif token.kind == "ref":
            block.written_as[token.value] = token.source
            block.text += token.value
            block.source += token.source
        elif token.kind in ("start", "end") and token.value in INLINE:
            block.add("open" if token.kind == "start" else "close", token.source)
        elif token.kind == "startend" and token.value in INLINE:
            block.add("atom", token.source)
        elif token.kind == "comment" or token.value in ATOMS:
            block.add("atom", token.source)
        else:  # a tag that is not inline, a doctype, a processing instruction: between blocks
            self._end_block()
            self.out.append(token.source)

    def _inside_kept(self, token: _Token) -> None:
        self._keep(token.source)
        if token.kind == "start" and token.value == self.kept[0] and token.value not in VOID:
            self.kept.append(token.value)
        elif token.kind == "end" and token.value == self.kept[0]:
            self.kept.pop()

    def _keep(self, source: str) -> None:
        """`source` kept as it is: part of an atom of the block, or between blocks."""
        if not self.kept_in_block:
            self.out.append(source)
            return
        markup = self.block.markup
        if self.kept and markup and markup[-1][0] == "atom" and markup[-1][1] == len(self.block.text):
            markup[-1] = ("atom", markup[-1][1], markup[-1][2] + source)
            self.block.source += source
        else:
            self.block.add("atom", source)

    def _end_block(self) -> None:
        if self.block.source:
            self.block.settle()
            self.out.append(self.block)
        self.block = _Block()


def translate_html_with(translator: Engine, html: str, *, batch_size: int = BATCH_SIZE) -> str:
    """`html` translated by `translator`, its marks placed by translate_marked: what
    `evo-mt translate --format html` and the server's `format: "html"` both do."""
    return translate_html(html, lambda units: translate_marked(translator, units, batch_size=batch_size))


def translate_html(html: str, translate: Translate) -> str:
    """`html` with each block's text translated by `translate` (units of prose -> their
    translations with their spans placed: evo_mt.runtime.text.inline.translate_marked), its
    markup kept."""
    out = _Reader().read(_tokens(html))
    blocks = [item for item in out if isinstance(item, _Block) and _LETTER.search(item.text)]
    laid_out = [item.marked() for item in blocks]
    translated = translate([marked for marked, _ in laid_out]) if blocks else []
    rendered = {
        id(item): item.rendered(done, ends)
        for item, (_, ends), done in zip(blocks, laid_out, translated, strict=True)
    }
    return "".join(item if isinstance(item, str) else rendered.get(id(item), item.source) for item in out)


def _kept_whole(token: _Token) -> bool:
    attributes = dict(token.attributes)
    return (
        token.value in KEPT
        or token.value in ATOMS - VOID
        or attributes.get("translate") == "no"
        or "notranslate" in (attributes.get("class") or "").split()
    )


class _Tokenizer(HTMLParser):
    """html.parser's events, each with where it starts in the document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.found: List[Tuple[Tuple[int, int], str, str, Tuple[Tuple[str, str | None], ...]]] = []

    def _add(self, kind: str, value: str, attributes=()) -> None:
        self.found.append((self.getpos(), kind, value, tuple(attributes)))

    def handle_starttag(self, tag, attrs):
        self._add("start", tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._add("startend", tag, attrs)

    def handle_endtag(self, tag):
        self._add("end", tag)

    def handle_data(self, data):
        self._add("data", data)

    def handle_entityref(self, name):
        self._add("ref", "")

    def handle_charref(self, name):
        self._add("ref", "")

    def handle_comment(self, data):
        self._add("comment", "")

    def handle_decl(self, decl):
        self._add("other", "")

    def handle_pi(self, data):
        self._add("other", "")

    def unknown_decl(self, data):
        self._add("other", "")


def _tokens(html: str) -> List[_Token]:
    """The tokens of `html`, each with its source: the document's text from where it starts to
    where the next one does (html.parser gives each event's line and column)."""
    parser = _Tokenizer()
    parser.feed(html)
    parser.close()
    line_starts = [0] + [m.end() for m in re.finditer("\n", html)]
    starts = [line_starts[line - 1] + column for (line, column), *_ in parser.found] + [len(html)]
    tokens = []
    for (_, kind, value, attributes), start, end in zip(parser.found, starts, starts[1:], strict=False):
        source = html[start:end]
        if kind == "ref":
            value = entities.unescape(source)
            value = value if len(value) == 1 else source
        tokens.append(_Token(kind, value, source, attributes))
    if starts[0] > 0:  # nothing the parser reported before its first event
        tokens.insert(0, _Token("other", "", html[: starts[0]]))
    return tokens
