"""The `ea_transformer` model: fairseq's Transformer with evolving attention chains.

Only the attention modules change; fairseq's encoder, decoder and layers are subclassed
to build them and to join each chain's modules once the layers exist.
"""

import argparse
import logging
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Tuple

import torch
from fairseq.dataclass import ChoiceEnum
from fairseq.dataclass.utils import gen_parser_from_dataclass
from fairseq.distributed import fsdp_wrap
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import (
    TransformerConfig,
    TransformerDecoderBase,
    TransformerEncoderBase,
    TransformerModel,
    base_architecture,
    transformer_iwslt_de_en,
    transformer_vaswani_wmt_en_de_big,
    transformer_wmt_en_de,
)
from fairseq.modules.transformer_layer import (
    TransformerDecoderLayerBase,
    TransformerEncoderLayerBase,
)
from omegaconf import OmegaConf
from torch import Tensor, nn

from evo_mt.architecture import chains
from evo_mt.architecture.options import (
    CHAINS,
    CONVOLUTION_ACTIVATIONS,
    EA_DEFAULTS,
    EA_FORMAT_VERSION,
    EvolvingOptions,
    ea_defaults,
)
from evo_mt.models import fairseq_fixes
from evo_mt.models.evolving_attention import AttentionChain, EvolvingAttention, link_chain

logger = logging.getLogger(__name__)


_DEFAULTS = EA_DEFAULTS[EA_FORMAT_VERSION]


@dataclass
class EATransformerConfig(TransformerConfig):
    ea_alpha: float = field(
        default=_DEFAULTS["ea_alpha"],
        metadata={"help": "weight of the previous layer's attention logits in the residual mix"},
    )
    ea_beta: float = field(
        default=_DEFAULTS["ea_beta"],
        metadata={"help": "weight of the convolved map against the mixed map"},
    )
    ea_kernel_size: int = field(
        default=_DEFAULTS["ea_kernel_size"],
        metadata={"help": "odd size k of the k x k convolution over attention maps"},
    )
    ea_activation: ChoiceEnum(list(CONVOLUTION_ACTIVATIONS)) = field(
        default=_DEFAULTS["ea_activation"],
        metadata={"help": "activation applied to the convolution's output"},
    )
    ea_chains: str = field(
        default=_DEFAULTS["ea_chains"],
        metadata={
            "help": "comma-separated chains that evolve: encoder (self-attention), "
            "decoder (self-attention), cross (encoder-decoder attention); empty for none"
        },
    )
    ea_format_version: int = field(
        default=EA_FORMAT_VERSION,
        metadata={"help": "format of the evolving-attention options and weights (set by the plugin)"},
    )


def _chain_on(cfg: Any, chain: str) -> bool:
    return chain in EvolvingOptions.from_config(cfg).chains


def _link(cfg: Any, chain: str, position: int) -> chains.Link:
    """The chain plan's link for this layer's attention of `chain`."""
    layers = _layers(cfg, chains.SIDE_OF_CHAIN[chain])
    return chains.link(EvolvingOptions.from_config(cfg), chain, position, layers)


class EAEncoderLayer(TransformerEncoderLayerBase):
    """fairseq's encoder layer with evolving self-attention at `position` of the encoder chain."""

    def __init__(self, cfg: Any, position: int, return_fc: bool = False) -> None:
        # Read by build_self_attention, which fairseq's constructor calls.
        self.chain_position = position
        super().__init__(cfg, return_fc=return_fc)

    def build_self_attention(self, embed_dim: int, cfg: Any):
        return EvolvingAttention(
            embed_dim,
            cfg.encoder.attention_heads,
            dropout=cfg.attention_dropout,
            self_attention=True,
            q_noise=self.quant_noise,
            qn_block_size=self.quant_noise_block_size,
            link=_link(cfg, "encoder", self.chain_position),
        )


class EADecoderLayer(TransformerDecoderLayerBase):
    """fairseq's decoder layer; its self- and cross-attention evolve where their chains are on."""

    def __init__(self, cfg: Any, position: int, no_encoder_attn: bool = False) -> None:
        self.chain_position = position
        super().__init__(cfg, no_encoder_attn)

    def build_self_attention(
        self, embed_dim: int, cfg: Any, add_bias_kv: bool = False, add_zero_attn: bool = False
    ):
        if not _chain_on(cfg, "decoder"):
            return super().build_self_attention(embed_dim, cfg, add_bias_kv, add_zero_attn)
        return EvolvingAttention(
            embed_dim,
            cfg.decoder.attention_heads,
            dropout=cfg.attention_dropout,
            add_bias_kv=add_bias_kv,
            add_zero_attn=add_zero_attn,
            self_attention=True,
            q_noise=self.quant_noise,
            qn_block_size=self.quant_noise_block_size,
            link=_link(cfg, "decoder", self.chain_position),
        )

    def build_encoder_attention(self, embed_dim: int, cfg: Any):
        if not _chain_on(cfg, "cross"):
            return super().build_encoder_attention(embed_dim, cfg)
        return EvolvingAttention(
            embed_dim,
            cfg.decoder.attention_heads,
            kdim=cfg.encoder.embed_dim,
            vdim=cfg.encoder.embed_dim,
            dropout=cfg.attention_dropout,
            encoder_decoder_attention=True,
            q_noise=self.quant_noise,
            qn_block_size=self.quant_noise_block_size,
            link=_link(cfg, "cross", self.chain_position),
        )


def _all_layers(part: Any) -> List[Any]:
    # Iterating a LayerDropModuleList in training mode skips layers at random: index instead.
    return [part.layers[i] for i in range(len(part.layers))]


def _link_chains(chain_modules: Dict[str, List[EvolvingAttention]]) -> Dict[str, AttentionChain]:
    return {name: link_chain(modules) for name, modules in chain_modules.items()}


class EATransformerEncoder(TransformerEncoderBase):
    def __init__(self, cfg: Any, dictionary, embed_tokens, return_fc: bool = False) -> None:
        super().__init__(cfg, dictionary, embed_tokens, return_fc=return_fc)
        self.chain_modules: Dict[str, List[EvolvingAttention]] = {}
        if _chain_on(cfg, "encoder"):
            self.chain_modules["encoder"] = [layer.self_attn for layer in _all_layers(self)]
        self.chains = _link_chains(self.chain_modules)

    def build_encoder_layer(self, cfg: Any):
        if not _chain_on(cfg, "encoder"):
            return super().build_encoder_layer(cfg)  # fairseq's, with its checkpoint wrapper
        position = getattr(self, "_layers_built", 0)
        self._layers_built = position + 1
        layer = EAEncoderLayer(cfg, position, return_fc=self.return_fc)
        return fsdp_wrap(layer, min_num_params=cfg.min_params_to_wrap)

    def forward_scriptable(
        self, src_tokens, src_lengths=None, return_all_hiddens: bool = False, token_embeddings=None
    ):
        chain = self.chains.get("encoder")
        if chain is None:
            return super().forward_scriptable(src_tokens, src_lengths, return_all_hiddens, token_embeddings)
        padding = src_tokens.eq(self.padding_idx)
        with chain.forward_pass(padding if bool(padding.any()) else None):
            return super().forward_scriptable(src_tokens, src_lengths, return_all_hiddens, token_embeddings)


class EATransformerDecoder(TransformerDecoderBase):
    def __init__(
        self, cfg: Any, dictionary, embed_tokens, no_encoder_attn: bool = False, output_projection=None
    ) -> None:
        super().__init__(cfg, dictionary, embed_tokens, no_encoder_attn, output_projection)
        self.chain_modules: Dict[str, List[EvolvingAttention]] = {}
        if _chain_on(cfg, "decoder"):
            self.chain_modules["decoder"] = [layer.self_attn for layer in _all_layers(self)]
        if _chain_on(cfg, "cross") and not no_encoder_attn:
            self.chain_modules["cross"] = [layer.encoder_attn for layer in _all_layers(self)]
        self.chains = _link_chains(self.chain_modules)

    def build_decoder_layer(self, cfg: Any, no_encoder_attn: bool = False):
        if not (_chain_on(cfg, "decoder") or (_chain_on(cfg, "cross") and not no_encoder_attn)):
            return super().build_decoder_layer(cfg, no_encoder_attn)  # fairseq's, with its checkpoint wrapper
        position = getattr(self, "_layers_built", 0)
        self._layers_built = position + 1
        layer = EADecoderLayer(cfg, position, no_encoder_attn)
        return fsdp_wrap(layer, min_num_params=cfg.min_params_to_wrap)

    def extract_features_scriptable(
        self, prev_output_tokens, encoder_out=None, incremental_state=None, *args, **kwargs
    ):
        if not self.chains:
            return super().extract_features_scriptable(
                prev_output_tokens, encoder_out, incremental_state, *args, **kwargs
            )
        # The padded target positions of this pass (only the newest one while decoding step by step).
        queries = prev_output_tokens[:, -1:] if incremental_state is not None else prev_output_tokens
        padding = queries.eq(self.padding_idx)
        padding = padding if bool(padding.any()) else None
        with ExitStack() as passes:
            for chain in self.chains.values():
                passes.enter_context(chain.forward_pass(padding))
            return super().extract_features_scriptable(
                prev_output_tokens, encoder_out, incremental_state, *args, **kwargs
            )


# Without it fairseq cannot build this dataclass from flat command-line options (fairseq_fixes, fix 4).
fairseq_fixes.install_config_fix(EATransformerConfig)


@register_model("ea_transformer", dataclass=EATransformerConfig)
class EATransformerModel(TransformerModel):
    """Evolving Attention Transformer (Wang et al., ICML 2021; TPAMI 2023).

    Built from an argparse namespace (``--arch ea_transformer_*``, flat option names) as
    fairseq's legacy TransformerModel is, or from its dataclass (``fairseq-hydra-train``:
    nested ``encoder``/``decoder`` fields as in TransformerConfig, plus ``ea_*``).
    """

    @classmethod
    def add_args(cls, parser) -> None:
        # No defaults here, as in fairseq's legacy transformer: architectures fill them in.
        gen_parser_from_dataclass(parser, EATransformerConfig(), delete_default=True, with_prefix="")
        # The version is not an architecture default but a fact about the code writing the
        # checkpoint: without it a run started from the command line would be stored as version 1.
        parser.set_defaults(ea_format_version=EA_FORMAT_VERSION)

    @classmethod
    def build_model(cls, args, task):
        if OmegaConf.is_config(args):
            # The hydra path: a DictConfig of EATransformerConfig. TransformerConfig reads it as
            # plain containers, and answers the flat names fairseq's legacy code asks for.
            args = EATransformerConfig.from_namespace(
                argparse.Namespace(**OmegaConf.to_container(args, resolve=True))
            )
        ea_defaults(args)
        options = EvolvingOptions.from_config(args)  # a bad --ea-* flag fails before anything is built
        for warning in idle_options(args, options):
            logger.warning(warning)
        return super().build_model(args, task)

    @classmethod
    def build_encoder(cls, cfg, src_dict, embed_tokens):
        return EATransformerEncoder(cfg, src_dict, embed_tokens)

    @classmethod
    def build_decoder(cls, cfg, tgt_dict, embed_tokens):
        return EATransformerDecoder(cfg, tgt_dict, embed_tokens, no_encoder_attn=cfg.no_cross_attention)

    def upgrade_state_dict_named(self, state_dict: Dict[str, Tensor], name: str) -> None:
        """Bring older or vanilla weights to this model's format.

        Versions 1 and 2 name and shape the weights alike. Weights without a single
        convolution (a fairseq Transformer's of the same dimensions, loaded with
        ``--finetune-from-model``, or an EA model's with beta = 0) get this model's convolutions
        as identities, so the warm-started model starts from the vanilla model's function:
        exactly when alpha = 0 and the activation is linear (or beta = 0), and only close
        otherwise, since no convolution of M_l can undo the mix with the previous layer.
        """
        super().upgrade_state_dict_named(state_dict, name)
        prefix = f"{name}." if name else ""
        if any(".conv." in key for key in state_dict):
            return
        convolutions = {key: conv for key, conv in self.named_modules() if isinstance(conv, nn.Conv2d)}
        for key, conv in convolutions.items():
            weight, bias = identity_convolution(conv, causal=self.get_submodule(key.rsplit(".", 1)[0]).causal)
            state_dict[f"{prefix}{key}.weight"], state_dict[f"{prefix}{key}.bias"] = weight, bias
        if convolutions:
            options = EvolvingOptions.from_config(self.cfg)
            exact = options.alpha == 0.0 and options.activation == "linear"
            caveat = "" if exact else " (exactly the loaded function only with alpha 0, linear activation)"
            logger.warning("warm start: %d convolutions start as identities%s", len(convolutions), caveat)

    def evolving_chains(self) -> Dict[str, List[EvolvingAttention]]:
        """The attention modules of each chain that evolves, layer by layer, in CHAINS order."""
        found = {**self.encoder.chain_modules, **self.decoder.chain_modules}
        return {chain: found[chain] for chain in CHAINS if chain in found}

    @contextmanager
    def keeping_maps(self) -> Iterator[Dict[str, List[Dict[str, Tensor]]]]:
        """Keep the maps of every evolving layer during the block (for pictures, not training).

        Yields {chain: [maps of layer 1, layer 2, ...]}; each layer's dict is filled by the
        forward passes run inside the block (the last one wins) with "mixed" (M_l), "evolved"
        (A_l), "probs" (P_l) and, where the layer convolves, "added" (A_l - M_l), each
        (batch, heads, queries, keys) and detached.
        """
        chains = self.evolving_chains()
        modules = [module for chain in chains.values() for module in chain]
        for module in modules:
            module.keep_maps, module.kept = True, {}
        try:
            yield {chain: [module.kept for module in layers] for chain, layers in chains.items()}
        finally:
            for module in modules:
                module.keep_maps, module.kept = False, {}


def identity_convolution(conv: nn.Conv2d, *, causal: bool) -> Tuple[Tensor, Tensor]:
    """Weights with which `conv` returns its input: 1 at each head's own current entry, else 0."""
    k = conv.kernel_size[0]
    weight = torch.zeros_like(conv.weight)
    # Centred input: the current row is the kernel's middle one; causal: its last one.
    row = k - 1 if causal else k // 2
    heads = torch.arange(conv.out_channels)
    weight[heads, heads, row, k // 2] = 1.0
    return weight, torch.zeros_like(conv.bias)


def idle_options(args: Any, options: EvolvingOptions) -> List[str]:
    """One line for each option that was set but cannot act (nothing to refuse: it is harmless)."""
    idle = []
    defaults = EA_DEFAULTS[max(EA_DEFAULTS)]
    changed = [
        f"--{name.replace('_', '-')}"
        for name in ("ea_kernel_size", "ea_activation")
        if getattr(args, name) != defaults[name]
    ]
    if changed and options.chains and options.beta == 0.0:
        idle.append(f"{' and '.join(changed)} have no effect with --ea-beta 0: no convolution is built")
    layers = {"encoder": _layers(args, "encoder"), "decoder": _layers(args, "decoder")}
    for chain in sorted(options.chains):
        count = layers["encoder" if chain == "encoder" else "decoder"]
        if count == 1:
            idle.append(f"the {chain} chain has one layer: nothing is handed on or convolved in it")
    return idle


def _layers(args: Any, side: str) -> int:
    nested = getattr(args, side, None)
    count = getattr(nested, "layers", None) if nested is not None else None
    return int(count if count is not None else getattr(args, f"{side}_layers"))


def _tiny(args: Any) -> None:
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 64)
    args.encoder_ffn_embed_dim = getattr(args, "encoder_ffn_embed_dim", 128)
    args.encoder_layers = getattr(args, "encoder_layers", 3)
    args.encoder_attention_heads = getattr(args, "encoder_attention_heads", 4)
    args.decoder_layers = getattr(args, "decoder_layers", 3)
    args.decoder_attention_heads = getattr(args, "decoder_attention_heads", 4)
    base_architecture(args)


def _register(name: str, fairseq_architecture) -> None:
    def architecture(args: Any) -> None:
        if OmegaConf.is_config(args):
            return  # a model config fairseq built from the dataclass: every value is there already
        ea_defaults(args)
        fairseq_architecture(args)

    register_model_architecture("ea_transformer", name)(architecture)


# register_model has made `ea_transformer` an architecture too: the dataclass's defaults.
_register("ea_transformer_tiny", _tiny)
_register("ea_transformer_iwslt_de_en", transformer_iwslt_de_en)
_register("ea_transformer_wmt_en_de", transformer_wmt_en_de)
_register("ea_transformer_vaswani_wmt_en_de_big", transformer_vaswani_wmt_en_de_big)
