"""`evo-mt bench`: the cost figures, the translate comparison, and the quality comparison."""

import json

from conftest import PROJECT_RECIPES, evo_mt


def test_bench_prints_the_table_and_writes_the_three_ratios(tmp_path, fairseq_env):
    output = tmp_path / "bench.json"
    done = evo_mt(
        "bench", "--size", "tiny", "--repeats", "1", "--train-batches", "2", "--generate-batches", "1",
        "--json", str(output), env=fairseq_env,
    )  # fmt: skip
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
    lines = (toy_run / "raw" / "test.en").read_text().splitlines()[:100]
    source = tmp_path / "input.txt"
    source.write_text("\n".join(lines) + "\n")
    output = tmp_path / "translate.json"
    done = evo_mt(
        "bench", "--translate", str(toy_run), "--input", str(source), "--repeats", "1", "--json", str(output),
        env=fairseq_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["sentences"] == 100
    assert set(report["sentences_per_s"]) == {
        "evo_mt_translate",
        "fairseq_interactive",
        "fairseq_interactive_batched",
    }
    assert all(rate > 0 for rate in report["sentences_per_s"].values())
    assert "fairseq-interactive" in done.stdout


def test_quality_comparison_trains_and_scores_every_variant_alike(tmp_path, fairseq_env):
    text = (PROJECT_RECIPES / "toy" / "recipe.toml").read_text()
    text = text.replace("sentences = 12000", "sentences = 1000").replace("beam = 5", "beam = 1")
    (tmp_path / "recipe").mkdir()
    (tmp_path / "recipe" / "recipe.toml").write_text(text)
    done = evo_mt(
        "bench", "--quality", str(tmp_path / "recipe"), "--variants", "vanilla,conv_only,vanilla*1.5",
        "--seeds", "1", "--workdir", str(tmp_path / "q"),
        "--max-update", "4", "--max-epoch", "0", "--save-interval-updates", "2",
        env=fairseq_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "q" / "quality.json").read_text())
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
    )  # fmt: skip
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
