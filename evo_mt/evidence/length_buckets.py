"""Where a gain comes from: sentence-level chrF grouped by sentence length.

Every hypothesis gets sacreBLEU's sentence-level chrF against its reference; the sentences
are grouped by the length of their source and, separately, of their reference (whitespace
tokens), and each group's mean is given per system, as a table and as grouped bars.
"""

from bisect import bisect_right
from statistics import mean
from typing import Any, Dict, List, Sequence

from sacrebleu.metrics import CHRF

from evo_mt.evidence.significance import System, check_counts
from evo_mt.runtime.base.errors import UserError

# A sentence of n tokens falls in the first bucket whose edge is above n; the last bucket
# holds the rest. Short UI messages and long news sentences both spread over several.
EDGES = (6, 11, 21, 41)


def bucket_labels(edges: Sequence[int] = EDGES) -> List[str]:
    labels = [f"≤{edges[0] - 1}"]
    labels += [f"{low}-{high - 1}" for low, high in zip(edges[:-1], edges[1:], strict=True)]
    return labels + [f"≥{edges[-1]}"]


def sentence_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> List[float]:
    chrf = CHRF()
    return [chrf.sentence_score(h, [r]).score for h, r in zip(hypotheses, references, strict=True)]


def length_buckets(
    systems: Sequence[System], references: Sequence[str], sources: Sequence[str], edges: Sequence[int] = EDGES
) -> List[Dict[str, Any]]:
    """One grouping by source length and one by reference length; in each, the non-empty
    buckets in length order with their sentence count and every system's mean sentence chrF."""
    check_counts(systems, references)
    if len(sources) != len(references):
        raise UserError(f"{len(sources)} sources for {len(references)} references; they must be equal")
    scores = {name: sentence_chrf(hypotheses, references) for name, hypotheses in systems}
    labels = bucket_labels(edges)
    groupings = []
    for by, texts in (("source length", sources), ("reference length", references)):
        members: Dict[int, List[int]] = {}
        for index, text in enumerate(texts):
            members.setdefault(bisect_right(edges, len(text.split())), []).append(index)
        buckets = [
            {
                "label": labels[bucket],
                "sentences": len(indices),
                "chrf": {name: mean(scores[name][i] for i in indices) for name in scores},
            }
            for bucket, indices in sorted(members.items())
        ]
        groupings.append({"by": by, "buckets": buckets})
    return groupings


def table(groupings: List[Dict[str, Any]]) -> str:
    """Mean sentence chrF per bucket and system, and each system's difference from the first."""
    names = list(groupings[0]["buckets"][0]["chrf"])
    width = max(12, *(len(name) for name in names))
    lines = []
    for grouping in groupings:
        title = f"chrF by {grouping['by']}"
        header = f"{title:<25} {'sentences':>9}"
        header += "".join(f" {name:>{width}}" for name in names)
        header += "".join(f" {'Δ ' + name:>{width + 2}}" for name in names[1:])
        lines.append(header)
        for bucket in grouping["buckets"]:
            chrf = bucket["chrf"]
            line = f"{bucket['label']:<25} {bucket['sentences']:>9}"
            line += "".join(f" {chrf[name]:>{width}.2f}" for name in names)
            line += "".join(f" {chrf[name] - chrf[names[0]]:>+{width + 2}.2f}" for name in names[1:])
            lines.append(line)
    return "\n".join(lines)


def draw(groupings: List[Dict[str, Any]]):
    """A matplotlib Figure: per grouping one panel of grouped bars, one bar per system in
    each bucket, its height the bucket's mean sentence chrF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(groupings[0]["buckets"][0]["chrf"])
    figure, axes = plt.subplots(1, len(groupings), figsize=(6 * len(groupings), 4), squeeze=False)
    width = 0.8 / len(names)
    for axis, grouping in zip(axes[0], groupings, strict=True):
        buckets = grouping["buckets"]
        for position, name in enumerate(names):
            offsets = [b + (position - (len(names) - 1) / 2) * width for b in range(len(buckets))]
            axis.bar(offsets, [bucket["chrf"][name] for bucket in buckets], width, label=name)
        axis.set_xticks(
            range(len(buckets)), [f"{bucket['label']}\n({bucket['sentences']})" for bucket in buckets]
        )
        axis.set_xlabel(f"{grouping['by']} in tokens (sentences)")
        axis.set_ylabel("mean sentence chrF")
        axis.set_ylim(0, 100)
    # One legend above both panels: inside a panel it would hide bars near 100.
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.94), ncol=len(names), frameon=False
    )
    figure.suptitle("sentence-level chrF by length", fontsize=10, y=0.99)
    figure.tight_layout(rect=(0, 0, 1, 0.88))
    return figure
