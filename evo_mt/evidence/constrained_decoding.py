"""`evo-mt bench constraints`: what required words cost and buy, and what a score is worth.

On a test set with references, in one process and one model:
- reference words: per sentence, up to two reference words (of 4 or more letters, spelled
  with pieces the model knows) that the unconstrained translation lacks, the first two in
  reference order (Post & Vilar 2018 and
  Hasler et al. 2018 draw constraints from the references the same way); each sentence's
  words are required (`--constraints`);
- a glossary of the test set's aligned terms: source words (4+ letters, 3+ test sentences)
  whose reference side always holds one target word: the target word with the highest Dice
  coefficient over the test sentences, kept at Dice >= 0.8 (an oracle glossary, as in
  terminology studies); applied as `--glossary` applies one;
- for each: the share of constraints met as whole words (the phrase in the translation with
  no letter, mark or number right before or after it: punctuation next to it is a word
  boundary), and beside it the share found at a word start, a longer word included (what
  a search matching pieces alone, as fairseq's, is sure to reach); BLEU and chrF with and
  without, and the decoding time of both (the same batches, after a warm-up batch;
  unconstrained decoding is timed first and last, the faster counts);
- confidence: the unconstrained translations sorted by score, each quarter's mean sentence
  chrF (the lowest-scored quarter first).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

from sacrebleu.metrics import CHRF

from evo_mt.pipeline.scoring import score_lines
from evo_mt.runtime.base.lines import read_lines
from evo_mt.runtime.base.vocabulary import word_character
from evo_mt.runtime.text.glossary import Glossary
from evo_mt.runtime.text.phrases import ConstraintError, encode_phrases
from evo_mt.runtime.text.results import LineTranslation
from evo_mt.runtime.text.translator import TextTranslator

MIN_LETTERS = 4
WORDS_PER_SENTENCE = 2
MIN_SENTENCES = 3  # a glossary term occurs in at least this many test sentences
MIN_DICE = 0.8
_WORD = re.compile(r"\w+")


def words_of(line: str) -> List[str]:
    return _WORD.findall(line)


def reference_constraints(
    translations: Sequence[str], references: Sequence[str], spellable: Callable[[str], bool]
) -> List[List[str]]:
    """Per sentence, the first WORDS_PER_SENTENCE reference words the translation lacks (that
    the model's target vocabulary can spell)."""
    drawn = []
    for output, reference in zip(translations, references, strict=True):
        present = set(words_of(output))
        missed = [w for w in dict.fromkeys(words_of(reference)) if len(w) >= MIN_LETTERS and w not in present]
        drawn.append([w for w in missed if w.isalpha() and spellable(w)][:WORDS_PER_SENTENCE])
    return drawn


def aligned_terms(
    sources: Sequence[str], references: Sequence[str], most: int, spellable: Callable[[str], bool]
) -> List[Tuple[str, str]]:
    """(source word, target word) pairs of the test set by Dice over its sentences, best first,
    such that no sentence holds more than `most` of them (target words the model can spell)."""
    source_sets = [
        {w.casefold() for w in words_of(s) if len(w) >= MIN_LETTERS and w.isalpha()} for s in sources
    ]
    target_sets = [set(words_of(r)) for r in references]
    source_count = Counter(w for words in source_sets for w in words)
    target_count = Counter(w for words in target_sets for w in words)
    pairs: Counter = Counter()
    for source_words, target_words in zip(source_sets, target_sets, strict=True):
        for s in source_words:
            if source_count[s] >= MIN_SENTENCES:
                pairs.update((s, t) for t in target_words)
    best: Dict[str, Tuple[float, str]] = {}
    for (s, t), both in sorted(pairs.items()):
        dice = 2 * both / (source_count[s] + target_count[t])
        if dice >= MIN_DICE and (s not in best or dice > best[s][0]) and spellable(t):
            best[s] = (dice, t)
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    kept: List[Tuple[str, str]] = []
    per_sentence = [0] * len(sources)
    for s, (_, t) in ranked:
        holding = [i for i, words in enumerate(source_sets) if s in words]
        if all(per_sentence[i] < most for i in holding):
            kept.append((s, t))
            for i in holding:
                per_sentence[i] += 1
    return kept


def as_words(phrase: str, text: str) -> bool:
    """Whether `phrase` occurs in `text` as whole words: no word character (a letter, mark
    or number) right before or after it."""
    padded = f" {text} "
    at = padded.find(phrase)
    while at >= 0:
        if not word_character(padded[at - 1]) and not word_character(padded[at + len(phrase)]):
            return True
        at = padded.find(phrase, at + 1)
    return False


def share_met(translations: Sequence[str], required: Sequence[Sequence[str]]) -> Tuple[int, int, int]:
    """(constraints met as whole words, those at a word start of the output, a longer word
    included; constraints)."""
    whole = start = total = 0
    for output, phrases in zip(translations, required, strict=True):
        for phrase in phrases:
            total += 1
            whole += as_words(phrase, output)
            start += re.search(r"(?<!\S)" + re.escape(phrase), output) is not None
    return whole, start, total


def _timed(
    translator: TextTranslator, sources: List[str], **options: Any
) -> Tuple[List[LineTranslation], Tuple]:
    """The translations and (wall, CPU) seconds: CPU time (all the process' threads) is the
    steadier figure on a shared machine."""
    started, cpu = time.perf_counter(), time.process_time()
    found = translator.translate_scored(sources, **options)
    return found, (time.perf_counter() - started, time.process_time() - cpu)


def _row(name: str, found: List[LineTranslation], seconds: Tuple, references: List[str], required) -> Dict:
    texts = [line.translations[0].text for line in found]
    scores = score_lines(texts, references)
    met, at_start, total = share_met(texts, required) if required is not None else (0, 0, 0)
    constrained = sum(bool(r) for r in required) if required is not None else 0
    return {
        "name": name, "bleu": scores["bleu"], "chrf": scores["chrf"], "seconds": round(seconds[0], 2),
        "cpu_seconds": round(seconds[1], 2),
        "constraints": total, "met": met, "met_at_word_start": at_start, "sentences_constrained": constrained,
    }


def confidence_quartiles(found: List[LineTranslation], references: List[str]) -> List[Dict[str, float]]:
    """Sentences sorted by score (lowest first) in four quarters: each one's score range and
    mean sentence chrF."""
    chrf = CHRF()
    rows = [
        (line.translations[0].score, chrf.sentence_score(line.translations[0].text, [ref]).score)
        for line, ref in zip(found, references, strict=True)
        if line.translations[0].text
    ]
    rows.sort(key=lambda row: row[0])
    quarters = []
    for q in range(4):
        part = rows[q * len(rows) // 4 : (q + 1) * len(rows) // 4]
        mean_chrf = round(sum(c for _, c in part) / len(part), 2)
        quarters.append({
            "quarter": q + 1, "sentences": len(part), "lowest_score": round(part[0][0], 3),
            "highest_score": round(part[-1][0], 3), "mean_sentence_chrf": mean_chrf,
        })
    return quarters


def bench(
    translator: TextTranslator, source: Path, reference: Path, batch_size: int, lines: int | None = None
) -> Dict[str, Any]:
    """The figures of the module's docstring for `translator` on a test set (its first `lines`)."""
    sources, references = read_lines(source)[:lines], read_lines(reference)[:lines]
    translator.translate(sources[:batch_size], batch_size=batch_size)  # warm-up: not timed
    plain, plain_seconds = _timed(translator, sources, batch_size=batch_size)
    texts = [line.translations[0].text for line in plain]

    def spellable(word: str) -> bool:
        try:
            encode_phrases(translator, [word])
        except ConstraintError:
            return False
        return True

    drawn = reference_constraints(texts, references, spellable)
    forced, forced_seconds = _timed(translator, sources, constraints=drawn, batch_size=batch_size)
    terms = aligned_terms(sources, references, translator.beam - 1, spellable)
    glossary = Glossary([(s, t, f"term {n}") for n, (s, t) in enumerate(terms, 1)])
    glossed, glossed_seconds = _timed(translator, sources, glossary=glossary, batch_size=batch_size)
    # Unconstrained once more, last: of its two timings the faster counts, so that being first
    # (caches, other processes starting) does not count against it.
    plain_seconds = min(plain_seconds, _timed(translator, sources, batch_size=batch_size)[1])
    applied = [line.constraints for line in glossed]
    return {
        "source": str(source), "sentences": len(sources), "beam": translator.beam,
        "glossary_terms": len(terms), "glossary_sample": terms[:10],
        "rows": [
            _row("unconstrained", plain, plain_seconds, references, drawn),
            _row("reference words", forced, forced_seconds, references, drawn),
            _row("unconstrained", plain, plain_seconds, references, applied),
            _row("glossary", glossed, glossed_seconds, references, applied),
        ],
        "quartiles": confidence_quartiles(plain, references),
    }


def table(report: Dict[str, Any]) -> str:
    lines = [
        f"{report['sentences']} sentences of {Path(report['source']).name}, beam {report['beam']}; "
        f"glossary: {report['glossary_terms']} aligned terms",
        f"{'decoding':<16} {'required':>8} {'met':>6} {'start':>6} {'BLEU':>6} {'chrF':>6} {'time s':>7} "
        f"{'CPU s':>7}",
    ]
    for row in report["rows"]:
        shares = [
            f"{100 * row[key] / row['constraints']:.1f}%" if row["constraints"] else "-"
            for key in ("met", "met_at_word_start")
        ]
        lines.append(
            f"{row['name']:<16} {row['constraints']:>8} {shares[0]:>6} {shares[1]:>6} {row['bleu']:>6.2f} "
            f"{row['chrf']:>6.2f} {row['seconds']:>7.2f} {row['cpu_seconds']:>7.2f}"
        )
    lines.append("confidence: sentences by score, lowest quarter first")
    for q in report["quartiles"]:
        lines.append(
            f"  quarter {q['quarter']}: {q['sentences']} sentences, score {q['lowest_score']:.3f} .. "
            f"{q['highest_score']:.3f}, mean sentence chrF {q['mean_sentence_chrf']:.2f}"
        )
    return "\n".join(lines)
