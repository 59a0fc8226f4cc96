"""Translation speed of whole processes: `evo-mt translate` against fairseq-interactive.

Both run as separate processes on the same checkpoint, beam and input, start-up included, as
a user would run them.
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from evo_mt.evidence.measures import BEAM
from evo_mt.pipeline.errors import OptionError, UserError
from evo_mt.pipeline.fairseq_commands import interactive_command
from evo_mt.pipeline.run_folder import find_checkpoint


def evo_mt_translate_command(checkpoint: Path, beam: int) -> List[str]:
    return [sys.executable, "-m", "evo_mt_cli.app", "translate", str(checkpoint), "--beam", str(beam)]


def process_seconds(name: str, command: List[str], stdin_path: str | Path) -> float:
    """Wall-clock seconds of one run of `command` reading `stdin_path`, start-up included."""
    with open(stdin_path, "rb") as stdin:
        start = time.perf_counter()
        done = subprocess.run(command, stdin=stdin, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise UserError(f"{name} failed: {done.stderr.strip().splitlines()[-1:]}")
    return elapsed


def translation_speed(run_or_checkpoint: Path, lines_file: Path, beam: int = BEAM, repeats: int = 2) -> Dict:
    """Whole-process sentences/s of `evo-mt translate` and fairseq-interactive on one input.

    fairseq-interactive translates one line at a time unless told to buffer; both ways are
    timed, since the default is how it is usually run and the buffered one is its best.
    """
    run, checkpoint = find_checkpoint(run_or_checkpoint)
    try:
        count = len(lines_file.read_text(encoding="utf-8").splitlines())
    except OSError as error:
        raise OptionError("input", f"{lines_file}: {error.strerror}") from error
    commands = {
        "evo_mt_translate": evo_mt_translate_command(checkpoint, beam),
        "fairseq_interactive": interactive_command(run, checkpoint, beam=beam, buffered=False),
        "fairseq_interactive_batched": interactive_command(run, checkpoint, beam=beam, buffered=True),
    }
    rates = {}
    for name, command in commands.items():
        times = [process_seconds(name, command, lines_file) for _ in range(repeats)]
        rates[name] = count / statistics.median(times)
    return {
        "sentences": count,
        "beam": beam,
        "sentences_per_s": rates,
        "speedup": rates["evo_mt_translate"] / rates["fairseq_interactive"],
        "speedup_vs_batched": rates["evo_mt_translate"] / rates["fairseq_interactive_batched"],
    }
