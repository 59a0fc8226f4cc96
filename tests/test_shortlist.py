"""A vocabulary shortlist (`evo-mt export --shortlist`): the map learnt from the training pairs,
each batch's allowed pieces, and a shortlisted folder translating exactly as the lean engine
does with the same map."""

import json

import numpy as np
import pytest
from conftest import evo_mt, toy_lines

from evo_mt.evidence.constrained_decoding import as_words
from evo_mt.export import vocabulary_map
from evo_mt.export.vocabulary_map import learn_map
from evo_mt.pipeline.translation import Translator
from evo_mt.runtime.base.vocabulary import SPECIALS, Vocabulary
from evo_mt.runtime.model.folder import MANIFEST, SHORTLIST
from evo_mt.runtime.model.shortlist import Shortlist, ShortlistError, narrowed, searched, write_map
from evo_mt.runtime.search.beam_search import Hypothesis
from evo_mt.runtime.text.exported import ExportedTranslator

# Few pieces, so that the toy's batches score a part of its ~1,000 target pieces.
PIECES, FREQUENT = "3", "20"


@pytest.fixture(scope="module")
def shortlisted_toy(toy_run, tmp_path_factory, fairseq_env):
    folder = tmp_path_factory.mktemp("shortlisted") / "toy-model"
    options = ["--shortlist", "--shortlist-pieces", PIECES, "--shortlist-frequent", FREQUENT]
    done = evo_mt("export", str(toy_run), "--output", str(folder), *options, env=fairseq_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"shortlist {PIECES} per piece + {FREQUENT} frequent" in done.stderr
    return folder


def test_a_shortlisted_folder_translates_as_the_lean_engine_with_its_map(shortlisted_toy, toy_run):
    lines = toy_lines(toy_run, 60) + ["", "an unknown w0rd"]
    # One worker: both engines decode the same batches, and so allow the same pieces.
    exported = ExportedTranslator.load(shortlisted_toy, beam=4, nbest=2, workers=1, threads=1)
    columns = []
    start = exported.model.start
    exported.model.start = lambda sources, beam, vocabulary: columns.append(len(vocabulary)) or start(
        sources, beam, vocabulary
    )
    found = exported.translate(lines, batch_size=16)
    lean = Translator.load(toy_run, beam=4, nbest=2, device="cpu", shortlist=shortlisted_toy / SHORTLIST)
    assert found == lean.translate(lines, batch_size=16)
    assert len(columns) == 4 and max(columns) < len(exported.target) / 2
    manifest = json.loads((shortlisted_toy / MANIFEST).read_text())
    assert manifest["shortlist"] == {"per_piece": int(PIECES), "frequent": int(FREQUENT)}
    assert exported.describe()["shortlist"] == manifest["shortlist"]


def test_a_shortlisted_folder_without_its_map_translates_as_the_plain_export(
    shortlisted_toy, exported_toy, toy_run
):
    lines = toy_lines(toy_run, 30)
    whole = ExportedTranslator.load(shortlisted_toy, shortlist=False, workers=1)
    assert whole.describe()["shortlist"] is None
    assert whole.translate(lines) == ExportedTranslator.load(exported_toy, workers=1).translate(lines)


def test_required_terms_outside_the_map_are_met_as_words_as_the_lean_engine_meets_them(
    shortlisted_toy, toy_run
):
    translator = ExportedTranslator.load(shortlisted_toy, beam=5, workers=1)
    lines = toy_lines(toy_run, 8)
    words = []
    for line in lines:
        source = translator.source_indices(translator.spm.encode(line, out_type=str))
        allowed = set(translator.shortlist.allowed([source]).tolist())
        words.append([next(
            symbol[1:] for index, symbol in enumerate(translator.target.symbols)
            if index not in allowed and symbol.startswith("▁") and len(symbol) > 5
        )])
    found = [line.translations[0].text for line in translator.translate_scored(lines, constraints=words)]
    lean = Translator.load(toy_run, beam=5, device="cpu", shortlist=shortlisted_toy / SHORTLIST)
    assert [line.translations[0].text for line in lean.translate_scored(lines, constraints=words)] == found
    for (word,), forced, (free,) in zip(words, found, translator.translate(lines), strict=True):
        assert as_words(word, forced), (word, forced)  # met: the phrase as a whole word
        assert f" {word}" not in f" {free}"


def vocabulary(*pieces):
    return Vocabulary([*SPECIALS, *pieces])


def test_a_batch_may_use_the_specials_the_always_line_its_pieces_targets_and_its_required_phrases(tmp_path):
    source, target = vocabulary("▁a", "▁b", "▁c"), vocabulary("▁x", "▁y", "▁z", "▁w", "▁v")
    path = tmp_path / "map.tsv"
    write_map(path, ["▁v"], {"▁a": ["▁x", "▁y"], "▁b": ["▁z"]})
    assert path.read_text() == "\t▁v\n▁a\t▁x ▁y\n▁b\t▁z\n"  # CTranslate2's vocabulary-map layout
    shortlist = Shortlist.load(path, source, target)
    a, b, c = (source.indices[p] for p in ("▁a", "▁b", "▁c"))
    x, y, z, w, v = (target.indices[p] for p in ("▁x", "▁y", "▁z", "▁w", "▁v"))
    assert shortlist.allowed([[c, 2]]).tolist() == [0, 1, 2, 3, v]
    assert shortlist.allowed([[a, 2], [c, a, 2]]).tolist() == [0, 1, 2, 3, x, y, v]
    allowed = shortlist.allowed([[b, 2]], [[[w, x]]])
    assert allowed.tolist() == [0, 1, 2, 3, x, z, w, v]
    assert narrowed([[[w, x]]], allowed) == [[[6, 4]]]

    def search(phrases, continues_word):  # over the shortlist's columns: its required phrase, then </s>
        assert continues_word.tolist() == [False] * 4 + [False, True, False, False]  # x z w v
        return [[Hypothesis([*phrases[0][0], 2], -1.0)]]

    continues_word = vocabulary("▁x", "▁y", "z", "▁w", "▁v").continues_word  # "z" continues a word
    found = searched(search, [[[w, x]]], continues_word, allowed)
    assert found[0][0].tokens == [w, x, 2] and found[0][0].score == -1.0


@pytest.mark.parametrize(
    "text, message",
    [
        ("▁a\t▁x\n", "no line of always-allowed pieces"),
        ("\t▁x\n▁a ▁x\n", ":2: not a 'source piece<TAB>target pieces' line"),
        ("\t▁x\n▁a\t▁q\n", ":2: '▁q' is not in the model's vocabulary"),
        ("\t▁x\n▁q\t▁x\n", ":2: '▁q' is not in the model's vocabulary"),
    ],
)
def test_a_map_that_does_not_fit_the_model_is_refused_in_one_line(text, message, tmp_path):
    path = tmp_path / "map.tsv"
    path.write_text(text)
    with pytest.raises(ShortlistError, match=message) as raised:
        Shortlist.load(path, vocabulary("▁a"), vocabulary("▁x"))
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_the_map_keeps_each_source_pieces_likeliest_targets_by_dice(monkeypatch):
    source, target = vocabulary("▁house", "▁the", "▁red"), vocabulary("▁Haus", "▁das", "▁rot", "▁the")
    pairs = [
        ("▁the ▁house", "▁das ▁Haus"),
        ("▁the ▁red ▁house", "▁das ▁rot e ▁Haus"),  # "e": not in the vocabulary, not counted
        ("▁the ▁red", "▁das ▁rot"),
        ("▁the", "▁das ▁das"),
    ]
    always, targets = learn_map(pairs, source, target, per_piece=2, frequent=2)
    assert always == ["▁das", "▁Haus"]  # 5 and 2 occurrences; "▁rot" (2) comes later in the vocabulary
    # Dice of "▁house": "▁Haus" 2*2/(2+2) = 1, "▁das" 2*2/(2+4) = 0.67, "▁rot" 2*1/(2+2) = 0.5.
    assert targets["▁house"] == ["▁Haus", "▁das"]
    assert targets["▁red"] == ["▁rot", "▁das"]
    # "▁the" is also a target piece (names and numbers are copied): it is allowed after its own.
    assert targets["▁the"] == ["▁das", "▁Haus", "▁the"]
    assert np.all([piece in target.indices for pieces in targets.values() for piece in pieces])
    monkeypatch.setattr(vocabulary_map, "_CHUNK", 1)  # counted a pair at a time, then merged
    assert learn_map(pairs, source, target, per_piece=2, frequent=2) == (always, targets)


def test_export_without_encoded_training_text_says_so_in_one_line(toy_run, tmp_path, fairseq_env):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(toy_run, run, ignore=shutil.ignore_patterns("encoded", "exported", "tensorboard"))
    done = evo_mt("export", str(run), "--output", str(tmp_path / "m"), "--shortlist", env=fairseq_env)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr[-2000:]
    assert "encoded" in done.stderr and "train." in done.stderr and not (tmp_path / "m").exists()
