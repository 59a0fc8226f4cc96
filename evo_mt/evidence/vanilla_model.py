"""A vanilla evo-mt checkpoint as fairseq's own Transformer, and converted for CTranslate2.

With every chain off (`--ea-chains ''`) the EA-Transformer is fairseq's Transformer: the same
modules and weight names. Only the architecture's name and the `ea_*` options say otherwise,
and CTranslate2's fairseq converter accepts the models it knows by name. So the copy written
here carries, in the legacy "args" the converter reads, the options of a `transformer`
without `ea_*`; its weights are untouched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import torch

from evo_mt.architecture.config import flat_options
from evo_mt.architecture.options import EvolvingOptions, ea_defaults
from evo_mt.checkpoints import read_checkpoint
from evo_mt.models.fairseq_fixes import OPT_IN
from evo_mt.pipeline.fairseq_commands import USER_DIR
from evo_mt.pipeline.run_folder import Run
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.files import atomic_file


def as_fairseq_transformer(checkpoint: Path, output: Path) -> Path:
    """Write `checkpoint` (a vanilla EA-Transformer) as a fairseq `transformer` checkpoint."""
    state = read_checkpoint(checkpoint)
    fields = vars(flat_options(state["cfg"]["model"]))
    checked = argparse.Namespace(**fields)
    ea_defaults(checked)
    if EvolvingOptions.from_config(checked).chains:
        raise OptionError(
            "vanilla",
            f"{checkpoint} evolves attention ({checked.ea_chains}); give a run trained with --ea-chains ''",
        )
    # The converter reads the options the legacy way: one argparse.Namespace in "args" with
    # the task's options and the model's under their flat names.
    task = state["cfg"].get("task") or {}
    merged = {**(task if isinstance(task, dict) else vars(task)), **fields}
    options = {name: value for name, value in merged.items() if not name.startswith("ea_")}
    options.update(arch="transformer", _name="transformer", task="translation")
    state["args"] = argparse.Namespace(**options)
    with atomic_file(output) as scratch:
        torch.save(state, scratch)
    return output


def convert_to_ctranslate2(run: Run, checkpoint: Path, output: Path) -> Path:
    """CTranslate2's model folder of a vanilla checkpoint (fp32), by its fairseq converter."""
    output.mkdir(parents=True, exist_ok=True)
    transformer = as_fairseq_transformer(checkpoint, output / "transformer.pt")
    recipe = run.recipe()
    converted = output / "model"
    # The converter loads with weights_only=True, and the stored configuration holds an
    # argparse.Namespace: the user dir, asked for evo-mt's fixes, allowlists it.
    command = [
        sys.executable, "-m", "ctranslate2.converters.fairseq", "--model_path", str(transformer),
        "--data_dir", str(run.data_bin), "--source_lang", recipe.source_lang,
        "--target_lang", recipe.target_lang, "--user_dir", USER_DIR,
        "--output_dir", str(converted), "--force",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, OPT_IN: "1"})
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise UserError(f"CTranslate2's converter failed on {transformer}: {last[0]}")
    return converted
