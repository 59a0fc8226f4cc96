"""evo-mt runs: what each run folder under a directory is and how far it got.

Everything comes from the run's own files: recipe.toml, the fairseq-train command evo-mt
last wrote into train.log (which holds the user's overrides), train.log's records, the
checkpoints checkpoint_averaged.pt was made of (with their updates), scores/.
"""

import json
import shlex
from pathlib import Path
from typing import Dict, List

from evo_mt.pipeline.averaging import averaged_from, sources_text
from evo_mt.pipeline.recipes import RECIPE_FILE
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.train_log import history, last_command
from evo_mt.runtime.base.errors import UserError

COLUMNS = ("run", "recipe", "arch", "ea options", "updates", "epochs", "best valid loss", "best valid BLEU",
           "averaged", "latest score")


def find_runs(folder: Path) -> List[Run]:
    """`folder` itself if it is a run, else the runs directly inside it, by name."""
    if (folder / RECIPE_FILE).is_file():
        return [Run(folder.resolve())]
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder")
    return [Run(child.resolve()) for child in sorted(folder.iterdir()) if (child / RECIPE_FILE).is_file()]


def training_options(run: Run) -> Dict[str, str]:
    """fairseq-train's options as the run last trained: the recipe's, then the command line's."""
    options = {key.replace("_", "-"): str(value) for key, value in run.recipe().train.items()}
    words = last_command(run.train_log)
    for index, word in enumerate(words):
        if word.startswith("--"):
            following = words[index + 1] if index + 1 < len(words) else "--"
            options[word[2:]] = "true" if following.startswith("--") else following
    return options


def _latest_score(run: Run) -> str:
    reports = sorted(run.scores.glob("*.json"), key=lambda path: path.stat().st_mtime)
    if not reports:
        return "-"
    report = json.loads(reports[-1].read_text(encoding="utf-8"))
    return f"{report['split']} BLEU {report['bleu']:.2f} ({Path(report['checkpoint']).name})"


def _averaged(run: Run) -> str:
    sources = averaged_from(run.averaged) if run.averaged.is_file() else None
    return sources_text(sources) if sources else "-"


def summary(run: Run) -> Dict[str, str]:
    """One row of the table, by COLUMNS."""
    options = training_options(run)
    ea = [f"--{name} {shlex.quote(value)}" for name, value in sorted(options.items()) if name[:3] == "ea-"]
    records = history(run.train_log) if run.train_log.is_file() else []
    valid_loss = [r.get("loss") for r in records if r.tag == "valid" and r.get("loss") is not None]
    valid_bleu = [r.get("bleu") for r in records if r.tag == "valid" and r.get("bleu") is not None]
    epochs = [int(r.get("epoch") or 0) for r in records if r.tag == "train"]
    return {
        "run": run.root.name,
        "recipe": run.recipe().name,
        "arch": options.get("arch", "?"),
        "ea options": " ".join(ea) or "defaults",
        "updates": str(max((r.updates for r in records), default=0)),
        "epochs": str(epochs[-1] if epochs else 0),
        "best valid loss": f"{min(valid_loss):.3f}" if valid_loss else "-",
        "best valid BLEU": f"{max(valid_bleu):.2f}" if valid_bleu else "-",
        "averaged": _averaged(run),
        "latest score": _latest_score(run),
    }


def table(rows: List[Dict[str, str]]) -> str:
    """The rows as aligned text columns, a header first."""
    widths = {column: max([len(column)] + [len(row[column]) for row in rows]) for column in COLUMNS}
    lines = [[column.ljust(widths[column]) for column in COLUMNS]]
    lines += [[row[column].ljust(widths[column]) for column in COLUMNS] for row in rows]
    return "\n".join("  ".join(cells).rstrip() for cells in lines)
