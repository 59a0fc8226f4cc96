"""Quality comparison: vanilla against evolving attention, and the paper's ablations.

Every variant trains on the same prepared data, with the same recipe, budget and seeds;
only the `--ea-*` options differ. Each run is averaged and scored like `evo-mt score`.
The variant "vanilla" turns every chain off, which leaves fairseq's own attention modules:
the model is fairseq's Transformer with the recipe's dimensions.

Equal compute: `VARIANT*R` trains VARIANT for round(R x U) updates, U being the updates the
recipe's budget gave the first variant with the same seed. With R = EA's training time over
vanilla's, `vanilla*R` gets the wall time EA had.

Against the first variant, each other variant's run of seed i is tested against the first
variant's run of seed i with sacreBLEU's paired tests (`significance`).
"""

import dataclasses
import json
import math
import os
import shlex
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from evo_mt.evidence.significance import METRICS, paired_tests, significant
from evo_mt.pipeline.averaging import average_run
from evo_mt.pipeline.prepare import prepare
from evo_mt.pipeline.recipes import Recipe
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.scoring import score_run
from evo_mt.pipeline.train_log import history
from evo_mt.pipeline.training import train
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.files import atomic_file_in_own_folder as atomic_file
from evo_mt.runtime.base.files import read_lines
from evo_mt.runtime.base.files import write_lines_in_own_folder as write_lines

VARIANTS: Dict[str, List[str]] = {
    "vanilla": ["--ea-chains", ""],
    "ea": [],
    "residual_only": ["--ea-beta", "0"],  # alpha kept: logits handed on, no convolution
    "conv_only": ["--ea-alpha", "0"],  # beta kept: convolution of each layer's own logits
    "encoder_only": ["--ea-chains", "encoder"],
    "decoder_only": ["--ea-chains", "decoder"],
    "cross_only": ["--ea-chains", "cross"],
}


@dataclass(frozen=True)
class VariantSpec:
    """A variant and its training budget: the recipe's (`budget` None), or `budget` times the
    updates the first variant had."""

    variant: str
    budget: float | None = None

    @property
    def name(self) -> str:
        return self.variant if self.budget is None else f"{self.variant}*{self.budget:g}"

    @property
    def folder(self) -> str:
        """The run folder's name before -seed<N>: stable and free of characters shells expand."""
        return self.variant if self.budget is None else f"{self.variant}-x{self.budget:g}"

    def budget_options(self, first_updates: int | None) -> List[str]:
        """fairseq-train options giving this variant its budget, given the first variant's updates."""
        if self.budget is None:
            return []
        if not first_updates:
            raise OptionError("variants", f"{self.name}: the first variant's run of this seed has no updates")
        # Epochs unlimited: the number of updates alone ends the run.
        return ["--max-update", str(max(1, round(self.budget * first_updates))), "--max-epoch", "0"]


def parse_variant(spec: str) -> VariantSpec:
    """`ea`, or `vanilla*1.14`: a known variant, optionally times a positive budget ratio."""
    variant, star, ratio = spec.strip().partition("*")
    if variant not in VARIANTS:
        raise OptionError("variants", f"has an unknown variant {variant!r} (known: {', '.join(VARIANTS)})")
    if not star:
        return VariantSpec(variant)
    try:
        budget = float(ratio)
    except ValueError:
        budget = math.nan
    if not (math.isfinite(budget) and budget > 0):
        raise OptionError("variants", f"{spec!r}: the budget ratio after '*' must be a positive number")
    return VariantSpec(variant, budget)


def _variant_run(data: Run, root: Path) -> Run:
    """A run folder that shares the prepared data (symbolic links) and has its own checkpoints."""
    run = Run(root)
    run.root.mkdir(parents=True, exist_ok=True)
    for shared, link in zip(data.prepared, run.prepared, strict=True):
        if not link.exists():
            link.symlink_to(shared, target_is_directory=True)
    run.recipe_file.write_bytes(data.recipe_file.read_bytes())
    return run


def default_workdir(recipe: Recipe) -> Path:
    return (Path("runs") / f"{recipe.name}-quality").resolve()


def compare_variants(
    recipe: Recipe,
    root: Path,
    *,
    source: str | None,
    seeds: List[int],
    variants: List[str],
    overrides: List[str],
    results: Path | None = None,
) -> Dict:
    """Train, average and score every variant (`parse_variant`) with every seed under `root`
    (runs resume), test each against the first variant seed by seed; writes quality.json and
    quality.md and returns what quality.json holds. `overrides` are fairseq-train options
    given to every run.

    With `results`, each finished run's test hypotheses and figures are kept there
    (<folder>-seed<N>.hyp and .json: small text, made to be kept in version control), a run
    kept there is not trained again (its options and the recipe's settings must match), and
    quality.json and quality.md go there instead of `root`: the comparison outlives the run
    folders and can be completed over several sittings on machines that do not keep them.
    """
    specs = [parse_variant(v) for v in variants]
    if specs[0].budget is not None:
        raise OptionError(
            "variants",
            f"must start with a variant on the recipe's budget (what '*R' multiplies), not {specs[0].name}",
        )
    if len({spec.name for spec in specs}) < len(specs):
        raise OptionError("variants", "names a variant twice")
    data = prepare(recipe, Run(root / "data"), source)
    runs: Dict[str, Dict[int, Dict]] = {}
    for spec in specs:
        for seed in seeds:
            first_updates = runs.get(specs[0].name, {}).get(seed, {}).get("updates")
            budget = spec.budget_options(first_updates)
            options = [*VARIANTS[spec.variant], "--seed", str(seed), *overrides, *budget]
            name = f"{spec.folder}-seed{seed}"
            kept = None if results is None else _kept(results, name, recipe, options)
            if kept is None:
                kept = _train_and_score(recipe, _variant_run(data, root / name), options)
                if results is not None:
                    kept = _keep(results, name, recipe, options, kept)
            runs.setdefault(spec.name, {})[seed] = kept
    signatures = _test_against_first(runs, read_lines(data.text("test", recipe.target_lang)), seeds)
    destination = results if results is not None else root
    for by_seed in runs.values():
        for run in by_seed.values():
            run["hypotheses_file"] = os.path.relpath(run["hypotheses_file"], destination)
    result = {
        "recipe": recipe.name,
        "seeds": seeds,
        "overrides": overrides,
        "bleu_signature": kept["bleu_signature"],
        "significance_signatures": signatures,
        "variants": {v: summarize(by_seed) for v, by_seed in runs.items()},
    }
    with atomic_file(destination / "quality.json") as scratch:
        scratch.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    with atomic_file(destination / "quality.md") as scratch:
        scratch.write_text(table(result) + "\n", encoding="utf-8")
    return result


def _train_and_score(recipe: Recipe, run: Run, options: List[str]) -> Dict:
    updates = train(recipe, run, options)
    report = score_run(run, average_run(run).output)
    # Time spent training, without validation and checkpoints: fairseq's per-epoch train_wall
    # summed over the epochs the checkpoints hold (a resumed epoch counts once).
    epochs = [record for record in history(run.train_log) if record.tag == "train"]
    seconds = sum(record.get("train_wall") or 0.0 for record in epochs)
    return {
        "bleu": report["bleu"],
        "chrf": report["chrf"],
        "updates": updates,
        "train_seconds": seconds,
        "sentences": report["hypotheses"],
        "bleu_signature": report["bleu_signature"],
        "hypotheses_file": report["hypotheses_file"],
    }


def _kept_files(results: Path, name: str) -> Tuple[Path, Path]:
    """A kept run's hypotheses and figures (names like `vanilla-x1.14-seed1` hold dots)."""
    return results / f"{name}.hyp", results / f"{name}.json"


def _kept(results: Path, name: str, recipe: Recipe, options: List[str]) -> Dict | None:
    """A run kept in the results folder (None when there is none); refused when it was
    trained with other options than `options` or before the recipe's settings changed."""
    hypotheses_file, figures_file = _kept_files(results, name)
    if not figures_file.is_file():
        return None
    try:
        kept = json.loads(figures_file.read_text(encoding="utf-8"))
        name_made, settings_made, options_made = kept["recipe"], dict(kept["settings"]), kept["options"]
        figures = dict(kept["figures"])
        described = shlex.join(options_made)
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{figures_file}: not a kept run of `evo-mt bench --quality`") from None
    if (name_made, options_made) != (recipe.name, options):
        raise UserError(
            f"{figures_file}: kept from recipe {name_made} with options {described}, "
            f"not {recipe.name} with {shlex.join(options)}; give another --results folder"
        )
    now = _settings(recipe)
    changed = sorted(k for k in now.keys() | settings_made.keys() if settings_made.get(k) != now.get(k))
    if changed:
        raise UserError(
            f"{figures_file}: kept from recipe {name_made} as it was before its {', '.join(changed)} "
            "changed; give another --results folder"
        )
    if not hypotheses_file.is_file():
        raise UserError(f"{figures_file}: its hypotheses ({hypotheses_file.name}) are missing")
    return {**figures, "hypotheses_file": str(hypotheses_file)}


def _settings(recipe: Recipe) -> Dict:
    """The recipe's settings as JSON keeps them, without where its folder lies."""
    settings = dataclasses.asdict(recipe)
    del settings["folder"]
    return json.loads(json.dumps(settings))


def _keep(results: Path, name: str, recipe: Recipe, options: List[str], figures: Dict) -> Dict:
    """Copies a run's hypotheses and figures into the results folder; returns the figures
    pointing at the copy. The figures are written last: they mark the run as kept."""
    hypotheses_file, figures_file = _kept_files(results, name)
    write_lines(hypotheses_file, read_lines(Path(figures["hypotheses_file"])))
    figures = {key: value for key, value in figures.items() if key != "hypotheses_file"}
    kept = {"recipe": recipe.name, "settings": _settings(recipe), "options": options, "figures": figures}
    with atomic_file(figures_file) as scratch:
        scratch.write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
    return {**figures, "hypotheses_file": str(hypotheses_file)}


def _test_against_first(runs: Dict[str, Dict[int, Dict]], references: List[str], seeds: List[int]) -> Dict:
    """Adds `ci95` (each metric's 95% bootstrap confidence interval) to every run and
    `against_first` (each metric's difference and p-values) to every run of a variant other
    than the first: its seed i against the first variant's seed i. Returns the signatures."""
    if len(runs) < 2:
        return {}
    for seed in seeds:
        systems = [
            (f"{name}-seed{seed}", read_lines(Path(by_seed[seed]["hypotheses_file"])))
            for name, by_seed in runs.items()
        ]
        tested = paired_tests(systems, references)
        for by_seed, entry in zip(runs.values(), tested["systems"], strict=True):
            by_seed[seed]["ci95"] = {metric: entry[metric]["ci95"] for metric in METRICS}
        for by_seed, entry in list(zip(runs.values(), tested["systems"], strict=True))[1:]:
            by_seed[seed]["against_first"] = {
                metric: {key: entry[metric][key] for key in ("difference", "p_bootstrap", "p_randomization")}
                for metric in METRICS
            }
    return tested["signatures"]


def summarize(by_seed: Dict[int, Dict]) -> Dict:
    """Mean and sd over seeds; for a variant tested against the first, how many seed pairs
    differ significantly (both tests p < 0.05), per metric."""
    bleu = [r["bleu"] for r in by_seed.values()]
    chrf = [r["chrf"] for r in by_seed.values()]
    summary = {
        "bleu_mean": statistics.mean(bleu),
        "bleu_stdev": statistics.stdev(bleu) if len(bleu) > 1 else 0.0,
        "chrf_mean": statistics.mean(chrf),
        "chrf_stdev": statistics.stdev(chrf) if len(chrf) > 1 else 0.0,
        "train_seconds_mean": statistics.mean(r["train_seconds"] for r in by_seed.values()),
        "runs": by_seed,
    }
    tested = [r["against_first"] for r in by_seed.values() if "against_first" in r]
    if tested:
        summary["pairs"] = len(tested)
        summary["significant_pairs"] = {m: sum(significant(t[m]) for t in tested) for m in METRICS}
    return summary


def table(result: Dict) -> str:
    seeds = ", ".join(map(str, result["seeds"]))
    first_name, first = next(iter(result["variants"].items()))
    lines = [
        f"| variant ({result['recipe']}, seeds {seeds}) | BLEU mean ± sd | chrF mean ± sd "
        f"| BLEU per seed (± 95% CI) | ΔBLEU vs {first_name} per seed (p bs, p AR) "
        f"| pairs with p < 0.05 (BLEU, chrF) | training min (× {first_name}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant, s in result["variants"].items():
        per_seed = ", ".join(_score_cell(r) for r in s["runs"].values())
        paired, counted = "–", "–"
        if "pairs" in s:
            paired = ", ".join(_paired_cell(r["against_first"]["bleu"]) for r in s["runs"].values())
            counted = ", ".join(f"{s['significant_pairs'][m]}/{s['pairs']}" for m in METRICS)
        seconds, first_seconds = s["train_seconds_mean"], first["train_seconds_mean"]
        minutes, ratio = seconds / 60, (seconds / first_seconds if first_seconds else math.nan)
        lines.append(
            f"| {variant} | {s['bleu_mean']:.2f} ± {s['bleu_stdev']:.2f} | "
            f"{s['chrf_mean']:.2f} ± {s['chrf_stdev']:.2f} | {per_seed} | {paired} | {counted} "
            f"| {minutes:.1f} ({ratio:.2f}×) |"
        )
    return "\n".join(lines)


def _score_cell(run: Dict) -> str:
    return f"{run['bleu']:.2f}" + (f" ± {run['ci95']['bleu']:.2f}" if "ci95" in run else "")


def _paired_cell(figures: Dict) -> str:
    return f"{figures['difference']:+.2f} ({figures['p_bootstrap']:.3f}, {figures['p_randomization']:.4f})"
