"""A parallel corpus given by path: a `source` folder holding {train,valid,test}.{src,tgt} text files.

Training pairs are cleaned as the recipe says; valid and test are taken as they are (test
never cleaned: every test sentence is scored).
"""

from pathlib import Path

from evo_mt.pipeline.corpora.splits import cleaned, write_split
from evo_mt.pipeline.corpora.text import aligned, corpus_lines
from evo_mt.pipeline.recipes import Recipe
from evo_mt.runtime.base.errors import OptionError

SPLITS = ("train", "valid", "test")


def write_raw(recipe: Recipe, source: str | None, downloads: Path, out: Path) -> None:
    """Write out/{train,valid,test}.{recipe.source_lang,recipe.target_lang} from the folder `source`."""
    langs = recipe.languages
    if source is None:
        raise OptionError("source", f"is needed: recipe {recipe.name} reads its corpus from a folder")
    folder = Path(source).expanduser()
    missing = [
        f"{split}.{lang}" for split in SPLITS for lang in langs if not (folder / f"{split}.{lang}").is_file()
    ]
    if missing:
        raise OptionError(
            "source", f"{folder}: no {missing[0]} there (expected {{train,valid,test}}.{{{','.join(langs)}}})"
        )
    for split in SPLITS:
        pairs = aligned(*(corpus_lines(folder / f"{split}.{lang}") for lang in langs), str(folder / split))
        write_split(recipe, out, split, cleaned(recipe, pairs) if split == "train" else pairs)
