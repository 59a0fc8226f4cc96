"""The `--ea-*` options of evolving attention, their defaults per checkpoint format, and
their checks; the activation names the model's options accept. Read by the fairseq plugin,
the lean inference engine and the export alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

CHAINS = ("encoder", "decoder", "cross")
# fairseq's --activation-fn choices (fairseq.utils.get_available_activation_fns), for the
# feed-forward layers; gelu_fast is fairseq's deprecated name for gelu_accurate.
FEED_FORWARD_ACTIVATIONS = ("relu", "gelu", "gelu_fast", "gelu_accurate", "tanh", "linear")
# --ea-activation: what follows the convolution over the attention maps.
CONVOLUTION_ACTIVATIONS = ("relu", "leaky_relu", "gelu", "tanh", "linear")

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
        if str(cfg.ea_activation) not in CONVOLUTION_ACTIVATIONS:
            raise ValueError(
                f"--ea-activation: unknown {cfg.ea_activation!r}; "
                f"choose from {', '.join(CONVOLUTION_ACTIVATIONS)}"
            )
        # The chain hands tensors from layer to layer inside one forward pass; recomputing a
        # single layer in the backward pass (activation checkpointing) would read the wrong one.
        if getattr(cfg, "checkpoint_activations", False) and chains:
            raise ValueError("--checkpoint-activations cannot be combined with evolving attention")
        if getattr(cfg, "cross_self_attention", False) and chains:
            raise ValueError("--cross-self-attention cannot be combined with evolving attention")
        if getattr(cfg, "base_layers", 0) and chains:
            raise ValueError("--base-layers cannot be combined with evolving attention")
        if "cross" in chains and getattr(cfg, "no_cross_attention", False):
            raise ValueError("--ea-chains cross needs cross-attention, which --no-cross-attention removes")
        # xformers computes the softmax itself and never returns the logits the chain needs.
        for side in ("encoder", "decoder"):
            if _xformers_config(cfg, side) and chains & _CHAINS_OF[side]:
                raise ValueError(f"--{side}-xformers-att-config cannot be combined with evolving attention")
        return cls(
            alpha=float(cfg.ea_alpha),
            beta=float(cfg.ea_beta),
            kernel_size=kernel,
            activation=str(cfg.ea_activation),
            chains=chains,
        )


_CHAINS_OF = {"encoder": {"encoder"}, "decoder": {"decoder", "cross"}}


def _xformers_config(cfg: Any, side: str) -> Any:
    nested = getattr(cfg, side, None)
    value = getattr(nested, "xformers_att_config", None) if nested is not None else None
    return value or getattr(cfg, f"{side}_xformers_att_config", None)


# Version 1: checkpoints written before the format was recorded (the namespace has no
# ea_format_version). Version 2: every ea_* option and the version stored in cfg.model.
EA_FORMAT_VERSION = 2

# The defaults of each format version: an option missing from an older checkpoint takes the
# default of the version that wrote it, not today's.
EA_DEFAULTS: Dict[int, Dict[str, Any]] = {
    1: {"ea_alpha": 0.5, "ea_beta": 0.5, "ea_kernel_size": 3, "ea_activation": "relu",
        "ea_chains": "encoder,decoder,cross"},
    2: {"ea_alpha": 0.5, "ea_beta": 0.5, "ea_kernel_size": 3, "ea_activation": "relu",
        "ea_chains": "encoder,decoder,cross"},
}


def ea_defaults(args: Any) -> None:
    """Fill in every `ea_*` option the namespace lacks with the defaults of its format version.

    A namespace without `ea_format_version` comes from a version-1 checkpoint; it is marked
    with its version, so the model knows which format its weights have.
    """
    version = getattr(args, "ea_format_version", None) or 1
    for name, default in EA_DEFAULTS[version].items():
        if getattr(args, name, None) is None:
            setattr(args, name, default)
    args.ea_format_version = version
