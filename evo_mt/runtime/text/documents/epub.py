"""E-books (.epub): the book's XHTML documents (chapters, its navigation), as ebooklib lists
them from the package's manifest, each translated as HTML (evo_mt.runtime.text.documents.html:
its markup kept, its prose translated); every other member of the archive (the package, the
table of contents, style sheets, pictures, fonts) is copied as it was, in the same order, so
that `mimetype` stays first and uncompressed as the format wants."""

from __future__ import annotations

import io
import posixpath
import zipfile

from evo_mt.runtime.text.documents.archives import check_archive
from evo_mt.runtime.text.documents.errors import unreadable
from evo_mt.runtime.text.documents.formats import Translate, decoded


def translate_epub(data: bytes, translate: Translate) -> bytes:
    import ebooklib
    from ebooklib import epub

    from evo_mt.runtime.text.documents.html import translate_html

    check_archive(data, ".epub")
    with unreadable(".epub"):
        reader = epub.EpubReader(io.BytesIO(data))
        book = reader.load()
        documents = {
            posixpath.normpath(posixpath.join(reader.opf_dir, item.file_name))
            for item in book.get_items_of_type(ebooklib.ITEM_DOCUMENT)
        }
    out = io.BytesIO()
    # The documents as the archive holds them (ebooklib's get_content() re-renders a chapter,
    # dropping its head's title).
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            content = source.read(member)
            if member.filename in documents:
                text = decoded(content, f"XHTML ({member.filename})")
                content = translate_html(text, translate).encode("utf-8")
            target.writestr(member, content)
    return out.getvalue()
