"""Training: fairseq's trainer on a prepared run, resumable and optionally distributed.

fairseq-train runs in a child process with `--user-dir evo_mt`. It saves checkpoint_last.pt
at every epoch end (and every --save-interval-updates), so running the same command again
after an interruption resumes from there and stops where an uninterrupted run would.
"""

import logging
import subprocess
import sys
from typing import List

from evo_mt.pipeline import fairseq_commands
from evo_mt.pipeline.errors import UserError
from evo_mt.pipeline.recipes import Recipe
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.run_lock import holding

logger = logging.getLogger("evo_mt")


def train(
    recipe: Recipe,
    run: Run,
    overrides: List[str],
    *,
    cpu: bool = False,
    nproc_per_node: int = 1,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str = "127.0.0.1",
    master_port: int = 29500,
) -> int | None:
    """Train (or resume); returns the number of updates of the run's last checkpoint.

    `overrides` are fairseq-train options (`["--max-epoch", "2"]`) that win over the recipe's.
    """
    import torch

    with holding(run):
        for leftover in run.unfinished_checkpoints():
            logger.info("train: removing %s, left by an interrupted run", leftover.name)
            leftover.unlink()
        distributed = nproc_per_node > 1 or nnodes > 1
        arguments = fairseq_commands.train_arguments(
            recipe, run, overrides, cpu=cpu, distributed=distributed, cuda=torch.cuda.is_available()
        )
        command = (
            fairseq_commands.train_launcher(nproc_per_node, nnodes, node_rank, master_addr, master_port)
            + arguments
        )
        logger.info("train: %s", " ".join(command))
        # fairseq logs to stdout; ours stays for results, so its log goes to stderr.
        done = subprocess.run(command, stdout=sys.stderr)
        if done.returncode != 0:
            raise UserError(f"training stopped with exit status {done.returncode}; see {run.train_log}")
    return last_update(run)


def last_update(run: Run) -> int | None:
    """The number of updates of the run's checkpoint_last.pt (None before the first one)."""
    from evo_mt.checkpoints import read_checkpoint

    if not run.last.is_file():
        return None
    return read_checkpoint(run.last)["optimizer_history"][-1]["num_updates"]
