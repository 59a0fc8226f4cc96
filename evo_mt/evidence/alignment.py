"""How well the model's word alignments and the marks placed by them follow the words, on
the toy corpus, whose generator knows each source word's counterpart (`evo-mt bench
alignment`).

A content word (noun, verb, adjective) counts where its counterpart appears exactly once in
the model's translation (evo_mt.pipeline.corpora.toy.counterparts). Alignments: the share of
those words whose counterpart's aligned source word is the word itself. The time is that of
translating the lines with and without the alignments' forced pass. Tags: the share of
nouns, each marked <b> in an HTML page, whose <b> comes back around exactly their
counterpart.
"""

from __future__ import annotations

import html
import time
from html.parser import HTMLParser
from typing import Any, Dict, List, Sequence

from evo_mt.pipeline.corpora.toy import counterparts
from evo_mt.runtime.text.documents.html import translate_html
from evo_mt.runtime.text.inline import translate_marked
from evo_mt.runtime.text.pipeline import translate_lines
from evo_mt.runtime.text.translator import TextTranslator


def measure(translator: TextTranslator, sources: Sequence[str], seed: int) -> Dict[str, Any]:
    """The alignment figures of `translator` on toy `sources` generated with `seed`, and the
    placement of marks by the alignments and in proportion (`tag_placement`)."""
    start = time.perf_counter()
    translate_lines(translator, sources)
    plain_seconds = time.perf_counter() - start
    start = time.perf_counter()
    found = translate_lines(translator, sources, align=True)
    aligned_seconds = time.perf_counter() - start
    words = right = 0
    for source, line in zip(sources, found, strict=True):
        best = line.translations[0]
        pairs = set(best.alignment.pairs) if best.alignment is not None else set()
        wanted = counterparts(source, best.text, seed)
        words += len(wanted)
        right += sum(pair in pairs for pair in wanted.items())
    return {
        "lines": len(sources),
        "content_words": words,
        "aligned_to_counterpart": right,
        "alignment_share": right / words if words else 0.0,
        "seconds_without_alignment": plain_seconds,
        "seconds_with_alignment": aligned_seconds,
        "tags_by_alignment": tag_placement(translator, sources, seed, aligned=True),
        "tags_in_proportion": tag_placement(translator, sources, seed, aligned=False),
    }


def tag_placement(
    translator: TextTranslator, sources: Sequence[str], seed: int, *, aligned: bool
) -> Dict[str, Any]:
    """How often a tag around a source noun lands exactly around its counterpart: one HTML
    page of a paragraph per noun whose counterpart the sentence's translation holds once, the
    noun in <b>, translated as `--format html` does, its marks placed by the alignments
    (`aligned`) or in proportion."""
    found = translate_lines(translator, sources)
    paragraphs, wanted = [], []
    for source, line in zip(sources, found, strict=True):
        words = source.split()
        for position, target in counterparts(source, line.texts[0], seed, kinds=("noun",)).items():
            marked = [*words[:position], f"<b>{html.escape(words[position])}</b>", *words[position + 1 :]]
            paragraphs.append(f"<p>{' '.join(marked)}</p>")
            wanted.append(line.texts[0].split()[target])
    page = "\n".join(paragraphs)
    translated = translate_html(page, lambda units: translate_marked(translator, units, aligned=aligned))
    reader = _Bold()
    reader.feed(translated)
    right = sum(got.strip() == word for got, word in zip(reader.found, wanted, strict=True))
    return {
        "nouns": len(wanted),
        "placed_on_counterpart": right,
        "share": right / len(wanted) if wanted else 0.0,
    }


class _Bold(HTMLParser):
    """The text of each <b> element of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: List[str] = []
        self.inside = False

    def handle_starttag(self, tag, attrs):
        if tag == "b":
            self.inside = True
            self.found.append("")

    def handle_endtag(self, tag):
        self.inside = self.inside and tag != "b"

    def handle_data(self, data):
        if self.inside:
            self.found[-1] += data


def table(report: Dict[str, Any]) -> str:
    tags = [
        (how, report[key])
        for how, key in (("by the alignments", "tags_by_alignment"), ("in proportion", "tags_in_proportion"))
    ]
    return "\n".join(
        [
            f"{report['lines']} toy test lines, {report['content_words']} content words whose counterpart "
            "the translation holds once",
            f"aligned to their counterpart: {report['aligned_to_counterpart']} "
            f"({100 * report['alignment_share']:.1f}%)",
            f"translation time: {report['seconds_without_alignment']:.2f} s without alignments, "
            f"{report['seconds_with_alignment']:.2f} s with",
            *(
                f"a <b> tag around a noun ({found['nouns']}) placed {how}: exactly around its counterpart "
                f"{found['placed_on_counterpart']} times ({100 * found['share']:.1f}%)"
                for how, found in tags
            ),
        ]
    )
