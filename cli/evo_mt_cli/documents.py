"""`evo-mt translate` of a document (HTML, subtitles, office files, e-books): its format chosen by
`--format` or by the input's extension, read whole, translated through the runtime's document
formats (evo_mt.runtime.text.documents) and written whole, atomically: nothing is written when
anything fails."""

import sys
from pathlib import Path
from typing import Callable

from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.text.documents.errors import DocumentError
from evo_mt.runtime.text.documents.formats import FORMATS, format_of


def chosen_format(given: str | None, input_file: Path | None) -> str:
    """The format named by --format, else the one of the input's extension, else text (a file
    without a known extension, such as test.en, is text, as it has always been)."""
    if given is not None:
        if given not in FORMATS:
            raise OptionError("format", f"must be one of {', '.join(FORMATS)}, not {given!r}")
        return given
    found = format_of(input_file.name) if input_file is not None else None
    return found.name if found is not None else "text"


def translate_document_file(
    load: Callable, name: str, input_file: Path | None, output_file: Path | None, batch_size: int
) -> None:
    """Translate the document `input_file` (or standard input, for a text format) into
    `output_file` (or standard output, for a text format) with the Router `load()` gives
    (evo_mt.runtime.text.routing: one model, or several with a pivot)."""
    from evo_mt.runtime.base.files import atomic_file
    from evo_mt.runtime.base.lines import open_text_source

    found = FORMATS[name]
    extension = found.extensions[0]
    if not found.text and input_file is None:
        raise UserError(
            f"a {extension} document is read from a file, not standard input: give it as --input FILE"
        )
    if not found.text and output_file is None:
        raise UserError(
            f"a {extension} document's translation is a file: name it with --output FILE{extension}"
        )
    # Read before the model loads: a missing file is told at once.
    if input_file is not None:
        with open_text_source(input_file) as source:
            data = source.read()
    else:
        data = sys.stdin.buffer.read()
    router = load()
    try:
        translated = found.translate(
            data, lambda units: router.translate_marked(units, batch_size=batch_size)
        )
    except DocumentError as error:
        raise UserError(f"{input_file or 'standard input'}: {error}") from None
    if output_file is None:
        sys.stdout.buffer.write(translated)
        sys.stdout.flush()
        return
    with atomic_file(output_file) as scratch:
        scratch.write_bytes(translated)
