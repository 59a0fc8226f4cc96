"""What a checkpoint's model is, read from its stored configuration without fairseq.

fairseq stores the model's options either as a flat argparse namespace
(`encoder_embed_dim`, older checkpoints and `--arch` training) or as the plain containers of
its TransformerConfig (nested `encoder: {embed_dim: ...}`, `fairseq-hydra-train` and
checkpoints of the dataclass-registered `ea_transformer`). Both read the same here.
Options the engine does not implement are refused in one line that names them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Dict, List, Mapping

from evo_mt.architecture import chains
from evo_mt.architecture.chains import Link
from evo_mt.architecture.options import EvolvingOptions, ea_defaults
from evo_mt.runtime.base.errors import CheckpointError

# fairseq's defaults (TransformerConfig) for options an old namespace may lack.
_DEFAULTS: Dict[str, Any] = {
    "activation_fn": "relu",
    "no_scale_embedding": False,
    "layernorm_embedding": False,
    "no_token_positional_embeddings": False,
    "no_decoder_final_norm": False,
    "share_decoder_input_output_embed": False,
    "share_all_embeddings": False,
    "max_source_positions": 1024,
    "max_target_positions": 1024,
}
# Options that change the computation in ways the engine does not implement: (name, inactive value).
_UNSUPPORTED = (
    ("adaptive_softmax_cutoff", None),
    ("cross_self_attention", False),
    ("no_cross_attention", False),
    ("encoder_layers_to_keep", None),
    ("decoder_layers_to_keep", None),
    ("scale_attn", False),
    ("scale_fc", False),
    ("scale_heads", False),
    ("scale_resids", False),
)
_ARCH_FAMILIES = ("transformer", "ea_transformer")


@dataclass(frozen=True)
class Side:
    """One side's stack: encoder or decoder."""

    embed_dim: int
    ffn_dim: int
    layers: int
    heads: int
    normalize_before: bool
    learned_positions: bool
    max_positions: int


@dataclass(frozen=True)
class Architecture:
    encoder: Side
    decoder: Side
    activation: str
    scale_embedding: bool
    layernorm_embedding: bool
    positions: bool
    decoder_final_norm: bool
    # None: fairseq's own Transformer (or `--ea-chains ''`), nothing evolves.
    evolving: EvolvingOptions | None

    def chain_plan(self) -> Dict[str, List[Link]]:
        """Each evolving chain's links, layer by layer (evo_mt.architecture.chains)."""
        return chains.plan(self.evolving, {"encoder": self.encoder.layers, "decoder": self.decoder.layers})

    @classmethod
    def from_config(cls, model_cfg: Any, path: str) -> Architecture:
        cfg = flat_options(model_cfg)
        name = str(getattr(cfg, "_name", None) or getattr(cfg, "arch", ""))
        if not name.startswith(_ARCH_FAMILIES):
            raise CheckpointError(
                f"{path}: a {name or 'unnamed'} model; the lean engine runs Transformer "
                "and evolving-attention models only (use --engine fairseq)"
            )
        for option, inactive in _UNSUPPORTED:
            if getattr(cfg, option, inactive) not in (inactive, "", [], None, False):
                raise CheckpointError(
                    f"{path}: the model uses --{option.replace('_', '-')}, which the lean engine "
                    "does not implement (use --engine fairseq)"
                )
        for option in ("decoder_input_dim", "decoder_output_dim"):
            if getattr(cfg, option, None) not in (None, cfg.decoder_embed_dim):
                raise CheckpointError(
                    f"{path}: --{option.replace('_', '-')} differs from the decoder's "
                    "embedding size, which the lean engine does not implement"
                )
        evolving = None
        if name.startswith("ea_transformer"):
            ea_defaults(cfg)
            try:
                evolving = EvolvingOptions.from_config(cfg)
            except ValueError as error:
                raise CheckpointError(f"{path}: {error}") from error
            if not evolving.chains:
                evolving = None
        return cls(
            encoder=_side(cfg, "encoder", cfg.max_source_positions),
            decoder=_side(cfg, "decoder", cfg.max_target_positions),
            activation=str(cfg.activation_fn),
            scale_embedding=not cfg.no_scale_embedding,
            layernorm_embedding=bool(cfg.layernorm_embedding),
            positions=not cfg.no_token_positional_embeddings,
            decoder_final_norm=bool(cfg.decoder_normalize_before) and not cfg.no_decoder_final_norm,
            evolving=evolving,
        )


def _side(cfg: Any, side: str, max_positions: int) -> Side:
    return Side(
        embed_dim=int(getattr(cfg, f"{side}_embed_dim")),
        ffn_dim=int(getattr(cfg, f"{side}_ffn_embed_dim")),
        layers=int(getattr(cfg, f"{side}_layers")),
        heads=int(getattr(cfg, f"{side}_attention_heads")),
        normalize_before=bool(getattr(cfg, f"{side}_normalize_before", False)),
        learned_positions=bool(getattr(cfg, f"{side}_learned_pos", False)),
        max_positions=int(max_positions),
    )


def flat_options(model_cfg: Any) -> SimpleNamespace:
    """The options under their flat names, with fairseq's defaults where an old checkpoint has none."""
    items = dict(vars(model_cfg)) if isinstance(model_cfg, argparse.Namespace) else dict(model_cfg or {})
    for side in ("encoder", "decoder"):
        nested = items.pop(side, None)
        if isinstance(nested, Mapping):
            for key, value in nested.items():
                items.setdefault(f"{side}_{key}", value)
    return SimpleNamespace(**{**_DEFAULTS, **{k: v for k, v in items.items() if v is not None}})
