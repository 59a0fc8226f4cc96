"""The decoding settings a command uses: what the user gave, else what the model comes with.

`score`, `translate` and `serve` all ask here, so that the same model gives the same
translations from each of them when no option is given. A run folder's model comes with its
recipe's [score] beam and length penalty; a model with nothing to say gets DecodingSettings'.
"""

import dataclasses
from pathlib import Path

from evo_mt.pipeline.run_folder import Run
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.search.decoding import DecodingSettings


def model_decoding(model: Path) -> DecodingSettings:
    """The settings `model` (a run folder, or a checkpoint file inside one) comes with."""
    model = Path(model)
    if not model.exists():
        raise UserError(f"{model}: no such run folder or checkpoint")
    run = Run((model.resolve().parent.parent) if model.is_file() else model.resolve())
    return run.recipe().score.decoding() if run.recipe_file.is_file() else DecodingSettings()


def decoding_settings(
    model: Path, *, beam: int | None = None, lenpen: float | None = None
) -> DecodingSettings:
    """`model_decoding(model)` with the options the user gave (None: not given) instead."""
    given = {name: value for name, value in (("beam", beam), ("lenpen", lenpen)) if value is not None}
    return dataclasses.replace(model_decoding(model), **given)
