"""Word alignments from the cross-attention (evo_mt.runtime.text.alignment): the same from the
exported folder and the lean engine, and on the toy corpus, with the words' counterparts."""

import json

import numpy as np
from conftest import evo_mt, toy_lines

from evo_mt.evidence import alignment as measuring
from evo_mt.pipeline.translation import Translator
from evo_mt.runtime.text.alignment import Alignment, word_alignment, word_numbers
from evo_mt.runtime.text.exported import ExportedTranslator
from evo_mt.runtime.text.pipeline import translate_lines


def test_a_target_word_is_aligned_by_its_first_piece_to_the_source_word_it_attends_to_most():
    pieces = ["\u2581ab", "c", "\u2581", ".", "\u2581d", "\u2581", "\u2581e"]
    assert word_numbers(pieces) == [0, 0, 1, 1, 2, 3, 3]
    source, target = ["\u2581a", "b", "\u2581c"], ["\u2581x", "y", "\u2581z"]
    # rows: target pieces and </s>; columns: source pieces and </s> (left out)
    attention = np.array([
        [0.1, 0.1, 0.3, 0.5],  # x: a+b = 0.2 < c = 0.3
        [0.9, 0.0, 0.0, 0.1],  # y continues x's word: not read
        [0.3, 0.3, 0.4, 0.0],  # z: a+b = 0.6 > c
        [0.0, 0.0, 0.0, 1.0],
    ])
    found = word_alignment(attention, source, target)
    assert found == Alignment(((1, 0), (0, 1)), 2, 2)
    joined = Alignment.joined([found, Alignment(((0, 0),), 1, 1)])
    assert joined.text() == "1-0 0-1 2-2" and (joined.source_words, joined.target_words) == (3, 3)


def test_the_exported_folder_and_the_lean_engine_align_alike_and_with_the_counterparts(toy_run, exported_toy):
    sentences = toy_lines(toy_run, 60)
    # Two sentences a line: a line's alignment joins its sentences'.
    lines = [f"{a} {b}" for a, b in zip(sentences[::2], sentences[1::2], strict=True)]
    exported = translate_lines(ExportedTranslator.load(exported_toy), lines, align=True)
    lean = translate_lines(Translator.load(toy_run, engine="lean", device="cpu"), lines, align=True)
    assert [line.texts for line in exported] == [line.texts for line in lean]
    found = [line.translations[0].alignment for line in exported]
    assert found == [line.translations[0].alignment for line in lean]
    for line, translation, alignment in zip(lines, exported, found, strict=True):
        assert (alignment.source_words, alignment.target_words) == (
            len(line.split()), len(translation.texts[0].split())
        )
        assert [t for _, t in alignment.pairs] == list(range(alignment.target_words))
    # On the first 500 test sentences (docs): 98.4% of the content words aligned with their
    # counterpart; a mark around a noun exactly around its counterpart 96.6% of the time
    # placed by the alignments, 49.4% in proportion.
    report = measuring.measure(ExportedTranslator.load(exported_toy), sentences, seed=1)
    assert report["content_words"] > 300 and report["alignment_share"] >= 0.95
    by_alignment, in_proportion = report["tags_by_alignment"], report["tags_in_proportion"]
    assert by_alignment["nouns"] > 100 and by_alignment["share"] >= 0.9 > in_proportion["share"]


def test_translate_json_gives_the_alignment_when_asked(exported_toy, toy_run, fairseq_env):
    text = "\n".join(toy_lines(toy_run, 2)) + "\n\n"
    done = evo_mt("translate", str(exported_toy), "--json", "--alignment", env=fairseq_env, input=text)
    assert done.returncode == 0, done.stderr[-2000:]
    first, second, blank = (json.loads(line) for line in done.stdout.splitlines())
    assert first["alignment"].split()[0] == "0-0" and blank["alignment"] == ""
    assert len(second["alignment"].split()) == len(second["translation"].split())
    plain = evo_mt("translate", str(exported_toy), "--json", env=fairseq_env, input=text)
    assert "alignment" not in plain.stdout
    refused = evo_mt("translate", str(exported_toy), "--alignment", env=fairseq_env, input=text)
    assert refused.returncode == 1
    assert refused.stderr.startswith("evo-mt: error: --alignment goes with --json")
