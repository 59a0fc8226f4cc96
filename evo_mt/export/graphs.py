"""The lean engine's Transformer as the two graphs an exported folder holds.

Both wrap evo_mt.inference.transformer's modules and call their own code (Encoder.encode,
Decoder.start, Decoder.step), so the exported model computes what the lean engine computes;
only the state moves from a DecoderState into graph inputs and outputs, named as
evo_mt.runtime.model_folder says. Where the lean engine appends each step's self-attention
keys and values and reorders them (DecoderState.select), the graph gathers the same rows
from tables by index; the values attended to are the same. The source padding mask is always
an input (the lean engine drops an all-false one), which changes nothing in the results.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

from torch import Tensor, nn

from evo_mt.evolving_maths import masked_entries
from evo_mt.inference.transformer import DecoderState, LayerState, Transformer
from evo_mt.runtime import model_folder as names
from evo_mt.runtime.vocabulary import PAD


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
    rows of their earlier steps, source padding and the cached state -> the log-probabilities
    of the next token, the step's own keys and values, and the per-hypothesis rows after the
    step. The self-attention's past is gathered by `history` from tables the runtime keeps and
    appends to in place: beam search's choices move indices, not the cache (CTranslate2's and
    ONNX Runtime's cache indirection, in plain ONNX operators)."""

    def __init__(self, model: Transformer) -> None:
        super().__init__()
        self.model = model
        self.state_names = state_names(model)

    def forward(
        self, last_tokens: Tensor, step: Tensor, reorder: Tensor, history: Tensor, source_padding: Tensor,
        *cached: Tensor,
    ):  # fmt: skip
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
        state = DecoderState(masked, layers, steps=step)
        log_probs = self.model.decoder.step(last_tokens, state)
        outputs = [log_probs]
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
            *self.state_names,
        ]  # fmt: skip

    def output_names(self) -> List[str]:
        return [names.LOG_PROBS] + [names.NEXT + name for name in self.output_state()]
