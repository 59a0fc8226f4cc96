"""What a line of text is, for every reader of evo-mt: the text up to a "\\n", without it, and
without one "\\r" before it (files written on Windows).

Nothing else ends a line. Python's `str.splitlines()` and universal newlines also split on a
lone "\\r", form feed, vertical tab, U+0085, U+2028 and U+2029; fairseq's binarizer,
sentencepiece's spm_encode, sacreBLEU's files and `wc -l` do not, and crawled or subtitle
corpora hold those characters inside sentences. Splitting on them would shift one side of a
parallel corpus against the other, or give more hypotheses than references.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, List

from evo_mt.runtime.base.errors import UserError


def strip_ending(line: str) -> str:
    """`line` without its "\\n" and one "\\r" before it."""
    line = line[:-1] if line.endswith("\n") else line
    return line[:-1] if line.endswith("\r") else line


def split_lines(text: str) -> List[str]:
    """The lines of `text`; a final "\\n" ends the last line rather than starting an empty one."""
    if not text:
        return []
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    return [strip_ending(part) for part in parts]


def stream_lines(stream: BinaryIO | Iterable[bytes]) -> Iterator[str]:
    """The lines of a binary stream (stdin, a file opened "rb"), read as they come.

    Invalid UTF-8 becomes U+FFFD: one bad byte in a large input must not end the run."""
    # Iterating a binary stream splits on b"\n" alone, which is the rule above.
    for raw in stream:
        yield strip_ending(raw.decode("utf-8", errors="replace"))


def file_lines(path: Path) -> Iterator[str]:
    """The lines of a (possibly huge) text file, streamed; invalid UTF-8 becomes U+FFFD."""
    with open_text_source(path) as stream:
        yield from stream_lines(stream)


def read_lines(path: Path) -> List[str]:
    """The lines of a UTF-8 text file; a UserError naming the file if it is missing, a folder,
    unreadable, or not UTF-8 (where an exact text is needed: references, hypotheses)."""
    with open_text_source(path) as stream:
        data = stream.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise UserError(
            f"{path}: not UTF-8 text (byte {data[error.start]:#04x} on line {line}); convert it to UTF-8"
        ) from None
    return split_lines(text)


# Text never holds a NUL byte; documents (.docx, .odt, .epub and .pptx are ZIP archives, .pdf,
# .doc), images and archives do within their first bytes (git's test of a binary file, too). A
# document whose extension names its format is read by that format instead (--format).
_SNIFFED_BYTES = 8192


def open_text_source(path: Path, *, text_only: bool = False) -> BinaryIO:
    """`path` opened for reading bytes; a one-line UserError naming it when that is impossible
    or, with `text_only`, when its first bytes hold a NUL byte: a document or other binary
    file, which would come back as garbage, not a translation."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: a folder, not a text file")
    try:
        stream = open(path, "rb")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read it: {error.strerror}") from None
    head = stream.peek(_SNIFFED_BYTES)[:_SNIFFED_BYTES] if text_only else b""
    if b"\0" in head:
        stream.close()
        zipped = head.startswith(b"PK\x03\x04")
        kind = "a ZIP archive (as .docx, .odt, .pptx and .epub are)" if zipped else "binary"
        raise UserError(
            f"{path}: {kind}, not text, and its extension names no document format "
            "(evo-mt translate --help lists them under --format)"
        )
    return stream
