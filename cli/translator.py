"""Raw text in, raw text out: sentencepiece, fairseq's beam search, and back.

Used by `evo-mt translate` and by `evo-mt score` (which translates the raw test source,
so every test sentence is translated exactly once, in order).
"""

import logging
from pathlib import Path
from typing import Iterable, Iterator, List

import torch

from evo_mt_cli.errors import UserError
from evo_mt_cli.prepare import Run

logger = logging.getLogger("evo_mt_cli")

MAX_LEN_A = 1.2  # hypotheses may be up to 1.2 x source length + 10 pieces
MAX_LEN_B = 10


def find_checkpoint(run_or_checkpoint: Path) -> tuple:
    """(run, checkpoint) from a run folder (its best available checkpoint) or a checkpoint file."""
    path = Path(run_or_checkpoint)
    if path.is_file():
        run = Run(path.resolve().parent.parent)
        return run, path
    run = Run(path.resolve())
    run.recipe()  # a clear error when this is not a run folder
    for name in ("checkpoint_averaged.pt", "checkpoint_best.pt", "checkpoint_last.pt"):
        if (run.checkpoints / name).is_file():
            return run, run.checkpoints / name
    raise UserError(f"{run.root}: no checkpoint yet; train first (`evo-mt train`)")


def resolve_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "--device cuda: no CUDA device is available here (torch.cuda.is_available() is False)"
        )
    if device not in ("cpu", "cuda"):
        raise UserError(f"--device must be cpu or cuda, not {device!r}")
    return torch.device(device)


class Translator:
    """A checkpoint with its run's sentencepiece model and dictionaries, ready to translate."""

    def __init__(
        self,
        run: Run,
        checkpoint: Path,
        *,
        beam: int = 5,
        nbest: int = 1,
        lenpen: float = 1.0,
        device: str | None = None,
    ) -> None:
        import sentencepiece as spm
        from fairseq import checkpoint_utils
        from fairseq.sequence_generator import SequenceGenerator

        import evo_mt  # noqa: F401  (registers the model and the checkpoint allowlist)

        if nbest > beam:
            raise UserError(f"--nbest ({nbest}) cannot exceed --beam ({beam})")
        self.device = resolve_device(device)
        if not run.data_bin.is_dir() or not run.sentencepiece.is_file():
            raise UserError(f"{run.root}: prepared data is missing; run `evo-mt prepare` first")
        models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
            [str(checkpoint)], arg_overrides={"data": str(run.data_bin)}
        )
        self.models = [model.to(self.device).eval() for model in models]
        self.task = task
        self.spm = spm.SentencePieceProcessor(model_file=str(run.sentencepiece))
        self.nbest = nbest
        # Room for </s>: longer inputs are cut to this many pieces.
        self.max_source_pieces = min(m.max_positions()[0] for m in self.models) - 1
        self.generator = SequenceGenerator(
            self.models,
            task.target_dictionary,
            beam_size=beam,
            len_penalty=lenpen,
            max_len_a=MAX_LEN_A,
            max_len_b=MAX_LEN_B,
            max_len=min(m.max_decoder_positions() for m in self.models) - 1,
        )
        self._warned_truncation = False

    def encode(self, line: str) -> torch.Tensor:
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
        return self.task.source_dictionary.encode_line(" ".join(pieces), add_if_not_exist=False).long()

    def translate(self, lines: List[str], batch_size: int = 64, max_tokens: int = 6000) -> List[List[str]]:
        """The n best translations of each line, in input order; empty lines give empty ones."""
        results: List[List[str]] = [[""] * self.nbest for _ in lines]
        encoded = [(i, self.encode(line)) for i, line in enumerate(lines) if line.strip()]
        # Batches of similar length waste little on padding.
        encoded.sort(key=lambda item: len(item[1]))
        for batch in _batches(encoded, batch_size, max_tokens):
            for i, hypotheses in zip(
                [i for i, _ in batch], self._generate([t for _, t in batch]), strict=True
            ):
                results[i] = hypotheses
        return results

    def _generate(self, tokens: List[torch.Tensor]) -> List[List[str]]:
        from fairseq.data import data_utils

        dictionary = self.task.source_dictionary
        sample = {
            "net_input": {
                "src_tokens": data_utils.collate_tokens(tokens, dictionary.pad(), left_pad=True).to(
                    self.device
                ),
                "src_lengths": torch.tensor([len(t) for t in tokens], device=self.device),
            }
        }
        with torch.no_grad():
            output = self.generator.generate(self.models, sample)
        target = self.task.target_dictionary
        return [
            [
                self.spm.decode(target.string(hypothesis["tokens"].int().cpu()).split())
                for hypothesis in best[: self.nbest]
            ]
            for best in output
        ]


def _batches(items: list, batch_size: int, max_tokens: int) -> Iterator[list]:
    batch: list = []
    longest = 0
    for item in items:
        longest = max(longest, len(item[1]))
        if batch and (len(batch) >= batch_size or longest * (len(batch) + 1) > max_tokens):
            yield batch
            batch, longest = [], len(item[1])
        batch.append(item)
    if batch:
        yield batch


def read_lines_replacing_errors(stream) -> Iterable[str]:
    """Lines of a binary stream as text; invalid UTF-8 is replaced, never fatal."""
    for raw in stream:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
