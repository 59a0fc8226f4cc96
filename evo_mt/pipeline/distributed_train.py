"""fairseq-train as a torchrun worker: rank and world size come from torchrun's environment.

fairseq 0.12 reads torchrun's variables only when its default world size (the number of
GPUs) is already above one, and then takes the rank modulo the GPU count: on CPU it would
train each process alone. So they are passed to it explicitly.
"""

import os
import sys

from fairseq_cli.train import cli_main

# Running this module imports the evo_mt package first, so fairseq's --user-dir takes the
# plugin as loaded and skips its models/ folder: the plugin is imported here instead.
import evo_mt.models  # noqa: F401
from evo_mt.pipeline.fairseq_commands import torchrun_worker_arguments


def main() -> None:
    sys.argv += torchrun_worker_arguments(os.environ)
    cli_main()


if __name__ == "__main__":
    main()
