"""fairseq-train as a torchrun worker: rank and world size come from torchrun's environment.

fairseq 0.12 reads torchrun's variables only when its default world size (the number of
GPUs) is already above one, and then takes the rank modulo the GPU count: on CPU it would
train each process alone. So they are passed to it explicitly.
"""

import os
import sys

from fairseq_cli.train import cli_main


def main() -> None:
    env = os.environ
    sys.argv += [
        "--distributed-init-method", "env://",
        "--distributed-world-size", env["WORLD_SIZE"],
        "--distributed-rank", env["RANK"],
        "--device-id", env.get("LOCAL_RANK", "0"),
        "--distributed-no-spawn",
    ]  # fmt: skip
    cli_main()


if __name__ == "__main__":
    main()
