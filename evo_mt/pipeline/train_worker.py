"""fairseq-train as evo-mt runs it: known deprecation warnings silenced, plugin loaded with
evo-mt's fairseq fixes, and under torchrun, rank and world size taken from torchrun's
environment.

fairseq 0.12 reads torchrun's variables only when its default world size (the number of
GPUs) is already above one, and then takes the rank modulo the GPU count: on CPU it would
train each process alone. So they are passed to it explicitly.
"""

import os
import sys

from evo_mt.pipeline.deprecations import silence_known_deprecations

silence_known_deprecations()

import torch.distributed  # noqa: E402
from fairseq_cli.train import cli_main  # noqa: E402

# Running this module imports the evo_mt package first, so fairseq's --user-dir takes the
# plugin as loaded and skips its models/ folder: the plugin is imported here instead, with
# the fixes evo-mt's own commands run fairseq with.
from evo_mt.models import fairseq_fixes  # noqa: E402
from evo_mt.pipeline.fairseq_commands import torchrun_worker_arguments  # noqa: E402

fairseq_fixes.apply()


def main() -> None:
    if "WORLD_SIZE" in os.environ:
        sys.argv += torchrun_worker_arguments(os.environ)
    cli_main()
    # fairseq leaves the process group to the interpreter's exit, where gloo's threads can be
    # torn down mid-work ("terminate called without an active exception", SIGABRT after a
    # finished training, seen once on 2 cores); PyTorch asks for it to be destroyed first.
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
