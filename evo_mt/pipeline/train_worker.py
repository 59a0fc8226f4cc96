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


if __name__ == "__main__":
    main()
