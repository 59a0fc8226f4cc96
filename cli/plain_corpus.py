"""A parallel corpus given by path: `--source DIR` holding {train,valid,test}.{src,tgt} text files.

Training pairs are cleaned as the recipe says; valid and test are taken as they are (test
never cleaned: every test sentence is scored).
"""

from pathlib import Path

from evo_mt_cli.cleaning import aligned, corpus_lines, keep_pair, lowercased, write_parallel
from evo_mt_cli.errors import UserError
from evo_mt_cli.recipes import Recipe

SPLITS = ("train", "valid", "test")


def write_raw(recipe: Recipe, source: str | None, downloads: Path, out: Path) -> None:
    """Write out/{train,valid,test}.{recipe.source_lang,recipe.target_lang} from the folder `source`."""
    langs = (recipe.source_lang, recipe.target_lang)
    if source is None:
        raise UserError(f"recipe {recipe.name}: give the corpus folder with --source DIR")
    folder = Path(source).expanduser()
    missing = [
        f"{split}.{lang}" for split in SPLITS for lang in langs if not (folder / f"{split}.{lang}").is_file()
    ]
    if missing:
        raise UserError(
            f"--source {folder}: no {missing[0]} there (expected {{train,valid,test}}.{{{','.join(langs)}}})"
        )
    clean, lower = recipe.clean, recipe.corpus.lowercase
    for split in SPLITS:
        pairs = aligned(*(corpus_lines(folder / f"{split}.{lang}") for lang in langs), str(folder / split))
        if split == "train":
            pairs = (p for p in pairs if keep_pair(*p, clean.min_tokens, clean.max_tokens, clean.max_ratio))
        write_parallel(out, langs, (split,), ((split, lowercased(p, lower)) for p in pairs))
