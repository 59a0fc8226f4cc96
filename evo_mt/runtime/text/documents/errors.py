"""The error of a document that cannot be translated: damaged, encrypted, of a format evo-mt
does not read, or too large."""

from contextlib import contextmanager
from typing import Iterator

from evo_mt.runtime.base.errors import UserError


class DocumentError(UserError):
    """A document that cannot be translated; the message says why, in one line, without the
    file's name (the caller adds it: a path, or an uploaded file's name)."""


@contextmanager
def unreadable(kind: str) -> Iterator[None]:
    """A library's failure to open a document of `kind` (".docx") as a DocumentError: given
    malformed parts, a format library raises whatever its code met first (KeyError,
    AttributeError, an XML syntax error), none of them a bug of evo-mt's."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - any of them means the file is not readable
        detail = str(error).splitlines()[0][:200] if str(error) else ""
        name = type(error).__name__
        raise DocumentError(f"not a {kind} file that can be read ({name}: {detail})") from None
