"""The lean inference engine: a checkpoint in, hypotheses out, without importing fairseq.

`LeanModel.load` reads the checkpoint with `weights_only=True` (evo_mt.checkpoints), builds the
plain-PyTorch model of evo_mt.inference.transformer from its stored configuration and
loads its weights by their fairseq names. `generate` runs fairseq's beam search
(evo_mt.runtime.search.beam_search, in numpy: the exported model's too) on batches of source
token indices; each step's log-probabilities are handed over without a copy on the CPU.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from evo_mt.architecture.config import Architecture, flat_options
from evo_mt.checkpoints import CheckpointError, read_checkpoint
from evo_mt.inference.transformer import ALIGNMENT_LAYER, DecoderState, Transformer
from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.base.vocabulary import EOS, PAD, Vocabulary, dictionary_files
from evo_mt.runtime.model.shortlist import searched
from evo_mt.runtime.search.beam_search import Hypothesis, beam_search
from evo_mt.runtime.search.decoding import DecodingSettings

# Weights fairseq keeps in its state dict that inference does not use: format markers and
# the sinusoidal table's placeholder.
_IGNORED_SUFFIXES = (".version", "embed_positions._float_tensor")
QUANTIZATIONS = ("none", "int8")


class _Decoding:
    """The beam search's view of the decoder: one step at a time over a DecoderState."""

    def __init__(
        self, model: Transformer, state: DecoderState, device: torch.device, vocabulary: np.ndarray | None
    ) -> None:
        self.model, self.state, self.device = model, state, device
        # With a shortlist, beam search's tokens are its columns (evo_mt.runtime.model.shortlist).
        self.vocabulary = None if vocabulary is None else torch.from_numpy(vocabulary).to(device)

    def step(self, last_tokens: np.ndarray) -> np.ndarray:
        tokens = torch.from_numpy(last_tokens).to(self.device)
        if self.vocabulary is not None:
            tokens = self.vocabulary[tokens]
        return self.model.decoder.step(tokens, self.state, self.vocabulary).cpu().numpy()

    def select(self, hypotheses: np.ndarray, sentences: np.ndarray | None) -> None:
        self.state.select(
            torch.from_numpy(hypotheses).to(self.device),
            None if sentences is None else torch.from_numpy(sentences).to(self.device),
        )


class LeanModel:
    """A loaded model with its dictionaries, translating token indices to token indices."""

    def __init__(
        self,
        model: Transformer,
        source: Vocabulary,
        target: Vocabulary,
        *,
        options: Dict[str, Any],
        languages: Tuple[str, str],
        quantized: bool = False,
    ) -> None:
        self.model = model.eval()
        self.source, self.target = source, target
        self.options = options  # the model's stored options, by their flat fairseq names
        self.languages = languages
        self.device = torch.device("cpu")
        self.quantized = quantized  # int8: the output projection's weights are not a tensor

    def to(self, device: torch.device) -> LeanModel:
        self.model.to(device)
        self.device = torch.device(device)
        return self

    @classmethod
    def load(cls, checkpoint: Path, dictionaries: Path, quantize: str = "none") -> LeanModel:
        """The model of `checkpoint`, with the dict.SRC.txt / dict.TGT.txt of folder `dictionaries`.

        `quantize` "int8": the Linear layers' weights as 8-bit integers (torch's dynamic
        quantization for CPUs: activations are quantized on the fly, per batch).
        """
        if quantize not in QUANTIZATIONS:
            raise ValueError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, not {quantize!r}")
        state = read_checkpoint(checkpoint)
        cfg = state.get("cfg") or {}
        model_cfg = cfg.get("model") if isinstance(cfg, dict) else None
        if model_cfg is None:
            model_cfg = state.get("args")
        arch = Architecture.from_config(model_cfg, str(checkpoint))
        task = cfg.get("task") or {}
        languages = [_option(task, "source_lang"), _option(task, "target_lang")]
        if None in languages:
            languages = [_option(model_cfg, "source_lang"), _option(model_cfg, "target_lang")]
        files = dictionary_files(dictionaries, languages, checkpoint)
        source, target = (Vocabulary.load(path) for path in files)
        weights = {k: v for k, v in state["model"].items() if not k.endswith(_IGNORED_SUFFIXES)}
        shared = _option(model_cfg, "share_all_embeddings") or False
        model = Transformer(arch, len(source), len(target), shared=bool(shared))
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError as error:
            first = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
            raise CheckpointError(f"{checkpoint}: weights do not fit its configuration ({first})") from error
        if _option(model_cfg, "share_decoder_input_output_embed") or shared:
            model.decoder.output_projection.weight = model.decoder.embed_tokens.weight
        model.fuse_self_attention()
        if quantize == "int8":
            with warnings.catch_warnings():
                # torch announces that eager-mode quantization moves to torchao; until then it
                # is torch's maintained int8 path for CPUs, and the notice is not the user's.
                warnings.filterwarnings("ignore", message=".*(deprecated|quantize_per_tensor).*")
                torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
        return cls(
            model, source, target, options=vars(flat_options(model_cfg)), languages=tuple(languages),
            quantized=quantize != "none",
        )

    @property
    def max_source_positions(self) -> int:
        return self.model.arch.encoder.max_positions

    @property
    def max_target_positions(self) -> int:
        return self.model.arch.decoder.max_positions

    @torch.inference_mode()
    def generate(
        self,
        sources: Sequence[Sequence[int]],
        *,
        beam: int,
        lenpen: float,
        max_len_a: float,
        max_len_b: int,
        constraints: Sequence[Sequence[Sequence[int]]] | None = None,
        vocabulary: np.ndarray | None = None,
    ) -> List[List[Hypothesis]]:
        """The finished hypotheses of each source (indices ending in </s>), best first;
        `constraints`: each source's required target phrases (evo_mt.runtime.search.beam_search);
        `vocabulary`: the target indices allowed, a shortlist's (evo_mt.runtime.model.shortlist)."""
        if vocabulary is not None and self.quantized:
            raise OptionError("quantize", "a vocabulary shortlist needs the unquantized model")
        tokens = self._batch(sources)
        settings = DecodingSettings(beam=beam, lenpen=lenpen, max_len_a=max_len_a, max_len_b=max_len_b)
        max_lengths = settings.max_lengths(sources, self.max_target_positions, constraints)
        encoder_out, padding = self.model.encoder(tokens)
        state = self.model.decoder.start(encoder_out, padding)
        # Each sentence's state is shared by its `beam` hypotheses until the first step
        # chooses; the hypotheses' own rows are made here, the cross keys stay per sentence.
        state.select(torch.arange(len(sources), device=self.device).repeat_interleave(beam), None)
        decoding = _Decoding(self.model, state, self.device, vocabulary)

        def search(
            required: Sequence[Sequence[Sequence[int]]] | None, continues_word: np.ndarray
        ) -> List[List[Hypothesis]]:
            return beam_search(
                decoding, max_lengths, beam=beam, lenpen=lenpen, constraints=required,
                continues_word=continues_word,
            )

        return searched(search, constraints, self.target.continues_word, vocabulary)

    @torch.inference_mode()
    def attention(
        self, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], layer: int = ALIGNMENT_LAYER
    ) -> List[np.ndarray]:
        """For each source and its translation (indices, each ending in </s>), decoder layer
        `layer`'s cross-attention as the decoder read it before each target token: (target
        tokens, source tokens). One forced pass (the exported folder's OnnxModel.attention)."""
        tokens = self._batch(sources)
        encoder_out, padding = self.model.encoder(tokens)
        state = self.model.decoder.start(encoder_out, padding)
        state.aligned_layer = layer
        last = torch.full((len(sources),), EOS, dtype=torch.long, device=self.device)
        rows = []
        for step in range(max(len(target) for target in targets)):
            self.model.decoder.step(last, state)
            rows.append(state.attention)
            following = [target[step] if step < len(target) else EOS for target in targets]
            last = torch.tensor(following, dtype=torch.long, device=self.device)
        found = torch.stack(rows, dim=1).float().cpu().numpy()
        return [
            found[row, : len(target), tokens.size(1) - len(source) :]
            for row, (source, target) in enumerate(zip(sources, targets, strict=True))
        ]

    def _batch(self, sources: Sequence[Sequence[int]]) -> torch.Tensor:
        """Source indices (S, longest), left-padded, as fairseq batches sources for generation."""
        longest = max(len(s) for s in sources)
        tokens = torch.full((len(sources), longest), PAD, dtype=torch.long)
        for row, source in enumerate(sources):
            tokens[row, longest - len(source) :] = torch.tensor(source, dtype=torch.long)
        return tokens.to(self.device)


def _option(cfg, name: str):
    if cfg is None:
        return None
    return cfg.get(name) if isinstance(cfg, dict) else getattr(cfg, name, None)
