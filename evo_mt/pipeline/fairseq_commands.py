"""Every fairseq command line evo-mt runs, built in one place, with the plugin's --user-dir.

fairseq's own commands do the work (fairseq-preprocess, fairseq-train, fairseq-interactive);
this module only says which options they get.
"""

import json
import sys
from pathlib import Path
from typing import List, Mapping

from evo_mt.pipeline.recipes import Recipe
from evo_mt.pipeline.run_folder import Run
from evo_mt.runtime.search.decoding import DecodingSettings

# `--user-dir evo_mt`: fairseq imports the package and its models/ folder (the plugin).
USER_DIR = str(Path(__file__).resolve().parents[1])
# Hypotheses may be up to a x the source length + b pieces (fairseq's --max-len-a/-b).
MAX_LEN_A = DecodingSettings.max_len_a
MAX_LEN_B = DecodingSettings.max_len_b
# fairseq-train's log: one JSON record per --log-interval updates and per epoch, which
# evo_mt.pipeline.train_log reads (for the progress display, `evo-mt plot` and `evo-mt runs`).
LOG_FORMAT = "json"


def preprocess_arguments(recipe: Recipe, encoded: Path, out: Path) -> List[str]:
    """fairseq-preprocess: the three splits of `encoded`, one dictionary for both languages."""
    return [
        "--source-lang", recipe.source_lang, "--target-lang", recipe.target_lang,
        "--trainpref", str(encoded / "train"), "--validpref", str(encoded / "valid"),
        "--testpref", str(encoded / "test"), "--destdir", str(out),
        "--joined-dictionary", "--workers", "2",
    ]


def train_arguments(
    recipe: Recipe, run: Run, overrides: List[str], *, cpu: bool, distributed: bool, cuda: bool
) -> List[str]:
    """fairseq-train's arguments: the recipe's options, then the user's overrides (which win).

    With --eval-bleu (recipe or overrides), validation BLEU is computed on detokenized text
    (sentencepiece removed) with the recipe's beam and length penalty and evo-mt's length limits.
    """
    arguments = [
        str(run.data_bin),
        "--user-dir", USER_DIR,
        "--source-lang", recipe.source_lang,
        "--target-lang", recipe.target_lang,
        "--save-dir", str(run.checkpoints),
        "--log-format", LOG_FORMAT,
        "--tensorboard-logdir", str(run.tensorboard),
    ]
    if "--eval-bleu" in recipe.train_arguments() + list(overrides):
        arguments += eval_bleu_arguments(recipe)
    arguments += recipe.train_arguments()
    if cpu:
        arguments.append("--cpu")
    if distributed and (cpu or not cuda):
        # On CPU: gloo, and fairseq's own all-reduce (torch's DDP wrapper as fairseq calls it
        # asks for GPU device ids).
        arguments += ["--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp"]
    return arguments + list(overrides)


def eval_bleu_arguments(recipe: Recipe) -> List[str]:
    """How fairseq's translation task computes validation BLEU, as `evo-mt score` would."""
    generation = {
        "beam": recipe.score.beam, "lenpen": recipe.score.lenpen,
        "max_len_a": MAX_LEN_A, "max_len_b": MAX_LEN_B,
    }
    return ["--eval-bleu-remove-bpe", "sentencepiece", "--eval-bleu-args", json.dumps(generation)]


def train_launcher(
    nproc_per_node: int, nnodes: int, node_rank: int, master_addr: str, master_port: int
) -> List[str]:
    """The command that starts fairseq-train: plain python, or torchrun for several processes."""
    worker = ["-m", "evo_mt.pipeline.train_worker"]
    if nproc_per_node == 1 and nnodes == 1:
        return [sys.executable, *worker]
    return [
        sys.executable, "-m", "torch.distributed.run",
        f"--nproc-per-node={nproc_per_node}", f"--nnodes={nnodes}", f"--node-rank={node_rank}",
        f"--master-addr={master_addr}", f"--master-port={master_port}",
        *worker,
    ]


def torchrun_worker_arguments(env: Mapping[str, str]) -> List[str]:
    """What fairseq-train needs to hear of torchrun's environment (see train_worker)."""
    return [
        "--distributed-init-method", "env://",
        "--distributed-world-size", env["WORLD_SIZE"],
        "--distributed-rank", env["RANK"],
        "--device-id", env.get("LOCAL_RANK", "0"),
        "--distributed-no-spawn",
    ]


def interactive_command(run: Run, checkpoint: Path, *, beam: int, buffered: bool) -> List[str]:
    """fairseq-interactive on a run's checkpoint, decoding as evo-mt does (sentencepiece, limits).

    `buffered` reads 1,024 lines at a time in batches of 64 (then it also sorts by length);
    otherwise it translates one line at a time, as it does by default.
    """
    recipe = run.recipe()
    command = [
        # fairseq's own command, asking the plugin for evo-mt's fixes (the checkpoint allowlist).
        "env", "EVO_MT_FAIRSEQ_FIXES=1", sys.executable, "-m", "fairseq_cli.interactive",
        str(run.data_bin), "--user-dir", USER_DIR,
        "--path", str(checkpoint),
        "--source-lang", recipe.source_lang, "--target-lang", recipe.target_lang,
        "--bpe", "sentencepiece", "--sentencepiece-model", str(run.sentencepiece), "--beam", str(beam),
        "--max-len-a", str(MAX_LEN_A), "--max-len-b", str(MAX_LEN_B),
    ]
    return command + (["--buffer-size", "1024", "--batch-size", "64"] if buffered else [])
