"""`evo-mt compare`: systems read from run folders or hypothesis files, tested against the first.

A run folder's hypotheses are those `evo-mt score` wrote for a split and checkpoint
(scores/<split>.<checkpoint>.hyp), its references and sources the split's raw text. A
hypothesis file needs the references (and, for length buckets, the sources) given as files.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence

from evo_mt.evidence.length_buckets import length_buckets
from evo_mt.evidence.significance import paired_tests
from evo_mt.pipeline.run_folder import Run
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.files import read_lines


@dataclass
class Systems:
    """What is compared: one list of hypotheses per system, on shared references."""

    names: List[str]
    hypotheses_files: List[Path]
    hypotheses: List[List[str]]
    references_file: Path
    references: List[str]
    sources_file: Path | None
    sources: List[str] | None


@dataclass
class _Found:
    hypotheses: Path
    references: Path | None = None
    sources: Path | None = None


def _find(path: Path, split: str, checkpoint: str | None) -> _Found:
    if path.is_file():
        return _Found(path)
    if not path.is_dir():
        raise UserError(f"{path}: neither a run folder nor a hypothesis file")
    run = Run(path.resolve())
    recipe = run.recipe()
    hypotheses, _ = run.score_files(split, run.checkpoint(checkpoint))
    if not hypotheses.is_file():
        named = "" if checkpoint is None else f" --checkpoint {checkpoint}"
        raise UserError(
            f"{path}: no hypotheses for {split!r} yet ({hypotheses}); "
            f"run `evo-mt score {path} --split {split}{named}` first"
        )
    return _Found(hypotheses, run.text(split, recipe.target_lang), run.text(split, recipe.source_lang))


def _shared(files: Sequence[Path], what: str) -> Path | None:
    """The one file all run folders agree on (same text), or None when none has one."""
    if not files:
        return None
    first = read_lines(files[0])
    for other in files[1:]:
        if read_lines(other) != first:
            raise UserError(f"{files[0]} and {other} differ: the systems must share their {what}")
    return files[0]


def _names(paths: Sequence[Path]) -> List[str]:
    short = [path.resolve().name for path in paths]
    # The last part names a system well unless two systems share it.
    return short if len(set(short)) == len(short) else [str(path) for path in paths]


def read_systems(
    paths: Sequence[Path],
    *,
    split: str = "test",
    checkpoint: str | None = None,
    references: Path | None = None,
    source: Path | None = None,
) -> Systems:
    """Hypotheses of run folders (scores/<split>.<checkpoint>.hyp of the default or given
    checkpoint) or hypothesis files; references and sources from `references`/`source` when
    given, else from the run folders (raw/<split>.<language>), which must agree."""
    if len(paths) < 2:
        raise UserError("compare needs at least two systems (run folders or hypothesis files)")
    found = [_find(Path(path), split, checkpoint) for path in paths]
    references = references or _shared([f.references for f in found if f.references], "references")
    if references is None:
        raise OptionError("references", "is needed to compare hypothesis files (the reference text)")
    source = source or _shared([f.sources for f in found if f.sources], "sources")
    return Systems(
        names=_names([Path(path) for path in paths]),
        hypotheses_files=[f.hypotheses for f in found],
        hypotheses=[read_lines(f.hypotheses) for f in found],
        references_file=references,
        references=read_lines(references),
        sources_file=source,
        sources=read_lines(source) if source is not None else None,
    )


def compare(systems: Systems, *, buckets: bool = False) -> Dict[str, Any]:
    """The paired tests, and with `buckets` sentence chrF by source and reference length."""
    named = list(zip(systems.names, systems.hypotheses, strict=True))
    result: Dict[str, Any] = {
        "hypotheses_files": [str(path) for path in systems.hypotheses_files],
        "references_file": str(systems.references_file),
        **paired_tests(named, systems.references),
    }
    if buckets:
        if systems.sources is None:
            raise OptionError("source", "is needed for length buckets of hypothesis files (the source text)")
        result["sources_file"] = str(systems.sources_file)
        result["length_buckets"] = length_buckets(named, systems.references, systems.sources)
    return result
