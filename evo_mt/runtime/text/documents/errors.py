"""The error of a document that cannot be translated: damaged, encrypted, of a format evo-mt
does not read, or too large."""

from evo_mt.runtime.base.errors import UserError


class DocumentError(UserError):
    """A document that cannot be translated; the message says why, in one line, without the
    file's name (the caller adds it: a path, or an uploaded file's name)."""
