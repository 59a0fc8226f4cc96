"""Word documents (.docx), read and written by python-docx: the body's paragraphs and tables
(each cell's paragraphs, nested tables too), and every section's headers and footers; each
paragraph's runs as a stretch of formatted text (evo_mt.runtime.text.documents.runs), so that
a bold word's translation is bold, and a link's words link. Everything else (styles,
numbering, pictures, fields, comments, footnotes, text boxes) is kept as it was,
untranslated."""

from __future__ import annotations

import io
from typing import Iterator, List, Tuple

from evo_mt.runtime.text.documents.archives import check_archive
from evo_mt.runtime.text.documents.errors import unreadable
from evo_mt.runtime.text.documents.formats import Translate
from evo_mt.runtime.text.documents.runs import (
    Stretch,
    bare_copy,
    element_stretches,
    properties_of,
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
    """The paragraph's stretches of runs holding formatting, text, tabs and breaks only, and
    of links made of such runs (a link is one run of the stretch: its text keeps its link)."""
    from docx.oxml.ns import qn

    return element_stretches(
        paragraph._p,
        lambda child: _is_plain(child) or (
            child.tag == qn("w:hyperlink") and len(child) > 0 and all(_is_plain(run) for run in child)
        ),
        {qn("w:proofErr"), qn("w:bookmarkStart"), qn("w:bookmarkEnd")},
        lambda child: "".join(_text(run, paragraph) for run in _runs(child)),
        _format_of,
    )


def _format_of(child) -> bytes:
    """A run's formatting; a link's target (and its first run's formatting)."""
    from docx.oxml.ns import qn

    if child.tag == qn("w:r"):
        return properties_of(child, qn("w:rPr"))
    return repr(sorted(child.attrib.items())).encode() + properties_of(child[0], qn("w:rPr"))


def _is_plain(run) -> bool:
    from docx.oxml.ns import qn

    plain = {qn("w:rPr"), qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")}
    return run.tag == qn("w:r") and all(part.tag in plain for part in run)


def _runs(child) -> list:
    """A run's runs (itself), or a link's."""
    from docx.oxml.ns import qn

    return [child] if child.tag == qn("w:r") else list(child)


def _text(run, paragraph) -> str:
    from docx.text.run import Run

    return Run(run, paragraph).text  # tabs and line breaks as \t and \n


def _replace(paragraph, runs: list, new: List[Tuple[int, str]]) -> None:
    from docx.oxml.ns import qn
    from docx.text.run import Run

    def make(template, text: str):
        if template.tag == qn("w:hyperlink"):  # the link with its first run's formatting
            element = bare_copy(template, ())
            run = bare_copy(template[0], {qn("w:rPr")})
            element.append(run)
        else:
            element = run = bare_copy(template, {qn("w:rPr")})
        Run(run, paragraph).text = text  # tabs and line breaks become w:tab and w:br
        return element

    replace_runs(runs, new, make)
