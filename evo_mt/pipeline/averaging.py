"""Averaging: the parameters of a run's newest N checkpoints, averaged into one.

fairseq saves a checkpoint at the end of each epoch (checkpointE.pt) and, with
--save-interval-updates, every so many updates (checkpoint_E_U.pt). "Newest" is by training
progress: every checkpoint of both kinds is ordered by the number of updates it was saved
at, which each one holds (read with its tensors mapped, not loaded). fairseq's
scripts/average_checkpoints.py is not part of the installed package; this does the same
with weights_only loading and an atomic write.
"""

import logging
import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Dict, List

import torch

from evo_mt.checkpoints import CheckpointError, read_checkpoint, saved_updates, updates_in
from evo_mt.pipeline.run_folder import Run
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.files import atomic_file

logger = logging.getLogger("evo_mt")
_EPOCH = re.compile(r"checkpoint(\d+)\.pt")
_UPDATE = re.compile(r"checkpoint_(\d+)_\d+\.pt")
# any: the newest checkpoints of either kind; epoch or update: of that kind only.
KINDS = ("any", "epoch", "update")
# Checkpoints averaged together are "far apart" when two that follow each other, or the newest
# of them and the newest checkpoint of the folder, were saved more than this many epochs apart:
# the last N epoch checkpoints are one epoch apart, update checkpoints closer.
FAR_EPOCHS = 1.5


def saved_at(name: str, updates: int | None) -> str:
    """A checkpoint's name and the updates it was saved at, as evo-mt says them."""
    return name if updates is None else f"{name} at {updates} updates"


@dataclass(frozen=True)
class Saved:
    """A checkpoint fairseq-train saved: `kind` epoch (at the end of `epoch`) or update (during it)."""

    path: Path
    kind: str
    epoch: int
    updates: int

    def __str__(self) -> str:
        return saved_at(self.path.name, self.updates)


def saved_checkpoints(folder: Path) -> List[Saved]:
    """Every epoch and update checkpoint in `folder`, oldest first by updates (at the same
    update count, the epoch checkpoint first)."""
    found = []
    for path in folder.glob("checkpoint*.pt"):
        if match := _EPOCH.fullmatch(path.name):
            kind = "epoch"
        elif match := _UPDATE.fullmatch(path.name):
            kind = "update"
        else:
            continue  # checkpoint_best, _last, _averaged: copies, not states of their own
        updates = saved_updates(path)
        if updates is None:
            raise CheckpointError(
                f"{path}: no update count in it (fairseq's optimizer_history); not saved by fairseq-train?"
            )
        found.append(Saved(path, kind, int(match[1]), updates))
    return sorted(found, key=lambda saved: (saved.updates, saved.kind != "epoch", saved.path.name))


def newest_checkpoints(saved: List[Saved], count: int, kind: str = "any") -> List[Saved]:
    """The `count` newest of `saved` (ordered as saved_checkpoints orders them) of `kind`,
    oldest first. Two checkpoints saved at the same update count hold one state (an update
    checkpoint at the end of an epoch and the epoch's checkpoint): only the first is kept."""
    if count < 1:
        raise OptionError("last", f"must be at least 1, not {count}")
    if kind not in KINDS:
        raise OptionError("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    states: Dict[int, Saved] = {}
    for checkpoint in saved:
        if kind in ("any", checkpoint.kind):
            states.setdefault(checkpoint.updates, checkpoint)
    return list(states.values())[-count:]


def epoch_updates(saved: List[Saved]) -> float:
    """About the updates of one epoch: the newest epoch checkpoint's count over its epoch (the
    newest update checkpoint's, a little less than an epoch, in a folder without epoch checkpoints)."""
    epochs = [checkpoint for checkpoint in saved if checkpoint.kind == "epoch"] or saved
    return epochs[-1].updates / max(epochs[-1].epoch, 1)


def cautions(chosen: List[Saved], saved: List[Saved]) -> List[str]:
    """What makes averaging `chosen` (the newest of `saved`, perhaps of one kind) doubtful: kinds
    mixed, or checkpoints far apart (FAR_EPOCHS), each said with the files and their updates."""
    found = []
    if len({checkpoint.kind for checkpoint in chosen}) > 1:
        found.append("mixed kinds: epoch and update checkpoints (--kind epoch|update averages one kind)")
    epoch = epoch_updates(saved)
    sequence = chosen + [saved[-1]] if saved[-1].updates > chosen[-1].updates else chosen
    for older, newer in pairwise(sequence):
        if newer.updates - older.updates > FAR_EPOCHS * epoch:
            what = "far apart" if newer in chosen else "behind the newest checkpoint"
            found.append(
                f"{what}: {newer} is {newer.updates - older.updates} updates after {older.path.name}, "
                f"more than {FAR_EPOCHS:g} epochs of about {epoch:.0f} updates"
            )
    return found


def sources_text(averaged_from: List[Any]) -> str:
    """The checkpoints an averaged checkpoint was made of (its `averaged_from`), with their
    update counts; an average written before evo-mt kept them holds names only."""
    return " + ".join(
        saved_at(source["checkpoint"], source["updates"]) if isinstance(source, dict) else str(source)
        for source in averaged_from
    )


def averaged_from(checkpoint: Path) -> List[Any] | None:
    """The `averaged_from` of a checkpoint (None: not an average), its tensors mapped, not read."""
    return read_checkpoint(checkpoint, mapped=True).get("averaged_from")


def average_checkpoints(paths: List[Path], output: Path) -> Path:
    """Write the element-wise mean of the models in `paths` (with the newest one's config).

    The output's `averaged_from` names each checkpoint and the updates it was saved at."""
    total: Dict[str, torch.Tensor] = {}
    newest: dict = {}
    sources = []
    for path in paths:
        newest = read_checkpoint(path)
        sources.append({"checkpoint": path.name, "updates": updates_in(newest)})
        model = newest["model"]
        if total and model.keys() != total.keys():
            raise UserError(
                f"{path}: its parameters differ from {paths[0]}; checkpoints of different models?"
            )
        for name, tensor in model.items():
            if name in total and total[name].shape != tensor.shape:
                raise UserError(
                    f"{path}: {name} has shape {tuple(tensor.shape)}, not {tuple(total[name].shape)}"
                )
            # Sums in float64 so that averaging many checkpoints loses nothing to rounding.
            total[name] = total.get(name, 0) + tensor.double() if tensor.is_floating_point() else tensor
    newest["model"] = {
        name: (summed / len(paths)).to(newest["model"][name].dtype) if summed.is_floating_point() else summed
        for name, summed in total.items()
    }
    newest["last_optimizer_state"] = None  # not needed to translate, and large
    newest["averaged_from"] = sources
    # Through a file object: torch.save's own opening reports no errno (disk full, no right).
    with atomic_file(output) as scratch, open(scratch, "wb") as f:
        torch.save(newest, f)
    return output


@dataclass(frozen=True)
class Averaged:
    """What average_run did: the checkpoints it averaged, oldest first, into `output`, and
    what makes that average doubtful (`cautions`)."""

    sources: List[Saved]
    output: Path
    cautions: List[str]

    def line(self) -> str:
        """One line for the user: the files and their updates, and any caution."""
        text = f"averaged {' + '.join(map(str, self.sources))} into {self.output}"
        return "; ".join([text, *self.cautions])


def average_run(run: Run, last: int | None = None, kind: str = "any") -> Averaged:
    """Average a run's `last` newest checkpoints of `kind` (KINDS; default: the recipe's
    `average_last` of either kind) into its checkpoint_averaged.pt."""
    recipe = run.recipe()  # a clear error when this is not a run folder
    count = last if last is not None else recipe.average_last
    saved = saved_checkpoints(run.checkpoints)
    chosen = newest_checkpoints(saved, count, kind)
    which = "epoch or update" if kind == "any" else kind
    if not chosen:
        raise UserError(f"{run.checkpoints}: no {which} checkpoints to average; train first")
    if len(chosen) < count:
        if last is not None:
            raise OptionError(
                "last", f"{last}: {run.checkpoints} holds only {len(chosen)} {which} checkpoints to average"
            )
        logger.warning(
            "average: the recipe's average_last is %d, but there are only %d checkpoints; averaging those",
            count, len(chosen),
        )
    output = average_checkpoints([checkpoint.path for checkpoint in chosen], run.averaged)
    return Averaged(chosen, output, cautions(chosen, saved))
