"""What `evo-mt train` shows while fairseq-train runs: one progress bar per epoch on a terminal
(plain lines at a steady interval elsewhere) and one summary line per epoch.

Every line of fairseq's output goes to train.log whatever is shown; `verbose` shows them all.
"""

import os
import time
from pathlib import Path
from typing import IO, List

from tqdm import tqdm

from evo_mt.pipeline.train_log import EARLY_STOP, EPOCH_SIZE, SAVED, Record, parse_line, parse_record

# Seconds between two progress lines when the output is not a terminal.
PLAIN_INTERVAL = 30.0
# (columns, rows) assumed on a terminal that does not tell its size.
FALLBACK_SIZE = (100, 24)


def _number(value: float | None, digits: int = 3) -> str:
    return "?" if value is None else f"{value:.{digits}g}" if abs(value) < 1e-2 else f"{value:.{digits}f}"


class TrainDisplay:
    """Fed fairseq-train's output line by line; writes what a person watching needs to `stream`."""

    def __init__(self, stream: IO[str], *, terminal: bool, verbose: bool = False) -> None:
        self.stream, self.terminal, self.verbose = stream, terminal, verbose
        self.bar: tqdm | None = None
        self.epoch_size: int | None = None
        self.valid: Record | None = None
        self.saved: str | None = None
        self.last_plain = time.monotonic()
        self.started = time.monotonic()

    def feed(self, line: str) -> None:
        if self.verbose:
            self.stream.write(line)
            self.stream.flush()
            return
        record = parse_record(line)
        if record is not None:
            handlers = {"train_inner": self._progress, "valid": self._valid, "train": self._epoch_done}
            handlers[record.tag](record)
            return
        parsed = parse_line(line)
        message = parsed[1] if parsed else line
        if size := EPOCH_SIZE.search(message):
            self.epoch_size = int(size[1])
        elif saved := SAVED.search(message):
            self.saved = Path(saved["path"]).name
        elif EARLY_STOP in message:
            self._write(f"stopped early: {message.strip()}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _progress(self, record: Record) -> None:
        epoch, updates = int(record.get("epoch") or 1), record.updates
        size = self.epoch_size or self._estimated_size(record)
        # `update` is the fraction of epochs done: epoch - 1 + batches done / batches per epoch.
        done = round((record.get("update") - epoch + 1) * size) if size else updates
        figures = {
            "loss": _number(record.get("loss")),
            "ppl": _number(record.get("ppl"), 2),
            "lr": f"{record.get('lr') or 0:.3g}",
            "wps": f"{record.get('wps') or 0:.0f}",
        }
        if self.terminal:
            if self.bar is None:
                width, height = self._size()
                self.bar = tqdm(
                    total=size, desc=f"epoch {epoch}", unit="upd", file=self.stream, leave=False,
                    ncols=None if width else FALLBACK_SIZE[0], dynamic_ncols=bool(width),
                    nrows=None if height else FALLBACK_SIZE[1],
                )
            self.bar.total = max(size or 0, done)
            self.bar.set_postfix(figures, refresh=False)
            self.bar.update(done - self.bar.n)
        elif time.monotonic() - self.last_plain >= PLAIN_INTERVAL:
            elapsed = time.strftime("%H:%M:%S", time.gmtime(time.monotonic() - self.started))
            listed = ", ".join(f"{name} {value}" for name, value in figures.items())
            self._write(f"epoch {epoch}: {done}/{size or '?'} updates, {listed}, {elapsed} elapsed")

    def _size(self) -> tuple[int, int]:
        # A terminal that does not say its size (0 columns or rows) would get no bar from tqdm.
        try:
            return tuple(os.get_terminal_size(self.stream.fileno()))
        except (OSError, ValueError, AttributeError):
            return 0, 0

    def _estimated_size(self, record: Record) -> int | None:
        fraction = record.get("update")
        return round(record.updates / fraction) if fraction else None

    def _valid(self, record: Record) -> None:
        self.valid = record

    def _epoch_done(self, record: Record) -> None:
        self.close()
        parts: List[str] = [f"epoch {int(record.get('epoch') or 0)}: {record.updates} updates",
                            f"train loss {_number(record.get('loss'))}"]
        if self.valid is not None:
            valid = self.valid
            parts.append(f"valid loss {_number(valid.get('loss'))} (ppl {_number(valid.get('ppl'), 2)})")
            if valid.get("bleu") is not None:
                parts.append(f"valid BLEU {valid.get('bleu'):.2f}")
            if valid.get("best_bleu") is not None:
                parts.append(f"best valid BLEU {valid.get('best_bleu'):.2f}")
            elif valid.get("best_loss") is not None:
                parts.append(f"best valid loss {_number(valid.get('best_loss'))}")
        if self.saved is not None:
            parts.append(f"saved {self.saved}")
        self._write(", ".join(parts))
        self.valid = self.saved = None
        self.epoch_size = None

    def _write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.clear()
        self.stream.write(text + "\n")
        self.stream.flush()
        self.last_plain = time.monotonic()
        if self.bar is not None:
            self.bar.refresh()
