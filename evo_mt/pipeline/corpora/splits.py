"""The way every corpus reader's pairs take to raw/: checked, cleaned, split, written.

A reader yields sentence pairs; these helpers clean training pairs by length and ratio, take
every n-th pair out as validation where the corpus has no validation set, lowercase if the
recipe says so, and write each split's two sides so that every file appears whole or not at all.
"""

from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence, TextIO

from evo_mt.pipeline.corpora.text import Pair, keep_pair, lowercased
from evo_mt.pipeline.recipes import Recipe
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.files import atomic_file


def check_language_pair(recipe: Recipe, corpus: str, languages: Sequence[str]) -> None:
    """A UserError unless the corpus `corpus` holds the recipe's two languages."""
    if set(recipe.languages) != set(languages):
        raise UserError(
            f"recipe {recipe.name}: {corpus} translates between {' and '.join(languages)}, "
            f"not {recipe.source_lang}-{recipe.target_lang}"
        )


def kept_by_cleaning(recipe: Recipe, pair: Pair) -> bool:
    """Whether `pair` is within the recipe's [clean] limits."""
    clean = recipe.clean
    return keep_pair(*pair, clean.min_tokens, clean.max_tokens, clean.max_ratio)


def cleaned(recipe: Recipe, pairs: Iterable[Pair]) -> Iterator[Pair]:
    return (pair for pair in pairs if kept_by_cleaning(recipe, pair))


def write_split(recipe: Recipe, out: Path, split: str, pairs: Iterable[Pair]) -> None:
    """Write out/<split>.<language> for both languages, lowercased if the recipe says so."""
    _write(recipe, out, [split], ((split, pair) for pair in pairs))


def write_train_and_valid(
    recipe: Recipe, corpus: str, out: Path, pairs: Iterable[Pair], *, number_before_cleaning: bool
) -> None:
    """Clean the training pairs and take every `corpus.valid_every`-th of them out as validation.

    Where fairseq's scripts count the pairs differs between corpora, so the caller says:
    prepare-iwslt14.sh cleans first and counts the kept pairs (`number_before_cleaning=False`);
    prepare-wmt14en2de.sh splits by line number first, then cleans train and valid alike (True).
    """
    every = recipe.corpus.valid_every
    if every < 1:
        raise UserError(f"recipe {recipe.name}: {corpus} needs corpus.valid_every >= 1 (it has no valid set)")
    if number_before_cleaning:
        numbered = ((n, p) for n, p in enumerate(pairs, start=1) if kept_by_cleaning(recipe, p))
    else:
        numbered = enumerate(cleaned(recipe, pairs), start=1)
    # Pair n is validation if n is a multiple of valid_every (the scripts' awk 'NR % n == 0').
    labelled = (("valid" if n % every == 0 else "train", pair) for n, pair in numbered)
    _write(recipe, out, ["train", "valid"], labelled)


@contextmanager
def _text_file(path: Path) -> Iterator[TextIO]:
    with atomic_file(path) as scratch, open(scratch, "w", encoding="utf-8") as f:
        yield f


def _write(recipe: Recipe, out: Path, splits: Sequence[str], items: Iterable[tuple]) -> None:
    """Stream each (split, pair) into out/<split>.<language>."""
    lowercase = recipe.corpus.lowercase
    with ExitStack() as stack:
        files = {
            split: [stack.enter_context(_text_file(out / f"{split}.{lang}")) for lang in recipe.languages]
            for split in splits
        }
        for split, pair in items:
            for f, line in zip(files[split], lowercased(pair, lowercase), strict=True):
                f.write(line + "\n")
