"""The document formats evo-mt translates, by name and by file extension: each one a reader and
writer, made with a library for that format, around the one translation step every format
shares, `translate` (units of prose in, their translations out: evo_mt.runtime.text.inline).

    found = format_for(Path("talk.srt"))            # or by name: format_named("srt")
    data = found.translate(data, translate)         # bytes in, bytes out; DocumentError if bad

A format's module is imported when a document of that format is translated, so that plain
text never loads python-docx and its kin.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from evo_mt.runtime.text.documents.errors import DocumentError
from evo_mt.runtime.text.inline import Marked

Translate = Callable[[List[Marked]], List[Marked]]


@dataclass(frozen=True)
class DocumentFormat:
    """A format: its name (`--format`), its extensions (the first one is its own), whether it
    is text (read from standard input and written to standard output as well as files), and
    the function, `module:name` under evo_mt.runtime.text.documents, that translates it."""

    name: str
    extensions: Tuple[str, ...]
    text: bool
    function: str

    def translate(self, data: bytes, translate: Translate) -> bytes:
        """The document `data` translated: its prose through `translate`, the rest kept."""
        module, name = self.function.split(":")
        translated = getattr(importlib.import_module(f"evo_mt.runtime.text.documents.{module}"), name)
        return translated(data, translate)


FORMATS: Dict[str, DocumentFormat] = {
    found.name: found
    for found in (
        DocumentFormat("text", (".txt",), True, "plain:translate_text"),
        DocumentFormat("markdown", (".md", ".markdown"), True, "plain:translate_markdown_document"),
        DocumentFormat("html", (".html", ".htm"), True, "html:translate_html_document"),
        DocumentFormat("srt", (".srt",), True, "subtitles:translate_srt"),
        DocumentFormat("vtt", (".vtt",), True, "subtitles:translate_vtt"),
        DocumentFormat("docx", (".docx",), False, "word:translate_docx"),
        DocumentFormat("pptx", (".pptx",), False, "slides:translate_pptx"),
        DocumentFormat("odt", (".odt",), False, "opendocument:translate_odt"),
        DocumentFormat("odp", (".odp",), False, "opendocument:translate_odp"),
        DocumentFormat("epub", (".epub",), False, "epub:translate_epub"),
    )
}


def extensions() -> List[str]:
    """Every extension a document may have, with its dot (LibreTranslate's
    `supportedFilesFormat` lists them so)."""
    return [extension for found in FORMATS.values() for extension in found.extensions]


def format_named(name: str) -> DocumentFormat:
    if name not in FORMATS:
        raise DocumentError(f"no document format {name!r}; the formats are {', '.join(FORMATS)}")
    return FORMATS[name]


def format_of(name: str) -> DocumentFormat | None:
    """The format of a file named `name`, by its extension; None if no format has it."""
    suffix = Path(name).suffix.lower()
    return next((found for found in FORMATS.values() if suffix in found.extensions), None)


def format_for(name: str) -> DocumentFormat:
    """The format of a file named `name`; a DocumentError naming the extensions read if none."""
    found = format_of(name)
    if found is None:
        kind = f"a {Path(name).suffix} file" if Path(name).suffix else "a file without an extension"
        raise DocumentError(
            f"{kind}, which evo-mt does not translate; the extensions are {', '.join(extensions())}"
        )
    return found


def decoded(data: bytes, kind: str) -> str:
    """A text document's characters; a DocumentError if it is not UTF-8 (a BOM is dropped)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentError(
            f"not a UTF-8 {kind} file (byte {data[error.start]:#04x} at offset {error.start}); "
            "convert it to UTF-8"
        ) from None
