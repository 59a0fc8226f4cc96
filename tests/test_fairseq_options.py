"""fairseq's model options with evolving attention: each works as it does in fairseq's Transformer."""

import copy

import pytest
import torch
from conftest import build_ea, build_vanilla, dictionary, model_args, random_sentences, source_batch
from fairseq.data import data_utils
from torch import nn

from evo_mt.architecture import chains
from evo_mt.architecture.options import EvolvingOptions
from evo_mt.evolving_maths import masked_entries
from evo_mt.models.ea_transformer import EAEncoderLayer, EATransformerConfig
from evo_mt.models.evolving_attention import EvolvingAttention


def left_padded_targets(sentences):
    d = dictionary()
    return data_utils.collate_tokens(sentences, d.pad(), d.eos(), left_pad=True, move_eos_to_beginning=True)


def encode(model, sentences):
    tokens, lengths = source_batch(sentences)
    return model.encoder(tokens, src_lengths=lengths)


def layerdrop_pattern(seed: int, stacks: int, p: float) -> list:
    """Which layers LayerDropModuleList keeps after torch.manual_seed(seed), stacks of 3 in a row."""
    torch.manual_seed(seed)
    return [keep for _ in range(stacks) for keep in (torch.empty(3).uniform_() > p).tolist()]


def seed_with(pattern: list, p: float) -> int:
    return next(s for s in range(1000) if layerdrop_pattern(s, len(pattern) // 3, p) == pattern)


def test_layerdrop_leaves_nothing_in_the_chain_for_the_next_batch():
    model = build_ea(seed=1, encoder_layerdrop=0.5).train()
    assert len(model.evolving_chains()["encoder"]) == 3  # every layer, whatever LayerDrop draws
    batch = random_sentences([6, 4], seed=2)
    # The first batch ends with layer 3 dropped, so layer 2's map is never taken; the second
    # batch drops layer 1, so its layer 2 is the first to receive anything.
    first, second = seed_with([True, True, False], 0.5), seed_with([False, True, True], 0.5)
    with torch.no_grad():
        torch.manual_seed(second)
        alone = encode(model, batch)["encoder_out"][0]
        torch.manual_seed(first)
        encode(model, random_sentences([6, 4], seed=3))
        torch.manual_seed(second)
        after = encode(model, batch)["encoder_out"][0]
    torch.testing.assert_close(after, alone, atol=0, rtol=0)
    # Batches of another shape after a dropped last layer do not crash either.
    torch.manual_seed(first)
    encode(model, random_sentences([9, 2, 5], seed=4))
    torch.manual_seed(second)
    encode(model, random_sentences([3], seed=5))


def test_a_dropped_layer_hands_the_chain_on_unchanged():
    model = build_ea(seed=6, encoder_layerdrop=0.5, decoder_layerdrop=0.5).train()
    without_layer_2 = copy.deepcopy(model).eval()
    for part in (without_layer_2.encoder, without_layer_2.decoder):
        part.layers = nn.ModuleList([part.layers[0], part.layers[2]])
    src, tgt = random_sentences([5, 7], seed=7), random_sentences([6, 3], seed=8)
    tokens, lengths = source_batch(src)
    prev = left_padded_targets(tgt)
    seed = seed_with([True, False, True, True, False, True], 0.5)  # encoder, then decoder
    with torch.no_grad():
        torch.manual_seed(seed)
        dropped, _ = model(tokens, lengths, prev)
        expected, _ = without_layer_2(tokens, lengths, prev)
    torch.testing.assert_close(dropped, expected, atol=1e-6, rtol=0)


def decode(model, src, tgt):
    with torch.no_grad():
        logits, _ = model.decoder(left_padded_targets(tgt), encoder_out=encode(model, src))
    return logits


@pytest.mark.parametrize("build", [build_vanilla, build_ea], ids=["vanilla", "ea"])
def test_left_padded_targets_give_the_same_outputs_batched_or_alone(build):
    model = build(seed=9)
    src, tgt = random_sentences([4, 12, 9], seed=12), random_sentences([3, 10, 7], seed=13)
    batched, alone = decode(model, src, tgt), decode(model, src[:1], tgt[:1])
    assert torch.isfinite(batched).all()
    torch.testing.assert_close(batched[0, -len(tgt[0]) :], alone[0], atol=1e-5, rtol=0)


def test_left_padded_targets_at_alpha_beta_zero_match_fairseq_transformer():
    vanilla = build_vanilla(seed=1)
    ea = build_ea(seed=2, ea_alpha=0.0, ea_beta=0.0)
    ea.load_state_dict(vanilla.state_dict(), strict=True)
    src, tgt = random_sentences([4, 12, 9], seed=14), random_sentences([3, 10, 7], seed=15)
    torch.testing.assert_close(decode(ea, src, tgt), decode(vanilla, src, tgt), atol=1e-5, rtol=0)


def test_masked_entries_come_from_the_masks_not_from_the_values():
    attn_mask = torch.tensor([[0.0, -1e8], [-1e4, float("-inf")]])
    padding = torch.tensor([[False, True]])
    masked = masked_entries(2, key_padding_mask=padding, attn_mask=attn_mask)
    assert masked.tolist() == [[[[False, True], [True, True]]]]
    assert masked_entries(2) is None


@pytest.mark.parametrize("value", [-1e8, -1e4])
def test_finite_attention_masks_are_masked_like_infinite_ones(value):
    # fairseq's encoder layer turns a boolean attn_mask into -1e8 (fp32) or -1e4 (fp16).
    torch.manual_seed(16)
    options = EvolvingOptions.from_config(build_ea().cfg)
    layer = EvolvingAttention(16, 4, self_attention=True, link=chains.link(options, "encoder", 1, 2)).eval()
    x = torch.randn(5, 2, 16)
    blocked = torch.rand(5, 5) < 0.3
    blocked.fill_diagonal_(False)
    finite = torch.zeros(5, 5).masked_fill(blocked, value)
    infinite = torch.zeros(5, 5).masked_fill(blocked, float("-inf"))
    with torch.no_grad():
        out_finite, _ = layer(x, x, x, attn_mask=finite)
        out_infinite, _ = layer(x, x, x, attn_mask=infinite)
        out_bool, _ = layer(x, x, x, attn_mask=blocked)
    torch.testing.assert_close(out_finite, out_infinite, atol=1e-6, rtol=0)
    torch.testing.assert_close(out_bool, out_infinite, atol=1e-6, rtol=0)


def test_options_that_cannot_act_are_named_in_one_line_each(caplog):
    with caplog.at_level("WARNING", logger="evo_mt.models.ea_transformer"):
        build_ea(ea_beta=0.0, ea_kernel_size=5, ea_activation="gelu")
        build_ea(encoder_layers=1)
        build_ea()
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "--ea-kernel-size and --ea-activation have no effect with --ea-beta 0: no convolution is built",
        "the encoder chain has one layer: nothing is handed on or convolved in it",
    ]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"ea_chains": "cross", "no_cross_attention": True}, "needs cross-attention"),
        ({"encoder_xformers_att_config": '{"name": "scaled_dot_product"}'}, "xformers"),
        ({"checkpoint_activations": True}, "--checkpoint-activations cannot be combined"),
    ],
)
def test_options_that_would_be_ignored_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        EvolvingOptions.from_config(model_args(**overrides))


def test_checkpoint_activations_without_chains_keeps_fairseqs_wrapper():
    model = build_ea(ea_chains="", checkpoint_activations=True)
    layers = [*model.encoder.layers, *model.decoder.layers]
    # fairseq's checkpoint_wrapper keeps the layer's own forward under this name.
    assert layers and all(hasattr(layer, "precheckpoint_forward") for layer in layers)


def test_convolutions_belong_to_their_layer_when_it_is_built():
    # FSDP wraps each layer as it is built: a convolution added later would escape its flattening.
    cfg = EATransformerConfig.from_namespace(model_args())
    first, second = EAEncoderLayer(cfg, 0), EAEncoderLayer(cfg, 1)
    assert not any(".conv." in name for name, _ in first.named_parameters())
    assert {name for name, _ in second.named_parameters() if ".conv." in name} == {
        "self_attn.conv.weight",
        "self_attn.conv.bias",
    }
