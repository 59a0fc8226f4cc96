"""`evo-mt bench ray`: an exported folder translated by one process against Ray Data's workers.

Whole `evo-mt translate DIR` processes on the same lines, taking turns: one process at its
default layout (a one-thread worker per core), and `--ray --workers N` (N Ray workers of one
thread each, on a local Ray instance the command starts and stops, so that its start-up is
counted, as a user's run would count it). The best and the median of `repeats` rounds, lines
per second, and whether Ray's output is the one process's.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Dict, List

from evo_mt.evidence.translate_speed import evo_mt_translate, run_process
from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.base.lines import read_lines
from evo_mt.runtime.model.sessions import available_cores

ONE_PROCESS = "evo-mt translate DIR"


def ray_throughput(
    model: Path, lines_file: Path, *, workers: int = 2, beam: int = 5, repeats: int = 3
) -> Dict:
    """Wall seconds of one process and of Ray's `workers`, and their outputs compared."""
    lines = read_lines(lines_file)
    if not lines:
        raise OptionError("input", f"{lines_file} has no lines to translate")
    ray_name = f"evo-mt translate DIR --ray --workers {workers}"
    commands = {
        ONE_PROCESS: evo_mt_translate(model, beam),
        ray_name: evo_mt_translate(model, beam, "--ray", "--workers", str(workers)),
    }
    # A local instance each time: a cluster RAY_ADDRESS names would measure another machine.
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    finished: Dict[str, List] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            finished[name].append(run_process(name, command, lines_file, env))
    expected = {f.stdout for f in finished[ONE_PROCESS]}
    rows = []
    for name, runs in finished.items():
        seconds = [f.seconds for f in runs]
        rows.append({
            "command": name, "best_s": min(seconds), "median_s": statistics.median(seconds),
            "lines_per_s": len(lines) / min(seconds),
            "same_as_one_process": {f.stdout for f in runs} == expected,
        })
    return {"lines": len(lines), "cores": available_cores(), "workers": workers, "beam": beam,
            "repeats": repeats, "rows": rows}


def table(report: Dict) -> str:
    out = [
        f"{report['lines']} lines, beam {report['beam']}, {report['cores']} cores, whole processes "
        f"(best and median of {report['repeats']}, taking turns):",
        "| command | best s | median s | lines/s | lines/s/core | output as one process |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        same = "yes" if row["same_as_one_process"] else "NO"
        out.append(
            f"| `{row['command']}` | {row['best_s']:.2f} | {row['median_s']:.2f} | {row['lines_per_s']:.0f} "
            f"| {row['lines_per_s'] / report['cores']:.0f} | {same} |"
        )
    one, ray = report["rows"]
    out.append(f"Ray / one process (best times): {ray['best_s'] / one['best_s']:.2f}x")
    return "\n".join(out)
