"""IWSLT'14 German-English as fairseq's examples/translation/prepare-iwslt14.sh prepares it, minus
the Moses tokenizer and BPE (sentencepiece is applied later, to this raw text).

- train and valid: the TED transcripts of train.tags.de-en.*, metadata lines dropped, cleaned by
  length and ratio (on whitespace tokens: fairseq counts Moses tokens, so a few borderline pairs
  differ), lowercased if the recipe says so; every `valid_every`-th kept pair is validation.
- test: dev2010, dev2012 (TEDx), tst2010, tst2011 and tst2012 concatenated (6,750 pairs), lowercased
  likewise, never length-cleaned.

`--source` may be de-en.tgz, the de-en/ folder it unpacks to, or a folder holding de-en/; without it
the archive is downloaded into `downloads`. An archive is unpacked into `downloads` (once).
"""

import re
from itertools import chain
from pathlib import Path
from typing import Iterator, List

from evo_mt_cli.cleaning import (
    aligned,
    check_recipe,
    corpus_lines,
    keep_pair,
    lowercased,
    sgml_segments,
    squeeze,
    validation_split,
    write_parallel,
)
from evo_mt_cli.download import extract, obtain
from evo_mt_cli.errors import UserError
from evo_mt_cli.recipes import Recipe

# fairseq publishes no checksum for this archive: it is recognised by the members it must hold.
URL = "http://dl.fbaipublicfiles.com/fairseq/data/iwslt14/de-en.tgz"
PAIR = "de-en"
TEST_SETS = (
    "IWSLT14.TED.dev2010",
    "IWSLT14.TEDX.dev2012",
    "IWSLT14.TED.tst2010",
    "IWSLT14.TED.tst2011",
    "IWSLT14.TED.tst2012",
)
METADATA = ("<url>", "<talkid>", "<keywords>")  # a line holding one of these is dropped
TEXT_TAGS = re.compile(r"</?(?:title|description)>")  # removed, the text between them kept


def write_raw(recipe: Recipe, source: str | None, downloads: Path, out: Path) -> None:
    """Write out/{train,valid,test}.{recipe.source_lang,recipe.target_lang}: plain, line-aligned text."""
    check_recipe(recipe, "iwslt14", ("de", "en"))
    langs = (recipe.source_lang, recipe.target_lang)
    folder = _corpus_folder(source, downloads)
    train = {lang: folder / f"train.tags.{PAIR}.{lang}" for lang in langs}
    tests = {lang: [folder / f"{name}.{PAIR}.{lang}.xml" for name in TEST_SETS] for lang in langs}
    missing = [path for path in chain(train.values(), *tests.values()) if not path.is_file()]
    if missing:
        raise UserError(
            f"{folder}: no {missing[0].name} there ({len(missing)} files missing); "
            f"expected fairseq's IWSLT'14 {PAIR}.tgz or the {PAIR}/ folder it unpacks to"
        )

    lower, clean = recipe.corpus.lowercase, recipe.clean
    pairs = aligned(_transcript(train[langs[0]]), _transcript(train[langs[1]]), f"{folder}/train.tags")
    kept = (p for p in pairs if keep_pair(*p, clean.min_tokens, clean.max_tokens, clean.max_ratio))
    numbered = enumerate(kept, start=1)
    every = recipe.corpus.valid_every
    write_parallel(
        out,
        langs,
        ("train", "valid"),
        ((validation_split(n, every), lowercased(p, lower)) for n, p in numbered),
    )
    test = chain.from_iterable(
        aligned(_segments(s), _segments(t), str(s))
        for s, t in zip(tests[langs[0]], tests[langs[1]], strict=True)
    )
    write_parallel(out, langs, ("test",), (("test", lowercased(p, lower)) for p in test))


def _corpus_folder(source: str | None, downloads: Path) -> Path:
    local = obtain(source, URL, downloads)
    if local.is_file():
        local = extract(local, downloads / f"{local.name}.contents")
    return local / PAIR if (local / PAIR).is_dir() else local


def _transcript(path: Path) -> Iterator[str]:
    for line in corpus_lines(path):
        if not any(tag in line for tag in METADATA):
            yield squeeze(TEXT_TAGS.sub("", line))


def _segments(path: Path) -> List[str]:
    return [segment.replace("\u2019", "'") for segment in sgml_segments(path)]
