"""fairseq-train's log lines: the JSON records of `--log-format json`, and the few plain lines
that matter (an epoch's size, a checkpoint saved, an early stop).

A line looks like `2026-01-01 12:00:00 | INFO | valid | {"epoch": 1, "valid_loss": "4.2", ...}`;
the tag says which record it is: `train_inner` every --log-interval updates, `valid` and
`train` at the end of each epoch. The same lines, read back from train.log, give a run's history.
"""

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from evo_mt.runtime.base.errors import UserError

RECORD_TAGS = ("train_inner", "valid", "train")
LINE = re.compile(r"^\S+ \S+ \| [A-Z]+ \| (?P<tag>[\w.]+) \| (?P<message>.*)$")
EPOCH_SIZE = re.compile(r"grouped total_num_itrs = (\d+)")
SAVED = re.compile(r"Saved checkpoint (?P<path>\S+) \(epoch (?P<epoch>\d+) @ (?P<updates>\d+) updates")
EARLY_STOP = "early stop since valid performance hasn't improved"
# evo-mt's own line before each fairseq-train it starts: the whole command, shell-quoted.
COMMAND_LINE = "evo-mt: train: "


@dataclass(frozen=True)
class Record:
    """One JSON record: `tag` (train_inner, valid, train) and its numbers by fairseq's names."""

    tag: str
    values: Dict[str, float]

    def get(self, name: str) -> float | None:
        """A value by its name without the tag's prefix (`loss` of a valid record is valid_loss)."""
        prefixed = f"{self.tag}_{name}" if self.tag != "train_inner" else name
        return self.values.get(prefixed, self.values.get(name))

    @property
    def updates(self) -> int:
        return int(self.get("num_updates") or 0)


def parse_line(line: str) -> tuple[str, str] | None:
    """(tag, message) of a fairseq log line, None for anything else (warnings, the model)."""
    match = LINE.match(line.rstrip("\n"))
    return (match["tag"], match["message"]) if match else None


def parse_record(line: str) -> Record | None:
    """The JSON record of a line, None when it holds none."""
    parsed = parse_line(line)
    if parsed is None or parsed[0] not in RECORD_TAGS or not parsed[1].startswith("{"):
        return None
    try:
        raw = json.loads(parsed[1])
    except json.JSONDecodeError:
        return None
    values = {}
    for name, value in raw.items():
        try:
            values[name] = float(value)
        except (TypeError, ValueError):
            continue  # fairseq writes a few non-numbers (none that evo-mt reads)
    return Record(parsed[0], values)


def history(log: Path) -> List[Record]:
    """The records of a run's train.log, as the run's checkpoints know it.

    A resumed run repeats the updates after its last checkpoint; the later records of those
    updates replace the earlier ones.
    """
    if not log.is_file():
        raise UserError(f"{log.parent}: no training log yet ({log.name}); train first (`evo-mt train`)")
    kept: List[Record] = []
    with open(log, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            record = parse_record(line)
            if record is None:
                continue
            while kept and kept[-1].updates > record.updates:
                kept.pop()
            if kept and kept[-1].tag == record.tag and kept[-1].updates == record.updates:
                kept.pop()
            kept.append(record)
    return kept


def last_command(log: Path) -> List[str]:
    """The arguments of the last fairseq-train evo-mt started for this run ([] if none)."""
    command: List[str] = []
    if log.is_file():
        with open(log, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.startswith(COMMAND_LINE):
                    command = shlex.split(line[len(COMMAND_LINE) :])
    return command
