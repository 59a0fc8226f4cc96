"""`evo-mt prepare`: corpus → plain text → sentencepiece → fairseq binary data, in a run folder.

Each stage writes a scratch folder and renames it when whole, so a finished stage is
skipped and an interrupted one is redone from scratch.
"""

import importlib
import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List

from tqdm import tqdm

from evo_mt_cli.errors import UserError
from evo_mt_cli.files import atomic_dir, atomic_file, read_lines, write_lines
from evo_mt_cli.recipes import RECIPE_FILE, Recipe, load_recipe

logger = logging.getLogger("evo_mt_cli")

SPLITS = ("train", "valid", "test")
# Each corpus has a module with write_raw(recipe, source, downloads, out).
CORPUS_MODULES = {"toy": "toy_corpus", "iwslt14": "iwslt14", "wmt14": "wmt14", "plain": "plain_corpus"}


@dataclass(frozen=True)
class Run:
    """The folder of one run: everything later commands need."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def sentencepiece(self) -> Path:
        return self.root / "sentencepiece" / "spm.model"

    @property
    def encoded(self) -> Path:
        return self.root / "encoded"

    @property
    def data_bin(self) -> Path:
        return self.root / "data-bin"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def scores(self) -> Path:
        return self.root / "scores"

    def recipe(self) -> Recipe:
        if not (self.root / RECIPE_FILE).is_file():
            raise UserError(f"{self.root} is not a run folder (no {RECIPE_FILE}); run `evo-mt train` first")
        return load_recipe(self.root)


def run_folder(recipe: Recipe, workdir: Path | None) -> Run:
    return Run((workdir or Path("runs") / recipe.name).resolve())


def _stage(name: str, output: Path, build: Callable[[Path], None]) -> None:
    if output.exists():
        logger.info("prepare: %s is done (%s)", name, output)
        return
    logger.info("prepare: %s → %s", name, output)
    with atomic_dir(output) as scratch:
        build(scratch)


def prepare(recipe: Recipe, run: Run, source: str | None = None) -> Run:
    """Run every preparation stage that is not complete yet."""
    run.root.mkdir(parents=True, exist_ok=True)
    with atomic_file(run.root / RECIPE_FILE) as copy:
        shutil.copyfile(recipe.folder / RECIPE_FILE, copy)
    try:
        reader = importlib.import_module(f"evo_mt_cli.{CORPUS_MODULES[recipe.corpus.name]}")
    except KeyError:
        known = ", ".join(CORPUS_MODULES)
        raise UserError(f"{recipe.folder}: unknown corpus {recipe.corpus.name!r} (known: {known})") from None
    _stage("corpus", run.raw, lambda out: reader.write_raw(recipe, source, run.downloads, out))
    _stage("sentencepiece", run.sentencepiece.parent, lambda out: train_sentencepiece(recipe, run.raw, out))
    _stage("encode", run.encoded, lambda out: encode(recipe, run, out))
    _stage("binarize", run.data_bin, lambda out: binarize(recipe, run.encoded, out))
    return run


def _languages(recipe: Recipe) -> List[str]:
    return [recipe.source_lang, recipe.target_lang]


def train_sentencepiece(recipe: Recipe, raw: Path, out: Path) -> None:
    """One joint model over both sides of the training text."""
    import sentencepiece as spm

    settings = recipe.subwords
    inputs = [str(raw / f"train.{lang}") for lang in _languages(recipe)]
    try:
        spm.SentencePieceTrainer.train(
            input=inputs,
            model_prefix=str(out / "spm"),
            vocab_size=settings.vocab_size,
            model_type=settings.model_type,
            character_coverage=settings.character_coverage,
            input_sentence_size=settings.max_sentences,
            shuffle_input_sentence=True,
            # fairseq adds its own <s>, <pad>, </s>; sentencepiece keeps only <unk>.
            bos_id=-1,
            eos_id=-1,
            hard_vocab_limit=False,
            num_threads=2,
            minloglevel=2,
        )
    except (RuntimeError, OSError) as error:
        raise UserError(f"sentencepiece training failed: {error}") from error


def encode(recipe: Recipe, run: Run, out: Path) -> None:
    import sentencepiece as spm

    model = spm.SentencePieceProcessor(model_file=str(run.sentencepiece))
    for split in SPLITS:
        for lang in _languages(recipe):
            lines = read_lines(run.raw / f"{split}.{lang}")
            pieces = tqdm(
                lines,
                desc=f"encode {split}.{lang}",
                unit=" lines",
                file=sys.stderr,
                leave=False,
                disable=None,
            )
            write_lines(
                out / f"{split}.{lang}", (" ".join(model.encode(line, out_type=str)) for line in pieces)
            )


def binarize(recipe: Recipe, encoded: Path, out: Path) -> None:
    """fairseq-preprocess with one dictionary shared by both languages."""
    from fairseq import options
    from fairseq_cli import preprocess

    parser = options.get_preprocessing_parser()
    args = parser.parse_args(
        ["--source-lang", recipe.source_lang, "--target-lang", recipe.target_lang,
         "--trainpref", str(encoded / "train"), "--validpref", str(encoded / "valid"),
         "--testpref", str(encoded / "test"), "--destdir", str(out),
         "--joined-dictionary", "--workers", "2"]
    )  # fmt: skip
    preprocess.main(args)
