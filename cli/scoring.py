"""`evo-mt score`: translate a split's raw source and score it with sacrebleu.

The hypotheses are decoded from sentencepiece and compared with the untouched reference
text of the run's raw/ folder. Every sentence is translated: the report states both counts.
"""

import json
import sys
from pathlib import Path
from typing import Any, Dict

from sacrebleu.metrics import BLEU, CHRF
from tqdm import tqdm

from evo_mt_cli.errors import UserError
from evo_mt_cli.files import atomic_file, read_lines, write_lines
from evo_mt_cli.prepare import Run
from evo_mt_cli.translator import Translator

CHUNK = 512  # lines per progress step


def score(
    run: Run, checkpoint: Path, split: str, beam: int, lenpen: float, batch_size: int
) -> Dict[str, Any]:
    recipe = run.recipe()
    source_file = run.raw / f"{split}.{recipe.source_lang}"
    reference_file = run.raw / f"{split}.{recipe.target_lang}"
    if not source_file.is_file() or not reference_file.is_file():
        raise UserError(f"{run.root}: no prepared {split!r} split (expected {source_file})")
    sources, references = read_lines(source_file), read_lines(reference_file)
    translator = Translator(run, checkpoint, beam=beam, lenpen=lenpen)
    hypotheses = []
    # disable=None: a bar on a terminal, nothing in a log file.
    bar = tqdm(total=len(sources), desc=f"translate {split}", unit=" sent", file=sys.stderr, disable=None)
    with bar as progress:
        for start in range(0, len(sources), CHUNK):
            chunk = sources[start : start + CHUNK]
            hypotheses += [best[0] for best in translator.translate(chunk, batch_size=batch_size)]
            progress.update(len(chunk))
    # force: the references are the corpus's own text, so sacrebleu's "is it tokenized?"
    # warning can only fire on a corpus tokenized by design (the toy one).
    bleu, chrf = BLEU(force=True), CHRF()
    bleu_score = bleu.corpus_score(hypotheses, [references])
    chrf_score = chrf.corpus_score(hypotheses, [references])
    stem = f"{split}.{checkpoint.stem}"
    report = {
        "checkpoint": str(checkpoint),
        "split": split,
        "hypotheses": len(hypotheses),
        "references": len(references),
        "beam": beam,
        "lenpen": lenpen,
        "bleu": round(bleu_score.score, 2),
        "bleu_text": str(bleu_score),
        "bleu_signature": str(bleu.get_signature()),
        "chrf": round(chrf_score.score, 2),
        "chrf_signature": str(chrf.get_signature()),
        "hypotheses_file": str(run.scores / f"{stem}.hyp"),
    }
    write_lines(run.scores / f"{stem}.hyp", hypotheses)
    with atomic_file(run.scores / f"{stem}.json") as scratch:
        scratch.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    report["report_file"] = str(run.scores / f"{stem}.json")
    return report
