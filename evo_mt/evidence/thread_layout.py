"""`evo-mt bench threads`: how `evo-mt translate` on ONNX Runtime should spend the cores.

Whole `evo-mt translate` processes on 1 line, 32 lines and the whole file, under each layout
of workers (batches decoded at once, a thread each) x threads (ONNX Runtime's, inside each
worker) that fills the machine, and one worker of one thread; the layouts take turns, the
median of `repeats` rounds is reported. Every layout must give the same translations:
which batch a sentence is decoded in does not change it.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

from evo_mt.evidence.translate_speed import evo_mt_translate, run_process
from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.base.lines import read_lines
from evo_mt.runtime.model.sessions import available_cores, thread_layout

SIZES = (1, 32)  # and the whole file


def layouts(cores: int) -> List[Tuple[int, int]]:
    """(workers, threads): all cores as threads of one worker, as workers of one thread, and
    one worker of one thread."""
    found = [(1, cores), (cores, 1), (1, 1)]
    return list(dict.fromkeys(found))


def thread_layouts(model: Path, lines_file: Path, *, beam: int = 5, repeats: int = 3) -> Dict:
    """Median wall seconds and peak MiB of each layout at each input size; the default layout."""
    lines = read_lines(lines_file)
    if not lines:
        raise OptionError("input", f"{lines_file} has no lines to translate")
    cores = available_cores()
    chosen = layouts(cores)
    sizes = sorted({min(n, len(lines)) for n in SIZES} | {len(lines)})
    # The layouts say the threads: OMP_NUM_THREADS, if set, is left out of their environment.
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    timings: Dict[Tuple[int, int, int], List] = {(w, t, n): [] for w, t in chosen for n in sizes}
    with tempfile.TemporaryDirectory() as scratch:
        files = {}
        for n in sizes:
            files[n] = Path(scratch) / f"{n}.txt"
            files[n].write_text("".join(f"{line}\n" for line in lines[:n]), encoding="utf-8")
        for _ in range(repeats):
            for n in sizes:
                for workers, threads in chosen:
                    layout = ("--workers", str(workers), "--threads", str(threads))
                    name = f"evo-mt translate {' '.join(layout)}"
                    command = evo_mt_translate(model, beam, *layout)
                    timings[workers, threads, n].append(run_process(name, command, files[n], env))
    rows = []
    for (workers, threads, n), finished in timings.items():
        outputs = {f.stdout for f in finished}
        rows.append({
            "workers": workers, "threads": threads, "lines": n,
            "seconds": statistics.median(f.seconds for f in finished),
            "peak_mib": statistics.median(f.peak_mib for f in finished),
            "same_as_one_thread": outputs == {r.stdout for r in timings[1, 1, n]},
        })
    return {"cores": cores, "default": list(thread_layout()), "beam": beam, "repeats": repeats, "rows": rows}


def table(report: Dict) -> str:
    sizes = sorted({row["lines"] for row in report["rows"]})
    by_layout: Dict[Tuple[int, int], Dict[int, Dict]] = {}
    for row in report["rows"]:
        by_layout.setdefault((row["workers"], row["threads"]), {})[row["lines"]] = row
    header = " | ".join(f"{n} line{'s' if n > 1 else ''}: s (MiB)" for n in sizes)
    out = [f"| workers x threads | {header} | translations as 1 x 1 |", "|---" * (len(sizes) + 2) + "|"]
    for (workers, threads), found in by_layout.items():
        cells = " | ".join(f"{found[n]['seconds']:.2f} ({found[n]['peak_mib']:.0f})" for n in sizes)
        same = all(found[n]["same_as_one_thread"] for n in sizes)
        out.append(f"| {workers} x {threads} | {cells} | {'yes' if same else 'NO'} |")
    cores = report["cores"]
    if cores > 1:
        workers, threads = by_layout[cores, 1], by_layout[1, cores]
        ratios = ", ".join(f"{n}: {threads[n]['seconds'] / workers[n]['seconds']:.2f}x" for n in sizes)
        out.append(f"{cores} workers x 1 thread against 1 worker x {cores} threads (time ratio): {ratios}")
    workers, threads = report["default"]
    out.append(
        f"default here: {workers} worker(s) x {threads} thread(s) ({cores} cores); "
        f"beam {report['beam']}, median of {report['repeats']}"
    )
    return "\n".join(out)
