"""Training: fairseq's trainer on a prepared run, resumable and optionally distributed.

fairseq-train runs in a child process with `--user-dir evo_mt`. It saves checkpoint_last.pt
at every epoch end (and every --save-interval-updates), so running the same command again
after an interruption resumes from there and stops where an uninterrupted run would.
Its output is read line by line: all of it is appended to train.log, and what a person
watching needs (progress, one line per epoch) is shown by evo_mt.pipeline.train_display.
"""

import collections
import logging
import os
import shlex
import subprocess
import sys
from typing import List

from evo_mt.pipeline import fairseq_commands
from evo_mt.pipeline.recipes import Recipe
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.run_lock import holding
from evo_mt.pipeline.train_display import TrainDisplay
from evo_mt.pipeline.train_log import COMMAND_LINE
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.files import make_folder

logger = logging.getLogger("evo_mt")
# Lines of fairseq's output shown when it fails (its error, or the end of its traceback).
TAIL_ON_FAILURE = 20


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
    verbose: bool = False,
) -> int | None:
    """Train (or resume); returns the number of updates of the run's last checkpoint.

    `overrides` are fairseq-train options (`["--max-epoch", "2"]`) that win over the recipe's.
    Progress goes to stderr (a bar on a terminal, plain lines otherwise); `verbose` shows
    fairseq's whole log there instead. Either way all of it goes to the run's train.log.
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
        make_folder(run.root)
        display = TrainDisplay(sys.stderr, terminal=sys.stderr.isatty(), verbose=verbose)
        # Unbuffered: each line is shown as fairseq writes it.
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        recent = collections.deque(maxlen=TAIL_ON_FAILURE)
        with open(run.train_log, "a", encoding="utf-8") as log:
            log.write(f"{COMMAND_LINE}{shlex.join(command)}\n")
            child = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment,
                text=True, errors="replace",
            )
            try:
                for line in child.stdout:
                    log.write(line)
                    log.flush()
                    recent.append(line)
                    display.feed(line)
            finally:
                display.close()
                returncode = child.wait()
        if returncode != 0:
            if not verbose:
                sys.stderr.writelines(recent)
            raise UserError(f"training stopped with exit status {returncode}; see {run.train_log}")
    return last_update(run)


def last_update(run: Run) -> int | None:
    """The number of updates of the run's checkpoint_last.pt (None before the first one)."""
    from evo_mt.checkpoints import saved_updates

    return saved_updates(run.last) if run.last.is_file() else None
