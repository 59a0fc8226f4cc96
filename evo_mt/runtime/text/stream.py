"""Lines in, translations out, as they come: the loop of `evo-mt translate`.

Lines are read ahead in chunks (sorted by length inside the pipeline, so that batches waste
little on padding) and each chunk's translations are given back in input order; with
`interactive` (a terminal) each line is translated as soon as it is read.
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator, List

from evo_mt.runtime.text.batching import BATCH_SIZE
from evo_mt.runtime.text.glossary import Glossary
from evo_mt.runtime.text.phrases import split_constraint_lines
from evo_mt.runtime.text.pipeline import translate_lines
from evo_mt.runtime.text.results import JsonShape
from evo_mt.runtime.text.routing import Router
from evo_mt.runtime.text.translator import TextTranslator

READ_AHEAD = 2048  # lines read before a chunk is translated, at least (batch_size x 16 if more)


def translate_stream(
    translator: TextTranslator | Router,
    lines: Iterable[str],
    *,
    batch_size: int = BATCH_SIZE,
    interactive: bool = False,
    constraints: bool = False,
    glossary: Glossary | None = None,
    mid_word: bool = False,
    json_lines: bool = False,
    alignment: bool = False,
    first_line: int = 1,
) -> Iterator[List[str]]:
    """Each input line's output fields, in order: its n best translations, or (`json_lines`)
    one JSON object (evo_mt.runtime.text.results.LineTranslation.to_json). `constraints`:
    each line is `source<TAB>phrase<TAB>...` (evo_mt.runtime.text.phrases); a ConstraintError
    names the line (the first one numbered `first_line`: a shard's are numbered as in the
    whole input) of a phrase that cannot be searched for. `alignment`: the JSON objects hold
    each best translation's word alignment (evo_mt.runtime.text.alignment). A Router sends
    each line through its route (several models, evo_mt.runtime.text.routing)."""
    shape = JsonShape.of(
        nbest=translator.nbest, constrained=constraints, glossary=glossary is not None, alignment=alignment
    )

    def translated(chunk: List[str], first_line: int) -> List[List[str]]:
        wanted = None
        if constraints:
            chunk, wanted = split_constraint_lines(chunk, first_line)
        options = dict(
            constraints=wanted, glossary=glossary, mid_word=mid_word, batch_size=batch_size,
            first_line=first_line, align=alignment,
        )
        if isinstance(translator, Router):
            found = translator.translate_lines(chunk, **options)
        else:
            found = translate_lines(translator, chunk, **options)
        if json_lines:
            return [[json.dumps(line.to_json(shape), ensure_ascii=False)] for line in found]
        return [line.texts for line in found]

    chunk: List[str] = []
    for line in lines:
        chunk.append(line)
        if interactive or len(chunk) >= max(batch_size * 16, READ_AHEAD):
            yield from translated(chunk, first_line)
            first_line += len(chunk)
            chunk = []
    if chunk:
        yield from translated(chunk, first_line)
