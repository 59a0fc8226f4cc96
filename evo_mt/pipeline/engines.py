"""The two ways `Translator` runs a checkpoint's beam search, behind one small interface.

"lean" (the default) is evo_mt.inference: plain PyTorch, no fairseq import, optionally
int8. "fairseq" is fairseq's own SequenceGenerator on the model fairseq builds through the
plugin, kept to compare against and for what needs fairseq's model objects (attention
pictures). Both take subword pieces and give the n best hypotheses as pieces.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import torch

from evo_mt.checkpoints import CheckpointError
from evo_mt.inference.lean_model import QUANTIZATIONS
from evo_mt.pipeline.fairseq_commands import MAX_LEN_A, MAX_LEN_B
from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.model.shortlist import Shortlist
from evo_mt.runtime.search.decoding import Decoded

Constraints = Sequence[Sequence[Sequence[int]]] | None  # per source: required target phrases

ENGINES = ("lean", "fairseq")


def check_engine(engine: str, quantize: str, device: torch.device) -> None:
    """Refuse an engine, quantization or pairing of them that does not exist."""
    if engine not in ENGINES:
        raise OptionError("engine", f"must be one of {', '.join(ENGINES)}, not {engine!r}")
    if quantize not in QUANTIZATIONS:
        raise OptionError("quantize", f"must be one of {', '.join(QUANTIZATIONS)}, not {quantize!r}")
    if quantize != "none" and engine != "lean":
        raise OptionError("quantize", f"{quantize} needs the lean engine (--engine lean)")
    if quantize == "int8" and device.type != "cpu":
        raise OptionError("quantize", "int8 is dynamic quantization for CPUs; use --device cpu")


def decoding_variant(engine: str, quantize: str) -> str:
    """How a translation was decoded, when not the default way (lean, unquantized): "int8" or
    "fairseq", else "". Names score files and labels score lines."""
    return quantize if quantize != "none" else ("" if engine == "lean" else engine)


class LeanEngine:
    """The lean model (evo_mt.inference) with this run's search options."""

    name = "lean"

    def __init__(
        self, checkpoint: Path, dictionaries: Path, *, device: torch.device, beam: int, lenpen: float,
        quantize: str,
    ) -> None:
        from evo_mt.inference.lean_model import LeanModel

        self.model = LeanModel.load(checkpoint, dictionaries, quantize=quantize).to(device)
        self.beam, self.lenpen = beam, lenpen
        self.max_source_positions = self.model.max_source_positions
        self.model_options = self.model.options
        self.languages = self.model.languages
        self.shortlist: Shortlist | None = None  # use_shortlist

    def use_shortlist(self, path: Path) -> None:
        """Decode over a vocabulary map's allowed pieces, as an exported folder with it does."""
        self.shortlist = Shortlist.load(path, self.model.source, self.model.target)

    def with_beam(self, beam: int) -> LeanEngine:
        other = copy.copy(self)
        other.beam = beam
        return other

    def source_indices(self, pieces: List[str]) -> List[int]:
        return self.model.source.encode(pieces)

    def target_indices(self, pieces: List[str]) -> List[int]:
        return self.model.target.encode(pieces)[:-1]

    def generate(
        self, sources: List[List[int]], nbest: int, constraints: Constraints = None
    ) -> List[List[Decoded]]:
        vocabulary = None if self.shortlist is None else self.shortlist.allowed(sources, constraints)
        found = self.model.generate(
            sources, beam=self.beam, lenpen=self.lenpen, max_len_a=MAX_LEN_A, max_len_b=MAX_LEN_B,
            constraints=constraints, vocabulary=vocabulary,
        )
        target = self.model.target
        return [[Decoded(target.decode(h.tokens), h.score) for h in best[:nbest]] for best in found]

    def attention(self, sources: List[List[int]], targets: List[List[int]]) -> List[np.ndarray]:
        return self.model.attention(sources, targets)


class FairseqEngine:
    """fairseq's model (built through the plugin) and its SequenceGenerator."""

    name = "fairseq"

    def __init__(
        self, checkpoint: Path, dictionaries: Path, *, device: torch.device, beam: int, lenpen: float,
        quantize: str,
    ) -> None:
        from fairseq import checkpoint_utils
        from omegaconf.errors import OmegaConfBaseException

        from evo_mt.models import fairseq_fixes  # registers the model

        fairseq_fixes.apply()  # the checkpoint allowlist, fairseq's last batch kept

        try:
            models, config, self.task = checkpoint_utils.load_model_ensemble_and_task(
                [str(checkpoint)], arg_overrides={"data": str(dictionaries)}
            )
        except FileNotFoundError as error:
            if not str(error.filename).startswith(str(dictionaries)):
                raise
            raise CheckpointError(
                f"{checkpoint}: needs {error.filename}, which is not there: a checkpoint of another run?"
            ) from None
        except (RuntimeError, OmegaConfBaseException) as error:
            # A checkpoint of another architecture: fairseq cannot build it, or its weights do not fit.
            if not isinstance(error, OmegaConfBaseException) and "state_dict" not in str(error):
                raise
            first = " ".join(line.strip() for line in str(error).strip().splitlines()[:2])[:300]
            raise CheckpointError(f"{checkpoint}: fairseq cannot build its model ({first})") from None
        self.device = device
        self.models = [model.to(device).eval() for model in models]
        self.lenpen = lenpen
        self.max_source_positions = min(m.max_positions()[0] for m in self.models)
        model = config.model
        # fairseq keeps an argparse.Namespace for architectures registered the legacy way, a
        # DictConfig for the others.
        self.model_options: Dict[str, Any] = dict(model.items()) if hasattr(model, "items") else vars(model)
        self.languages = (self.task.cfg.source_lang, self.task.cfg.target_lang)
        self.generator = self._generator(beam)

    def attention(self, sources: List[List[int]], targets: List[List[int]]) -> List[np.ndarray]:
        raise OptionError("engine", "fairseq gives no alignments here; use the lean engine or an export")

    def _generator(self, beam: int, constraint_tokens: int | None = None):
        """fairseq's generator; with `constraint_tokens`, its lexically constrained search
        (unordered phrases) with room for that many more tokens, as evo-mt's own search."""
        from fairseq.search import LexicallyConstrainedBeamSearch
        from fairseq.sequence_generator import SequenceGenerator

        target = self.task.target_dictionary
        constrained = constraint_tokens is not None
        return SequenceGenerator(
            self.models,
            target,
            beam_size=beam,
            len_penalty=self.lenpen,
            max_len_a=MAX_LEN_A,
            max_len_b=MAX_LEN_B + (constraint_tokens or 0),
            max_len=min(m.max_decoder_positions() for m in self.models) - 1,
            search_strategy=LexicallyConstrainedBeamSearch(target, "unordered") if constrained else None,
        )

    @property
    def beam(self) -> int:
        return self.generator.beam_size

    def with_beam(self, beam: int) -> FairseqEngine:
        other = copy.copy(self)
        other.generator = self._generator(beam)
        return other

    def source_indices(self, pieces: List[str]) -> List[int]:
        line = " ".join(pieces)
        return self.task.source_dictionary.encode_line(line, add_if_not_exist=False).long().tolist()

    def target_indices(self, pieces: List[str]) -> List[int]:
        line = " ".join(pieces)
        return self.task.target_dictionary.encode_line(
            line, add_if_not_exist=False, append_eos=False
        ).tolist()

    def generate(
        self, sources: List[List[int]], nbest: int, constraints: Constraints = None
    ) -> List[List[Decoded]]:
        # fairseq limits every hypothesis of a batch by the batch's longest source; evo-mt's
        # rule (evo_mt.runtime.search.decoding) is each sentence's own. Sentences of one length share
        # their limit, so each length is generated as a batch of its own (and, constrained,
        # each length and number of constraint tokens: the room left for them).
        found: List[List[Decoded] | None] = [None] * len(sources)
        groups: Dict[tuple, List[int]] = {}
        for i, source in enumerate(sources):
            room = None if constraints is None else sum(map(len, constraints[i]))
            groups.setdefault((len(source), room), []).append(i)
        for (_, room), rows in groups.items():
            wanted = None if constraints is None else [constraints[i] for i in rows]
            for i, best in zip(
                rows, self._generate([sources[i] for i in rows], nbest, wanted, room), strict=True
            ):
                found[i] = best
        return found

    def _generate(
        self, sources: List[List[int]], nbest: int, constraints: Constraints, room: int | None
    ) -> List[List[Decoded]]:
        from fairseq.data import data_utils
        from fairseq.token_generation_constraints import pack_constraints

        dictionary = self.task.source_dictionary
        tokens = [torch.tensor(s, dtype=torch.long) for s in sources]
        batch = data_utils.collate_tokens(tokens, dictionary.pad(), left_pad=True)
        lengths = torch.tensor([len(t) for t in tokens])
        sample = {"net_input": {"src_tokens": batch.to(self.device), "src_lengths": lengths.to(self.device)}}
        options: Dict[str, Any] = {}
        generator = self.generator
        if constraints is not None:
            generator = self._generator(self.beam, room)
            packed = pack_constraints([[torch.tensor(p, dtype=torch.long) for p in c] for c in constraints])
            options["constraints"] = packed.to(self.device)
        with torch.no_grad():
            output = generator.generate(self.models, sample, **options)
        target = self.task.target_dictionary
        return [
            [Decoded(target.string(h["tokens"].int().cpu()).split(), float(h["score"])) for h in best[:nbest]]
            for best in output
        ]


def load_engine(
    engine: str, checkpoint: Path, dictionaries: Path, *, device: torch.device, beam: int, lenpen: float,
    quantize: str,
) -> LeanEngine | FairseqEngine:
    kind = LeanEngine if engine == "lean" else FairseqEngine
    return kind(checkpoint, dictionaries, device=device, beam=beam, lenpen=lenpen, quantize=quantize)
