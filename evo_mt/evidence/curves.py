"""evo-mt plot: a run's training curves from its own records (the JSON lines of train.log).

Train and valid loss, valid BLEU (when the run computed it) and the learning rate against
updates, one panel each, epochs marked; several runs share the axes, one colour per run.
"""

from pathlib import Path
from typing import List, Sequence, Tuple

from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.train_log import Record, history
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.files import atomic_file

PANELS = ("loss", "valid BLEU", "learning rate")
# (panel, record tag, value, line style, label) of each curve.
CURVES = (
    ("loss", "train_inner", "loss", "-", "train loss"),
    ("loss", "valid", "loss", "o--", "valid loss"),
    ("valid BLEU", "valid", "bleu", "o-", "valid BLEU"),
    ("learning rate", "train_inner", "lr", "-", "lr"),
)


def run_records(run: Run) -> List[Record]:
    """The run's records; a one-line error when it has none yet."""
    records = history(run.train_log)
    if not any(record.tag == "train_inner" for record in records):
        raise UserError(f"{run.root}: no training records in {run.train_log.name} yet; train first")
    return records


def _series(records: Sequence[Record], tag: str, name: str) -> tuple[List[int], List[float]]:
    points = [(r.updates, r.get(name)) for r in records if r.tag == tag and r.get(name) is not None]
    return [x for x, _ in points], [y for _, y in points]


def draw(runs: Sequence[Run]):
    """A matplotlib Figure with the PANELS, every run's curves on the same axes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    histories: List[Tuple[str, List[Record]]] = [(run.root.name, run_records(run)) for run in runs]
    with_bleu = any(_series(records, "valid", "bleu")[0] for _, records in histories)
    panels = [panel for panel in PANELS if panel != "valid BLEU" or with_bleu]
    figure, axes = plt.subplots(len(panels), 1, figsize=(8, 3 * len(panels)), sharex=True, squeeze=False)
    by_panel = dict(zip(panels, axes[:, 0], strict=True))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, records) in enumerate(histories):
        colour = colours[index % len(colours)]
        for panel, tag, field, style, label in CURVES:
            if panel in by_panel:
                xs, ys = _series(records, tag, field)
                if xs:
                    by_panel[panel].plot(xs, ys, style, color=colour, label=f"{name}: {label}")
        for epoch_end in _series(records, "train", "num_updates")[0]:
            for ax in by_panel.values():
                ax.axvline(epoch_end, color=colour, linestyle=":", linewidth=0.8)
    for panel, ax in by_panel.items():
        ax.set_ylabel(panel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    axes[-1, 0].set_xlabel("updates (dotted: end of an epoch, or of training)")
    figure.suptitle("training of " + ", ".join(name for name, _ in histories))
    figure.tight_layout()
    return figure


def write_plot(runs: Sequence[Run], output: Path) -> Path:
    """Draw the runs' curves into a PNG, written atomically."""
    figure = draw(runs)
    with atomic_file(output) as scratch:
        figure.savefig(scratch, format="png", dpi=110)
    return output
