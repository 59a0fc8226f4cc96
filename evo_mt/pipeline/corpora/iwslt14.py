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

from evo_mt.pipeline.corpora.download import extract, obtain
from evo_mt.pipeline.corpora.splits import check_language_pair, write_split, write_train_and_valid
from evo_mt.pipeline.corpora.text import aligned, corpus_lines, sgml_segments, squeeze
from evo_mt.pipeline.recipes import Recipe
from evo_mt.runtime.base.errors import UserError

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
    check_language_pair(recipe, "iwslt14", ("de", "en"))
    langs = recipe.languages
    folder = _corpus_folder(source, downloads)
    train = {lang: folder / f"train.tags.{PAIR}.{lang}" for lang in langs}
    tests = {lang: [folder / f"{name}.{PAIR}.{lang}.xml" for name in TEST_SETS] for lang in langs}
    missing = [path for path in chain(train.values(), *tests.values()) if not path.is_file()]
    if missing:
        raise UserError(
            f"{folder}: no {missing[0].name} there ({len(missing)} files missing); "
            f"expected fairseq's IWSLT'14 {PAIR}.tgz or the {PAIR}/ folder it unpacks to"
        )

    pairs = aligned(_transcript(train[langs[0]]), _transcript(train[langs[1]]), f"{folder}/train.tags")
    write_train_and_valid(recipe, "iwslt14", out, pairs, number_before_cleaning=False)
    test = chain.from_iterable(
        aligned(_segments(s), _segments(t), str(s))
        for s, t in zip(tests[langs[0]], tests[langs[1]], strict=True)
    )
    write_split(recipe, out, "test", test)


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
