"""The run folder: every path and checkpoint name a run has, in one place.

    runs/<name>/
      recipe.toml      the recipe it was prepared and trained with (a copy)
      downloads/       corpus archives, and what was unpacked from them
      raw/             plain text, {train,valid,test}.{source,target}: what is scored against
      sentencepiece/   spm.model, one joint model for both languages
      encoded/         the raw text as sentencepiece pieces; training-source-pieces.json
      data-bin/        fairseq's binarized data and its dictionaries
      checkpoints/     fairseq's checkpoints, and checkpoint_averaged.pt
      train.log        fairseq's training log, every line of it
      tensorboard/     TensorBoard event files of the training (fairseq's --tensorboard-logdir)
      scores/          <split>.<checkpoint>.hyp and .json
      .lock            held by the one `prepare` or `train` working on the folder
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

from evo_mt.pipeline.recipes import RECIPE_FILE, Recipe, load_recipe
from evo_mt.runtime.base.errors import UserError

SPLITS = ("train", "valid", "test")
TRAINING_LENGTHS = "training-source-pieces.json"  # in encoded/: what piece_statistics gives
AVERAGED = "checkpoint_averaged.pt"
BEST = "checkpoint_best.pt"
LAST = "checkpoint_last.pt"
# What a run translates with when no checkpoint is named: the first of these that exists.
DEFAULT_CHECKPOINTS = (AVERAGED, BEST, LAST)
# Half-written checkpoints a killed run can leave: fairseq's own temporary files, and the
# copies to checkpoint_last/best.pt that evo_mt.models.fairseq_fixes makes atomic.
UNFINISHED_CHECKPOINTS = ("*.pt.tmp", "*.pt.copying")


def piece_statistics(lengths: Iterable[int]) -> Dict[str, int] | None:
    """The longest and the 90th-percentile of sentence lengths in subword pieces (None: none)."""
    found = sorted(lengths)
    if not found:
        return None
    return {"longest": found[-1], "p90": found[int(0.9 * (len(found) - 1))]}


@dataclass(frozen=True)
class Run:
    """The folder of one run: everything later commands need."""

    root: Path

    @classmethod
    def for_recipe(cls, recipe: Recipe, workdir: Path | None = None) -> "Run":
        """The run folder of `recipe`: `workdir`, or runs/<recipe name> by default."""
        return cls((workdir or Path("runs") / recipe.name).resolve())

    @property
    def recipe_file(self) -> Path:
        return self.root / RECIPE_FILE

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def sentencepiece_folder(self) -> Path:
        return self.root / "sentencepiece"

    @property
    def sentencepiece(self) -> Path:
        return self.sentencepiece_folder / "spm.model"

    @property
    def encoded(self) -> Path:
        return self.root / "encoded"

    @property
    def data_bin(self) -> Path:
        return self.root / "data-bin"

    @property
    def prepared(self) -> Tuple[Path, ...]:
        """The folders `prepare` writes, in the order it writes them."""
        return (self.raw, self.sentencepiece_folder, self.encoded, self.data_bin)

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def averaged(self) -> Path:
        return self.checkpoints / AVERAGED

    @property
    def last(self) -> Path:
        return self.checkpoints / LAST

    @property
    def train_log(self) -> Path:
        return self.root / "train.log"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def scores(self) -> Path:
        return self.root / "scores"

    def training_source_pieces(self) -> Dict[str, int] | None:
        """Subword pieces in the source sentences the run trained on: the longest, and the
        90th percentile (None: not prepared). A model translates sentences up to about the
        longest; the runtime cuts longer ones into pieces of about the 90th percentile.

        `evo-mt prepare` keeps them in encoded/ (TRAINING_LENGTHS); a run prepared before
        that has them counted from its encoded training text."""
        kept = self.encoded / TRAINING_LENGTHS
        if kept.is_file():
            return json.loads(kept.read_text(encoding="utf-8"))
        source = self.encoded / f"train.{self.recipe().source_lang}"
        if not source.is_file():
            return None
        with open(source, encoding="utf-8") as lines:
            return piece_statistics(len(line.split()) for line in lines)

    def text(self, split: str, language: str) -> Path:
        """The raw text of one side of a split."""
        return self.raw / f"{split}.{language}"

    def score_files(self, split: str, checkpoint: Path, variant: str = "") -> Tuple[Path, Path]:
        """(hypotheses, JSON report) of `checkpoint` on `split`; a `variant` ("int8", "fairseq")
        of the decoding has files of its own, beside the default's."""
        stem = f"{split}.{Path(checkpoint).stem}" + (f".{variant}" if variant else "")
        return self.scores / f"{stem}.hyp", self.scores / f"{stem}.json"

    def unfinished_checkpoints(self) -> List[Path]:
        return [path for pattern in UNFINISHED_CHECKPOINTS for path in self.checkpoints.glob(pattern)]

    def recipe(self) -> Recipe:
        if not self.root.exists():
            raise UserError(f"{self.root}: no such run folder")
        if not self.root.is_dir():
            raise UserError(f"{self.root}: a file, not a run folder")
        if not self.recipe_file.is_file():
            raise UserError(f"{self.root} is not a run folder (no {RECIPE_FILE}); run `evo-mt train` first")
        return load_recipe(self.root)

    def checkpoint(self, name_or_path: str | Path | None = None) -> Path:
        """A checkpoint of this run.

        None: the default (averaged, else best, else last). Otherwise a checkpoint file, or
        the name of one in this run's checkpoints/ folder (`checkpoint3.pt`).
        """
        self.recipe()  # a clear error when this is not a run folder
        if name_or_path is None:
            for name in DEFAULT_CHECKPOINTS:
                if (self.checkpoints / name).is_file():
                    return self.checkpoints / name
            raise UserError(f"{self.root}: no checkpoint yet; train first (`evo-mt train`)")
        for candidate in (Path(name_or_path), self.checkpoints / name_or_path):
            if candidate.is_file():
                return candidate
        raise UserError(f"{name_or_path}: no such checkpoint (neither a file nor in {self.checkpoints})")


def find_checkpoint(run_or_checkpoint: str | Path) -> Tuple[Run, Path]:
    """(run, checkpoint) from a run folder (its default checkpoint) or a checkpoint file in one."""
    path = Path(run_or_checkpoint)
    if not path.exists():
        raise UserError(f"{path}: no such run folder or checkpoint")
    if path.is_file():
        # A checkpoint lies in <run>/checkpoints/: its run holds the data it needs.
        run = Run(path.resolve().parent.parent)
        if not run.recipe_file.is_file():
            raise UserError(
                f"{path}: not in the checkpoints/ folder of a run, whose data (dictionaries, "
                "sentencepiece model) it needs; give the run folder and --checkpoint"
            )
        return run, path
    run = Run(path.resolve())
    return run, run.checkpoint()
