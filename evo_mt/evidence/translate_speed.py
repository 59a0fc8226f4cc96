"""Translation speed and memory of whole processes, as a user runs them.

Every command runs as its own process on the same input and beam, start-up included:
`evo-mt translate RUN` as it runs by default (on the export cached in the run folder,
evo_mt.export.run_cache; exported before the timing starts), with the lean engine (fp32 and
int8) and with fairseq's generator,
fairseq-interactive in its buffered mode (its fastest), and, given a vanilla run of the same
size, `evo-mt translate` on it and CTranslate2 on its conversion (when the optional
`ctranslate2` package is installed), and each model exported (`evo-mt export`, fp32, and
int8 for the EA model) and translated on ONNX Runtime (`evo-mt translate DIR`). With a
`size`, untrained models of that size take the runs' place (evo_mt.evidence.untrained_runs):
speed only, every sentence decoded to its maximum length. Each is timed on the whole input and on its first
line alone (the start-up a one-sentence user waits for), the commands taking turns; the
median over repeats is kept.
Peak memory is the process's maximum resident set, as the kernel counts it (wait4).
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from evo_mt.evidence.measures import BEAM
from evo_mt.export.exporter import export
from evo_mt.pipeline.fairseq_commands import interactive_command
from evo_mt.pipeline.run_folder import Run, find_checkpoint
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.files import read_lines
from evo_mt.runtime.model.sessions import available_cores

CT2_NAME = "CTranslate2"
CT2 = f"{CT2_NAME} (vanilla)"  # at its default threads
CT2_WORKERS = CT2_NAME + " (vanilla, {} workers x 1 thread)"
REFERENCE = "fairseq-interactive"  # what the speed-ups are measured against
LEAN, LEAN_VANILLA = "evo-mt translate --engine lean", "evo-mt translate --engine lean (vanilla)"
CACHED = "evo-mt translate RUN (its cached export)"
LEAN_INT8 = "evo-mt translate --engine lean --quantize int8"
EXPORTED, EXPORTED_INT8 = "evo-mt translate DIR (exported)", "evo-mt translate DIR (exported, int8)"
EXPORTED_VANILLA = "evo-mt translate DIR (vanilla, exported)"
OWN_SIZE = "the runs' own"
# An untrained model never ends a sentence: CTranslate2 would decode to its own limit (256
# tokens), not to 1.2 x source + 10 as the others, and its time would not compare.
UNTRAINED_CTRANSLATE2 = "CTranslate2: left out with untrained models (they decode to its own length limit)"


@dataclass(frozen=True)
class Finished:
    seconds: float
    peak_mib: float
    stdout: str


def run_process(
    name: str, command: List[str], stdin_path: Path, env: Dict[str, str] | None = None
) -> Finished:
    """Run `command` on `stdin_path` to its end (in `env`, default this process's environment);
    its wall time, peak memory and output."""
    with open(stdin_path, "rb") as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdin=stdin, stdout=out, stderr=err, env=env)
        # The kernel's maximum resident set (wait4's ru_maxrss) counts the memory of the forked
        # copy of this process before its exec: this process's own size, not the child's. The
        # child's own high-water mark is read from /proc while it runs (polled; kept as a
        # fallback where there is no /proc).
        high_water = 0.0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            high_water = max(high_water, _high_water_mib(process.pid))
            time.sleep(0.005)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            last = err.read().decode("utf-8", "replace").strip().splitlines()[-1:] or ["(no message)"]
            raise UserError(f"{name} failed (exit {process.returncode}): {last[0]}")
        out.seek(0)
        # ru_maxrss is in KiB on Linux.
        return Finished(seconds, high_water or usage.ru_maxrss / 1024, out.read().decode("utf-8"))


def _high_water_mib(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def evo_mt_translate(checkpoint: Path, beam: int, *options: str) -> List[str]:
    """`evo-mt translate` on a checkpoint or an exported folder."""
    command = [sys.executable, "-m", "evo_mt_cli.app", "translate", str(checkpoint), "--beam", str(beam)]
    return [*command, *options]


def interactive_translations(stdout: str) -> List[str]:
    """The detokenized best translation of each input line, from fairseq-interactive's D- lines."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith("D-"):
            ident, _, text = line.split("\t", 2)
            found[int(ident[2:])] = text
    return [found[i] for i in sorted(found)]


def _commands(
    run: Run, checkpoint: Path, vanilla: Path | None, beam: int, work: Path, with_ctranslate2: bool
) -> Dict[str, Dict]:
    """name -> {command, model, how its output reads}, in the table's order."""
    exported = work / "exported"
    export(checkpoint, exported, quantize="none")
    export(checkpoint, work / "exported-int8", quantize="int8")
    commands = {
        LEAN: {"command": evo_mt_translate(checkpoint, beam, "--engine", "lean"), "model": "ea"},
        CACHED: {"command": evo_mt_translate(checkpoint, beam), "model": "ea", "exports_once": True},
        EXPORTED: {"command": evo_mt_translate(exported, beam), "model": "ea"},
        EXPORTED_INT8: {"command": evo_mt_translate(work / "exported-int8", beam), "model": "ea"},
        LEAN_INT8: {
            "command": evo_mt_translate(checkpoint, beam, "--engine", "lean", "--quantize", "int8"),
            "model": "ea",
        },
        "evo-mt translate --engine fairseq": {
            "command": evo_mt_translate(checkpoint, beam, "--engine", "fairseq"),
            "model": "ea",
        },
        REFERENCE: {
            "command": interactive_command(run, checkpoint, beam=beam, buffered=True),
            "model": "ea",
            "interactive": True,
        },
    }
    if vanilla is None:
        return commands
    vanilla_run, vanilla_checkpoint = find_checkpoint(vanilla)
    commands[LEAN_VANILLA] = {
        "command": evo_mt_translate(vanilla_checkpoint, beam, "--engine", "lean"),
        "model": "vanilla",
    }
    export(vanilla_checkpoint, work / "exported-vanilla", quantize="none")
    commands[EXPORTED_VANILLA] = {
        "command": evo_mt_translate(work / "exported-vanilla", beam),
        "model": "vanilla",
    }
    if with_ctranslate2 and importlib.util.find_spec("ctranslate2") is not None:
        from evo_mt.evidence.vanilla_model import convert_to_ctranslate2

        model_dir = convert_to_ctranslate2(vanilla_run, vanilla_checkpoint, work / "ctranslate2")
        ct2 = [
            sys.executable, "-m", "evo_mt.evidence.ct2_translate", str(model_dir),
            str(vanilla_run.sentencepiece), "--beam", str(beam),
        ]
        commands[CT2] = {"command": ct2, "model": "vanilla"}
        cores = available_cores()
        if cores > 1:  # also as evo-mt spends the cores by default: one-thread workers
            commands[CT2_WORKERS.format(cores)] = {
                "command": [*ct2, "--inter-threads", str(cores), "--intra-threads", "1"],
                "model": "vanilla",
            }
    return commands


def translation_speed(
    run_or_checkpoint: Path,
    lines_file: Path,
    *,
    vanilla: Path | None = None,
    beam: int = BEAM,
    repeats: int = 3,
    size: str | None = None,
) -> Dict:
    """Each command's median wall time and peak memory on `lines_file` and on its first line,
    how many of its translations equal the lean engine's, and the ratios. `size` (a name of
    evo_mt.evidence.model_cost.SIZES): untrained models of that size instead of the runs."""
    run, checkpoint = find_checkpoint(run_or_checkpoint)
    try:
        lines = read_lines(lines_file)
    except OSError as error:
        raise OptionError("input", f"{lines_file}: {error.strerror}") from error
    if not lines:
        raise OptionError("input", f"{lines_file} has no lines to translate")
    if repeats < 1:
        raise OptionError("repeats", "must be at least 1")
    rows: Dict[str, Dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        first_line = work / "one-line.txt"
        first_line.write_text(lines[0] + "\n", encoding="utf-8")
        if size is not None:
            from evo_mt.evidence.untrained_runs import untrained_pair

            run, vanilla_run = untrained_pair(run, size, work / "untrained")
            checkpoint, vanilla = run.checkpoint(), vanilla_run.root
        commands = _commands(run, checkpoint, vanilla, beam, work, with_ctranslate2=size is None)
        runs: Dict[str, Dict[str, List[Finished]]] = {name: {"whole": [], "one": []} for name in commands}
        for name, spec in commands.items():
            if spec.get("exports_once"):  # the export a first `translate RUN` makes, not timed
                run_process(name, spec["command"], first_line)
        # Round-robin, so that a machine getting slower or faster meanwhile touches every command alike.
        for _ in range(repeats):
            for name, spec in commands.items():
                runs[name]["whole"].append(run_process(name, spec["command"], lines_file))
                runs[name]["one"].append(run_process(name, spec["command"], first_line))
        for name, spec in commands.items():
            whole, one = runs[name]["whole"], runs[name]["one"]
            out = whole[0].stdout
            translations = interactive_translations(out) if spec.get("interactive") else out.splitlines()
            rows[name] = {
                "model": spec["model"],
                "seconds": statistics.median(f.seconds for f in whole),
                "peak_mib": statistics.median(f.peak_mib for f in whole),
                "one_line_seconds": statistics.median(f.seconds for f in one),
                "translations": translations,
                "output_words": sum(len(t.split()) for t in translations),
            }
    outputs = {name: row.pop("translations") for name, row in rows.items()}
    for name, row in rows.items():
        # Each against the lean engine's translations of the same model.
        same_model = LEAN if row["model"] == "ea" else LEAN_VANILLA
        row["same_as_lean"] = sum(a == b for a, b in zip(outputs[name], outputs[same_model], strict=False))
    return {
        "sentences": len(lines), "beam": beam, "repeats": repeats, "rows": rows, "ratios": _ratios(rows),
        "size": size or OWN_SIZE,
        "ctranslate2_installed": importlib.util.find_spec("ctranslate2") is not None,
    }


def _ratios(rows: Dict[str, Dict]) -> Dict[str, float]:
    reference = rows[REFERENCE]
    lean, int8 = rows[LEAN], rows[LEAN_INT8]
    ratios = {
        f"speedup vs {REFERENCE}": reference["seconds"] / lean["seconds"],
        f"memory vs {REFERENCE}": lean["peak_mib"] / reference["peak_mib"],
        f"int8 speedup vs {REFERENCE}": reference["seconds"] / int8["seconds"],
        "exported speedup vs lean (EA)": lean["seconds"] / rows[EXPORTED]["seconds"],
        "exported int8 speedup vs lean (EA)": lean["seconds"] / rows[EXPORTED_INT8]["seconds"],
        "translate RUN / translate DIR time": rows[CACHED]["seconds"] / rows[EXPORTED]["seconds"],
        "translate RUN / translate DIR time, one line": rows[CACHED]["one_line_seconds"]
        / rows[EXPORTED]["one_line_seconds"],
    }
    if LEAN_VANILLA in rows:
        ratios["EA / vanilla time"] = lean["seconds"] / rows[LEAN_VANILLA]["seconds"]
        ratios["EA / vanilla time, exported"] = rows[EXPORTED]["seconds"] / rows[EXPORTED_VANILLA]["seconds"]
    if CT2 in rows:
        ct2 = rows[CT2]["seconds"]
        ratios["evo-mt vanilla / CTranslate2 time"] = rows[LEAN_VANILLA]["seconds"] / ct2
        ratios["exported vanilla / CTranslate2 time"] = rows[EXPORTED_VANILLA]["seconds"] / ct2
        ratios["exported EA / CTranslate2 (vanilla) time"] = rows[EXPORTED]["seconds"] / ct2
        fastest = min(row["seconds"] for name, row in rows.items() if name.startswith(CT2_NAME))
        best = "CTranslate2 at its fastest layout"
        ratios[f"exported vanilla / {best}"] = rows[EXPORTED_VANILLA]["seconds"] / fastest
        ratios[f"exported EA / {best} (vanilla)"] = rows[EXPORTED]["seconds"] / fastest
    return ratios


def table(report: Dict) -> str:
    lines = [
        f"{report['sentences']} sentences, beam {report['beam']}, model size {report['size']}, whole "
        f"processes (median of {report['repeats']}):",
        "| command | model | wall s | one line s | peak MiB | time vs fairseq-interactive "
        "| translations equal to the lean engine's (same model) | output words |",
        "|---|---|---|---|---|---|---|---|",
    ]
    reference = report["rows"][REFERENCE]["seconds"]
    for name, row in report["rows"].items():
        same = f"{row['same_as_lean']}/{report['sentences']}"
        lines.append(
            f"| {name} | {row['model']} | {row['seconds']:.2f} | {row['one_line_seconds']:.2f} | "
            f"{row['peak_mib']:.0f} | {reference / row['seconds']:.2f}x | {same} | {row['output_words']} |"
        )
    lines += [f"{name}: {value:.2f}x" for name, value in report["ratios"].items()]
    if report["size"] != OWN_SIZE:
        lines.append(UNTRAINED_CTRANSLATE2)
    elif LEAN_VANILLA in report["rows"] and not report["ctranslate2_installed"]:
        lines.append("CTranslate2: not installed (pip install -e '.[ctranslate2]' to compare with it)")
    return "\n".join(lines)
