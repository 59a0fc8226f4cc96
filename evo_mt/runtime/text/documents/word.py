"""Word documents (.docx), read and written by python-docx: the body's paragraphs and tables
(each cell's paragraphs, nested tables too), and every section's headers and footers; each
paragraph's runs as a stretch of formatted text (evo_mt.runtime.text.documents.runs), so that
a bold word's translation is bold. Everything else (styles, numbering, pictures, fields,
links, comments, footnotes, text boxes) is kept as it was, untranslated."""

from __future__ import annotations

import copy
import io
from typing import Iterator, List, Tuple

from evo_mt.runtime.text.documents.archives import check_archive
from evo_mt.runtime.text.documents.errors import unreadable
from evo_mt.runtime.text.documents.formats import Translate
from evo_mt.runtime.text.documents.runs import Stretch, translate_stretches


def translate_docx(data: bytes, translate: Translate) -> bytes:
    import docx

    check_archive(data, ".docx")
    with unreadable(".docx"):
        document = docx.Document(io.BytesIO(data))
    found = [(paragraph, *pair) for paragraph in _paragraphs(document) for pair in _stretches(paragraph)]
    translated = translate_stretches([stretch for _, stretch, _ in found], translate)
    for (paragraph, _, runs), new in zip(found, translated, strict=True):
        _replace(paragraph, runs, new)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _paragraphs(document) -> Iterator:
    """Every paragraph of the body, its tables and each section's headers and footers, once."""
    seen = set()
    containers = [document]
    for section in document.sections:
        for part in (
            section.header, section.first_page_header, section.even_page_header,
            section.footer, section.first_page_footer, section.even_page_footer,
        ):
            if not part.is_linked_to_previous:
                containers.append(part)
    for container in containers:
        yield from _inner(container, seen)


def _inner(container, seen: set) -> Iterator:
    from docx.table import Table

    for item in container.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                for cell in row.cells:
                    if id(cell._tc) not in seen:  # a merged cell is listed in each row it spans
                        seen.add(id(cell._tc))
                        yield from _inner(cell, seen)
        else:
            yield item


def _stretches(paragraph) -> List[Tuple[Stretch, list]]:
    """The paragraph's stretches of consecutive plain-text runs (formatting, text, tabs and
    breaks only), with their runs; proofing marks and bookmarks between runs do not cut one."""
    from docx.oxml.ns import qn
    from docx.text.run import Run

    plain = {qn("w:rPr"), qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")}
    between = {qn("w:proofErr"), qn("w:bookmarkStart"), qn("w:bookmarkEnd")}
    found: List[Tuple[Stretch, list]] = []
    open_stretch = False
    for child in paragraph._p:
        if child.tag == qn("w:r") and all(part.tag in plain for part in child):
            if not open_stretch:
                found.append((Stretch([], []), []))
                open_stretch = True
            stretch, runs = found[-1]
            stretch.texts.append(Run(child, paragraph).text)
            stretch.formats.append(_format_key(child))
            runs.append(child)
        elif child.tag not in between:
            open_stretch = False
    return [(stretch, runs) for stretch, runs in found if stretch.text.strip()]


def _format_key(run) -> bytes:
    from lxml import etree

    properties = run.rPr
    return b"" if properties is None else etree.tostring(properties)


def _replace(paragraph, runs: list, new: List[Tuple[int, str]]) -> None:
    """Put the new runs (run index whose formatting they take, text) where `runs` were."""
    from docx.text.run import Run

    first = runs[0]
    for index, text in new:
        element = copy.deepcopy(runs[index])
        for part in list(element):
            if part is not element.rPr:
                element.remove(part)
        first.addprevious(element)
        Run(element, paragraph).text = text
    for run in runs:
        run.getparent().remove(run)
