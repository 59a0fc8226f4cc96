"""Corpus readers: each writes a recipe's corpus as plain, line-aligned text into raw/.

A reader is `write_raw(recipe, source, downloads, out)`: it obtains the corpus (generated,
downloaded into `downloads`, or read from `source`) and writes out/{train,valid,test}.{src,tgt}
through the shared helpers of `splits`. Readers do not import each other.
"""

from pathlib import Path
from typing import Callable, Dict

from evo_mt.pipeline.corpora import iwslt14, plain, toy, wmt14
from evo_mt.pipeline.recipes import Recipe
from evo_mt.runtime.base.errors import UserError

Reader = Callable[[Recipe, "str | None", Path, Path], None]

READERS: Dict[str, Reader] = {
    "toy": toy.write_raw,
    "iwslt14": iwslt14.write_raw,
    "wmt14": wmt14.write_raw,
    "plain": plain.write_raw,
}


def reader_for(recipe: Recipe) -> Reader:
    """The reader the recipe's [corpus] names."""
    try:
        return READERS[recipe.corpus.name]
    except KeyError:
        known = ", ".join(READERS)
        raise UserError(f"{recipe.folder}: unknown corpus {recipe.corpus.name!r} (known: {known})") from None
