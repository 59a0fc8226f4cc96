"""PowerPoint presentations (.pptx), read and written by python-pptx: every slide's text frames
(in groups too), tables and speaker notes, each paragraph's runs as a stretch of formatted
text (evo_mt.runtime.text.documents.runs). Layouts, masters, charts, SmartArt and pictures'
descriptions are kept as they were, untranslated."""

from __future__ import annotations

import io
from typing import Iterator

from evo_mt.runtime.text.documents.archives import check_archive
from evo_mt.runtime.text.documents.errors import unreadable
from evo_mt.runtime.text.documents.formats import Translate
from evo_mt.runtime.text.documents.runs import (
    bare_copy,
    element_stretches,
    properties_of,
    replace_runs,
    translate_stretches,
)


def translate_pptx(data: bytes, translate: Translate) -> bytes:
    import pptx
    from pptx.oxml.ns import qn
    from pptx.text.text import _Run

    check_archive(data, ".pptx")
    with unreadable(".pptx"):
        presentation = pptx.Presentation(io.BytesIO(data))
        paragraphs = list(_paragraphs(presentation))
    properties = qn("a:rPr")
    plain = {properties, qn("a:t")}
    found = [
        (paragraph, *pair)
        for paragraph in paragraphs
        for pair in element_stretches(
            paragraph._p,
            lambda child: child.tag == qn("a:r") and all(part.tag in plain for part in child),
            (),
            lambda run: "".join(part.text or "" for part in run.iter(qn("a:t"))),
            lambda run: properties_of(run, properties),
        )
    ]
    translated = translate_stretches([stretch for _, stretch, _ in found], translate)
    for (paragraph, _, runs), new in zip(found, translated, strict=True):

        def make(run, text: str, paragraph=paragraph):
            element = bare_copy(run, plain)
            _Run(element, paragraph).text = text
            return element

        replace_runs(runs, new, make)
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def _paragraphs(presentation) -> Iterator:
    for slide in presentation.slides:
        yield from _shape_paragraphs(slide.shapes)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            yield from slide.notes_slide.notes_text_frame.paragraphs


def _shape_paragraphs(shapes) -> Iterator:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_paragraphs(shape.shapes)
        if shape.has_text_frame:
            yield from shape.text_frame.paragraphs
        if getattr(shape, "has_table", False) and shape.has_table:
            for cell in shape.table.iter_cells():
                yield from cell.text_frame.paragraphs
