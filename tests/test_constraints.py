"""Required words on the toy model: the lean engine and the exported runtime search the same
way (whole hypotheses); fairseq's own constrained search meets the same constraints (as
pieces; evo-mt's as whole words); constraints from the references are met as whole words
without losing BLEU, and `bench constraints` counts them so; a glossary matches whole source
words and changes only the lines holding its terms; `--json` and serve's "scores" give each
translation its score."""

import json
import math
from pathlib import Path
from typing import List

import pytest
import sacrebleu
from conftest import evo_mt
from starlette.testclient import TestClient

from evo_mt.evidence import constrained_decoding
from evo_mt.evidence.constrained_decoding import as_words, share_met
from evo_mt.pipeline.translation import Translator
from evo_mt.runtime.base.vocabulary import EOS
from evo_mt.runtime.search.constrained_search import phrases_met
from evo_mt.runtime.serving.app import create_app
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.text.exported import ExportedTranslator
from evo_mt.runtime.text.glossary import Glossary

LINES = 24
# A glossary entry: the toy source word and a target word that is not its translation.
TERM, CHOSEN = "yesterday", "heute"


def toy_lines(toy_run: Path) -> tuple:
    source = (toy_run / "raw" / "test.en").read_text().splitlines()[:LINES]
    reference = (toy_run / "raw" / "test.de").read_text().splitlines()[:LINES]
    return source, reference


def reference_words(translator, toy_run: Path) -> List[List[str]]:
    """Up to two reference words per line that the unconstrained translation misses (every
    third line none: a batch mixes constrained and free sentences)."""
    source, reference = toy_lines(toy_run)
    plain = translator.translate(source)
    words = []
    for number, (ref, out) in enumerate(zip(reference, plain, strict=True)):
        missed = [w for w in ref.split() if w not in out[0].split() and len(w) > 2]
        words.append(missed[:2] if number % 3 else [])
    return words


def encoded(translator, words: List[List[str]]) -> List[List[List[int]]]:
    return [
        [translator.target_indices(translator.spm.encode(w, out_type=str)) for w in line] for line in words
    ]


@pytest.fixture(scope="module")
def lean(toy_run):
    return Translator.load(toy_run, beam=5, nbest=5, device="cpu")


@pytest.fixture(scope="module")
def exported(exported_toy):
    return ExportedTranslator.load(exported_toy, beam=5, nbest=5)


def test_lean_and_exported_constrained_searches_find_the_same_hypotheses(lean, exported, toy_run):
    words = reference_words(lean, toy_run)
    constraints = encoded(lean, words)
    assert sum(map(len, constraints)) >= LINES // 2
    sources = [lean.source_indices(lean.spm.encode(line, out_type=str)) for line in toy_lines(toy_run)[0]]
    found_lean = lean.generate(sources, constraints)
    found_exported = exported.generate(sources, constraints)
    for phrases, by_lean, by_exported in zip(constraints, found_lean, found_exported, strict=True):
        assert [h.pieces for h in by_lean] == [h.pieces for h in by_exported]  # all 5, in order
        assert [h.score for h in by_lean] == pytest.approx([h.score for h in by_exported], abs=1e-4)
        tokens = [*lean.target_indices(by_lean[0].pieces), EOS]
        assert all(phrases_met(tokens, phrases, exported.target.continues_word))  # as whole words


def test_fairseqs_constrained_search_meets_the_same_constraints(lean, toy_run):
    fairseq = Translator.load(toy_run, beam=5, nbest=1, device="cpu", engine="fairseq")
    constraints = encoded(lean, reference_words(lean, toy_run))
    sources = [lean.source_indices(lean.spm.encode(line, out_type=str)) for line in toy_lines(toy_run)[0]]
    ours = [best[0] for best in lean.generate(sources, constraints)]
    theirs = [best[0] for best in fairseq.generate(sources, constraints)]
    for phrases, mine, its in zip(constraints, ours, theirs, strict=True):
        words = lean.engine.model.target.continues_word
        assert all(phrases_met([*lean.target_indices(mine.pieces), EOS], phrases, words))
        assert all(phrases_met(lean.target_indices(its.pieces), phrases))  # as pieces
        if not phrases:  # fairseq's search without constraints is its plain beam search: equal
            assert mine.pieces == its.pieces
    same = sum(m.pieces == t.pieces for m, t in zip(ours, theirs, strict=True))
    print(f"fairseq and evo-mt constrained: {same}/{len(ours)} best hypotheses equal")


@pytest.mark.parametrize("folder", ["toy_run", "exported_toy"])
def test_reference_words_are_met_on_every_line_without_losing_bleu(
    folder, lean, toy_run, request, fairseq_env
):
    source, reference = toy_lines(toy_run)
    words = reference_words(lean, toy_run)
    lines = ["\t".join([line, *w]) for line, w in zip(source, words, strict=True)]
    model = str(request.getfixturevalue(folder))
    plain = evo_mt("translate", model, "--beam", "5", env=fairseq_env, input="\n".join(source) + "\n")
    bound = evo_mt(
        "translate", model, "--beam", "5", "--constraints", env=fairseq_env, input="\n".join(lines) + "\n"
    )
    assert plain.returncode == bound.returncode == 0, bound.stderr[-2000:]
    free, forced = plain.stdout.splitlines(), bound.stdout.splitlines()
    assert len(forced) == LINES
    for wanted, out in zip(words, forced, strict=True):
        assert all(as_words(word, out) for word in wanted), (wanted, out)
    before = sacrebleu.corpus_bleu(free, [reference]).score
    after = sacrebleu.corpus_bleu(forced, [reference]).score
    print(f"{folder}: BLEU {before:.2f} unconstrained, {after:.2f} with reference words")
    assert after >= before


def test_bench_constraints_counts_whole_words_and_beside_them_word_starts(exported, toy_run):
    assert share_met(["Dateien und Datei.", "die Dateien", "Dateiname", ""], [["Datei"]] * 4) == (1, 3, 4)
    # Punctuation ends a word, and starts one (the old count wanted a space before).
    assert share_met(["(Datei) öffnen", "Datei-Name"], [["Datei", "öffnen"], ["Datei"]]) == (3, 2, 3)
    test = toy_run / "raw"
    report = constrained_decoding.bench(
        exported.with_search(5, 1).with_split(False), test / "test.en", test / "test.de", 16, LINES
    )
    rows = {row["name"]: row for row in report["rows"]}
    for name in ["reference words", "glossary"]:
        assert rows[name]["met"] == rows[name]["met_at_word_start"] == rows[name]["constraints"] > 0
    assert " met  start " in constrained_decoding.table(report)


def test_a_glossary_term_matches_whole_source_words_only():
    glossary = Glossary([("file", "Datei", "term 1"), ("save as", "speichern unter", "term 2")])
    assert glossary.find("Save the files as a profile (filename).") == []
    found = glossary.find("File: save  AS, then save as file.")
    assert [(t.source, t.target) for t in found] == [("file", "Datei"), ("save as", "speichern unter")]


@pytest.mark.parametrize("folder", ["toy_run", "exported_toy"])
def test_a_glossary_changes_only_the_lines_holding_its_term(folder, toy_run, tmp_path, request, fairseq_env):
    source = toy_lines(toy_run)[0]
    assert 0 < sum(TERM in line.split() for line in source) < len(source)
    glossary = tmp_path / "glossary.tsv"
    glossary.write_text(f"# a comment\n{TERM.upper()}\t{CHOSEN}\n")
    model = str(request.getfixturevalue(folder))
    text = "\n".join(source) + "\n"
    plain = evo_mt("translate", model, env=fairseq_env, input=text)
    with_terms = evo_mt("translate", model, "--glossary", str(glossary), env=fairseq_env, input=text)
    scored = evo_mt("translate", model, "--glossary", str(glossary), "--json", env=fairseq_env, input=text)
    assert plain.returncode == with_terms.returncode == scored.returncode == 0, with_terms.stderr[-2000:]
    for line, free, forced, js in zip(
        source,
        plain.stdout.splitlines(),
        with_terms.stdout.splitlines(),
        scored.stdout.splitlines(),
        strict=True,
    ):
        found = json.loads(js)
        assert found["translation"] == forced
        if TERM in line.split():
            assert CHOSEN in forced.split() and CHOSEN not in free.split()
            assert found["constraints"] == [CHOSEN]
            assert found["glossary"] == [{"source": TERM.upper(), "target": CHOSEN}]
        else:
            assert forced == free and found["constraints"] == [] and found["glossary"] == []


@pytest.mark.parametrize("folder", ["toy_run", "exported_toy"])
def test_json_gives_each_line_its_translation_and_score(folder, toy_run, request, fairseq_env):
    source = [*toy_lines(toy_run)[0][:6], ""]
    model = str(request.getfixturevalue(folder))
    text = "\n".join(source) + "\n"
    plain = evo_mt("translate", model, "--nbest", "2", env=fairseq_env, input=text)
    scored = evo_mt("translate", model, "--nbest", "2", "--json", env=fairseq_env, input=text)
    assert plain.returncode == scored.returncode == 0, scored.stderr[-2000:]
    objects = [json.loads(line) for line in scored.stdout.splitlines()]
    assert len(objects) == len(source)
    for line, found in zip(plain.stdout.splitlines(), objects, strict=True):
        assert [h["translation"] for h in found["nbest"]] == line.split("\t")
        assert found["translation"] == line.split("\t")[0] and found["score"] == found["nbest"][0]["score"]
        assert all(math.isfinite(h["score"]) and h["score"] <= 0 for h in found["nbest"])
        assert found["nbest"][0]["score"] >= found["nbest"][1]["score"] or not found["translation"]
    assert "constraints" not in objects[0]


def test_serve_takes_a_glossary_per_request_and_a_default_and_answers_scores(exported, toy_run, tmp_path):
    source = toy_lines(toy_run)[0][:8]
    default = tmp_path / "default.tsv"
    default.write_text(f"{TERM}\t{CHOSEN}\n")
    plain = exported.with_search(5, 1).translate(source)
    app = create_app([exported.with_search(5, 1)], ServerLimits(), glossary=Glossary.load(default))
    with TestClient(app) as client:
        body = client.post("/translate", json={"text": source, "scores": True}).json()["translations"]
        for line, free, found in zip(source, plain, body, strict=True):
            assert math.isfinite(found["score"]) and found["score"] <= 0
            if TERM in line.split():
                assert CHOSEN in found["translation"].split() and found["constraints"] == [CHOSEN]
            else:
                assert found["translation"] == free[0] and found["glossary"] == []
        # The request's own term for the same source wins; plain strings without "scores".
        own = client.post("/translate", json={"text": source, "glossary": {TERM: "selten"}}).json()
        assert all(
            "selten" in out.split()
            for line, out in zip(source, own["translations"], strict=True)
            if TERM in line
        )
        # LibreTranslate's form takes "glossary" as an extra field.
        libre = {"q": source[1], "source": "en", "target": "de", "glossary": [[TERM, CHOSEN]]}
        assert CHOSEN in client.post("/translate", json=libre).json()["translatedText"].split()
        words = list(dict.fromkeys(toy_lines(toy_run)[1][0].split()))
        crowded = dict(zip(list(dict.fromkeys(source[0].split()))[:5], words[:5], strict=True))
        for glossary, problem in [
            ({TERM: ""}, "glossary entry 1: an empty target term"),
            ([["a"]], "glossary must be an object of terms or a list of [source, target] pairs"),
            ({TERM: "\u2603\u2603"}, "line 1: constraint '\u2603\u2603' cannot be encoded"),
            (crowded, "line 0: 5 constraints are more than beam 5 can carry"),
        ]:
            assert TERM not in source[0].split() and TERM in source[1].split()
            response = client.post("/translate", json={"text": source[:2], "glossary": glossary})
            assert response.status_code == 400 and problem in response.json()["error"], response.text
