"""OpenDocument text and presentations (.odt, .odp), read and written by odfpy: every paragraph
and heading (in tables, frames, lists, notes, and the styles' headers and footers too); a
paragraph's text and its text:span elements as a stretch of formatted text
(evo_mt.runtime.text.documents.runs), so that a span's style, or a link's target, stays on
the words it marked. What is not plain text, or a span or link of plain text (fields, notes,
frames, repeated spaces), cuts a paragraph into stretches and is kept as it was."""

from __future__ import annotations

import io
from typing import List, Tuple

from evo_mt.runtime.text.documents.archives import check_archive
from evo_mt.runtime.text.documents.errors import unreadable
from evo_mt.runtime.text.documents.formats import Translate
from evo_mt.runtime.text.documents.runs import Stretch, translate_stretches

_TEXT_NODE = 3


def translate_odt(data: bytes, translate: Translate) -> bytes:
    return _translate_opendocument(data, translate, ".odt")


def translate_odp(data: bytes, translate: Translate) -> bytes:
    return _translate_opendocument(data, translate, ".odp")


def _translate_opendocument(data: bytes, translate: Translate, kind: str) -> bytes:
    from odf import text
    from odf.opendocument import load

    check_archive(data, kind)
    with unreadable(kind):
        document = load(io.BytesIO(data))
        paragraphs = document.getElementsByType(text.P) + document.getElementsByType(text.H)
    found = [pair for paragraph in paragraphs for pair in _stretches(paragraph)]
    translated = translate_stretches([stretch for stretch, _ in found], translate)
    for (_, runs), new in zip(found, translated, strict=True):
        _replace(runs, new)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def _is_span(node) -> bool:
    """A span or a link holding text alone."""
    return node.nodeType != _TEXT_NODE and node.qname[1] in ("span", "a") and all(
        child.nodeType == _TEXT_NODE for child in node.childNodes
    )


def _stretches(paragraph) -> List[Tuple[Stretch, list]]:
    """The paragraph's stretches of text nodes, and spans and links of text, each with its
    nodes; a node's formatting is its element's name and attributes (none for bare text)."""
    found: List[Tuple[Stretch, list]] = []
    open_stretch = False
    for node in paragraph.childNodes:
        if node.nodeType == _TEXT_NODE or _is_span(node):
            if not open_stretch:
                found.append((Stretch([], []), []))
                open_stretch = True
            stretch, nodes = found[-1]
            bare = node.nodeType == _TEXT_NODE
            stretch.texts.append(node.data if bare else "".join(child.data for child in node.childNodes))
            element = () if bare else (node.qname, sorted(node.attributes.items()))
            stretch.formats.append(repr(element).encode())
            nodes.append(node)
        else:
            open_stretch = False
    return [(stretch, nodes) for stretch, nodes in found if stretch.text.strip()]


def _replace(nodes: list, new: List[Tuple[int, str]]) -> None:
    """Put the new text (index of the node whose formatting it takes, text) where `nodes` were."""
    from odf.element import Element, Text

    parent = nodes[0].parentNode
    for index, words in new:
        template = nodes[index]
        if template.nodeType == _TEXT_NODE:
            node = Text(words)
        else:
            node = Element(qname=template.qname, qattributes=dict(template.attributes), check_grammar=False)
            node.addText(words)
        parent.insertBefore(node, nodes[0])
    for node in nodes:
        if node.nodeType == _TEXT_NODE:
            node.data = ""  # odfpy's removeChild fails on text nodes; an empty one writes nothing
        else:
            parent.removeChild(node)
