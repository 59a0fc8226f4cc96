"""WMT'14 English-German as fairseq's examples/translation/prepare-wmt14en2de.sh prepares it (its
default variant, with News Commentary v12), without the Moses scripts and BPE.

- train and valid: Europarl v7, Common Crawl and News Commentary v12 concatenated; every
  `valid_every`-th line (counting from 1) is validation, the rest training; both are then cleaned
  by length and ratio. fairseq cleans after BPE, so its limits count subwords; here they count words.
- test: the full newstest2014 (3,003 sentences) from the SGML files of sacrebleu's wmt14/full,
  extracted as sacrebleu extracts them, so that the reference is exactly the one
  `sacrebleu -t wmt14/full` scores against (hence also without fairseq's ’ -> ' replacement);
  never cleaned.
- Lowercased only if the recipe says so. Files are streamed: Common Crawl alone is gigabytes.

`--source` may be
- a folder holding the archives under their official names: training-parallel-europarl-v7.tgz,
  training-parallel-commoncrawl.tgz, training-parallel-nc-v12.tgz and test-full.tgz;
- a folder where they were unpacked, like fairseq's orig/: training/europarl-v7.de-en.{en,de},
  commoncrawl.de-en.{en,de}, training/news-commentary-v12.de-en.{en,de} and
  test-full/newstest2014-deen-{src.en,ref.de}.sgm;
- a mix of the two (each corpus is looked for unpacked first, then as its archive);
- the URL of a mirror folder holding the archives under their official names.
Without it, the official URLs are downloaded into `downloads`. Downloaded archives are checked
against their checksums; archives in a local folder are taken as they are. Archives are unpacked
into `downloads` (once: a later run reuses what is there).
"""

from itertools import chain
from pathlib import Path
from typing import List, NamedTuple, Sequence

from sacrebleu.dataset import DATASETS

from evo_mt.pipeline.corpora.download import extract, fetch, is_url, url_basename
from evo_mt.pipeline.corpora.splits import check_language_pair, write_split, write_train_and_valid
from evo_mt.pipeline.corpora.text import aligned, corpus_lines, sgml_segments, squeeze
from evo_mt.pipeline.recipes import Recipe
from evo_mt.runtime.base.errors import OptionError, UserError


class Archive(NamedTuple):
    url: str
    sha256: str | None = None
    md5: str | None = None


# The sha256 sums are those tensorflow-datasets records (url_checksums) for its WMT builders.
TRAIN_CORPORA = (
    (
        Archive(
            "http://statmt.org/wmt13/training-parallel-europarl-v7.tgz",
            sha256="0224c7c710c8a063dfd893b0cc0830202d61f4c75c17eb8e31836103d27d96e7",
        ),
        "training/europarl-v7.de-en",
    ),
    (
        Archive(
            "http://statmt.org/wmt13/training-parallel-commoncrawl.tgz",
            sha256="c7a74e2ea01ac6c920123108627e35278d4ccb5701e15428ffa34de86fa3a9e5",
        ),
        "commoncrawl.de-en",
    ),
    (
        Archive(
            "http://data.statmt.org/wmt17/translation-task/training-parallel-nc-v12.tgz",
            sha256="2b45f30ef1d550d302fd17dd3a5cbe19134ccc4c2cf50c2dae534aee600101a2",
        ),
        "training/news-commentary-v12.de-en",
    ),
)
TEST_SET = DATASETS["wmt14/full"]  # sacrebleu's registry: URL, md5 and member paths


def write_raw(recipe: Recipe, source: str | None, downloads: Path, out: Path) -> None:
    """Write out/{train,valid,test}.{recipe.source_lang,recipe.target_lang}: plain, line-aligned text."""
    check_language_pair(recipe, "wmt14", ("en", "de"))
    langs = recipe.languages
    if source is not None and not is_url(source) and not Path(source).expanduser().is_dir():
        raise OptionError(
            "source", f"{source}: not a folder (wmt14 reads a folder of archives or their contents)"
        )
    train = [
        _members(archive, [f"{prefix}.{lang}" for lang in langs], source, downloads)
        for archive, prefix in TRAIN_CORPORA
    ]
    test_archive = Archive(TEST_SET.data[0], md5=TEST_SET.md5[0])
    test_source, test_reference = _members(
        test_archive, TEST_SET.langpairs["-".join(langs)], source, downloads
    )

    lines = chain.from_iterable(
        aligned(map(squeeze, corpus_lines(s)), map(squeeze, corpus_lines(t)), str(s)) for s, t in train
    )
    write_train_and_valid(recipe, "wmt14", out, lines, number_before_cleaning=True)
    test = aligned(sgml_segments(test_source), sgml_segments(test_reference), str(test_source))
    write_split(recipe, out, "test", test)


def _members(archive: Archive, members: Sequence[str], source: str | None, downloads: Path) -> List[Path]:
    """Where the `members` of `archive` lie on disk: unpacked in the source folder, or unpacked by
    us (into `downloads`) from the archive found there or downloaded."""
    name = url_basename(archive.url)
    if source is not None and not is_url(source):
        folder = Path(source).expanduser()
        if all((folder / member).is_file() for member in members):
            return [folder / member for member in members]
        local = folder / name
        if not local.is_file():
            raise UserError(f"{folder}: holds neither {members[0]} nor {name}")
    else:
        url = archive.url if source is None else f"{source.rstrip('/')}/{name}"
        local = fetch(url, downloads / name, sha256=archive.sha256, md5=archive.md5)
    contents = extract(local, downloads / f"{name}.contents")
    for member in members:
        if not (contents / member).is_file():
            raise UserError(f"{local}: the archive holds no {member}")
    return [contents / member for member in members]
