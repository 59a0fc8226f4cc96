"""Averaging: the parameters of the last N checkpoints of a run, averaged into one.

fairseq's scripts/average_checkpoints.py is not part of the installed package; this does
the same with weights_only loading and an atomic write.
"""

import logging
import re
from pathlib import Path
from typing import Dict, List, Tuple

import torch

from evo_mt.checkpoints import read_checkpoint
from evo_mt.pipeline.run_folder import Run
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.files import atomic_file

logger = logging.getLogger("evo_mt")
_EPOCH = re.compile(r"checkpoint(\d+)\.pt$")
_UPDATE = re.compile(r"checkpoint_\d+_(\d+)\.pt$")


def last_checkpoints(folder: Path, count: int) -> List[Path]:
    """The `count` newest update checkpoints if there are any, else epoch checkpoints, oldest first."""
    if count < 1:
        raise OptionError("last", f"must be at least 1, not {count}")
    for pattern in (_UPDATE, _EPOCH):
        found = sorted(
            (int(m.group(1)), path)
            for path in folder.glob("checkpoint*.pt")
            if (m := pattern.search(path.name))
        )
        if found:
            return [path for _, path in found[-count:]]
    raise UserError(f"{folder}: no epoch or update checkpoints to average; train first")


def average_checkpoints(paths: List[Path], output: Path) -> Path:
    """Write the element-wise mean of the models in `paths` (with the newest one's config)."""
    total: Dict[str, torch.Tensor] = {}
    newest: dict = {}
    for path in paths:
        newest = read_checkpoint(path)
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
    newest["averaged_from"] = [p.name for p in paths]
    # Through a file object: torch.save's own opening reports no errno (disk full, no right).
    with atomic_file(output) as scratch, open(scratch, "wb") as f:
        torch.save(newest, f)
    return output


def average_run(run: Run, last: int | None = None) -> Tuple[List[Path], Path]:
    """Average a run's last `last` checkpoints (default: the recipe's `average_last`) into its
    checkpoint_averaged.pt; returns (the checkpoints averaged, the averaged checkpoint)."""
    recipe = run.recipe()  # a clear error when this is not a run folder
    count = last if last is not None else recipe.average_last
    paths = last_checkpoints(run.checkpoints, count)
    if len(paths) < count:
        if last is not None:
            raise OptionError(
                "last", f"{last}: {run.checkpoints} holds only {len(paths)} checkpoints to average"
            )
        logger.warning(
            "average: the recipe's average_last is %d, but there are only %d checkpoints; averaging those",
            count, len(paths),
        )
    return paths, average_checkpoints(paths, run.averaged)
