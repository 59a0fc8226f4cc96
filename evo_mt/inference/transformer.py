"""The (evolving-attention) Transformer for inference only, in plain PyTorch.

Modules and parameters carry fairseq's names, so a fairseq checkpoint's state dict loads
as it is. Activations are batch first: (B, T, C) for hidden states, (B, H, T_q, T_k) for
attention maps. A chain's map is handed from layer to layer as a return value; the maths
of each layer of a chain is `evolving_maths.evolve`, the function the fairseq plugin calls.

The decoder runs one target position at a time over a `DecoderState`: keys and values of
the self-attention grow by a step, the cross-attention's keys and values are computed once
per sentence (not per hypothesis), and each convolving decoder layer keeps the k - 1
previous rows of its map as the convolution's context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from evo_mt.activations import FEED_FORWARD
from evo_mt.architecture.chains import Link
from evo_mt.architecture.config import Architecture, Side
from evo_mt.evolving_maths import evolve, handed_on, masked_entries, probabilities
from evo_mt.runtime.base.vocabulary import PAD

# The decoder layer whose cross-attention aligns a translation with its source (evo_mt.runtime.
# text.alignment): the last one, as fairseq's --print-alignment takes by default.
ALIGNMENT_LAYER = -1


class Attention(nn.Module):
    """fairseq's MultiheadAttention weights; with `evolution`, its logits evolve along a chain."""

    def __init__(self, dim: int, heads: int, evolution: Link | None, fused: bool = False) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        # fairseq's own encoder attention runs torch's fused attention (its fast path); a
        # decoding step, and evolving attention, run the explicit product and softmax.
        self.fused = fused and evolution is None
        self.scaling = self.head_dim**-0.5
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))
        self.in_proj: nn.Linear | None = None  # fuse_projections()
        self.evolution = evolution
        k = evolution.kernel_size if evolution is not None else 0
        self.conv = nn.Conv2d(heads, heads, (k, k)) if evolution is not None and evolution.convolves else None

    def split(self, x: Tensor) -> Tensor:
        # (B, T, C) -> (B, H, T, d)
        return x.view(x.size(0), x.size(1), self.heads, self.head_dim).transpose(1, 2)

    def keys_values(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        return self.split(self.k_proj(x)), self.split(self.v_proj(x))

    def fuse_projections(self) -> None:
        """One product for query, keys and values (self-attention): the three weights stacked."""
        layers = (self.q_proj, self.k_proj, self.v_proj)
        fused = nn.Linear(self.q_proj.in_features, 3 * self.q_proj.out_features)
        with torch.no_grad():
            fused.weight.copy_(torch.cat([layer.weight for layer in layers]))
            fused.bias.copy_(torch.cat([layer.bias for layer in layers]))
        self.in_proj = fused

    def self_projections(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Self-attention's query (B, T, C), keys and values (B, H, T, d) of the same input."""
        if self.in_proj is None:
            return self.q_proj(x), *self.keys_values(x)
        # Sizes given, not `chunk`: a traced graph then splits without computing them per step.
        q, k, v = self.in_proj(x).split(self.q_proj.out_features, dim=-1)
        return q, self.split(k), self.split(v)

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor,
        *,
        masked: Tensor | None,
        chain_masked: Tensor | None,
        previous: Tensor | None,
        rows_above: Tensor | None = None,
        projected: Tensor | None = None,
        weights: List[Tensor] | None = None,
    ) -> Tuple[Tensor, Tensor | None, Tensor | None]:
        """(output (B, T_q, C), map handed on or None, convolution rows for the next step or None).

        `keys`/`values` are (B_kv, H, T_k, d) with B a multiple of B_kv: the hypotheses of one
        sentence share the cross-attention's keys. `masked` is where the softmax may not look
        (None: nowhere), per row of `keys`; `chain_masked` adds padded queries, which feed
        nothing onward, and is per hypothesis (B, 1, 1, T_k) when keys are shared.
        `projected`: the query's projection, when `self_projections` made it. `weights`, if
        given, receives the attention weights (B, H, T_q, T_k) (alignments: Decoder.step).
        """
        batch, length, _ = query.shape
        projected = self.q_proj(query) if projected is None else projected
        if self.fused:
            return self._fused(projected, keys, values, masked), None, None
        q = self.split(projected * self.scaling)  # (B, H, T_q, d)
        # Sizes below are read from tensors, not computed in Python, so that a traced graph
        # (evo_mt.export) keeps them dynamic: any beam, any batch.
        share = batch // keys.size(0)
        if share > 1:
            # A decoding step (T_q = 1): a sentence's hypotheses are the query rows of one
            # product with its keys, (B_kv, H, share, d) @ (B_kv, H, d, T_k).
            q = q.view(keys.size(0), -1, self.heads, self.head_dim).transpose(1, 2)
        scores = q @ keys.transpose(-1, -2)  # (B, H, T_q, T_k), or (B_kv, H, share, T_k)
        evolves_shared = self.evolution is not None and share > 1
        if evolves_shared:  # the chain's maps are per hypothesis: (B, H, 1, T_k)
            scores = scores.transpose(1, 2).reshape(batch, self.heads, 1, -1)
            masked = chain_masked
        probs, handed, next_rows = self._weights(scores, masked, chain_masked, previous, rows_above)
        probs = probs.type_as(query)
        if weights is not None:  # per query row: (B_kv, H, share, T_k) -> (B, H, 1, T_k)
            shared = share > 1 and not evolves_shared
            weights.append(probs.transpose(1, 2).reshape(batch, self.heads, 1, -1) if shared else probs)
        if evolves_shared:
            probs = probs.view(keys.size(0), -1, self.heads, probs.size(-1)).transpose(1, 2)
        # (B, H, T_q, d) or (B_kv, H, share, d) -> (B, T_q, C), projected
        out = (probs @ values).transpose(1, 2).reshape(batch, length, self.heads * self.head_dim)
        return self.out_proj(out), handed, next_rows

    def step(
        self, projected: Tensor, memory: LayerState, *, previous: Tensor | None, rows_above: Tensor | None
    ) -> Tuple[Tensor, Tensor | None, Tensor | None]:
        """A decoding step's self-attention, as `forward` returns it: the projected query of N
        hypotheses (N, 1, C) over `memory`'s keys and values of the steps before and this step's.

        Heads come first, (H, N, t, d): each head's products are one batch over the hypotheses,
        the layout an exported graph gathers its cache into without a copy in between
        (evo_mt.export.graphs). This step's key is scored apart from the t before it, so the
        cache is never copied to append it.
        """
        past_keys, past_values = memory.keys, memory.values
        new_keys, new_values = memory.new_keys, memory.new_values
        assert new_keys is not None and new_values is not None
        # (N, 1, C) -> (H, N, 1, d)
        q = (projected * self.scaling).view(-1, self.heads, self.head_dim).transpose(0, 1).unsqueeze(2)
        scores = torch.cat([q @ past_keys.transpose(-1, -2), (q * new_keys).sum(-1, keepdim=True)], dim=-1)
        probs, handed, next_rows = self._weights(scores.transpose(0, 1), None, None, previous, rows_above)
        probs = probs.type_as(projected).transpose(0, 1)  # (H, N, 1, t + 1)
        out = probs[..., :-1] @ past_values + probs[..., -1:] * new_values  # (H, N, 1, d)
        out = out.transpose(0, 1).reshape(-1, 1, self.heads * self.head_dim)  # (N, 1, C)
        return self.out_proj(out), handed, next_rows

    def _weights(
        self,
        scores: Tensor,
        masked: Tensor | None,
        chain_masked: Tensor | None,
        previous: Tensor | None,
        rows_above: Tensor | None,
    ) -> Tuple[Tensor, Tensor | None, Tensor | None]:
        """(attention weights, map handed on or None, convolution rows or None) of logits (B, H, T_q, T_k)."""
        evolution = self.evolution
        if evolution is None:
            return probabilities(scores, masked), None, None
        conv = self.conv
        _, evolved, next_rows = evolve(
            scores,
            previous if evolution.receives else None,
            alpha=evolution.alpha,
            beta=evolution.beta,
            weight=None if conv is None else conv.weight,
            bias=None if conv is None else conv.bias,
            activation=evolution.activation,
            causal=evolution.causal,
            masked=masked,
            chain_masked=chain_masked,
            rows_above=rows_above,
        )
        handed = handed_on(evolved, chain_masked) if evolution.passes_on else None
        return probabilities(evolved, masked), handed, next_rows

    def _fused(self, projected: Tensor, keys: Tensor, values: Tensor, masked: Tensor | None) -> Tensor:
        q = self.split(projected)
        mask = (
            None
            if masked is None
            else torch.zeros(masked.shape, dtype=q.dtype).masked_fill(masked, float("-inf"))
        )
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        return self.out_proj(out.transpose(1, 2).reshape(projected.size(0), projected.size(1), -1))


class _Layer(nn.Module):
    """What encoder and decoder layers share: fairseq's feed-forward block and residual norms."""

    def __init__(self, side: Side, activation: str) -> None:
        super().__init__()
        self.pre_norm = side.normalize_before
        self.fc1, self.fc2 = nn.Linear(side.embed_dim, side.ffn_dim), nn.Linear(side.ffn_dim, side.embed_dim)
        self.activation = FEED_FORWARD[activation]
        self.final_layer_norm = nn.LayerNorm(side.embed_dim)

    def normed(self, norm: nn.LayerNorm, x: Tensor) -> Tensor:
        """A sublayer's input: normalised first (pre-norm), or as it is (post-norm)."""
        return norm(x) if self.pre_norm else x

    def added(self, norm: nn.LayerNorm, x: Tensor, out: Tensor) -> Tensor:
        """The residual sum, normalised after (post-norm) or not (pre-norm)."""
        return x + out if self.pre_norm else norm(x + out)

    def feed_forward(self, x: Tensor) -> Tensor:
        out = self.fc2(self.activation(self.fc1(self.normed(self.final_layer_norm, x))))
        return self.added(self.final_layer_norm, x, out)


class EncoderLayer(_Layer):
    def __init__(self, side: Side, activation: str, evolution: Link | None) -> None:
        super().__init__(side, activation)
        self.self_attn = Attention(side.embed_dim, side.heads, evolution, fused=True)
        self.self_attn_layer_norm = nn.LayerNorm(side.embed_dim)

    def forward(
        self, x: Tensor, masked: Tensor | None, chain_masked: Tensor | None, previous: Tensor | None
    ) -> Tuple[Tensor, Tensor | None]:
        h = self.normed(self.self_attn_layer_norm, x)
        q, k, v = self.self_attn.self_projections(h)
        out, handed, _ = self.self_attn(
            h, k, v, masked=masked, chain_masked=chain_masked, previous=previous, projected=q
        )
        return self.feed_forward(self.added(self.self_attn_layer_norm, x, out)), handed


class DecoderLayer(_Layer):
    def __init__(
        self,
        side: Side,
        encoder_dim: int,
        activation: str,
        evolutions: Dict[str, Link | None],
    ) -> None:
        super().__init__(side, activation)
        self.self_attn = Attention(side.embed_dim, side.heads, evolutions.get("decoder"))
        self.self_attn_layer_norm = nn.LayerNorm(side.embed_dim)
        self.encoder_attn = Attention(side.embed_dim, side.heads, evolutions.get("cross"))
        if encoder_dim != side.embed_dim:
            self.encoder_attn.k_proj = nn.Linear(encoder_dim, side.embed_dim)
            self.encoder_attn.v_proj = nn.Linear(encoder_dim, side.embed_dim)
        self.encoder_attn_layer_norm = nn.LayerNorm(side.embed_dim)

    def step(
        self, x: Tensor, memory: LayerState, source_masked: Tensor | None,
        hypotheses_masked: Tensor | None, handed: Dict, weights: List[Tensor] | None = None,
    ) -> Tensor:
        """One target position (N, 1, C) of N hypotheses through the layer; `handed` holds each
        chain's map from the layer below and receives this layer's. The source's padding is
        given per sentence (S, 1, 1, T_src) and per hypothesis (N, 1, 1, T_src). `weights`, if
        given, receives the cross-attention's weights (N, H, 1, T_src)."""
        h = self.normed(self.self_attn_layer_norm, x)
        q, k, v = self.self_attn.self_projections(h)
        memory.new_keys, memory.new_values = k.transpose(0, 1), v.transpose(0, 1)  # (H, N, 1, d)
        rows = _cached_rows(self.self_attn, "decoder", memory, h, memory.keys.size(2) + 1)
        out, handed["decoder"], rows = self.self_attn.step(
            q, memory, previous=handed["decoder"], rows_above=rows
        )
        _keep_rows(memory, "decoder", rows)
        x = self.added(self.self_attn_layer_norm, x, out)

        h = self.normed(self.encoder_attn_layer_norm, x)
        rows = _cached_rows(self.encoder_attn, "cross", memory, h, memory.cross_keys.size(2))
        out, handed["cross"], rows = self.encoder_attn(
            h, memory.cross_keys, memory.cross_values, masked=source_masked,
            chain_masked=source_masked if hypotheses_masked is None else hypotheses_masked,
            previous=handed["cross"], rows_above=rows, weights=weights,
        )
        _keep_rows(memory, "cross", rows)
        return self.feed_forward(self.added(self.encoder_attn_layer_norm, x, out))


def _cached_rows(
    attention: Attention, chain: str, memory: LayerState, h: Tensor, width: int
) -> Tensor | None:
    """A convolving attention's k - 1 cached rows of its map, `width` keys wide at the first
    step, where they are zeros, as the causal convolution pads; None if it does not convolve."""
    if attention.conv is None:
        return None
    rows = memory.rows.get(chain)
    if rows is None:
        rows = h.new_zeros(h.size(0), attention.heads, attention.conv.kernel_size[0] - 1, width)
    return rows


def _keep_rows(memory: LayerState, chain: str, rows: Tensor | None) -> None:
    if rows is not None:
        memory.rows[chain] = rows


@dataclass
class LayerState:
    """One decoder layer's memory of earlier steps, for every live hypothesis."""

    # The self-attention's keys and values of the t steps before, heads first: (H, N, t, d)
    # (Attention.step says why).
    keys: Tensor
    values: Tensor
    cross_keys: Tensor  # (S_batch, H, T_src, d): per sentence, shared by its hypotheses
    cross_values: Tensor
    # The k - 1 previous rows of each convolving attention's map (N, H, k - 1, T_k).
    rows: Dict[str, Tensor] = field(default_factory=dict)
    # The last step's own keys and values (H, N, 1, d), joined to `keys` and `values` before
    # the next step: the exported graph returns them instead (evo_mt.export.graphs).
    new_keys: Tensor | None = None
    new_values: Tensor | None = None

    def join_new(self) -> None:
        if self.new_keys is not None and self.new_values is not None:
            self.keys = torch.cat([self.keys, self.new_keys], dim=2)
            self.values = torch.cat([self.values, self.new_values], dim=2)
            self.new_keys = self.new_values = None


@dataclass
class DecoderState:
    """What the decoder needs from earlier steps: the source and each layer's memory."""

    source_masked: Tensor | None  # (S_batch, 1, 1, T_src) where the source is padding, or None
    layers: List[LayerState]
    steps: int | Tensor = 0
    # Alignments (evo_mt.runtime.text.alignment): when `aligned_layer` is set, each step leaves
    # that decoder layer's cross-attention, the mean of its heads, in `attention` (N, T_src).
    aligned_layer: int | None = None
    attention: Tensor | None = None

    def select(self, hypotheses: Tensor, sentences: Tensor | None) -> None:
        """Keep hypotheses `hypotheses` (indices into the current ones), in that order, and of
        the source only `sentences` (None: all of them, the batch did not shrink)."""
        for layer in self.layers:
            layer.join_new()
            layer.keys = layer.keys.index_select(1, hypotheses)
            layer.values = layer.values.index_select(1, hypotheses)
            layer.rows = {name: rows.index_select(0, hypotheses) for name, rows in layer.rows.items()}
            if sentences is not None:
                layer.cross_keys, layer.cross_values = (
                    layer.cross_keys[sentences],
                    layer.cross_values[sentences],
                )
        if sentences is not None and self.source_masked is not None:
            self.source_masked = self.source_masked[sentences]


class SinusoidalPositions(nn.Module):
    """fairseq's sinusoidal positions: position p of a sentence has index PAD + 1 + p."""

    def __init__(self, dim: int, max_positions: int) -> None:
        super().__init__()
        half = dim // 2
        rates = torch.exp(torch.arange(half, dtype=torch.float) * -(math.log(10000) / (half - 1)))
        angles = torch.arange(max_positions + PAD + 1, dtype=torch.float).unsqueeze(1) * rates.unsqueeze(0)
        table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
        if dim % 2:
            table = F.pad(table, (0, 1))
        table[PAD] = 0
        self.register_buffer("table", table, persistent=False)

    def forward(self, indices: Tensor) -> Tensor:
        return self.table[indices]


class LearnedPositions(nn.Embedding):
    """fairseq's learned positions (the same indices as the sinusoidal ones)."""

    def __init__(self, dim: int, max_positions: int) -> None:
        super().__init__(max_positions + PAD + 1, dim, padding_idx=PAD)


def _positions(side: Side, arch: Architecture) -> nn.Module | None:
    if not arch.positions:
        return None
    kind = LearnedPositions if side.learned_positions else SinusoidalPositions
    return kind(side.embed_dim, side.max_positions)


def position_indices(tokens: Tensor) -> Tensor:
    """PAD + 1 + the position among the non-padding tokens; PAD at padding (left or right)."""
    real = tokens.ne(PAD).int()
    return (torch.cumsum(real, dim=1) * real).long() + PAD


class _Stack(nn.Module):
    """What encoder and decoder share: the scaled token embedding, positions and the optional
    embedding norm, under fairseq's parameter names."""

    def __init__(self, arch: Architecture, side: Side, embed_tokens: nn.Embedding) -> None:
        super().__init__()
        self.embed_tokens = embed_tokens
        self.embed_scale = math.sqrt(side.embed_dim) if arch.scale_embedding else 1.0
        self.embed_positions = _positions(side, arch)
        self.layernorm_embedding = nn.LayerNorm(side.embed_dim) if arch.layernorm_embedding else None

    def embed(self, tokens: Tensor, positions: Tensor) -> Tensor:
        """Tokens (B, T) at position indices (B or 1, T) -> embeddings (B, T, C)."""
        x = self.embed_scale * self.embed_tokens(tokens)
        if self.embed_positions is not None:
            x = x + self.embed_positions(positions)
        if self.layernorm_embedding is not None:
            x = self.layernorm_embedding(x)
        return x


class Encoder(_Stack):
    def __init__(self, arch: Architecture, embed_tokens: nn.Embedding) -> None:
        side = arch.encoder
        super().__init__(arch, side, embed_tokens)
        links = arch.chain_plan().get("encoder")
        self.layers = nn.ModuleList(
            EncoderLayer(side, arch.activation, links[i] if links else None) for i in range(side.layers)
        )
        self.layer_norm = nn.LayerNorm(side.embed_dim) if side.normalize_before else None

    def forward(self, tokens: Tensor) -> Tuple[Tensor, Tensor | None]:
        """Source tokens (B, T) -> states (B, T, C) and where the source is padding (B, T) or None."""
        padding = tokens.eq(PAD)
        padding = padding if bool(padding.any()) else None
        return self.encode(tokens, padding), padding

    def encode(self, tokens: Tensor, padding: Tensor | None) -> Tensor:
        """The states (B, T, C) of source tokens whose padding is `padding` (None: none)."""
        x = self.embed(tokens, position_indices(tokens))
        if padding is not None:
            x = x * (1 - padding.unsqueeze(-1).type_as(x))
        length = tokens.size(1)
        masked = masked_entries(length, key_padding_mask=padding)
        chain_masked = masked_entries(length, key_padding_mask=padding, query_padding=padding)
        handed = None
        for layer in self.layers:
            x, handed = layer(x, masked, chain_masked, handed)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return x


class Decoder(_Stack):
    def __init__(self, arch: Architecture, embed_tokens: nn.Embedding) -> None:
        side = arch.decoder
        super().__init__(arch, side, embed_tokens)
        plan = arch.chain_plan()
        self.layers = nn.ModuleList(
            DecoderLayer(
                side,
                arch.encoder.embed_dim,
                arch.activation,
                {chain: plan[chain][i] for chain in ("decoder", "cross") if chain in plan},
            )
            for i in range(side.layers)
        )
        self.cross_evolves = any(layer.encoder_attn.evolution is not None for layer in self.layers)
        self.layer_norm = nn.LayerNorm(side.embed_dim) if arch.decoder_final_norm else None
        self.output_projection = nn.Linear(side.embed_dim, embed_tokens.num_embeddings, bias=False)

    def start(self, encoder_out: Tensor, source_padding: Tensor | None) -> DecoderState:
        """The state before the first step, for a batch of sentences (each hypothesis added later)."""
        masked = masked_entries(encoder_out.size(1), key_padding_mask=source_padding)
        layers = []
        for layer in self.layers:
            cross_keys, cross_values = layer.encoder_attn.keys_values(encoder_out)
            # (H, S, 0, d): heads first (Attention.step)
            empty = cross_keys.new_zeros(cross_keys.size(1), cross_keys.size(0), 0, cross_keys.size(-1))
            layers.append(LayerState(empty, empty, cross_keys, cross_values))
        return DecoderState(masked, layers)

    def step(self, last_tokens: Tensor, state: DecoderState, vocabulary: Tensor | None = None) -> Tensor:
        """Log-probabilities (N, V) of the next token of N hypotheses ending in `last_tokens` (N,);
        with `vocabulary` (V',), sorted target indices (evo_mt.runtime.model.shortlist), of those
        tokens only: (N, V'), normalised over them."""
        # `steps` is a count, or a tensor in an exported graph, where the step is an input.
        position = (PAD + 1 + state.steps) * last_tokens.new_ones((1, 1))
        x = self.embed(last_tokens.unsqueeze(1), position)  # (N, 1, C)
        handed: Dict[str, Tensor | None] = {"decoder": None, "cross": None}
        masked, hypotheses_masked = state.source_masked, None
        if masked is not None and self.cross_evolves:  # once per step, not once per layer
            share = last_tokens.size(0) // masked.size(0)  # hypotheses per sentence
            hypotheses_masked = masked.unsqueeze(1).expand(-1, share, -1, -1, -1).flatten(0, 1)
        aligned = None if state.aligned_layer is None else state.aligned_layer % len(self.layers)
        weights: List[Tensor] = []
        for number, (layer, memory) in enumerate(zip(self.layers, state.layers, strict=True)):
            memory.join_new()  # the last step's, where no `select` came between
            kept = weights if number == aligned else None
            x = layer.step(x, memory, masked, hypotheses_masked, handed, kept)
        if weights:
            state.attention = weights[0].mean(dim=1)[:, 0]
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        state.steps += 1
        if vocabulary is None:
            logits = self.output_projection(x[:, 0])
        else:  # the rows of the allowed tokens only: (V, C) -> (V', C)
            logits = F.linear(x[:, 0], self.output_projection.weight.index_select(0, vocabulary))
        return F.log_softmax(logits.float(), dim=-1)


class Transformer(nn.Module):
    """Encoder and decoder sharing one embedding table when the checkpoint shares them."""

    def __init__(self, arch: Architecture, source_vocab: int, target_vocab: int, shared: bool) -> None:
        super().__init__()
        self.arch = arch
        source_embed = nn.Embedding(source_vocab, arch.encoder.embed_dim, padding_idx=PAD)
        target_embed = (
            source_embed if shared else nn.Embedding(target_vocab, arch.decoder.embed_dim, padding_idx=PAD)
        )
        self.encoder = Encoder(arch, source_embed)
        self.decoder = Decoder(arch, target_embed)

    def fuse_self_attention(self) -> None:
        """After the weights are loaded: each self-attention projects in one product."""
        for layer in [*self.encoder.layers, *self.decoder.layers]:
            layer.self_attn.fuse_projections()
