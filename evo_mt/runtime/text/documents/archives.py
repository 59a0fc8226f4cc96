"""A document that is a ZIP archive (.docx, .pptx, .odt, .odp, .epub) checked before any
library reads it: a damaged archive, an encrypted document, a zip bomb and an XML entity
expansion are refused in one line, before they can use much memory.

Python's zipfile (which python-docx, python-pptx, odfpy and ebooklib all read through) never
gives more bytes of a member than the archive's directory declares for it, so the declared
sizes bound what a library can inflate; they are summed here first. Office and OpenDocument
parts never declare XML entities, and an e-book's XHTML has no need of them: a member that
does is refused rather than handed to a parser that might expand them.
"""

from __future__ import annotations

import io
import zipfile

from evo_mt.runtime.text.documents.errors import DocumentError

# What a document may hold once inflated, all members together, and how many members.
MAX_INFLATED_BYTES = 256 << 20
MAX_MEMBERS = 10_000
# An encrypted Office document (a password to open) is an OLE compound file, not a ZIP.
_COMPOUND_FILE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_XML_SUFFIXES = (".xml", ".rels", ".xhtml", ".html", ".htm", ".opf", ".ncx")
_ENTITY = b"<!ENTITY"


def check_archive(data: bytes, kind: str) -> None:
    """Refuse (DocumentError) `data` unless it is a sound ZIP archive of reasonable size, with no
    encrypted member and no XML that declares entities; `kind` names it (".docx")."""
    if data.startswith(_COMPOUND_FILE):
        raise DocumentError(
            f"a password-protected or old-format (OLE) document, not a {kind} file; "
            f"save it as {kind} without a password first"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DocumentError(f"not a {kind} file (damaged, or another kind of file)") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise DocumentError(f"the {kind} file holds {len(members)} parts; at most {MAX_MEMBERS} are read")
        inflated = sum(member.file_size for member in members)
        if inflated > MAX_INFLATED_BYTES:
            raise DocumentError(
                f"the {kind} file inflates to {inflated} bytes; at most {MAX_INFLATED_BYTES} are read"
            )
        if any(member.flag_bits & 0x1 for member in members):
            raise DocumentError(
                f"the {kind} file is encrypted (password-protected); remove the password first"
            )
        for member in members:
            if member.filename.lower().endswith(_XML_SUFFIXES):
                try:
                    content = archive.read(member)
                except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as error:
                    raise DocumentError(f"the {kind} file is damaged ({member.filename}: {error})") from None
                if _ENTITY in content:
                    raise DocumentError(
                        f"the {kind} file declares XML entities ({member.filename}), which are not read"
                    )
