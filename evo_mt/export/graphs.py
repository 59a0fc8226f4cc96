"""The lean engine's Transformer as the two graphs an exported folder holds.

Both wrap evo_mt.inference.transformer's modules and call their own code (Encoder.encode,
Decoder.start, Decoder.step), so the exported model computes what the lean engine computes;
only the state moves from a DecoderState into graph inputs and outputs, named as
evo_mt.runtime.model.folder says. Where the lean engine appends each step's self-attention
keys and values and reorders them (DecoderState.select), the graph gathers the same rows
from tables by index; the values attended to are the same. The source padding mask is always
an input (the lean engine drops an all-false one), which changes nothing in the results.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import torch
from torch import Tensor, nn

from evo_mt.evolving_maths import masked_entries
from evo_mt.inference.transformer import ALIGNMENT_LAYER, DecoderState, LayerState, Transformer
from evo_mt.runtime.base.vocabulary import EOS, PAD
from evo_mt.runtime.model import folder as names


def state_kinds(model: Transformer, layer: int) -> List[str]:
    """The cached state of one decoder layer, in graph order: per sentence, tables, per hypothesis."""
    decoder_layer = model.decoder.layers[layer]
    kinds = [*names.PER_SENTENCE, *names.TABLES]
    if decoder_layer.self_attn.conv is not None:
        kinds.append("decoder_rows")
    if decoder_layer.encoder_attn.conv is not None:
        kinds.append("cross_rows")
    return kinds


def state_names(model: Transformer) -> List[str]:
    return [
        names.state_name(kind, layer)
        for layer in range(len(model.decoder.layers))
        for kind in state_kinds(model, layer)
    ]


class EncoderGraph(nn.Module):
    """Source tokens -> source padding and each decoder layer's cross-attention keys and values."""

    def __init__(self, model: Transformer) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor) -> Tuple[Tensor, ...]:
        padding = tokens.eq(PAD)
        state = self.model.decoder.start(self.model.encoder.encode(tokens, padding), padding)
        outputs = [padding]
        for layer in state.layers:
            outputs += [layer.cross_keys, layer.cross_values]
        return tuple(outputs)

    def output_names(self) -> List[str]:
        return [names.SOURCE_PADDING] + [
            names.state_name(kind, layer)
            for layer in range(len(self.model.decoder.layers))
            for kind in names.PER_SENTENCE
        ]


class DecoderGraph(nn.Module):
    """One step: last tokens, the step number, which cached rows they continue, the table
    rows of their earlier steps, source padding, the hypotheses' scores so far and limits, and
    the cached state -> the log-probabilities of the next token, each sentence's best
    candidates (`_choice`), the aligning layer's cross-attention, the step's own keys and
    values, and the per-hypothesis rows after the step. The self-attention's past is gathered
    by `history` from tables the runtime keeps and appends to in place: beam search's choices
    move indices, not the cache (CTranslate2's and ONNX Runtime's cache indirection, in plain
    ONNX operators)."""

    def __init__(self, model: Transformer, shortlisted: bool = False) -> None:
        super().__init__()
        self.model = model
        self.state_names = state_names(model)
        # With a shortlist, the step scores the target indices `vocabulary` only, and its
        # candidates' tokens are columns of it (evo_mt.runtime.model.shortlist); without one, the
        # graph has no `vocabulary` input (the exporter leaves out an input never read).
        self.shortlisted = shortlisted

    def forward(
        self, last_tokens: Tensor, step: Tensor, reorder: Tensor, history: Tensor, source_padding: Tensor,
        scores: Tensor, only_eos: Tensor, no_eos: Tensor, candidates: Tensor, vocabulary: Tensor,
        *cached: Tensor,
    ):
        given: Dict[str, Tensor] = dict(zip(self.state_names, cached, strict=True))
        layers = []
        for i in range(len(self.model.decoder.layers)):
            rows = {
                chain: given[names.state_name(f"{chain}_rows", i)].index_select(0, reorder)
                for chain in ("decoder", "cross")
                if names.state_name(f"{chain}_rows", i) in given
            }
            # (H, table rows, d)[:, (N, t)] -> (H, N, t, d): heads first, as Attention.step reads them
            keys, values = (given[names.state_name(kind, i)][:, history] for kind in names.TABLES)
            cross = (given[names.state_name(kind, i)] for kind in names.PER_SENTENCE)
            layers.append(LayerState(keys, values, *cross, rows))
        masked = masked_entries(source_padding.size(1), key_padding_mask=source_padding)
        state = DecoderState(masked, layers, steps=step, aligned_layer=ALIGNMENT_LAYER)
        log_probs = self.model.decoder.step(last_tokens, state, vocabulary if self.shortlisted else None)
        choice = _choice(log_probs, scores, only_eos, no_eos, candidates, source_padding.size(0))
        outputs = [log_probs, *choice, state.attention]  # names.STEP_OUTPUTS, names.ATTENTION
        for name in self.output_state():
            kind, memory = names.state_kind(name), state.layers[int(name.split(".")[1])]
            if kind in names.TABLES:
                outputs.append(memory.new_keys if kind == "keys" else memory.new_values)
            else:
                outputs.append(memory.rows[kind[: -len("_rows")]])
        return tuple(outputs)

    def output_state(self) -> List[str]:
        """The state a step renews: the tables' new rows and what is per hypothesis."""
        renewed = names.TABLES + names.PER_HYPOTHESIS
        return [name for name in self.state_names if names.state_kind(name) in renewed]

    def input_names(self) -> List[str]:
        return [
            names.LAST_TOKENS, names.STEP, names.REORDER, names.HISTORY, names.SOURCE_PADDING,
            names.SCORES, names.ONLY_EOS, names.NO_EOS, names.CANDIDATES, names.VOCABULARY,
            *self.state_names,
        ]

    def output_names(self) -> List[str]:
        return [*names.STEP_OUTPUTS, names.ATTENTION] + [names.NEXT + name for name in self.output_state()]


def _choice(
    log_probs: Tensor, scores: Tensor, only_eos: Tensor, no_eos: Tensor, count: Tensor, sentences: int
) -> Tuple[Tensor, Tensor, Tensor]:
    """Beam search's choice of candidates (StepLimits.applied, then candidates in evo_mt.runtime.
    search.beam_search), so that a step's log-probabilities need not leave ONNX Runtime: (scores,
    tokens, hypotheses of the sentence), each (sentences, count). ONNX's TopK puts the lower
    index first among equal values, as the numpy search sorts them.

    The limits are a row of -inf / 0 added to each hypothesis's log-probabilities, one of three
    (`only_eos` and `no_eos` never both hold): one addition instead of masking three times.
    NaN, which the numpy search turns into -inf, is left to the runtime (Decoding.step_candidates).
    """
    vocabulary = log_probs.size(1)
    column = torch.arange(vocabulary)
    neg_inf = float("-inf")
    limits = torch.stack([
        torch.where(column == PAD, neg_inf, 0.0),  # any token but padding
        torch.where(column == EOS, 0.0, neg_inf),  # only </s>
        torch.where((column == PAD) | (column == EOS), neg_inf, 0.0),  # no </s>
    ])
    kind = only_eos.long() + 2 * no_eos.long()
    # (N, V) -> (S, hypotheses of a sentence x V)
    total = (log_probs + limits[kind] + scores.unsqueeze(1)).view(sentences, -1)
    best, index = total.topk(count, dim=1)
    return best, index % vocabulary, torch.div(index, vocabulary, rounding_mode="floor")
