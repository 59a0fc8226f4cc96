"""`evo-mt compare`: paired significance against the first system, and chrF by length buckets."""

import json
import random
from pathlib import Path

import pytest
from conftest import PROJECT_RECIPES, evo_mt

from evo_mt.evidence.length_buckets import EDGES, bucket_labels, draw, length_buckets, table
from evo_mt.evidence.quality import compare_variants, parse_variant
from evo_mt.evidence.significance import METRICS, paired_tests, significant
from evo_mt.pipeline.recipes import load_recipe
from evo_mt.runtime.base.errors import OptionError

WORDS = [f"wort{i}" for i in range(300)]


def corpus(count: int = 300, seed: int = 0):
    """(sources, references, hypotheses): the hypotheses are the references with about a
    third of their words replaced, so that a system has room to do better."""
    rng = random.Random(seed)
    sources, references, hypotheses = [], [], []
    for _ in range(count):
        length = rng.choice([3, 4, 5, 8, 12, 15, 25, 30, 45])
        reference = [rng.choice(WORDS) for _ in range(length)]
        sources.append(" ".join(rng.choice(WORDS) for _ in range(length + rng.randint(-2, 2))))
        references.append(" ".join(reference))
        hypotheses.append(" ".join(w if rng.random() < 0.65 else rng.choice(WORDS) for w in reference))
    return sources, references, hypotheses


def write(path: Path, lines) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_identical_systems_differ_by_nothing_with_p_1(tmp_path, fairseq_env):
    sources, references, hypotheses = corpus()
    files = [write(tmp_path / name, hypotheses) for name in ("a.hyp", "b.hyp")]
    output = tmp_path / "compare.json"
    done = evo_mt(
        "compare", *map(str, files), "--references", str(write(tmp_path / "ref.txt", references)),
        "--json", str(output), env=fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["hypotheses"] == report["references"] == len(references)
    baseline, same = report["systems"]
    for metric in METRICS:
        assert baseline[metric]["p_bootstrap"] is None and baseline[metric]["p_randomization"] is None
        assert same[metric]["difference"] == 0.0
        assert same[metric]["p_bootstrap"] == pytest.approx(1.0) and same[metric]["p_randomization"] == 1.0
        assert same[metric]["ci95"] == baseline[metric]["ci95"] > 0
    assert "bs:1000" in report["signatures"]["bleu"]["bootstrap"]
    assert "ar:10000" in report["signatures"]["chrf"]["randomization"]
    assert "baseline: a.hyp" in done.stdout and "nrefs:1|bs:1000|seed:12345" in done.stdout


def test_a_system_copying_half_the_references_is_significantly_better():
    _, references, hypotheses = corpus()
    half_copied = [r if i % 2 else h for i, (h, r) in enumerate(zip(hypotheses, references, strict=True))]
    result = paired_tests([("baseline", hypotheses), ("better", half_copied)], references)
    baseline, better = result["systems"]
    for metric in METRICS:
        figures = better[metric]
        assert figures["difference"] > 5
        assert figures["p_bootstrap"] < 0.05 and figures["p_randomization"] < 0.05 and significant(figures)
        # The bootstrap's 95% interval lies around the score, away from the baseline's.
        assert abs(figures["mean"] - figures["score"]) < figures["ci95"]
        assert figures["mean"] - figures["ci95"] > baseline[metric]["mean"] + baseline[metric]["ci95"]
    changed = sum(hypotheses[i] != references[i] for i in range(1, len(references), 2))
    assert 100 < better["differing_sentences"] == changed and baseline["differing_sentences"] == 0
    # One sentence of 300 corrected is a gain, but not a significant one. (Approximate
    # randomization has only two outcomes here, both equal to the observed difference, which
    # sacreBLEU does not count: its p is then its smallest. Hence the differing sentences.)
    one_better = [references[0], *hypotheses[1:]]
    barely = paired_tests([("baseline", hypotheses), ("one better", one_better)], references)["systems"][1]
    assert barely["differing_sentences"] == 1
    for metric in METRICS:
        assert barely[metric]["difference"] > 0 and barely[metric]["p_bootstrap"] > 0.05
        assert not significant(barely[metric])


def test_equal_scores_from_different_outputs_are_not_significant():
    """Two systems matching nothing both score 0: every randomization trial ties at 0."""
    _, references, _ = corpus(100)
    result = paired_tests([("a", ["xq"] * 100), ("b", ["zv vz"] * 100)], references)
    other = result["systems"][1]
    assert other["differing_sentences"] == 100
    for metric in METRICS:
        assert other[metric]["score"] == other[metric]["difference"] == 0
        assert other[metric]["p_randomization"] == 1.0 and not significant(other[metric])


def test_counts_that_differ_give_one_line(tmp_path, fairseq_env):
    _, references, hypotheses = corpus(50)
    full = write(tmp_path / "full.hyp", hypotheses)
    short = write(tmp_path / "short.hyp", hypotheses[:-1])
    reference_file = write(tmp_path / "ref.txt", references)
    done = evo_mt("compare", str(full), str(short), "--references", str(reference_file), env=fairseq_env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "evo-mt: error: short.hyp: 49 hypotheses for 50 references; they must be equal\n"
    done = evo_mt("compare", str(full), str(full), env=fairseq_env)
    assert done.returncode == 1
    assert done.stderr.startswith("evo-mt: error: --references is needed") and done.stderr.count("\n") == 1
    done = evo_mt(
        "compare", str(full), str(full), "--references", str(reference_file), "--buckets", env=fairseq_env
    )
    assert done.returncode == 1
    assert done.stderr.startswith("evo-mt: error: --source is needed") and done.stderr.count("\n") == 1


def test_length_buckets_table_and_bars_agree(tmp_path):
    sources, references, hypotheses = corpus()
    better = [r if i % 3 == 0 else h for i, (h, r) in enumerate(zip(hypotheses, references, strict=True))]
    groupings = length_buckets([("base", hypotheses), ("better", better)], references, sources)
    assert [g["by"] for g in groupings] == ["source length", "reference length"]
    labels = bucket_labels()
    assert labels == ["≤5", "6-10", "11-20", "21-40", "≥41"] and len(labels) == len(EDGES) + 1
    # The references have 3, 4, 5, 8, 12, 15, 25, 30 or 45 words: every bucket is used.
    by_reference = groupings[1]["buckets"]
    assert [b["label"] for b in by_reference] == labels
    lengths = [len(r.split()) for r in references]
    assert [b["sentences"] for b in by_reference] == [
        sum(low <= n < high for n in lengths) for low, high in zip((0, *EDGES), (*EDGES, 999), strict=True)
    ]
    printed = table(groupings)
    for grouping in groupings:
        for bucket in grouping["buckets"]:
            assert bucket["chrf"]["better"] > bucket["chrf"]["base"]
            row = f"{bucket['label']:<25} {bucket['sentences']:>9} {bucket['chrf']['base']:>12.2f}"
            assert row in printed
    figure = draw(groupings)
    assert len(figure.axes) == 2
    for axis, grouping in zip(figure.axes, groupings, strict=True):
        buckets = grouping["buckets"]
        assert [t.get_text().split("\n")[0] for t in axis.get_xticklabels()] == [b["label"] for b in buckets]
        assert len(axis.containers) == 2  # one group of bars per system
        for container, name in zip(axis.containers, ("base", "better"), strict=True):
            assert container.get_label() == name
            heights = [bar.get_height() for bar in container]
            assert heights == pytest.approx([b["chrf"][name] for b in buckets])


def test_compare_reads_run_folders_and_draws(tmp_path, fairseq_env):
    """Two run folders as `evo-mt score` leaves them: references and sources from raw/."""
    sources, references, hypotheses = corpus(120)
    recipe_text = (PROJECT_RECIPES / "toy" / "recipe.toml").read_text()
    runs = []
    for name, lines in (("first", hypotheses), ("second", references)):
        run = tmp_path / name
        (run / "raw").mkdir(parents=True)
        (run / "scores").mkdir()
        (run / "checkpoints").mkdir()
        (run / "recipe.toml").write_text(recipe_text)
        write(run / "raw" / "test.en", sources)
        write(run / "raw" / "test.de", references)
        (run / "checkpoints" / "checkpoint_best.pt").write_bytes(b"")  # only its name is used here
        write(run / "scores" / "test.checkpoint_best.hyp", lines)
        runs.append(run)
    picture, output = tmp_path / "buckets.png", tmp_path / "compare.json"
    done = evo_mt(
        "compare", *map(str, runs), "--output", str(picture), "--json", str(output), env=fairseq_env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["references_file"] == str(runs[0] / "raw" / "test.de")
    assert report["sources_file"] == str(runs[0] / "raw" / "test.en")
    assert report["systems"][1]["bleu"]["score"] == pytest.approx(100.0)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "chrF by source length" in done.stdout and "Δ second" in done.stdout
    # Runs whose references differ cannot be compared.
    write(runs[1] / "raw" / "test.de", references[::-1])
    done = evo_mt("compare", *map(str, runs), env=fairseq_env)
    assert done.returncode == 1 and "the systems must share their references" in done.stderr


def test_variant_specs_with_a_budget_ratio(tmp_path):
    spec = parse_variant("vanilla*1.14")
    assert (spec.variant, spec.budget) == ("vanilla", 1.14)
    assert (spec.name, spec.folder) == ("vanilla*1.14", "vanilla-x1.14")
    assert spec.budget_options(580) == ["--max-update", "661", "--max-epoch", "0"]
    assert parse_variant("vanilla*1.140").folder == "vanilla-x1.14"  # one spelling, one folder
    plain = parse_variant("ea")
    assert (plain.budget, plain.folder, plain.budget_options(580)) == (None, "ea", [])
    for bad in ("vanilla*0", "vanilla*-1", "vanilla*x", "vanilla*inf", "nope", "nope*2"):
        with pytest.raises(OptionError) as error:
            parse_variant(bad)
        assert error.value.option == "variants"
    with pytest.raises(OptionError, match="must start with a variant on the recipe's budget"):
        compare_variants(
            load_recipe("toy"), tmp_path, source=None, seeds=[1], variants=["vanilla*1.1", "ea"], overrides=[]
        )
    assert not any(tmp_path.iterdir())  # refused before preparing anything
