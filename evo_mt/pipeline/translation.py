"""Translation: raw text in, raw text out (sentencepiece, beam search, and back).

Used by `evo-mt translate` and by scoring (which translates the raw test source, so every
test sentence is translated exactly once, in order).
"""

import contextlib
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import torch

from evo_mt.pipeline.engines import check_engine, load_engine
from evo_mt.pipeline.run_folder import Run, find_checkpoint
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.search.decoding import Decoded, check_search
from evo_mt.runtime.text.translator import TextTranslator


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


class Translator(TextTranslator):
    """A checkpoint with its sentencepiece model and dictionaries, ready to translate.

    `dictionaries` is the folder of fairseq's dictionaries (a run's data-bin/). Most callers
    want `Translator.load(run_or_checkpoint)`, which finds all three in a run folder.
    `run`, if given, is the run folder whose training data says how long a sentence the
    model knows (evo_mt.runtime.text.translator). `engine` "lean" runs the fairseq-free inference
    engine (optionally `quantize` "int8"), "fairseq" fairseq's own generator; both give the
    same translations.
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
        run: Run | None = None,
        shortlist: Path | None = None,
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
        )
        self.quantize = quantize
        if shortlist is not None:  # an exported folder's map, to compare the engines with it
            if engine != "lean" or quantize != "none":
                raise OptionError("shortlist", "needs the lean engine, unquantized")
            self.engine.use_shortlist(Path(shortlist))
        self.spm = spm.SentencePieceProcessor(model_file=str(sentencepiece))
        self.nbest = nbest
        # Room for </s>: longer sentences are translated in pieces of at most this many.
        self.max_source_pieces = self.engine.max_source_positions - 1
        self.source_language = self.engine.languages[0]
        self.run = run  # where the training data tells how long a sentence the model knows

    @property
    def aligns(self) -> bool:  # type: ignore[override]
        return self.engine.name == "lean"

    @property
    def beam(self) -> int:
        return self.engine.beam

    @beam.setter
    def beam(self, beam: int) -> None:  # with_search: the engine's own copy with that beam
        self.engine = self.engine.with_beam(beam)

    @classmethod
    def load(
        cls, run_or_checkpoint: str | Path, checkpoint: str | Path | None = None, **options: Any
    ) -> "Translator":
        """The translator of a run folder (its default checkpoint, or `checkpoint`: a file or a
        name in its checkpoints/), or of a checkpoint file inside a run folder. `options` are
        those of the constructor: beam, nbest, lenpen, device, engine, quantize, shortlist (a
        vocabulary map, evo_mt.runtime.model.shortlist)."""
        if checkpoint is None:
            run, found = find_checkpoint(run_or_checkpoint)
        else:
            run = Run(Path(run_or_checkpoint).resolve())
            found = run.checkpoint(checkpoint)
        return cls(found, sentencepiece=run.sentencepiece, dictionaries=run.data_bin, run=run, **options)

    def training_source_pieces(self) -> Dict[str, int] | None:
        return self.run.training_source_pieces() if self.run is not None else None

    def source_indices(self, pieces: List[str]) -> List[int]:
        return self.engine.source_indices(pieces)

    def target_indices(self, pieces: List[str]) -> List[int]:
        return self.engine.target_indices(pieces)

    def generate(
        self, sources: List[List[int]], constraints: Sequence[Sequence[Sequence[int]]] | None = None
    ) -> List[List[Decoded]]:
        return self.engine.generate(sources, self.nbest, constraints)

    def attention(self, sources: List[List[int]], targets: List[List[int]]) -> List[np.ndarray]:
        return self.engine.attention(sources, targets)

    def describe(self) -> Dict[str, Any]:
        options = self.engine.model_options
        source_language, target_language = self.engine.languages
        return {
            "checkpoint": str(self.checkpoint),
            "recipe": self._recipe_name(),
            "source_language": source_language,
            "target_language": target_language,
            "architecture": options.get("arch") or options.get("_name"),
            "ea_options": {key: value for key, value in sorted(options.items()) if key.startswith("ea_")},
            "device": str(self.device),
            "engine": self.engine.name,
            "quantize": self.quantize,
            "beam": self.beam,
            "max_source_pieces": self.max_source_pieces,
        }

    def _recipe_name(self) -> str | None:
        with contextlib.suppress(Exception):  # a checkpoint outside a run folder has no recipe
            return find_checkpoint(self.checkpoint)[0].recipe().name
        return None
