"""Quality comparison: vanilla against evolving attention, and the paper's ablations.

Every variant trains on the same prepared data, with the same recipe, budget and seeds;
only the `--ea-*` options differ. Each run is averaged and scored like `evo-mt score`.
The variant "vanilla" turns every chain off, which leaves fairseq's own attention modules:
the model is fairseq's Transformer with the recipe's dimensions.
"""

import json
import statistics
from pathlib import Path
from typing import Dict, List

from evo_mt.pipeline.averaging import average_run
from evo_mt.pipeline.errors import OptionError
from evo_mt.pipeline.files import atomic_file
from evo_mt.pipeline.prepare import prepare
from evo_mt.pipeline.recipes import Recipe
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.scoring import score_run
from evo_mt.pipeline.training import train

VARIANTS: Dict[str, List[str]] = {
    "vanilla": ["--ea-chains", ""],
    "ea": [],
    "residual_only": ["--ea-beta", "0"],  # alpha kept: logits handed on, no convolution
    "conv_only": ["--ea-alpha", "0"],  # beta kept: convolution of each layer's own logits
    "encoder_only": ["--ea-chains", "encoder"],
    "decoder_only": ["--ea-chains", "decoder"],
    "cross_only": ["--ea-chains", "cross"],
}


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
) -> Dict:
    """Train, average and score every variant with every seed under `root` (runs resume);
    writes root/quality.json and root/quality.md and returns what quality.json holds.
    `overrides` are fairseq-train options given to every run."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise OptionError("variants", f"has an unknown variant {unknown[0]!r} (known: {', '.join(VARIANTS)})")
    data = prepare(recipe, Run(root / "data"), source)
    runs: Dict[str, Dict[int, Dict]] = {}
    for variant in variants:
        for seed in seeds:
            run = _variant_run(data, root / f"{variant}-seed{seed}")
            updates = train(recipe, run, [*VARIANTS[variant], "--seed", str(seed), *overrides])
            _, averaged = average_run(run)
            report = score_run(run, averaged)
            runs.setdefault(variant, {})[seed] = {
                "bleu": report["bleu"],
                "chrf": report["chrf"],
                "updates": updates,
                "sentences": report["hypotheses"],
            }
    result = {
        "recipe": recipe.name,
        "seeds": seeds,
        "overrides": overrides,
        "bleu_signature": report["bleu_signature"],
        "variants": {v: summarize(by_seed) for v, by_seed in runs.items()},
    }
    with atomic_file(root / "quality.json") as scratch:
        scratch.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    with atomic_file(root / "quality.md") as scratch:
        scratch.write_text(table(result) + "\n", encoding="utf-8")
    return result


def summarize(by_seed: Dict[int, Dict]) -> Dict:
    bleu = [r["bleu"] for r in by_seed.values()]
    chrf = [r["chrf"] for r in by_seed.values()]
    return {
        "bleu_mean": statistics.mean(bleu),
        "bleu_stdev": statistics.stdev(bleu) if len(bleu) > 1 else 0.0,
        "chrf_mean": statistics.mean(chrf),
        "chrf_stdev": statistics.stdev(chrf) if len(chrf) > 1 else 0.0,
        "runs": by_seed,
    }


def table(result: Dict) -> str:
    seeds = ", ".join(map(str, result["seeds"]))
    lines = [
        f"| variant ({result['recipe']}, seeds {seeds}) | BLEU mean ± sd | chrF mean ± sd | BLEU per seed |",
        "|---|---|---|---|",
    ]
    for variant, s in result["variants"].items():
        per_seed = ", ".join(f"{r['bleu']:.2f}" for r in s["runs"].values())
        lines.append(
            f"| {variant} | {s['bleu_mean']:.2f} ± {s['bleu_stdev']:.2f} | "
            f"{s['chrf_mean']:.2f} ± {s['chrf_stdev']:.2f} | {per_seed} |"
        )
    return "\n".join(lines)
