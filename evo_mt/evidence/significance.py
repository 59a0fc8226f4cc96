"""Paired significance tests of systems against a baseline, computed by sacreBLEU itself.

`sacrebleu.significance.PairedTest` resamples the per-sentence statistics of BLEU and chrF
of every system together with those of the first system, the baseline:

- paired bootstrap resampling (1,000 resamples): each system's mean and 95% confidence
  interval, and a p-value against the baseline;
- paired approximate randomization (10,000 trials, sacreBLEU's default): a second p-value.

The random seed is sacreBLEU's (the SACREBLEU_SEED variable, 12345 unless set), so the
figures repeat from one run to the next; the signatures say so.
"""

from typing import Any, Dict, List, Sequence, Tuple

from sacrebleu.metrics import CHRF
from sacrebleu.significance import PairedTest

from evo_mt.pipeline.scoring import bleu_metric
from evo_mt.runtime.base.errors import UserError

BOOTSTRAP_SAMPLES = 1000
RANDOMIZATION_TRIALS = 10000
SIGNIFICANCE_LEVEL = 0.05
METRICS = ("bleu", "chrf")
TESTS = {"bootstrap": "bs", "randomization": "ar"}  # our name -> sacreBLEU's test_type

System = Tuple[str, Sequence[str]]  # (name, one hypothesis per reference)


def check_counts(systems: Sequence[System], references: Sequence[str]) -> None:
    for name, hypotheses in systems:
        if len(hypotheses) != len(references):
            raise UserError(
                f"{name}: {len(hypotheses)} hypotheses for {len(references)} references; they must be equal"
            )


def paired_tests(
    systems: Sequence[System],
    references: Sequence[str],
    *,
    bootstrap_samples: int = BOOTSTRAP_SAMPLES,
    randomization_trials: int = RANDOMIZATION_TRIALS,
) -> Dict[str, Any]:
    """BLEU and chrF of every system, with bootstrap means and 95% confidence intervals, and
    both tests' p-values against the first system (None for the first one itself)."""
    if len(systems) < 2:
        raise UserError("a paired test needs at least two systems: a baseline and one to compare with it")
    check_counts(systems, references)
    systems = [(name, list(hypotheses)) for name, hypotheses in systems]
    baseline = systems[0][1]
    entries: List[Dict[str, Any]] = [
        {
            "name": name,
            "hypotheses": len(hypotheses),
            "differing_sentences": sum(h != b for h, b in zip(hypotheses, baseline, strict=True)),
        }
        for name, hypotheses in systems
    ]
    signatures: Dict[str, Dict[str, str]] = {metric: {} for metric in METRICS}
    for test, test_type in TESTS.items():
        samples = bootstrap_samples if test == "bootstrap" else randomization_trials
        metrics = {"bleu": bleu_metric(), "chrf": CHRF()}
        found_signatures, scores = PairedTest(
            systems, metrics, [list(references)], test_type=test_type, n_samples=samples
        )()
        # sacreBLEU keys its results by the metric's display name ("BLEU", "chrF2"), in the
        # order the metrics were given.
        names = [key for key in scores if key != "System"]
        for metric, name in zip(METRICS, names, strict=True):
            signatures[metric][test] = str(found_signatures[name])
            for entry, result in zip(entries, scores[name], strict=True):
                figures = entry.setdefault(metric, {"score": float(result.score)})
                if test == "bootstrap":
                    figures["mean"], figures["ci95"] = float(result.mean), float(result.ci)
                figures[f"p_{test}"] = None if result.p_value is None else float(result.p_value)
    for entry in entries:
        for metric in METRICS:
            figures = entry[metric]
            figures["difference"] = figures["score"] - entries[0][metric]["score"]
            if entry is entries[0]:
                continue
            # sacreBLEU counts the resamples and trials whose difference is strictly above
            # the observed one, so ties count against the null hypothesis: two systems with
            # the same score, whose shuffles all tie at 0, get its smallest p. A trial's
            # absolute difference is never below 0: with no observed difference the
            # randomization p is 1, and identical outputs get p = 1 from both tests. (Ties
            # also make the randomization p too small when only a handful of sentences
            # differ, which is why the number of differing sentences is given.)
            if figures["difference"] == 0:
                figures["p_randomization"] = 1.0
            if entry["differing_sentences"] == 0:
                figures["p_bootstrap"] = 1.0
    return {
        "baseline": systems[0][0],
        "hypotheses": len(references),
        "references": len(references),
        "bootstrap_samples": bootstrap_samples,
        "randomization_trials": randomization_trials,
        "signatures": signatures,
        "systems": entries,
    }


def significant(figures: Dict[str, Any]) -> bool:
    """Whether both tests put one metric's difference from the baseline below the 5% level."""
    return all(
        figures[f"p_{test}"] is not None and figures[f"p_{test}"] < SIGNIFICANCE_LEVEL for test in TESTS
    )


def table(result: Dict[str, Any]) -> str:
    """The paired tests as printed by `evo-mt compare`: one line per system, then the signatures."""
    width = max(len(entry["name"]) for entry in result["systems"]) + len("baseline: ")
    header = f"{'system':<{width}}"
    for label in ("BLEU", "chrF"):
        header += f"  {label:>6} {'mean ± 95% CI':>15} {'p (bs)':>7} {'p (AR)':>7}"
    lines = [header + "  sentences differing"]
    for position, entry in enumerate(result["systems"]):
        name = f"baseline: {entry['name']}" if position == 0 else entry["name"]
        line = f"{name:<{width}}"
        for metric in METRICS:
            f = entry[metric]
            interval = f"{f['mean']:.2f} ± {f['ci95']:.2f}"
            p_values = f"{_p(f['p_bootstrap']):>7} {_p(f['p_randomization']):>7}"
            line += f"  {f['score']:6.2f} {interval:>15} {p_values}"
        lines.append(line + ("" if position == 0 else f"  {entry['differing_sentences']:>19}"))
    lines.append(
        f"{result['hypotheses']} hypotheses per system, {result['references']} references; "
        f"p against the baseline: paired bootstrap (bs, {result['bootstrap_samples']} resamples) and "
        f"paired approximate randomization (AR, {result['randomization_trials']} trials)"
    )
    for metric, label in zip(METRICS, ("BLEU", "chrF"), strict=True):
        for test, signature in result["signatures"][metric].items():
            lines.append(f"{label} {test}: {signature}")
    return "\n".join(lines)


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
