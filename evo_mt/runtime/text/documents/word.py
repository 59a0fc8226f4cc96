"""Word documents (.docx), read and written by python-docx: the body's paragraphs and tables
(each cell's paragraphs, nested tables too), and every section's headers and footers; each
paragraph's runs as a stretch of formatted text (evo_mt.runtime.text.documents.runs), so that
a bold word's translation is bold. Everything else (styles, numbering, pictures, fields,
links, comments, footnotes, text boxes) is kept as it was, untranslated."""

from __future__ import annotations

import io
from typing import Iterator, List, Tuple

from evo_mt.runtime.text.documents.archives import check_archive
from evo_mt.runtime.text.documents.errors import unreadable
from evo_mt.runtime.text.documents.formats import Translate
from evo_mt.runtime.text.documents.runs import (
    Stretch,
    element_stretches,
    replace_runs,
    translate_stretches,
)


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
    """The paragraph's stretches of runs holding formatting, text, tabs and breaks only."""
    from docx.oxml.ns import qn
    from docx.text.run import Run

    plain = {qn("w:rPr"), qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")}
    return element_stretches(
        paragraph._p,
        lambda child: child.tag == qn("w:r") and all(part.tag in plain for part in child),
        {qn("w:proofErr"), qn("w:bookmarkStart"), qn("w:bookmarkEnd")},
        lambda run: Run(run, paragraph).text,
        qn("w:rPr"),
    )


def _replace(paragraph, runs: list, new: List[Tuple[int, str]]) -> None:
    from docx.oxml.ns import qn
    from docx.text.run import Run

    def set_text(element, text: str) -> None:
        Run(element, paragraph).text = text  # tabs and line breaks become w:tab and w:br

    replace_runs(runs, new, {qn("w:rPr")}, set_text)
