"""`evo-mt train`: fairseq's trainer on a prepared run, resumable and optionally distributed.

fairseq-train runs in a child process with `--user-dir evo_mt`. It saves checkpoint_last.pt
at every epoch end (and every --save-interval-updates), so running the same command again
after an interruption resumes from there and stops where an uninterrupted run would.
"""

import logging
import subprocess
import sys
from pathlib import Path
from typing import List

import evo_mt
from evo_mt_cli.errors import UserError
from evo_mt_cli.prepare import Run
from evo_mt_cli.recipes import Recipe

logger = logging.getLogger("evo_mt_cli")

USER_DIR = str(Path(evo_mt.__file__).resolve().parent)


def fairseq_train_arguments(
    recipe: Recipe, run: Run, overrides: List[str], *, cpu: bool, distributed: bool
) -> List[str]:
    """fairseq-train's arguments: the recipe's options, then the user's overrides (which win)."""
    arguments = [
        str(run.data_bin),
        "--user-dir", USER_DIR,
        "--source-lang", recipe.source_lang,
        "--target-lang", recipe.target_lang,
        "--save-dir", str(run.checkpoints),
        "--log-file", str(run.root / "train.log"),
        "--log-format", "tqdm" if sys.stderr.isatty() else "simple",
        *recipe.train_arguments(),
    ]  # fmt: skip
    if cpu:
        arguments.append("--cpu")
    if distributed and (cpu or not _cuda()):
        # On CPU: gloo, and fairseq's own all-reduce (torch's DDP wrapper as fairseq calls it
        # asks for GPU device ids).
        arguments += ["--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp"]
    return arguments + list(overrides)


def launcher(
    nproc_per_node: int, nnodes: int, node_rank: int, master_addr: str, master_port: int
) -> List[str]:
    """The command that starts fairseq-train: plain python, or torchrun for several processes."""
    if nproc_per_node == 1 and nnodes == 1:
        return [sys.executable, "-m", "fairseq_cli.train"]
    return [
        sys.executable, "-m", "torch.distributed.run",
        f"--nproc-per-node={nproc_per_node}", f"--nnodes={nnodes}", f"--node-rank={node_rank}",
        f"--master-addr={master_addr}", f"--master-port={master_port}",
        "-m", "evo_mt_cli.distributed_train",
    ]  # fmt: skip


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
    """Train (or resume); returns the number of updates of checkpoint_last.pt."""
    _remove_unfinished_checkpoints(run)
    distributed = nproc_per_node > 1 or nnodes > 1
    arguments = fairseq_train_arguments(recipe, run, overrides, cpu=cpu, distributed=distributed)
    command = launcher(nproc_per_node, nnodes, node_rank, master_addr, master_port) + arguments
    logger.info("train: %s", " ".join(command))
    # fairseq logs to stdout; ours stays for results, so its log goes to stderr.
    done = subprocess.run(command, stdout=sys.stderr)
    if done.returncode != 0:
        raise UserError(f"training stopped with exit status {done.returncode}; see {run.root / 'train.log'}")
    return last_update(run)


def _remove_unfinished_checkpoints(run: Run) -> None:
    """Files a killed run left half-written: fairseq's *.pt.tmp and our *.pt.copying."""
    for pattern in ("*.pt.tmp", "*.pt.copying"):
        for leftover in run.checkpoints.glob(pattern):
            logger.info("train: removing %s, left by an interrupted run", leftover.name)
            leftover.unlink()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def last_update(run: Run) -> int | None:
    from evo_mt.checkpoints import read_checkpoint

    last = run.checkpoints / "checkpoint_last.pt"
    if not last.is_file():
        return None
    return read_checkpoint(last)["optimizer_history"][-1]["num_updates"]
