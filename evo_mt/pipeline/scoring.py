"""Scoring: translate a split's raw source and score it with sacreBLEU (BLEU and chrF).

The hypotheses are decoded from sentencepiece and compared with the untouched reference
text of the run's raw/ folder. Every sentence is translated: the report states both counts.
"""

import json
import sys
from pathlib import Path
from typing import Any, Dict, List

from sacrebleu.metrics import BLEU, CHRF
from tqdm import tqdm

from evo_mt.pipeline.averaging import averaged_from
from evo_mt.pipeline.decoding_defaults import decoding_settings
from evo_mt.pipeline.engines import decoding_variant
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.translation import Translator
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.files import atomic_file, read_lines, write_lines
from evo_mt.runtime.text.batching import check_batching

CHUNK = 512  # lines per progress step


def bleu_metric() -> BLEU:
    # force: the references are the corpus's own text, so sacrebleu's "is it tokenized?"
    # warning can only fire on a corpus tokenized by design (the toy one).
    return BLEU(force=True)


def score_lines(hypotheses: List[str], references: List[str]) -> Dict[str, Any]:
    """Corpus BLEU and chrF (sacreBLEU's defaults), with their signatures and both counts."""
    if len(hypotheses) != len(references):
        raise UserError(f"{len(hypotheses)} hypotheses for {len(references)} references: they must be equal")
    bleu, chrf = bleu_metric(), CHRF()
    bleu_score = bleu.corpus_score(hypotheses, [references])
    chrf_score = chrf.corpus_score(hypotheses, [references])
    return {
        "hypotheses": len(hypotheses),
        "references": len(references),
        "bleu": round(bleu_score.score, 2),
        "bleu_text": str(bleu_score),
        "bleu_signature": str(bleu.get_signature()),
        "chrf": round(chrf_score.score, 2),
        "chrf_signature": str(chrf.get_signature()),
    }


def score_files(hypotheses: Path, references: Path) -> Dict[str, Any]:
    """`score_lines` on two text files, one sentence a line."""
    return score_lines(read_lines(hypotheses), read_lines(references))


def score_run(
    run: Run,
    checkpoint: str | Path | None = None,
    *,
    split: str = "test",
    beam: int | None = None,
    lenpen: float | None = None,
    batch_size: int | None = None,
    engine: str = "lean",
    quantize: str = "none",
) -> Dict[str, Any]:
    """Translate `split` with a checkpoint of the run (default: its default checkpoint) and
    score it; beam, length penalty and batch size default to the recipe's [score] values.

    Writes scores/<split>.<checkpoint>.hyp and .json (<checkpoint>.int8 or <checkpoint>.fairseq
    with another quantization or engine); returns the report. The report of an averaged
    checkpoint names the checkpoints averaged and their updates (`averaged_from`).
    """
    recipe = run.recipe()
    found = run.checkpoint(checkpoint)
    decoding = decoding_settings(run.root, beam=beam, lenpen=lenpen)
    beam, lenpen = decoding.beam, decoding.lenpen
    batch_size = batch_size if batch_size is not None else recipe.score.batch_size
    check_batching(batch_size)
    source_file, reference_file = run.text(split, recipe.source_lang), run.text(split, recipe.target_lang)
    if not source_file.is_file() or not reference_file.is_file():
        raise UserError(f"{run.root}: no prepared {split!r} split (expected {source_file})")
    sources = read_lines(source_file)
    # A test set holds one sentence a line, as its references do: lines are not cut.
    translator = Translator(
        found, sentencepiece=run.sentencepiece, dictionaries=run.data_bin, beam=beam, lenpen=lenpen,
        engine=engine, quantize=quantize,
    ).with_split(False)
    hypotheses = []
    # disable=None: a bar on a terminal, nothing in a log file.
    bar = tqdm(total=len(sources), desc=f"translate {split}", unit=" sent", file=sys.stderr, disable=None)
    with bar as progress:
        for start in range(0, len(sources), CHUNK):
            chunk = sources[start : start + CHUNK]
            hypotheses += [best[0] for best in translator.translate(chunk, batch_size=batch_size)]
            progress.update(len(chunk))
    hypotheses_file, report_file = run.score_files(split, found, decoding_variant(engine, quantize))
    sources = averaged_from(found)
    report = {
        "checkpoint": str(found),
        **({"averaged_from": sources} if sources else {}),
        "split": split,
        "beam": beam,
        "lenpen": lenpen,
        "engine": engine,
        "quantize": quantize,
        **score_lines(hypotheses, read_lines(reference_file)),
        "hypotheses_file": str(hypotheses_file),
    }
    write_lines(hypotheses_file, hypotheses, own_folder=True)
    with atomic_file(report_file, own_folder=True) as scratch:
        scratch.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    report["report_file"] = str(report_file)
    return report
