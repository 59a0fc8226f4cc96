"""`evo-mt bench shortlist`: what a vocabulary shortlist costs in quality and buys in speed.

One run's checkpoint exported twice into a scratch folder, without and with a vocabulary
map (`evo-mt export --shortlist`), both translating a test set with references in this
process (default workers and threads, one sentence a line, the two folders taking turns,
the median of `repeats` passes): time, BLEU and chrF, the target pieces a step scores per
batch, and how many translations the two share. Then the exactness the runtime promises:
the shortlisted folder against the lean engine given the same map (one worker, so that both
decode the same batches, and so the same allowed pieces), line by line.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

from evo_mt.export.exporter import export
from evo_mt.pipeline.scoring import score_lines
from evo_mt.pipeline.translation import Translator
from evo_mt.runtime.base.lines import read_lines
from evo_mt.runtime.model import folder as names
from evo_mt.runtime.text.exported import ExportedTranslator


def _columns_counted(translator: ExportedTranslator) -> List[int]:
    """The target pieces each batch's steps score, recorded as `translator` decodes."""
    widths: List[int] = []
    start = translator.model.start

    def counted(sources: Any, beam: int, vocabulary: np.ndarray | None = None) -> Any:
        widths.append(len(translator.target) if vocabulary is None else len(vocabulary))
        return start(sources, beam, vocabulary)

    translator.model.start = counted  # type: ignore[method-assign]
    return widths


def bench(
    run: Path,
    source: Path,
    reference: Path,
    *,
    shortlist: Tuple[int, int],
    repeats: int,
    lines: int | None = None,
) -> Dict[str, Any]:
    sources, references = read_lines(source)[:lines], read_lines(reference)[:lines]
    with tempfile.TemporaryDirectory(prefix="evo-mt-shortlist-") as scratch:
        folders = {"whole vocabulary": Path(scratch) / "whole", "shortlist": Path(scratch) / "shortlist"}
        export(run, folders["whole vocabulary"])
        manifest = export(run, folders["shortlist"], shortlist=shortlist)
        translators = {
            name: ExportedTranslator.load(folder).with_split(False) for name, folder in folders.items()
        }
        widths = {name: _columns_counted(translator) for name, translator in translators.items()}
        seconds: Dict[str, List[float]] = {name: [] for name in translators}
        found: Dict[str, List[str]] = {}
        for _ in range(repeats):
            for name, translator in translators.items():
                widths[name].clear()
                started = time.perf_counter()
                found[name] = [hypotheses[0] for hypotheses in translator.translate(sources)]
                seconds[name].append(time.perf_counter() - started)
        rows = []
        for name in translators:
            scores = score_lines(found[name], references)
            rows.append({
                "name": name, "seconds": round(statistics.median(seconds[name]), 2),
                "bleu": scores["bleu"], "chrf": scores["chrf"],
                "mean_columns": round(float(np.mean(widths[name])), 1), "max_columns": max(widths[name]),
                "batches": len(widths[name]),
                "same_as_whole": _equal(found[name], found["whole vocabulary"]),
            })
        one_worker = ExportedTranslator.load(folders["shortlist"], workers=1).with_split(False)
        exported = one_worker.translate(sources)
        lean = Translator.load(run, shortlist=folders["shortlist"] / names.SHORTLIST, device="cpu")
        lean_found = lean.with_split(False).translate(sources)
    whole, listed = rows
    return {
        "run": str(run), "source": str(source), "sentences": len(sources), "repeats": repeats,
        "shortlist": manifest["shortlist"], "vocabulary": len(translators["shortlist"].target),
        "workers": translators["shortlist"].workers, "threads": translators["shortlist"].threads,
        "rows": rows,
        "speedup": round(whole["seconds"] / listed["seconds"], 2),
        "bleu_change": round(listed["bleu"] - whole["bleu"], 2),
        "exported_equal_to_lean": _equal(exported, lean_found),
    }


def _equal(these: List[Any], those: List[Any]) -> int:
    return sum(a == b for a, b in zip(these, those, strict=True))


def table(report: Dict[str, Any]) -> str:
    mapped = report["shortlist"]
    lines = [
        f"{report['sentences']} sentences of {Path(report['source']).name}; shortlist: "
        f"{mapped['per_piece']} target pieces per source piece + {mapped['frequent']} most frequent, of "
        f"{report['vocabulary']}; {report['workers']} workers x {report['threads']} threads, median of "
        f"{report['repeats']}",
        f"{'decoding':<18} {'time s':>7} {'BLEU':>6} {'chrF':>6} {'pieces/batch':>13} {'max':>6} "
        f"{'same as whole':>14}",
    ]
    for row in report["rows"]:
        lines.append(
            f"{row['name']:<18} {row['seconds']:>7.2f} {row['bleu']:>6.2f} {row['chrf']:>6.2f} "
            f"{row['mean_columns']:>13.1f} {row['max_columns']:>6} "
            f"{row['same_as_whole']:>9}/{report['sentences']}"
        )
    lines += [
        f"whole / shortlist time: {report['speedup']:.2f}x; BLEU change: {report['bleu_change']:+.2f}",
        f"shortlisted export equal to the lean engine with the same map: "
        f"{report['exported_equal_to_lean']}/{report['sentences']}",
    ]
    return "\n".join(lines)
