"""Evolving attention (Wang et al., ICML 2021; TPAMI 2023) on top of fairseq's attention.

In layer l of a chain with scores S_l = Q K^T / sqrt(d_head):

    M_l = alpha * A_{l-1} + (1 - alpha) * S_l          (residual from the previous layer)
    A_l = beta * act(Conv_l(M_l)) + (1 - beta) * M_l   (2-D convolution, heads as channels)
    P_l = softmax(A_l + mask)

The first layer of a chain uses A_1 = S_1. Masked entries are zero in every map that is
mixed or convolved, and -inf only inside the softmax, so nothing masked reaches anything
unmasked and no NaN appears. The maths is in `evolving_maths` (pure tensor functions); this
module connects it to fairseq's MultiheadAttention.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator

import torch
from fairseq.modules import MultiheadAttention
from torch import Tensor, nn

from evo_mt.architecture.chains import Link
from evo_mt.evolving_maths import evolve, handed_on, masked_entries, probabilities

IncrementalState = Dict[str, Dict[str, Tensor | None]]

class AttentionChain:
    """Carries the evolved logits of one layer to the next layer of the same chain.

    It sits outside the module tree (no parameters, nothing in the state dict) and holds
    tensors for one forward pass only: the encoder or decoder opens the pass with
    `forward_pass`, which also says which queries are padding, and everything is dropped when
    it ends. A layer skipped by LayerDrop takes nothing and hands nothing on, so the next
    layer that runs receives the map of the last one that ran.
    """

    def __init__(self) -> None:
        self._logits: Tensor | None = None
        self.query_padding: Tensor | None = None

    @contextmanager
    def forward_pass(self, query_padding: Tensor | None = None) -> Iterator[None]:
        self._logits, self.query_padding = None, query_padding
        try:
            yield
        finally:
            self._logits, self.query_padding = None, None

    def hand_over(self, logits: Tensor) -> None:
        self._logits = logits

    def take(self) -> Tensor | None:
        logits, self._logits = self._logits, None
        return logits


class EvolvingAttention(MultiheadAttention):
    """fairseq's MultiheadAttention whose logits evolve along a chain of layers.

    fairseq computes projections and key/value caching; this class takes its pre-softmax
    logits (``before_softmax=True``, masks applied here, not by fairseq) and does the rest.
    Its `link` in the chain plan (evo_mt.architecture.chains) says whether it mixes (alpha),
    convolves (beta), receives and hands on a map. Until `join_chain` is called it receives
    nothing and hands nothing on.
    """

    def __init__(self, *args: Any, link: Link | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # fairseq's fused fast path ignores before_softmax; this flag makes it take the
        # explicit path, which returns the logits we need.
        self.skip_embed_dim_check = True
        self.chain: AttentionChain | None = None
        self.link = link
        self.causal = link is not None and link.causal
        self.alpha = link.alpha if link is not None else 0.0
        self.beta = link.beta if link is not None else 0.0
        self.activation = link.activation if link is not None else "linear"
        # Built here, not on joining the chain, so that wrappers built around the layer
        # (FSDP's flattening included) see it.
        self.conv: nn.Conv2d | None = None
        if link is not None and link.convolves:
            k = link.kernel_size
            self.conv = nn.Conv2d(self.num_heads, self.num_heads, (k, k))
        # For inspection (`EATransformerModel.keeping_maps`): when True, each forward puts its
        # maps, detached, into `self.kept`: "mixed" (M_l), "evolved" (A_l), "probs" (P_l) and,
        # where there is a convolution, "added" (A_l - M_l), each (B, H, Tq, Tk).
        self.keep_maps = False
        self.kept: Dict[str, Tensor] = {}

    def join_chain(self, chain: AttentionChain) -> None:
        self.chain = chain

    @property
    def receives(self) -> bool:
        return self.chain is not None and self.link.receives

    @property
    def passes_on(self) -> bool:
        return self.chain is not None and self.link.passes_on

    def set_beam_size(self, beam_size: int) -> None:
        # Keep keys per hypothesis so the probability-value product stays a plain bmm; the
        # evolving maps differ between hypotheses anyway.
        pass

    def forward(
        self,
        query: Tensor,
        key: Tensor | None,
        value: Tensor | None,
        key_padding_mask: Tensor | None = None,
        incremental_state: IncrementalState | None = None,
        need_weights: bool = True,
        static_kv: bool = False,
        attn_mask: Tensor | None = None,
        before_softmax: bool = False,
        need_head_weights: bool = False,
    ):
        # During incremental self-attention fairseq appends each step's key padding to the
        # cached one; it is let do that, and the whole mask read back from its cache.
        growing_keys = incremental_state is not None and not static_kv and key_padding_mask is not None
        logits, v = super().forward(
            query,
            key,
            value,
            key_padding_mask=key_padding_mask if growing_keys else None,
            incremental_state=incremental_state,
            need_weights=False,
            static_kv=static_kv,
            attn_mask=None,
            before_softmax=True,
        )
        if growing_keys:
            key_padding_mask = self._get_input_buffer(incremental_state)["prev_key_padding_mask"]
        tgt_len, bsz, _ = query.shape
        heads = self.num_heads
        src_len = logits.size(-1)
        logits = logits.view(bsz, heads, tgt_len, src_len)

        # Softmax masks keys only; padded queries keep their rows (as fairseq's attention does)
        # but feed neither the convolution nor the next layer.
        masked = masked_entries(src_len, key_padding_mask, attn_mask)
        query_padding = self.chain.query_padding if self.chain is not None else None
        chain_masked = masked
        if query_padding is not None and query_padding.size(1) == tgt_len:
            chain_masked = masked_entries(src_len, key_padding_mask, attn_mask, query_padding)
        evolved = self.evolve(logits, masked, chain_masked, incremental_state)
        if before_softmax:
            return (evolved if masked is None else evolved.masked_fill(masked, float("-inf"))).view(
                -1, tgt_len, src_len
            ), v

        probs_float = probabilities(evolved, masked)
        probs = probs_float.type_as(evolved)
        if self.keep_maps:
            self.kept["probs"] = probs_float.detach()
        out = torch.bmm(self.dropout_module(probs).view(bsz * heads, tgt_len, src_len), v)
        out = out.transpose(0, 1).reshape(tgt_len, bsz, self.embed_dim)
        out = self.out_proj(out)

        weights: Tensor | None = None
        if need_weights or need_head_weights:
            weights = probs_float.transpose(1, 0)  # heads first, as fairseq returns them
            if not need_head_weights:
                weights = weights.mean(dim=0)
        return out, weights

    def evolve(
        self,
        logits: Tensor,
        masked: Tensor | None,
        chain_masked: Tensor | None,
        incremental_state: IncrementalState | None,
    ) -> Tensor:
        """A_l from S_l; hands A_l on with every masked entry zeroed.

        `chain_masked` adds the padded queries to the masked keys: their rows feed neither the
        convolution nor the next layer, but keep their own softmax as in fairseq's attention.
        """
        previous = self.chain.take() if self.receives else None
        conv = self.conv
        rows_above = self._rows_above(logits, incremental_state) if conv is not None else None
        mixed, evolved, rows = evolve(
            logits,
            previous,
            alpha=self.alpha,
            beta=self.beta,
            weight=conv.weight if conv is not None else None,
            bias=conv.bias if conv is not None else None,
            activation=self.activation,
            causal=self.causal,
            masked=masked,
            chain_masked=chain_masked,
            rows_above=rows_above,
        )
        if rows is not None:
            self.set_incremental_state(incremental_state, "evolving_state", {"rows": rows})
        if self.passes_on:
            self.chain.hand_over(handed_on(evolved, chain_masked))
        if self.keep_maps:
            self.kept.update(mixed=mixed.detach(), evolved=evolved.detach())
            if self.conv is not None:
                self.kept["added"] = (evolved - mixed).detach()
        return evolved

    def _rows_above(self, logits: Tensor, incremental_state: IncrementalState | None) -> Tensor | None:
        """During incremental decoding, the k-1 convolution input rows of earlier steps (zeros at first)."""
        if incremental_state is None:
            return None
        state = self.get_incremental_state(incremental_state, "evolving_state")
        if state is not None:
            return state["rows"]
        k = self.conv.kernel_size[0]
        return logits.new_zeros(logits.size(0), logits.size(1), k - 1, logits.size(-1))

    def reorder_incremental_state(
        self, incremental_state: IncrementalState, new_order: Tensor
    ) -> IncrementalState:
        incremental_state = super().reorder_incremental_state(incremental_state, new_order)
        state = self.get_incremental_state(incremental_state, "evolving_state")
        if state is not None:
            reordered = {name: rows.index_select(0, new_order) for name, rows in state.items()}
            incremental_state = self.set_incremental_state(incremental_state, "evolving_state", reordered)
        return incremental_state


def link_chain(attentions: list) -> AttentionChain:
    """Join the attention modules of consecutive layers (built with their links) into one chain."""
    chain = AttentionChain()
    for attention in attentions:
        attention.join_chain(chain)
    return chain
