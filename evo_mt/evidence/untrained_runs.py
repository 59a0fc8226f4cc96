"""Run folders holding an untrained model of a given size, for speed measurements.

Speed does not need a trained model, only its shape; an untrained pair (evolving attention
and vanilla, the same size and seed) never ends a sentence early, so both decode every
sentence to its maximum length and the ratio of their times measures cost per step alone.
Each folder borrows a trained run's recipe, sentencepiece model and dictionaries.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Tuple

import torch

from evo_mt.checkpoints import read_checkpoint
from evo_mt.evidence.model_cost import SIZES
from evo_mt.pipeline.run_folder import LAST, Run
from evo_mt.runtime.base.errors import OptionError


def untrained_pair(template: Run, size: str, folder: Path, seed: int = 1) -> Tuple[Run, Run]:
    """(EA run, vanilla run) under `folder`, each with an untrained `size` checkpoint."""
    if size not in SIZES:
        raise OptionError("size", f"must be one of {', '.join(SIZES)}, not {size!r}")
    ea = _untrained(template, size, folder / "ea", vanilla=False, seed=seed)
    return ea, _untrained(template, size, folder / "vanilla", vanilla=True, seed=seed)


def _untrained(template: Run, size: str, root: Path, vanilla: bool, seed: int) -> Run:
    from fairseq.data import Dictionary

    from evo_mt.models.factory import build_model

    run = Run(root)
    recipe = template.recipe()
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template.recipe_file, run.recipe_file)
    shutil.copytree(template.sentencepiece_folder, run.sentencepiece_folder, dirs_exist_ok=True)
    run.data_bin.mkdir(exist_ok=True)
    for language in recipe.languages:
        shutil.copyfile(template.data_bin / f"dict.{language}.txt", run.data_bin / f"dict.{language}.txt")
    dictionary = Dictionary.load(str(run.data_bin / f"dict.{recipe.source_lang}.txt"))
    arch, options = SIZES[size]
    model = build_model(
        arch, dictionary, vanilla=vanilla, seed=seed, share_all_embeddings=True, **options
    ).eval()
    cfg = dataclasses.asdict(model.cfg)
    cfg["_name"] = "transformer" if vanilla else "ea_transformer"
    cfg.update({key: value for key, value in vars(model.cfg).items() if key.startswith("ea_")})
    if vanilla:  # as a run trained with `--ea-chains ''` stores it
        cfg["ea_chains"] = ""
    # The trained run's checkpoint with the model swapped: fairseq (its generator,
    # fairseq-interactive) then loads it as any training checkpoint, the task's options included.
    state = read_checkpoint(template.checkpoint())
    state["cfg"]["model"] = cfg
    state["cfg"]["task"]["data"] = str(run.data_bin)
    state.update(model=model.state_dict(), last_optimizer_state=None)
    state.pop("averaged_from", None)
    torch.save(state, run.checkpoints / LAST)
    return run
