"""Text, not sentences: paragraphs of a test set translated as people paste them, against the
same sentences translated one a line (`evo-mt bench paragraphs`).

Paragraphs are made of consecutive test sentences, 3 to 5 at a time, joined by a space;
their references are the references joined alike. Only sentences that end as sentences do
(a full stop, question or exclamation mark) go into paragraphs: two UI labels such as
"Open file" "Save as" pasted together are one sentence to any reader, and to any segmenter.
Both ways of translating are scored on the paragraphs (the one-a-line translations joined
per paragraph), so BLEU compares like with like.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence

from evo_mt.pipeline.scoring import score_lines
from evo_mt.runtime.text.segmentation import sentences
from evo_mt.runtime.text.translator import TextTranslator

SENTENCE_ENDS = (".", "?", "!", "\u3002", "\uff1f", "\uff01")
PARAGRAPH_SIZES = (3, 5)  # sentences per paragraph, at least and at most
LONG_LINE_SENTENCES = 80


@dataclass(frozen=True)
class Paragraphs:
    sources: List[List[str]]  # the sentences of each paragraph
    references: List[List[str]]

    @property
    def lines(self) -> List[str]:
        return [" ".join(group) for group in self.sources]

    @property
    def joined_references(self) -> List[str]:
        return [" ".join(group) for group in self.references]


def make_paragraphs(sources: Sequence[str], references: Sequence[str], seed: int = 1) -> Paragraphs:
    """Consecutive sentences that end as sentences, in groups of 3 to 5 (sizes drawn with `seed`)."""
    rng = random.Random(seed)
    kept = [
        (source.strip(), reference.strip())
        for source, reference in zip(sources, references, strict=True)
        if source.strip().endswith(SENTENCE_ENDS)
    ]
    grouped_sources, grouped_references = [], []
    at = 0
    while at + PARAGRAPH_SIZES[0] <= len(kept):
        size = rng.randint(*PARAGRAPH_SIZES)
        group = kept[at : at + size]
        grouped_sources.append([source for source, _ in group])
        grouped_references.append([reference for _, reference in group])
        at += size
    return Paragraphs(grouped_sources, grouped_references)


def segmentation_errors(paragraphs: Paragraphs, segment: Callable[[str], List[str]]) -> Dict[str, Any]:
    """How often `segment` cuts a paragraph into exactly its sentences, and the paragraphs it
    does not (each with the cut it made)."""
    wrong = []
    for group, line in zip(paragraphs.sources, paragraphs.lines, strict=True):
        found = [text.strip() for text in segment(line) if text.strip()]
        if found != group:
            wrong.append({"sentences": group, "segments": found})
    total = len(paragraphs.sources)
    return {"paragraphs": total, "exact": total - len(wrong), "wrong": wrong}


def segmenters(language: str) -> Dict[str, Callable[[str], List[str]]]:
    """sentencex (what evo-mt uses) and, where installed, pysbd and syntok to compare with."""
    found: Dict[str, Callable[[str], List[str]]] = {
        "sentencex": lambda line: [text for text, _ in sentences(line, language)]
    }
    try:
        import pysbd

        pysbd_segmenter = pysbd.Segmenter(language=language, clean=False)
        found["pysbd"] = pysbd_segmenter.segment
    except (ImportError, ValueError):  # not installed, or no rules for this language
        pass
    try:
        from syntok import segmenter as syntok_segmenter

        def syntok_sentences(line: str) -> List[str]:
            return [
                "".join(token.spacing + token.value for token in sentence).strip()
                for paragraph in syntok_segmenter.process(line)
                for sentence in paragraph
            ]

        found["syntok"] = syntok_sentences
    except ImportError:
        pass
    return found


def _timed(work: Callable[[], List[List[str]]], repeats: int) -> tuple:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def measure(
    translator: TextTranslator, sources: Sequence[str], references: Sequence[str], *, repeats: int = 1
) -> Dict[str, Any]:
    """Paragraph BLEU against one-a-line BLEU, their times, the long line, and the segmenters."""
    paragraphs = make_paragraphs(sources, references)
    one_a_line = translator.with_split(False)
    flat = [sentence for group in paragraphs.sources for sentence in group]
    # Alternated, so that a slower moment of the machine falls on both.
    per_sentence, by_paragraph, sentence_times, paragraph_times = None, None, [], []
    for _ in range(repeats):
        per_sentence, seconds = _timed(lambda: one_a_line.translate(flat), 1)
        sentence_times.append(seconds)
        by_paragraph, seconds = _timed(lambda: translator.translate(paragraphs.lines), 1)
        paragraph_times.append(seconds)
    sentence_hypotheses = iter(best[0] for best in per_sentence)
    joined = [" ".join(next(sentence_hypotheses) for _ in group) for group in paragraphs.sources]
    references_joined = paragraphs.joined_references
    sentence_score = score_lines(joined, references_joined)
    paragraph_score = score_lines([best[0] for best in by_paragraph], references_joined)

    long_sources = flat[:LONG_LINE_SENTENCES]
    long_line = translator.translate([" ".join(long_sources)])[0][0]
    one_by_one = one_a_line.translate(long_sources)
    one_by_one_words = sum(len(best[0].split()) for best in one_by_one)
    language = translator.source_language
    return {
        "paragraphs": len(paragraphs.sources),
        "sentences": len(flat),
        "bleu_sentence_by_sentence": sentence_score["bleu"],
        "bleu_paragraphs": paragraph_score["bleu"],
        "chrf_sentence_by_sentence": sentence_score["chrf"],
        "chrf_paragraphs": paragraph_score["chrf"],
        "seconds_sentence_by_sentence": statistics.median(sentence_times),
        "seconds_paragraphs": statistics.median(paragraph_times),
        "long_line": {
            "sentences": len(long_sources),
            "source_words": sum(len(source.split()) for source in long_sources),
            "words": len(long_line.split()),
            "words_one_by_one": one_by_one_words,
        },
        "segmenters": {
            name: segmentation_errors(paragraphs, segment) for name, segment in segmenters(language).items()
        },
    }


def table(report: Dict[str, Any], examples: int = 5) -> str:
    long_line = report["long_line"]
    rows = [
        f"{report['paragraphs']} paragraphs of 3-5 sentences ({report['sentences']} sentences)",
        "| translated | BLEU | chrF | seconds |",
        "|---|---|---|---|",
        f"| one sentence a line, joined | {report['bleu_sentence_by_sentence']:.2f} | "
        f"{report['chrf_sentence_by_sentence']:.2f} | {report['seconds_sentence_by_sentence']:.2f} |",
        f"| paragraphs, one a line | {report['bleu_paragraphs']:.2f} | {report['chrf_paragraphs']:.2f} | "
        f"{report['seconds_paragraphs']:.2f} |",
        f"paragraphs - sentences: BLEU "
        f"{report['bleu_paragraphs'] - report['bleu_sentence_by_sentence']:+.2f}, "
        f"time x{report['seconds_paragraphs'] / report['seconds_sentence_by_sentence']:.3f}",
        f"one line of {long_line['sentences']} sentences ({long_line['source_words']} words): "
        f"{long_line['words']} words translated, {long_line['words_one_by_one']} one by one "
        f"({long_line['words'] / max(long_line['words_one_by_one'], 1):.1%})",
        "| segmenter | paragraphs cut exactly into their sentences |",
        "|---|---|",
    ]
    for name, found in report["segmenters"].items():
        rows.append(f"| {name} | {found['exact']}/{found['paragraphs']} |")
    for name, found in report["segmenters"].items():
        for wrong in found["wrong"][:examples]:
            rows.append(f"{name} cut {len(wrong['sentences'])} sentences into {len(wrong['segments'])}: ")
            rows += [f"    {segment}" for segment in wrong["segments"]]
    return "\n".join(rows)
