"""`evo-mt bench`: the cost figures, the translate comparison, and the quality comparison."""

import json
import shutil

import pytest
from conftest import PROJECT_RECIPES, dictionary, evo_mt


def test_bench_prints_the_table_and_writes_the_three_ratios(tmp_path, fairseq_env):
    output = tmp_path / "bench.json"
    done = evo_mt(
        "bench", "model", "--size", "tiny", "--repeats", "1", "--train-batches", "2",
        "--generate-batches", "1", "--json", str(output), env=fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "EA / vanilla" in done.stdout and "beam-5 sentences/s" in done.stdout
    report = json.loads(output.read_text())
    assert report["device"].startswith("cpu")
    for side in ("vanilla", "ea"):
        assert all(value > 0 for value in report[side].values())
    for ratio in ("train_time_ratio", "generate_time_ratio", "peak_memory_ratio"):
        assert 0.2 < report[ratio] < 5, (ratio, report[ratio])
    # EA keeps more maps and has convolutions: it cannot need less memory than vanilla.
    assert report["peak_memory_ratio"] > 1.0


def test_translate_is_timed_against_fairseq_interactive(toy_run, tmp_path, fairseq_env):
    lines = (toy_run / "raw" / "test.en").read_text().splitlines()[:20]
    source = tmp_path / "input.txt"
    source.write_text("\n".join(lines) + "\n")
    output = tmp_path / "translate.json"
    done = evo_mt(
        "bench", "translate", str(toy_run), "--input", str(source), "--repeats", "1", "--json", str(output),
        env=fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["sentences"] == 20
    rows = report["rows"]
    assert list(rows) == [
        "evo-mt translate --engine lean", "evo-mt translate RUN (its cached export)",
        "evo-mt translate DIR (exported)", "evo-mt translate DIR (exported, int8)",
        "evo-mt translate --engine lean --quantize int8", "evo-mt translate --engine fairseq",
        "fairseq-interactive",
    ]
    for name, row in rows.items():
        # 20 lines take about as long as one (start-up dominates): both timed, neither ordered.
        assert row["seconds"] > 0 and row["one_line_seconds"] > 0, name
        assert row["peak_mib"] > 20, name  # a Python process with numpy loaded, at least
        assert row["output_words"] > 20, name
    # Both engines, the exported model and fairseq-interactive translate these lines alike.
    alike = (
        "evo-mt translate --engine fairseq", "fairseq-interactive", "evo-mt translate DIR (exported)",
        "evo-mt translate RUN (its cached export)",
    )
    for name in alike:
        assert rows[name]["same_as_lean"] == 20, name
    assert set(report["ratios"]) == {
        "speedup vs fairseq-interactive",
        "memory vs fairseq-interactive",
        "int8 speedup vs fairseq-interactive",
        "exported speedup vs lean (EA)",
        "exported int8 speedup vs lean (EA)",
        "translate RUN / translate DIR time",
        "translate RUN / translate DIR time, one line",
    }
    assert "| fairseq-interactive | ea |" in done.stdout


def saved_model(path, **overrides):
    """A tiny model saved with its options as fairseq-train stores them (plain containers)."""
    import argparse

    import torch
    from fairseq.models import ARCH_CONFIG_REGISTRY

    from evo_mt.models.factory import build_model

    model = build_model("ea_transformer_tiny", dictionary(), seed=1, **overrides)
    options = argparse.Namespace(arch="ea_transformer_tiny", _name="ea_transformer", **overrides)
    ARCH_CONFIG_REGISTRY["ea_transformer_tiny"](options)
    task = {"_name": "translation", "source_lang": "en", "target_lang": "de"}
    torch.save({"model": model.state_dict(), "cfg": {"model": vars(options), "task": task}}, path)
    return model


def test_a_vanilla_checkpoint_becomes_fairseqs_transformer_and_an_ea_one_is_refused(tmp_path):
    import torch

    from evo_mt.evidence.vanilla_model import as_fairseq_transformer
    from evo_mt.models.factory import build_model
    from evo_mt.runtime.base.errors import OptionError

    saved_model(tmp_path / "ea.pt")
    with pytest.raises(OptionError, match="evolves attention .encoder,decoder,cross.; give a run trained"):
        as_fairseq_transformer(tmp_path / "ea.pt", tmp_path / "refused.pt")
    assert not (tmp_path / "refused.pt").exists()
    vanilla = saved_model(tmp_path / "vanilla.pt", ea_chains="")
    written = as_fairseq_transformer(tmp_path / "vanilla.pt", tmp_path / "transformer.pt")
    converted = torch.load(written, weights_only=True)
    args = vars(converted["args"])  # what CTranslate2's converter reads
    assert (args["arch"], args["_name"], args["task"]) == ("transformer", "transformer", "translation")
    assert (args["source_lang"], args["target_lang"]) == ("en", "de")
    assert not [name for name in args if name.startswith("ea_")]
    assert args["encoder_normalize_before"] is False and args["decoder_layers"] == 3
    fairseq_transformer = build_model("ea_transformer_tiny", dictionary(), vanilla=True, seed=1)
    assert set(converted["model"]) == set(fairseq_transformer.state_dict())  # it loads as fairseq's model
    assert all(torch.equal(converted["model"][k], v) for k, v in vanilla.state_dict().items())


def test_quality_comparison_trains_and_scores_every_variant_alike(tmp_path, fairseq_env):
    text = (PROJECT_RECIPES / "toy" / "recipe.toml").read_text()
    text = text.replace("sentences = 12000", "sentences = 1000").replace("beam = 5", "beam = 1")
    (tmp_path / "recipe").mkdir()
    (tmp_path / "recipe" / "recipe.toml").write_text(text)
    kept = tmp_path / "kept"
    command = [
        "bench", "quality", str(tmp_path / "recipe"), "--variants", "vanilla,conv_only,vanilla*1.5",
        "--seeds", "1", "--workdir", str(tmp_path / "q"), "--results", str(kept),
        "--max-update", "4", "--max-epoch", "0", "--save-interval-updates", "2",
    ]
    done = evo_mt(*command, env=fairseq_env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((kept / "quality.json").read_text())
    assert list(report["variants"]) == ["vanilla", "conv_only", "vanilla*1.5"]
    # vanilla*1.5: 1.5 times the 4 updates vanilla had with the same seed, in its own folder.
    for variant, updates in (("vanilla", 4), ("conv_only", 4), ("vanilla*1.5", 6)):
        run = report["variants"][variant]["runs"]["1"]
        assert run["updates"] == updates and run["sentences"] == 500
    assert (tmp_path / "q" / "vanilla-x1.5-seed1" / "checkpoints" / "checkpoint_averaged.pt").is_file()
    assert all(f"| {variant} |" in done.stdout for variant in report["variants"])
    # Against the first variant: the paired tests of seed 1 against seed 1, as `evo-mt compare`
    # gives them on the two run folders.
    assert "pairs" not in report["variants"]["vanilla"]
    conv_only = report["variants"]["conv_only"]
    assert conv_only["pairs"] == 1 and set(conv_only["significant_pairs"]) == {"bleu", "chrf"}
    against = conv_only["runs"]["1"]["against_first"]
    compared = tmp_path / "compare.json"
    done_compare = evo_mt(
        "compare", str(tmp_path / "q" / "vanilla-seed1"), str(tmp_path / "q" / "conv_only-seed1"),
        "--json", str(compared), env=fairseq_env,
    )
    assert done_compare.returncode == 0, done_compare.stderr[-3000:]
    tested = json.loads(compared.read_text())["systems"][1]
    for metric in ("bleu", "chrf"):
        figures = ("difference", "p_bootstrap", "p_randomization")
        assert against[metric] == {figure: tested[metric][figure] for figure in figures}
        significant = tested[metric]["p_bootstrap"] < 0.05 and tested[metric]["p_randomization"] < 0.05
        assert conv_only["significant_pairs"][metric] == int(significant)
    row = next(line for line in done.stdout.splitlines() if line.startswith("| conv_only |"))
    bleu = against["bleu"]
    assert f"{bleu['difference']:+.2f} ({bleu['p_bootstrap']:.3f}, {bleu['p_randomization']:.4f})" in row
    # The vanilla variant really has no evolving attention; conv_only has convolutions.
    vanilla_log = (tmp_path / "q" / "vanilla-seed1" / "train.log").read_text()
    assert "'ea_chains': ''" in vanilla_log or "ea_chains=''" in vanilla_log
    # Kept runs: each run's hypotheses and figures beside the tables, named like its folder.
    stems = ["vanilla-seed1", "conv_only-seed1", "vanilla-x1.5-seed1"]
    assert sorted(p.name for p in kept.iterdir()) == sorted(
        ["quality.json", "quality.md", *(stem + suffix for stem in stems for suffix in (".hyp", ".json"))]
    )
    scored = tmp_path / "q" / "conv_only-seed1" / "scores" / "test.checkpoint_averaged.hyp"
    assert (kept / "conv_only-seed1.hyp").read_text() == scored.read_text()
    assert report["variants"]["conv_only"]["runs"]["1"]["hypotheses_file"] == "conv_only-seed1.hyp"
    assert all(report["variants"][v]["runs"]["1"]["train_seconds"] > 0 for v in report["variants"])
    # A later sitting without the run folders trains nothing and gives the same comparison.
    for stem in stems:
        shutil.rmtree(tmp_path / "q" / stem)
    again = evo_mt(*command, env=fairseq_env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((kept / "quality.json").read_text()) == report
    assert not any((tmp_path / "q" / stem).exists() for stem in stems)
    # Kept runs made with other options are refused, in one line, before anything trains.
    other = evo_mt(*command, "--dropout", "0.3", env=fairseq_env)
    assert other.returncode != 0 and "Traceback" not in other.stderr
    assert "vanilla-seed1.json: kept from recipe" in other.stderr and "--dropout 0.3" in other.stderr
    assert not (tmp_path / "q" / "vanilla-seed1").exists()
    # So are runs kept before the recipe itself changed.
    (tmp_path / "recipe" / "recipe.toml").write_text(text.replace("beam = 1", "beam = 2"))
    changed = evo_mt(*command, env=fairseq_env)
    assert changed.returncode != 0 and "Traceback" not in changed.stderr
    assert "vanilla-seed1.json: kept from recipe toy as it was before its score changed" in changed.stderr


def test_threads_times_every_layout_at_each_size_and_finds_the_same_translations(
    exported_toy, toy_run, tmp_path, fairseq_env
):
    lines = (toy_run / "raw" / "test.en").read_text().splitlines()[:40]
    source = tmp_path / "input.txt"
    source.write_text("\n".join(lines) + "\n")
    output = tmp_path / "threads.json"
    env = {**fairseq_env, "OMP_NUM_THREADS": "2"}  # taken as the cores, whatever the machine has
    done = evo_mt(
        "bench", "threads", str(exported_toy), "--input", str(source), "--repeats", "1",
        "--json", str(output), env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["cores"] == 2 and report["default"] == [2, 1]
    found = {(row["workers"], row["threads"], row["lines"]): row for row in report["rows"]}
    assert set(found) == {(w, t, n) for w, t in ((1, 2), (2, 1), (1, 1)) for n in (1, 32, 40)}
    for key, row in found.items():
        assert row["seconds"] > 0 and row["peak_mib"] > 20 and row["same_as_one_thread"], key
    assert "2 workers x 1 thread against 1 worker x 2 threads (time ratio): 1: " in done.stdout


def test_shortlist_compares_the_whole_vocabulary_and_checks_the_lean_engine(toy_run, tmp_path, fairseq_env):
    raw = toy_run / "raw"
    output = tmp_path / "shortlist.json"
    done = evo_mt(
        "bench", "shortlist", str(toy_run), "--source", str(raw / "test.en"),
        "--reference", str(raw / "test.de"), "--pieces", "3", "--frequent", "20", "--lines", "40",
        "--repeats", "1", "--json", str(output),
        env=fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    whole, listed = report["rows"]
    assert whole["mean_columns"] == whole["max_columns"] == report["vocabulary"]
    assert listed["max_columns"] < report["vocabulary"] and whole["same_as_whole"] == 40
    assert report["exported_equal_to_lean"] == 40 and report["shortlist"] == {"per_piece": 3, "frequent": 20}
    assert "whole / shortlist time: " in done.stdout and "lean engine with the same map: 40/40" in done.stdout
