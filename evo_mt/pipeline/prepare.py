"""Preparation: corpus → plain text → sentencepiece → fairseq binary data, in a run folder.

Each stage writes a scratch folder and renames it when whole, so a finished stage is
skipped and an interrupted one is redone from scratch.
"""

import json
import logging
import shutil
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, List

from tqdm import tqdm

from evo_mt.pipeline import fairseq_commands
from evo_mt.pipeline.corpora import reader_for
from evo_mt.pipeline.recipes import RECIPE_FILE, Recipe
from evo_mt.pipeline.run_folder import SPLITS, TRAINING_LENGTHS, Run, piece_statistics
from evo_mt.pipeline.run_lock import holding
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.files import atomic_dir, atomic_file, read_lines, write_lines

logger = logging.getLogger("evo_mt")


def _stage(name: str, output: Path, build: Callable[[Path], None]) -> None:
    if output.exists():
        logger.info("prepare: %s is done (%s)", name, output)
        return
    logger.info("prepare: %s → %s", name, output)
    with atomic_dir(output) as scratch:
        build(scratch)


@contextmanager
def _elapsed_bar(description: str) -> Iterator[None]:
    """A bar of elapsed time for a step that reports no progress of its own.

    Shown on a terminal only, and only once the step has taken a second.
    """
    bar = tqdm(desc=description, bar_format="{desc}: {elapsed}", file=sys.stderr, leave=False,
               delay=1, disable=None)
    done = threading.Event()

    def tick() -> None:
        while not done.wait(0.5):
            bar.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
        bar.clear()  # tqdm clears only what it showed itself, not the refreshes above
        bar.close()


def prepare(recipe: Recipe, run: Run, source: str | None = None) -> Run:
    """Run every preparation stage that is not complete yet.

    `source` is where the corpus comes from instead of its official download: a local
    archive or folder, or a URL (what it may be depends on the recipe's corpus reader).
    """
    write_raw = reader_for(recipe)
    with holding(run):
        with atomic_file(run.recipe_file) as copy:
            shutil.copyfile(recipe.folder / RECIPE_FILE, copy)
        _stage("corpus", run.raw, lambda out: write_raw(recipe, source, run.downloads, out))
        _stage(
            "sentencepiece", run.sentencepiece_folder, lambda out: train_sentencepiece(recipe, run.raw, out)
        )
        _stage("encode", run.encoded, lambda out: encode(recipe, run, out))
        _stage("binarize", run.data_bin, lambda out: binarize(recipe, run.encoded, out))
    return run


def train_sentencepiece(recipe: Recipe, raw: Path, out: Path) -> None:
    """One joint model over both sides of the training text."""
    import sentencepiece as spm

    settings = recipe.subwords
    try:
        with _elapsed_bar("sentencepiece training"):
            spm.SentencePieceTrainer.train(
                input=[str(raw / f"train.{lang}") for lang in recipe.languages],
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
        for lang in recipe.languages:
            lines = read_lines(run.text(split, lang))
            pieces = tqdm(
                lines,
                desc=f"encode {split}.{lang}",
                unit=" lines",
                file=sys.stderr,
                leave=False,
                delay=1,
                disable=None,
            )
            lengths: List[int] = []
            write_lines(out / f"{split}.{lang}", _encoded(model, pieces, lengths))
            if split == "train" and lang == recipe.source_lang:  # what cutting long lines reads
                found = piece_statistics(lengths)
                (out / TRAINING_LENGTHS).write_text(json.dumps(found) + "\n", encoding="utf-8")


def _encoded(model, lines: Iterable[str], lengths: List[int]) -> Iterator[str]:
    """Each line as space-separated pieces; the number of pieces of each appended to `lengths`."""
    for line in lines:
        pieces = model.encode(line, out_type=str)
        lengths.append(len(pieces))
        yield " ".join(pieces)


def binarize(recipe: Recipe, encoded: Path, out: Path) -> None:
    """fairseq-preprocess, in this process."""
    from fairseq import options
    from fairseq_cli import preprocess

    parser = options.get_preprocessing_parser()
    with _elapsed_bar("binarize"):
        preprocess.main(parser.parse_args(fairseq_commands.preprocess_arguments(recipe, encoded, out)))
