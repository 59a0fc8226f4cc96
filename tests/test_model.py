"""Properties of the ea_transformer model, each named in its test."""

import pytest
import torch
from conftest import (
    build_ea,
    build_vanilla,
    dictionary,
    model_args,
    random_sentences,
    source_batch,
    target_inputs,
)

from evo_mt.architecture import chains
from evo_mt.architecture.options import EvolvingOptions
from evo_mt.models.evolving_attention import EvolvingAttention, link_chain

LENGTHS = [7, 3, 11, 5]


def forward(model, src_sentences, tgt_sentences):
    src_tokens, src_lengths = source_batch(src_sentences)
    encoder_out = model.encoder(src_tokens, src_lengths=src_lengths)
    logits, _ = model.decoder(target_inputs(tgt_sentences), encoder_out=encoder_out)
    return encoder_out["encoder_out"][0], logits


def test_alpha_beta_zero_reduces_to_vanilla_transformer():
    vanilla = build_vanilla(seed=1)
    ea = build_ea(seed=2, ea_alpha=0.0, ea_beta=0.0)
    # beta = 0 needs no convolution, so the vanilla state dict fits exactly.
    ea.load_state_dict(vanilla.state_dict(), strict=True)
    src, tgt = random_sentences(LENGTHS, seed=3), random_sentences([4, 9, 2, 6], seed=4)
    with torch.no_grad():
        enc_v, dec_v = forward(vanilla, src, tgt)
        enc_e, dec_e = forward(ea, src, tgt)
    torch.testing.assert_close(enc_e, enc_v, atol=1e-5, rtol=0)
    torch.testing.assert_close(dec_e, dec_v, atol=1e-5, rtol=0)


def test_no_future_leakage_with_all_three_chains():
    model = build_ea(seed=5)
    assert EvolvingOptions.from_config(model.cfg).chains == {"encoder", "decoder", "cross"}
    src = random_sentences([6, 9], seed=6)
    tgt = random_sentences([10, 10], seed=7)
    t = 4  # decoder inputs 0..t are </s> and target tokens 0..t-1
    changed = [s.clone() for s in tgt]
    for s in changed:
        s[t:-1] = torch.flip(s[t:-1], [0]) % (len(dictionary()) - 4) + 4
    assert all(not torch.equal(a, b) for a, b in zip(tgt, changed, strict=True))
    with torch.no_grad():
        _, before = forward(model, src, tgt)
        _, after = forward(model, src, changed)
    torch.testing.assert_close(after[:, : t + 1], before[:, : t + 1], atol=1e-6, rtol=0)
    assert not torch.allclose(after[:, t + 1 :], before[:, t + 1 :]), "later positions must see the change"


def _log_probs(model, logits):
    return model.get_normalized_probs((logits, None), log_probs=True)


def test_incremental_decoding_equals_full_forward_including_after_beam_reorder():
    model = build_ea(seed=8)
    src_tokens, src_lengths = source_batch(random_sentences([5, 8], seed=9))
    # Two sentences with a beam of two hypotheses each, as fairseq's SequenceGenerator has them.
    expand = torch.tensor([0, 0, 1, 1])
    prev = target_inputs(random_sentences([9, 9, 9, 9], seed=10))
    steps, reorder_at = prev.size(1), 4
    new_order = torch.tensor([1, 1, 3, 2])  # beams reordered within each sentence

    # After the reorder, row i continues the prefix of row new_order[i] with its own tokens.
    reordered_prev = prev.clone()
    reordered_prev[:, : reorder_at + 1] = prev[new_order, : reorder_at + 1]
    with torch.no_grad():
        encoder_out = model.encoder(src_tokens, src_lengths=src_lengths)
        encoder_out = model.encoder.reorder_encoder_out(encoder_out, expand)
        full_before, _ = model.decoder(prev, encoder_out=encoder_out)
        full_after, _ = model.decoder(reordered_prev, encoder_out=encoder_out)

        incremental_state = {}
        for step in range(steps):
            if step == reorder_at + 1:
                model.decoder.reorder_incremental_state_scripting(incremental_state, new_order)
            inputs = (prev if step <= reorder_at else reordered_prev)[:, : step + 1]
            logits, _ = model.decoder(inputs, encoder_out=encoder_out, incremental_state=incremental_state)
            reference = full_before if step <= reorder_at else full_after
            torch.testing.assert_close(
                _log_probs(model, logits)[:, 0],
                _log_probs(model, reference)[:, step],
                atol=1e-5,
                rtol=0,
            )


def test_padding_invariance_of_encoder_and_decoder_outputs():
    model = build_ea(seed=11)
    src = random_sentences([4, 12, 9], seed=12)
    tgt = random_sentences([3, 10, 7], seed=13)
    with torch.no_grad():
        enc_alone, dec_alone = forward(model, src[:1], tgt[:1])
        enc_batched, dec_batched = forward(model, src, tgt)
    n_src, n_tgt = len(src[0]), len(tgt[0])
    # Source is left-padded (time-major encoder output), target right-padded.
    torch.testing.assert_close(enc_batched[-n_src:, 0], enc_alone[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(dec_batched[0, :n_tgt], dec_alone[0], atol=1e-5, rtol=0)


def test_gradients_reach_every_convolution_parameter():
    model = build_ea(seed=14).train()
    src = random_sentences(LENGTHS, seed=15)
    tgt = random_sentences([5, 8, 2, 6], seed=16)
    _, logits = forward(model, src, tgt)
    logits.logsumexp(-1).sum().backward()
    convs = {name: p for name, p in model.named_parameters() if ".conv." in name}
    # Layers 2..L of each chain: 2 encoder + 2 decoder-self + 2 cross convolutions (weight, bias).
    assert len(convs) == 12
    for name, p in convs.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("alpha,reaches", [(0.5, True), (0.0, False)])
def test_gradients_flow_back_through_the_chain_into_earlier_layers(alpha, reaches):
    torch.manual_seed(17)
    options = EvolvingOptions.from_config(model_args(ea_alpha=alpha, ea_beta=0.5))
    first, second = (
        EvolvingAttention(16, 4, self_attention=True, link=chains.link(options, "encoder", position, 2))
        for position in range(2)
    )
    link_chain([first, second])
    x = torch.randn(6, 2, 16)
    first(x, x, x)  # hands its logits to `second`; its own output is not used
    out, _ = second(x, x, x)
    out.sum().backward()
    grad = first.q_proj.weight.grad
    # The only path from the first layer's queries to the loss is the chain's residual.
    assert (grad is not None and grad.abs().sum() > 0) == reaches


def test_unsupported_and_invalid_options_are_rejected():
    for bad, message in [
        (dict(ea_chains="encoder,attic"), "unknown chain"),
        (dict(ea_kernel_size=4), "odd"),
        (dict(ea_alpha=1.5), "ea-alpha"),
        (dict(ea_activation="swish"), "activation"),
        (dict(checkpoint_activations=True), "checkpoint-activations"),
        (dict(no_cross_attention=True, ea_chains="cross"), "no-cross-attention"),
        (dict(decoder_xformers_att_config='{"name": "scaled_dot_product"}'), "xformers"),
    ]:
        with pytest.raises(ValueError, match=message):
            build_ea(**bad)


def test_chains_can_be_chosen_one_at_a_time():
    for chain, prefix in [("encoder", "encoder."), ("decoder", "self_attn"), ("cross", "encoder_attn")]:
        model = build_ea(ea_chains=chain)
        convs = [n for n, _ in model.named_parameters() if ".conv." in n]
        assert convs and all(prefix in n for n in convs), (chain, convs)
        for activation in ("relu", "leaky_relu", "gelu", "linear"):
            build_ea(ea_chains=chain, ea_activation=activation)


def test_checkpoint_activations_keep_fairseqs_wrapper_when_no_chain_evolves():
    model = build_ea(ea_chains="", checkpoint_activations=True)
    layers = list(model.encoder.layers) + list(model.decoder.layers)
    assert layers and all(hasattr(layer, "precheckpoint_forward") for layer in layers)
