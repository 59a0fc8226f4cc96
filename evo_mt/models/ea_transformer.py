"""The `ea_transformer` model: fairseq's Transformer with evolving attention chains.

Only the attention modules change; fairseq's encoder, decoder and layers are subclassed
to build them and to join each chain's modules once the layers exist.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Iterator, List

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
from torch import Tensor

from evo_mt.models.evolving_attention import (
    ACTIVATIONS,
    CHAINS,
    EvolvingAttention,
    EvolvingOptions,
    link_chain,
)


@dataclass
class EATransformerConfig(TransformerConfig):
    ea_alpha: float = field(
        default=0.5,
        metadata={"help": "weight of the previous layer's attention logits in the residual mix"},
    )
    ea_beta: float = field(
        default=0.5,
        metadata={"help": "weight of the convolved map against the mixed map"},
    )
    ea_kernel_size: int = field(
        default=3, metadata={"help": "odd size k of the k x k convolution over attention maps"}
    )
    ea_activation: ChoiceEnum(list(ACTIVATIONS)) = field(
        default="relu", metadata={"help": "activation applied to the convolution's output"}
    )
    ea_chains: str = field(
        default="encoder,decoder,cross",
        metadata={
            "help": "comma-separated chains that evolve: encoder (self-attention), "
            "decoder (self-attention), cross (encoder-decoder attention); empty for none"
        },
    )


def _chain_on(cfg: Any, chain: str) -> bool:
    return chain in EvolvingOptions.from_config(cfg).chains


class EAEncoderLayer(TransformerEncoderLayerBase):
    def build_self_attention(self, embed_dim: int, cfg: Any):
        if not _chain_on(cfg, "encoder"):
            return super().build_self_attention(embed_dim, cfg)
        return EvolvingAttention(
            embed_dim,
            cfg.encoder.attention_heads,
            dropout=cfg.attention_dropout,
            self_attention=True,
            q_noise=self.quant_noise,
            qn_block_size=self.quant_noise_block_size,
        )


class EADecoderLayer(TransformerDecoderLayerBase):
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
        )


class EATransformerEncoder(TransformerEncoderBase):
    def __init__(self, cfg: Any, dictionary, embed_tokens, return_fc: bool = False) -> None:
        super().__init__(cfg, dictionary, embed_tokens, return_fc=return_fc)
        options = EvolvingOptions.from_config(cfg)
        self.chain_modules: Dict[str, List[EvolvingAttention]] = {}
        if "encoder" in options.chains:
            self.chain_modules["encoder"] = [layer.self_attn for layer in self.layers]
        for modules in self.chain_modules.values():
            link_chain(modules, options, causal=False)

    def build_encoder_layer(self, cfg: Any):
        layer = EAEncoderLayer(cfg, return_fc=self.return_fc)
        return fsdp_wrap(layer, min_num_params=cfg.min_params_to_wrap)


class EATransformerDecoder(TransformerDecoderBase):
    def __init__(
        self, cfg: Any, dictionary, embed_tokens, no_encoder_attn: bool = False, output_projection=None
    ) -> None:
        super().__init__(cfg, dictionary, embed_tokens, no_encoder_attn, output_projection)
        options = EvolvingOptions.from_config(cfg)
        self.chain_modules: Dict[str, List[EvolvingAttention]] = {}
        if "decoder" in options.chains:
            self.chain_modules["decoder"] = [layer.self_attn for layer in self.layers]
        if "cross" in options.chains and not no_encoder_attn:
            self.chain_modules["cross"] = [layer.encoder_attn for layer in self.layers]
        # Both decoder chains are causal: a query row sees no later target position.
        for modules in self.chain_modules.values():
            link_chain(modules, options, causal=True)

    def build_decoder_layer(self, cfg: Any, no_encoder_attn: bool = False):
        layer = EADecoderLayer(cfg, no_encoder_attn)
        return fsdp_wrap(layer, min_num_params=cfg.min_params_to_wrap)


@register_model("ea_transformer")
class EATransformerModel(TransformerModel):
    """Evolving Attention Transformer (Wang et al., ICML 2021; TPAMI 2023)."""

    @classmethod
    def add_args(cls, parser) -> None:
        # No defaults here, as in fairseq's legacy transformer: architectures fill them in.
        gen_parser_from_dataclass(parser, EATransformerConfig(), delete_default=True, with_prefix="")

    @classmethod
    def build_model(cls, args, task):
        ea_defaults(args)
        EvolvingOptions.from_config(args)  # a bad --ea-* flag fails before anything is built
        return super().build_model(args, task)

    @classmethod
    def build_encoder(cls, cfg, src_dict, embed_tokens):
        return EATransformerEncoder(cfg, src_dict, embed_tokens)

    @classmethod
    def build_decoder(cls, cfg, tgt_dict, embed_tokens):
        return EATransformerDecoder(cfg, tgt_dict, embed_tokens, no_encoder_attn=cfg.no_cross_attention)

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


def ea_defaults(args: Any) -> None:
    """Fill in every `ea_*` option the namespace lacks, from EATransformerConfig."""
    for option in fields(EATransformerConfig):
        if option.name.startswith("ea_") and getattr(args, option.name, None) is None:
            setattr(args, option.name, option.default)


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
        ea_defaults(args)
        fairseq_architecture(args)

    register_model_architecture("ea_transformer", name)(architecture)


_register("ea_transformer", base_architecture)
_register("ea_transformer_tiny", _tiny)
_register("ea_transformer_iwslt_de_en", transformer_iwslt_de_en)
_register("ea_transformer_wmt_en_de", transformer_wmt_en_de)
_register("ea_transformer_vaswani_wmt_en_de_big", transformer_vaswani_wmt_en_de_big)
