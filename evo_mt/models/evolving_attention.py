"""Evolving attention (Wang et al., ICML 2021; TPAMI 2023) on top of fairseq's attention.

In layer l of a chain with scores S_l = Q K^T / sqrt(d_head):

    M_l = alpha * A_{l-1} + (1 - alpha) * S_l          (residual from the previous layer)
    A_l = beta * act(Conv_l(M_l)) + (1 - beta) * M_l   (2-D convolution, heads as channels)
    P_l = softmax(A_l + mask)

The first layer of a chain uses A_1 = S_1. Masked entries are zero in every map that is
mixed or convolved, and -inf only inside the softmax, so nothing masked reaches anything
unmasked and no NaN appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict

import torch
import torch.nn.functional as F
from fairseq import utils
from fairseq.modules import MultiheadAttention
from torch import Tensor, nn

CHAINS = ("encoder", "decoder", "cross")


def _identity(x: Tensor) -> Tensor:
    return x


ACTIVATIONS: Dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "gelu": F.gelu,
    "tanh": torch.tanh,
    "linear": _identity,
}

IncrementalState = Dict[str, Dict[str, Tensor | None]]


@dataclass(frozen=True)
class EvolvingOptions:
    """The `--ea-*` options, validated."""

    alpha: float
    beta: float
    kernel_size: int
    activation: str
    chains: frozenset

    @classmethod
    def from_config(cls, cfg: Any) -> EvolvingOptions:
        """Read and check the options from a fairseq namespace or TransformerConfig."""
        chains = frozenset(c.strip() for c in str(cfg.ea_chains).split(",") if c.strip())
        unknown = sorted(chains - set(CHAINS))
        if unknown:
            raise ValueError(
                f"--ea-chains: unknown chain(s) {', '.join(unknown)}; choose from {', '.join(CHAINS)}"
            )
        for name in ("ea_alpha", "ea_beta"):
            value = float(getattr(cfg, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"--{name.replace('_', '-')} must lie in [0, 1], got {value}")
        kernel = int(cfg.ea_kernel_size)
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"--ea-kernel-size must be a positive odd number, got {kernel}")
        if str(cfg.ea_activation) not in ACTIVATIONS:
            raise ValueError(
                f"--ea-activation: unknown {cfg.ea_activation!r}; choose from {', '.join(ACTIVATIONS)}"
            )
        # The chain hands tensors from layer to layer inside one forward pass; recomputing a
        # single layer in the backward pass (activation checkpointing) would read the wrong one.
        if getattr(cfg, "checkpoint_activations", False) and chains:
            raise ValueError("--checkpoint-activations cannot be combined with evolving attention")
        if getattr(cfg, "cross_self_attention", False) and chains:
            raise ValueError("--cross-self-attention cannot be combined with evolving attention")
        if getattr(cfg, "base_layers", 0) and chains:
            raise ValueError("--base-layers cannot be combined with evolving attention")
        return cls(
            alpha=float(cfg.ea_alpha),
            beta=float(cfg.ea_beta),
            kernel_size=kernel,
            activation=str(cfg.ea_activation),
            chains=chains,
        )


class AttentionChain:
    """Carries the evolved logits of one layer to the next layer of the same chain.

    It sits outside the module tree (no parameters, nothing in the state dict) and holds a
    tensor only between two consecutive layers of one forward pass: the receiver takes it.
    """

    def __init__(self) -> None:
        self._logits: Tensor | None = None

    def hand_over(self, logits: Tensor) -> None:
        self._logits = logits

    def take(self) -> Tensor | None:
        logits, self._logits = self._logits, None
        return logits


class EvolvingAttention(MultiheadAttention):
    """fairseq's MultiheadAttention whose logits evolve along a chain of layers.

    fairseq computes projections, key/value caching and masking; this class takes its
    pre-softmax logits (``before_softmax=True``) and does the rest. Until `join_chain` is
    called it behaves exactly like plain attention.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # fairseq's fused fast path ignores before_softmax; this flag makes it take the
        # explicit path, which returns the logits we need.
        self.skip_embed_dim_check = True
        self.chain: AttentionChain | None = None
        self.receives = False
        self.passes_on = False
        self.causal = False
        self.alpha = 0.0
        self.beta = 0.0
        self.activation = "linear"
        self.conv: nn.Conv2d | None = None
        # For inspection (`EATransformerModel.keeping_maps`): when True, each forward puts its
        # maps, detached, into `self.kept`: "mixed" (M_l), "evolved" (A_l), "probs" (P_l) and,
        # where there is a convolution, "added" (A_l - M_l), each (B, H, Tq, Tk).
        self.keep_maps = False
        self.kept: Dict[str, Tensor] = {}

    def join_chain(
        self,
        chain: AttentionChain,
        options: EvolvingOptions,
        *,
        position: int,
        length: int,
        causal: bool,
    ) -> None:
        """Make this the `position`-th (0-based) of `length` layers of `chain`."""
        carries = options.alpha != 0.0
        self.chain = chain
        self.receives = carries and position > 0
        self.passes_on = carries and position < length - 1
        self.causal = causal
        self.alpha = options.alpha if position > 0 else 0.0
        self.beta = options.beta if position > 0 else 0.0
        self.activation = options.activation
        if self.beta != 0.0:
            k = options.kernel_size
            self.conv = nn.Conv2d(self.num_heads, self.num_heads, (k, k))

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
        logits, v = super().forward(
            query,
            key,
            value,
            key_padding_mask=key_padding_mask,
            incremental_state=incremental_state,
            need_weights=False,
            static_kv=static_kv,
            attn_mask=attn_mask,
            before_softmax=True,
        )
        tgt_len, bsz, _ = query.shape
        heads = self.num_heads
        src_len = logits.size(-1)
        logits = logits.view(bsz, heads, tgt_len, src_len)

        # fairseq has put -inf at every masked key. Padded queries of a self-attention must
        # not feed the chain either; their own softmax rows are left as fairseq has them.
        blocked = logits.isneginf()
        padded_queries: Tensor | None = None
        if key_padding_mask is not None and self.self_attention and src_len == tgt_len:
            padded_queries = key_padding_mask.view(bsz, 1, tgt_len, 1).bool()
        evolved = self.evolve(logits.masked_fill(blocked, 0.0), blocked, padded_queries, incremental_state)
        if before_softmax:
            return evolved.masked_fill(blocked, float("-inf")).view(-1, tgt_len, src_len), v

        probs_float = utils.softmax(
            evolved.masked_fill(blocked, float("-inf")), dim=-1, onnx_trace=self.onnx_trace
        )
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
        scores: Tensor,
        blocked: Tensor,
        padded_queries: Tensor | None,
        incremental_state: IncrementalState | None,
    ) -> Tensor:
        """A_l from S_l (masked entries zero); hands A_l on with every masked entry zeroed."""
        mixed = scores
        if self.receives:
            previous = self.chain.take()
            if previous is not None:
                mixed = self.alpha * previous + (1.0 - self.alpha) * scores
        zeroed = blocked if padded_queries is None else blocked | padded_queries
        evolved = mixed
        if self.conv is not None:
            if padded_queries is not None:
                mixed = mixed.masked_fill(padded_queries, 0.0)
            padded = self._pad_for_conv(mixed, incremental_state)
            convolved = ACTIVATIONS[self.activation](self.conv(padded))
            evolved = self.beta * convolved + (1.0 - self.beta) * mixed
        if self.passes_on:
            self.chain.hand_over(evolved.masked_fill(zeroed, 0.0))
        if self.keep_maps:
            self.kept.update(mixed=mixed.detach(), evolved=evolved.detach())
            if self.conv is not None:
                self.kept["added"] = (evolved - mixed).detach()
        return evolved

    def _pad_for_conv(self, mixed: Tensor, incremental_state: IncrementalState | None) -> Tensor:
        """Zero-pad (batch, heads, T_query, T_key) so a valid k x k convolution keeps its shape.

        The key axis is padded on both sides. The query axis is centred in the encoder and
        causal in the decoder: there it is padded at the top only, and during incremental
        decoding the top rows are the k-1 rows cached from earlier steps.
        """
        k = self.conv.kernel_size[0]
        half = k // 2
        if incremental_state is not None:
            state = self.get_incremental_state(incremental_state, "evolving_state")
            src_len = mixed.size(-1)
            if state is None:
                rows = mixed.new_zeros(mixed.size(0), mixed.size(1), k - 1, src_len)
            else:
                # Self-attention keys grow by one per step: earlier rows end with zeros there.
                rows = F.pad(state["rows"], (0, src_len - state["rows"].size(-1)))
            window = torch.cat([rows, mixed], dim=2)
            self.set_incremental_state(
                incremental_state, "evolving_state", {"rows": window[:, :, window.size(2) - (k - 1) :]}
            )
            return F.pad(window, (half, half, 0, 0))
        top, bottom = (k - 1, 0) if self.causal else (half, half)
        return F.pad(mixed, (half, half, top, bottom))

    def reorder_incremental_state(
        self, incremental_state: IncrementalState, new_order: Tensor
    ) -> IncrementalState:
        incremental_state = super().reorder_incremental_state(incremental_state, new_order)
        state = self.get_incremental_state(incremental_state, "evolving_state")
        if state is not None:
            reordered = {name: rows.index_select(0, new_order) for name, rows in state.items()}
            incremental_state = self.set_incremental_state(incremental_state, "evolving_state", reordered)
        return incremental_state


def link_chain(attentions: list, options: EvolvingOptions, *, causal: bool) -> None:
    """Join the attention modules of consecutive layers into one evolving chain."""
    chain = AttentionChain()
    for position, attention in enumerate(attentions):
        attention.join_chain(chain, options, position=position, length=len(attentions), causal=causal)
