"""Translation: raw text in, raw text out (sentencepiece, beam search, and back).

Used by `evo-mt translate` and by scoring (which translates the raw test source, so every
test sentence is translated exactly once, in order).
"""

import copy
import logging
from pathlib import Path
from typing import Any, Callable, Iterator, List

import torch

from evo_mt.pipeline.engines import check_engine, load_engine
from evo_mt.pipeline.run_folder import Run, find_checkpoint
from evo_mt.runtime.errors import OptionError, UserError

logger = logging.getLogger("evo_mt")


def resolve_device(device: str | None) -> torch.device:
    """The device: "cpu" or "cuda"; None (or "auto") takes CUDA when there is one."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise OptionError(
            "device", "cuda: no CUDA device is available here (torch.cuda.is_available() is False)"
        )
    if device not in ("cpu", "cuda"):
        raise OptionError("device", f"must be cpu or cuda, not {device!r}")
    return torch.device(device)


def check_batch_size(batch_size: int) -> int:
    if batch_size < 1:
        raise OptionError("batch_size", f"must be at least 1, not {batch_size}")
    return batch_size


def check_search(beam: int, nbest: int) -> None:
    """Refuse a beam size or n-best that beam search cannot use."""
    if beam < 1:
        raise OptionError("beam", f"must be at least 1, not {beam}")
    if not 1 <= nbest <= beam:
        raise OptionError("nbest", f"({nbest}) must lie between 1 and the beam size ({beam})")


class Translator:
    """A checkpoint with its sentencepiece model and dictionaries, ready to translate.

    `dictionaries` is the folder of fairseq's dictionaries (a run's data-bin/). Most callers
    want `Translator.load(run_or_checkpoint)`, which finds all three in a run folder.
    `engine` "lean" runs the fairseq-free inference engine (optionally `quantize` "int8"),
    "fairseq" fairseq's own generator; both give the same translations.
    """

    def __init__(
        self,
        checkpoint: Path,
        *,
        sentencepiece: Path,
        dictionaries: Path,
        beam: int = 5,
        nbest: int = 1,
        lenpen: float = 1.0,
        device: str | None = None,
        engine: str = "lean",
        quantize: str = "none",
    ) -> None:
        import sentencepiece as spm

        check_search(beam, nbest)
        self.device = resolve_device(device)
        check_engine(engine, quantize, self.device)
        for needed in (sentencepiece, dictionaries):
            if not Path(needed).exists():
                raise UserError(f"{needed}: missing; prepare the run's data first (`evo-mt prepare`)")
        self.checkpoint = Path(checkpoint)
        self.engine = load_engine(
            engine, self.checkpoint, Path(dictionaries), device=self.device, beam=beam, lenpen=lenpen,
            quantize=quantize,
        )  # fmt: skip
        self.quantize = quantize
        self.spm = spm.SentencePieceProcessor(model_file=str(sentencepiece))
        self.nbest = nbest
        # Room for </s>: longer inputs are cut to this many pieces.
        self.max_source_pieces = self.engine.max_source_positions - 1
        self._warned_truncation = False

    @property
    def beam(self) -> int:
        return self.engine.beam

    def with_search(self, beam: int, nbest: int) -> "Translator":
        """This translator with another beam size and n-best, sharing its model (no reload)."""
        check_search(beam, nbest)
        other = copy.copy(self)
        other.engine = self.engine.with_beam(beam)
        other.nbest = nbest
        return other

    @classmethod
    def load(
        cls, run_or_checkpoint: str | Path, checkpoint: str | Path | None = None, **options: Any
    ) -> "Translator":
        """The translator of a run folder (its default checkpoint, or `checkpoint`: a file or a
        name in its checkpoints/), or of a checkpoint file inside a run folder. `options` are
        those of the constructor: beam, nbest, lenpen, device, engine, quantize."""
        if checkpoint is None:
            run, found = find_checkpoint(run_or_checkpoint)
        else:
            run = Run(Path(run_or_checkpoint).resolve())
            found = run.checkpoint(checkpoint)
        return cls(found, sentencepiece=run.sentencepiece, dictionaries=run.data_bin, **options)

    def encode(self, line: str) -> List[int]:
        """The source indices of a raw line (ending in </s>), cut to the model's positions."""
        pieces = self.spm.encode(line, out_type=str)
        if len(pieces) > self.max_source_pieces:
            if not self._warned_truncation:
                logger.warning(
                    "a line of %d subwords is longer than the model's %d positions; "
                    "it is truncated (further such lines are truncated silently)",
                    len(pieces),
                    self.max_source_pieces,
                )
                self._warned_truncation = True
            pieces = pieces[: self.max_source_pieces]
        return self.engine.source_indices(pieces)

    def translate(self, lines: List[str], batch_size: int = 64, max_tokens: int = 6000) -> List[List[str]]:
        """The n best translations of each line, in input order; empty lines give empty ones."""
        check_batch_size(batch_size)
        if max_tokens < 1:
            raise OptionError("max_tokens", f"must be at least 1, not {max_tokens}")
        results: List[List[str]] = [[""] * self.nbest for _ in lines]
        encoded = [(i, self.encode(line)) for i, line in enumerate(lines) if line.strip()]
        # Batches of similar length waste little on padding.
        encoded.sort(key=lambda item: len(item[1]))
        for batch in length_batches(encoded, batch_size, max_tokens):
            found = self.engine.generate([indices for _, indices in batch], self.nbest)
            for (i, _), best in zip(batch, found, strict=True):
                results[i] = [self.spm.decode(pieces) for pieces in best]
        return results


def length_batches(
    items: list, batch_size: int, max_tokens: int, length: Callable[[Any], int] = lambda item: len(item[1])
) -> Iterator[list]:
    """Consecutive batches of `items` (sorted by length) of at most `batch_size` items and
    `max_tokens` padded tokens; a single item longer than `max_tokens` is a batch alone."""
    batch: list = []
    longest = 0
    for item in items:
        longest = max(longest, length(item))
        if batch and (len(batch) >= batch_size or longest * (len(batch) + 1) > max_tokens):
            yield batch
            batch, longest = [], length(item)
        batch.append(item)
    if batch:
        yield batch

