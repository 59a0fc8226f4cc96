"""A Markdown document translated as Markdown: its prose translated, its structure kept.

The blocks that are not prose (fenced and indented code, HTML blocks, link reference
definitions) are found by markdown-it-py, a CommonMark parser, and kept byte for byte. In
the other lines the block markers (headings, quotes, list items, table pipes) and the
inline spans that are not prose (code spans, link and image targets, autolinks, URLs, HTML
tags) are kept, and the text between them is translated, each run of text on its own:
the model never sees the markup. A run without a letter (a rule, a number, emphasis marks
alone) is kept as it is.
"""

from __future__ import annotations

import re
from typing import Callable, List, Sequence

# Kept, not translated: what a line's text starts with (indentation, quote marks, a list or
# heading marker, a table's leading pipe), and inline spans that are not prose.
_BLOCK_MARKER = re.compile(r"^[ \t]*(?:>[ \t]?)*(?:#{1,6}[ \t]+|[-*+][ \t]+|\d{1,9}[.)][ \t]+|\|)?")
_INLINE_KEPT = re.compile(
    r"`+[^`]*`+"  # code span
    r"|\]\([^)]*\)"  # a link's or image's target: the text before it is translated
    r"|\]\[[^\]]*\]"  # a reference link's label
    r"|!?\[|\]"  # the brackets of link text
    r"|<[a-zA-Z/][^>]*>"  # an HTML tag or autolink
    r"|https?://\S+"  # a bare URL
    r"|\s\|\s|\|"  # a table's cell separator
)
_VERBATIM_BLOCKS = ("fence", "code_block", "html_block")
_REFERENCE = re.compile(r"^ {0,3}\[([^\]]+)\]:")
_LETTER = re.compile(r"[^\W\d_]")


def verbatim_lines(lines: Sequence[str]) -> List[bool]:
    """Whether each line belongs to a block kept as it is (code, HTML, a reference definition)."""
    from markdown_it import MarkdownIt

    env: dict = {}
    kept = [False] * len(lines)
    for token in MarkdownIt("commonmark").parse("\n".join(lines) + "\n", env):
        if token.type in _VERBATIM_BLOCKS and token.map:
            start, end = token.map
            kept[start:end] = [True] * (end - start)
    # A link reference definition leaves no token, only its label among the references.
    labels = set(env.get("references", {}))
    for i, line in enumerate(lines):
        definition = _REFERENCE.match(line)
        if definition and " ".join(definition.group(1).split()).upper() in labels:
            kept[i] = True
    return kept


def runs(line: str) -> List[tuple]:
    """The line as (text, translate?) runs whose texts, joined, are the line."""
    marker = _BLOCK_MARKER.match(line).group(0)
    found = [(marker, False)] if marker else []
    at = len(marker)
    for match in _INLINE_KEPT.finditer(line, at):
        if match.start() > at:
            found.append((line[at : match.start()], True))
        found.append((match.group(0), False))
        at = match.end()
    if at < len(line):
        found.append((line[at:], True))
    return [(text, wanted and bool(_LETTER.search(text))) for text, wanted in found]


def translate_markdown(lines: Sequence[str], translate: Callable[[List[str]], List[str]]) -> List[str]:
    """The document's lines translated by `translate` (texts -> their translations, in order),
    its structure kept: one line out per line in."""
    kept = verbatim_lines(lines)
    laid_out = [[(line, False)] if keep else runs(line) for line, keep in zip(lines, kept, strict=True)]
    texts = [text for line in laid_out for text, wanted in line if wanted]
    translations = iter(translate(texts))
    return ["".join(next(translations) if wanted else text for text, wanted in line) for line in laid_out]
