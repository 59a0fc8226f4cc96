"""Documents translated in their own format (evo_mt.runtime.text.documents): subtitles keep
their cues and timings, a .docx its paragraphs, tables, headers and bold words; damaged,
encrypted and hostile files (a zip bomb, an XML entity expansion) are refused in one line with
nothing written. The formats' own tests use a stand-in translation; the command line's use
the exported toy model."""

import io
import tracemalloc
import zipfile

import docx
import pysubs2
import pytest
from conftest import EVO_MT, evo_mt, run_command, toy_lines

from evo_mt.runtime.text.documents import archives
from evo_mt.runtime.text.documents.errors import DocumentError
from evo_mt.runtime.text.documents.formats import FORMATS, format_for
from evo_mt.runtime.text.inline import Marked

SRT = """1
00:00:01,000 --> 00:00:02,500
first words of
<i>the</i> first cue

2
00:00:03,000 --> 00:00:04,250
second cue

3
00:01:05,040 --> 00:01:07,000
<i>all of it italic</i>
"""


def shouted(units):
    """A stand-in translation: the text upper-cased, each span on the same letters."""
    return [Marked(unit.text.upper(), unit.spans) for unit in units]


def cues(data: bytes, kind: str):
    return list(pysubs2.SSAFile.from_string(data.decode(), format_=kind))


def test_subtitles_keep_cues_timings_lines_and_italics():
    seen = []

    def translate(units):
        seen.extend(unit.text for unit in units)
        return shouted(units)

    out = format_for("talk.srt").translate(SRT.encode(), translate)
    before, after = cues(SRT.encode(), "srt"), cues(out, "srt")
    assert [(c.start, c.end) for c in after] == [(c.start, c.end) for c in before]
    assert seen == ["first words of the first cue", "second cue", "all of it italic"]  # a cue is one unit
    assert [c.plaintext for c in after] == ["FIRST WORDS OF\nTHE FIRST CUE", "SECOND CUE", "ALL OF IT ITALIC"]
    assert "<i>THE</i> FIRST CUE" in out.decode() and "<i>ALL OF IT ITALIC</i>" in out.decode()
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhello there\n\n00:00:02.500 --> 00:00:03.000\nbye\n"
    out = format_for("talk.vtt").translate(vtt.encode(), shouted)
    assert out.decode().startswith("WEBVTT")
    assert [(c.start, c.end, c.text) for c in cues(out, "vtt")] == [
        (1000, 2000, "HELLO THERE"),
        (2500, 3000, "BYE"),
    ]


def make_docx(path, body, bold, cells, header):
    """A .docx made with python-docx: a header, a paragraph with a bold run, a 2x2 table."""
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = header
    paragraph = document.add_paragraph(body[0] + " ")
    paragraph.add_run(bold).bold = True
    paragraph.add_run(" " + body[1])
    table = document.add_table(rows=2, cols=2)
    for cell, text in zip(table._cells, cells, strict=True):
        cell.text = text
    document.add_paragraph("")
    document.save(path)
    return path


def structure(document):
    """The paragraphs' and tables' shape: each paragraph's number of runs, each table's rows."""
    return (
        [len(p.runs) > 0 for p in document.paragraphs],
        [[len(row.cells) for row in table.rows] for table in document.tables],
        [len(p.runs) > 0 for p in document.sections[0].header.paragraphs],
    )


def test_docx_keeps_its_structure_and_bold_words(tmp_path):
    path = make_docx(
        tmp_path / "a.docx", ["plain words", "more words"], "strong", ["c1", "c2", "c3", "c4"], "head"
    )
    out = docx.Document(io.BytesIO(format_for(path.name).translate(path.read_bytes(), shouted)))
    source = docx.Document(path)
    assert structure(out) == structure(source)
    assert [(r.text, r.bold) for r in out.paragraphs[0].runs] == [
        ("PLAIN WORDS ", None),
        ("STRONG", True),
        (" MORE WORDS", None),
    ]
    assert [c.text for c in out.tables[0]._cells] == ["C1", "C2", "C3", "C4"]
    assert out.sections[0].header.paragraphs[0].text == "HEAD"


def test_a_docx_link_keeps_its_target_around_its_translated_words():
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    paragraph = document.add_paragraph("see ")
    kind = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
    target = document.part.relate_to("https://example.org", kind, is_external=True)
    link = f'<w:hyperlink {nsdecls("w", "r")} r:id="{target}"><w:r><w:t>the site</w:t></w:r></w:hyperlink>'
    paragraph._p.append(parse_xml(link))
    paragraph.add_run(" now")
    data = io.BytesIO()
    document.save(data)
    out = docx.Document(io.BytesIO(format_for("a.docx").translate(data.getvalue(), shouted))).paragraphs[0]
    parts = [(type(part).__name__, part.text) for part in out.iter_inner_content()]
    assert parts == [("Run", "SEE "), ("Hyperlink", "THE SITE"), ("Run", " NOW")]
    assert out.hyperlinks[0].address == "https://example.org"


def test_pptx_keeps_its_frames_tables_notes_and_bold_words():
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "a title"
    paragraph = slide.placeholders[1].text_frame.paragraphs[0]
    for text, bold in (("plain ", None), ("strong", True), (" end", None)):
        run = paragraph.add_run()
        run.text, run.font.bold = text, bold
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1)).table
    for number, cell in enumerate(table.iter_cells()):
        cell.text = f"cell {number}"
    slide.notes_slide.notes_text_frame.text = "some notes"
    data = io.BytesIO()
    presentation.save(data)
    out = pptx.Presentation(io.BytesIO(format_for("a.pptx").translate(data.getvalue(), shouted))).slides[0]
    assert out.shapes.title.text == "A TITLE"
    runs = out.placeholders[1].text_frame.paragraphs[0].runs
    assert [(run.text, run.font.bold) for run in runs] == [("PLAIN ", None), ("STRONG", True), (" END", None)]
    cells = [cell.text for shape in out.shapes if shape.has_table for cell in shape.table.iter_cells()]
    assert cells == ["CELL 0", "CELL 1", "CELL 2", "CELL 3"]
    assert out.notes_slide.notes_text_frame.text == "SOME NOTES"


def test_odt_and_odp_keep_their_paragraphs_headings_and_styled_words():
    from odf import draw, teletype, text
    from odf.opendocument import OpenDocumentPresentation, OpenDocumentText, load
    from odf.style import MasterPage, PageLayout, Style, TextProperties

    document = OpenDocumentText()
    bold = Style(name="Bold", family="text")
    bold.addElement(TextProperties(fontweight="bold"))
    document.automaticstyles.addElement(bold)
    paragraph = text.P(text="plain words ")
    paragraph.addElement(text.Span(stylename=bold, text="strong"))
    paragraph.addText(" end ")
    paragraph.addElement(text.A(href="https://example.org", text="a link"))
    document.text.addElement(paragraph)
    document.text.addElement(text.H(outlinelevel=1, text="a heading"))
    data = io.BytesIO()
    document.write(data)
    out = load(io.BytesIO(format_for("a.odt").translate(data.getvalue(), shouted)))
    paragraph = out.getElementsByType(text.P)[0]
    assert [
        teletype.extractText(node) if node.nodeType == 1 else node.data for node in paragraph.childNodes
    ] == ["PLAIN WORDS ", "STRONG", " END ", "A LINK"]
    assert paragraph.getElementsByType(text.A)[0].getAttribute("href") == "https://example.org"
    assert paragraph.getElementsByType(text.Span)[0].getAttribute("stylename") == "Bold"
    assert teletype.extractText(out.getElementsByType(text.H)[0]) == "A HEADING"

    slides = OpenDocumentPresentation()
    layout = PageLayout(name="layout")
    slides.automaticstyles.addElement(layout)
    master = MasterPage(name="master", pagelayoutname=layout)
    slides.masterstyles.addElement(master)
    page = draw.Page(masterpagename=master)
    slides.presentation.addElement(page)
    frame = draw.Frame(width="10cm", height="2cm", x="1cm", y="1cm")
    page.addElement(frame)
    box = draw.TextBox()
    frame.addElement(box)
    box.addElement(text.P(text="slide words"))
    data = io.BytesIO()
    slides.write(data)
    out = load(io.BytesIO(format_for("a.odp").translate(data.getvalue(), shouted)))
    assert [teletype.extractText(p) for p in out.getElementsByType(text.P)] == ["SLIDE WORDS"]


def zipped(members) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]><d>&j;</d>"
)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"PK\x03\x04 not really", "not a .docx file (damaged, or another kind of file)"),
        (b"plain text, no archive", "not a .docx file (damaged, or another kind of file)"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
            "a password-protected or old-format (OLE) document",
        ),
        (zipped({"word/document.xml": LAUGHS}), "declares XML entities (word/document.xml)"),
        (zipped({"[Content_Types].xml": "<Types/>"}), "not a .docx file that can be read"),
    ],
    ids=["damaged", "not-zip", "password", "entities", "no-document"],
)
def test_bad_docx_files_are_one_line_errors(data, message):
    with pytest.raises(DocumentError) as raised:
        format_for("a.docx").translate(data, shouted)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range((archives.MAX_INFLATED_BYTES >> 20) + 1):
                member.write(block)
    bomb = out.getvalue()
    assert len(bomb) < archives.MAX_INFLATED_BYTES // 500
    tracemalloc.start()
    try:
        with pytest.raises(DocumentError, match="inflates to 269484040 bytes; at most 268435456 are read"):
            format_for("a.docx").translate(bomb, shouted)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # what was read of it in memory: its directory, not its 257 MiB


def test_formats_by_extension_and_a_one_line_refusal():
    assert format_for("Report.DOCX") is FORMATS["docx"] and format_for("a.md").name == "markdown"
    with pytest.raises(
        DocumentError, match=r"^a \.pdf file, which evo-mt does not translate; the extensions"
    ):
        format_for("a.pdf")


# The command line, on the exported toy model.


def translate_command(folder, lines, env):
    done = run_command([EVO_MT, "translate", str(folder)], env, input="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split("\n")[: len(lines)]


def test_translate_a_docx_as_evo_mt_translate_translates_its_text(
    exported_toy, toy_run, tmp_path, fairseq_env
):
    lines = toy_lines(toy_run, 9)
    words = lines[0].split()
    body, bold = [" ".join(words[:3]), " ".join(words[4:])], words[3]
    source = make_docx(tmp_path / "report.docx", body, bold, lines[1:5], lines[5])
    out = tmp_path / "report.de.docx"
    done = evo_mt(
        "translate", str(exported_toy), "--input", str(source), "--output", str(out), env=fairseq_env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    translated = docx.Document(out)
    assert structure(translated) == structure(docx.Document(source))
    expected = translate_command(exported_toy, [lines[0], *lines[1:6]], fairseq_env)
    assert translated.paragraphs[0].text == expected[0]
    assert [c.text for c in translated.tables[0]._cells] == expected[1:5]
    assert translated.sections[0].header.paragraphs[0].text == expected[5]
    assert [run.text for run in translated.paragraphs[0].runs if run.bold]  # the bold word is still bold


def test_translate_an_srt_keeps_its_cues_and_timings(exported_toy, toy_run, tmp_path, fairseq_env):
    lines = toy_lines(toy_run, 3)
    source = tmp_path / "talk.srt"
    first, second = "00:00:01,000 --> 00:00:04,000", "00:00:05,500 --> 00:00:09,000"
    source.write_text(f"1\n{first}\n{lines[0]}\n\n2\n{second}\n{lines[1]}\n{lines[2]}\n")
    out = tmp_path / "talk.de.srt"
    done = evo_mt(
        "translate", str(exported_toy), "--input", str(source), "--output", str(out), env=fairseq_env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    before, after = cues(source.read_bytes(), "srt"), cues(out.read_bytes(), "srt")
    assert [(c.start, c.end) for c in after] == [(c.start, c.end) for c in before]
    expected = translate_command(exported_toy, [lines[0], f"{lines[1]} {lines[2]}"], fairseq_env)
    assert [c.plaintext.replace("\n", " ") for c in after] == expected
    assert after[1].plaintext.count("\n") == 1  # shown on two lines, as it was
    piped = evo_mt(
        "translate", str(exported_toy), "--format", "srt", env=fairseq_env, input=source.read_text()
    )
    assert piped.returncode == 0 and piped.stdout == out.read_text()  # a text format goes through a pipe too


def test_a_damaged_docx_is_a_one_line_error_and_nothing_is_written(exported_toy, tmp_path, fairseq_env):
    damaged = tmp_path / "damaged.docx"
    damaged.write_bytes(b"PK\x03\x04" + bytes(100))
    out = tmp_path / "out.docx"
    done = evo_mt(
        "translate", str(exported_toy), "--input", str(damaged), "--output", str(out), env=fairseq_env
    )
    assert done.returncode == 1
    assert done.stderr == f"evo-mt: error: {damaged}: not a .docx file (damaged, or another kind of file)\n"
    assert not out.exists() and list(tmp_path.iterdir()) == [damaged]
    done = evo_mt("translate", str(exported_toy), "--input", str(damaged), env=fairseq_env)
    assert done.returncode == 1 and done.stderr == (
        "evo-mt: error: a .docx document's translation is a file: name it with --output FILE.docx\n"
    )
    done = evo_mt("translate", str(exported_toy), "--format", "docx", env=fairseq_env, input="")
    assert done.returncode == 1 and done.stderr == (
        "evo-mt: error: a .docx document is read from a file, not standard input: give it as --input FILE\n"
    )


def test_translate_file_refuses_bad_uploads_in_one_line_and_serves_on(exported_toy):
    from starlette.testclient import TestClient

    from evo_mt.runtime.serving.app import create_app
    from evo_mt.runtime.serving.limits import ServerLimits
    from evo_mt.runtime.text.exported import ExportedTranslator

    app = create_app([ExportedTranslator.load(exported_toy)], ServerLimits(max_file_bytes=100_000))
    refused = [
        (("big.txt", b"a line\n" * 20_000), 413, "the body has 140"),
        (("slides.pdf", b"%PDF-1.7"), 400, "slides.pdf: a .pdf file, which evo-mt does not translate"),
        (
            ("a.docx", b"PK\x03\x04" + bytes(50)),
            400,
            "a.docx: not a .docx file (damaged, or another kind of file)",
        ),
        (("a.docx", zipped({"word/document.xml": LAUGHS})), 400, "declares XML entities"),
    ]
    with TestClient(app) as client:
        for upload, status, message in refused:
            answer = client.post("/translate_file", files={"file": upload})
            assert answer.status_code == status and message in answer.json()["error"], answer.text
        assert client.post("/translate_file", data={"source": "en"}).status_code == 400
        assert client.get("/health").status_code == 200
        answer = client.post("/translate_file", files={"file": ("a.txt", b"a line\n\n")})
        assert answer.status_code == 200, answer.text


def test_translated_files_are_deleted_after_their_lifetime(tmp_path):
    import os
    import time

    from evo_mt.runtime.serving.files import FILE_LIFETIME_S, TranslatedFiles

    files = TranslatedFiles()
    kept = files.add("../../notes v2.srt", b"1")
    old = files.add("old.srt", b"2")
    assert kept.endswith(".notes_v2.srt") and files.find(kept) == (files.folder / kept, "notes_v2.srt")
    past = time.time() - FILE_LIFETIME_S - 1
    os.utime(files.folder / old, (past, past))
    assert files.find(old) is None and not (files.folder / old).exists()
    assert files.find("../" + kept) is None and files.find(kept) is not None
    files.close()
    assert not files.folder.exists()


def test_epub_chapters_translated_as_html_and_every_other_member_kept():
    import ebooklib
    from ebooklib import epub
    from lxml import etree

    book = epub.EpubBook()
    book.set_identifier("book-1")
    book.set_title("A book")
    book.set_language("en")
    chapter = epub.EpubHtml(title="Chapter", file_name="chapter.xhtml", lang="en")
    chapter.content = "<h1>a title</h1><p>plain words <b>strong</b> end .</p>"
    book.add_item(chapter)
    book.add_item(epub.EpubItem(uid="css", file_name="style.css", media_type="text/css", content=b"p {}"))
    book.toc = (chapter,)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", chapter]
    data = io.BytesIO()
    epub.write_epub(data, book)
    out = format_for("a.epub").translate(data.getvalue(), shouted)
    source, translated = zipfile.ZipFile(data), zipfile.ZipFile(io.BytesIO(out))
    members = [(member.filename, member.compress_type) for member in translated.infolist()]
    assert members == [(member.filename, member.compress_type) for member in source.infolist()]
    assert members[0] == ("mimetype", zipfile.ZIP_STORED)
    changed = [name for name in translated.namelist() if translated.read(name) != source.read(name)]
    assert changed == ["EPUB/chapter.xhtml", "EPUB/nav.xhtml"]
    xhtml = etree.fromstring(translated.read("EPUB/chapter.xhtml"))  # still XML
    before = etree.fromstring(source.read("EPUB/chapter.xhtml"))
    assert [element.tag for element in xhtml.iter()] == [element.tag for element in before.iter()]
    body = "".join(xhtml.itertext())
    assert "A TITLE" in body and "PLAIN WORDS STRONG END ." in body
    bold = xhtml.find(".//{http://www.w3.org/1999/xhtml}b")
    assert bold.text == "STRONG"
    assert [
        item.file_name for item in epub.read_epub(io.BytesIO(out)).get_items_of_type(ebooklib.ITEM_DOCUMENT)
    ]
    hostile = zipped({"mimetype": "application/epub+zip", "OEBPS/chapter.xhtml": LAUGHS})
    with pytest.raises(DocumentError, match=r"the \.epub file declares XML entities \(OEBPS/chapter.xhtml\)"):
        format_for("a.epub").translate(hostile, shouted)
