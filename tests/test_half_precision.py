"""Half precision on CPU: bf16 autocast and fp16 weights, against fp32, for evolving attention and
for fairseq's own Transformer on the same inputs (no GPU here: the CUDA path is not exercised).

Two levels. The evolving step alone (`evolving_maths.evolve` and the softmax after it) run in
fp16 stays within a few units of fp16 rounding of the same step in fp32, values and gradients.
The whole model in half precision stays as close to its fp32 self as fairseq's Transformer of
the same size does.

Why the whole-model gradients are compared on models with smooth activations: ReLU's kink makes
one gradient entry jump by a finite amount whenever rounding moves a pre-activation across zero,
and which entries do depends on the CPU's kernels. Measured on one machine (torch 2.13 CPU, fp16
weights, seeds 1-8 of the models below): the EA / vanilla ratio of gradient errors was 0.81x to
6.46x with ReLU (median 1.07x; the outliers trace to the feed-forward layers' fc1, not to the
evolving step: with GELU only in the convolution they remain, 0.75x-7.40x), and 0.76x to 1.18x
with GELU in both (median 0.97x). Logits do not have that tail (0.76x-1.19x with ReLU).
"""

import copy

import pytest
import torch
from conftest import NO_DROPOUT, dictionary, random_sentences, source_batch, target_inputs

from evo_mt.evolving_maths import evolve, handed_on, masked_entries, probabilities
from evo_mt.models.factory import build_model

# A padded batch with long sentences: 256 tokens and shorter ones beside it.
SOURCE_LENGTHS = [255, 40, 7, 130]
TARGET_LENGTHS = [200, 60, 9, 255]
# EA's error may exceed the vanilla model's by this factor: its convolutions and mixes add
# rounding steps of their own. Largest ratios measured (see above): logits 1.19x, gradients of
# the smooth models 1.18x.
ALLOWED_FACTOR = 1.5
# fp16's unit roundoff (2^-11). The evolving step measured 0.74 u (values) and 1.7 u
# (gradients); rounding the chain's maps to bf16 instead would give about 8 u.
FP16_UNIT = 2.0**-11
STEP_ALLOWED_UNITS = 4


def _model(vanilla: bool, activation: str) -> torch.nn.Module:
    options = {} if activation == "relu" else {"activation_fn": activation}
    if not vanilla and activation != "relu":
        options["ea_activation"] = activation
    built = build_model("ea_transformer_tiny", dictionary(), vanilla=vanilla, seed=3, **NO_DROPOUT, **options)
    return built.eval()


def _run(model, dtype: torch.dtype | None, weights_half: bool, backward: bool):
    """Logits and (with `backward`) all gradients of one forward/backward, in float32."""
    model = copy.deepcopy(model)
    if weights_half:
        model = model.half()
    src, src_lengths = source_batch(random_sentences(SOURCE_LENGTHS, seed=11))
    tgt = target_inputs(random_sentences(TARGET_LENGTHS, seed=12))
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        logits, _ = model(src, src_lengths, tgt)
    gradients = None
    if backward:
        torch.log_softmax(logits.float(), dim=-1).mean().backward()
        gradients = torch.cat([p.grad.float().flatten() for p in model.parameters() if p.grad is not None])
        assert torch.isfinite(gradients).all()
    return logits.detach().float(), gradients


def _relative_error(low, full) -> float:
    return float((low - full).norm() / full.norm())


@pytest.mark.parametrize("mode", ["bf16 autocast", "fp16 weights"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_half_precision_agrees_with_fp32_as_closely_as_fairseqs_transformer(mode, activation):
    dtype, weights_half = (torch.bfloat16, False) if mode == "bf16 autocast" else (None, True)
    compared = ("logits",) if activation == "relu" else ("logits", "gradients")
    errors = {}
    for name, vanilla in (("vanilla", True), ("ea", False)):
        model = _model(vanilla, activation)
        backward = "gradients" in compared
        full = _run(model, None, False, backward)
        low = _run(model, dtype, weights_half, backward)
        assert torch.isfinite(low[0]).all(), (name, mode)
        errors[name] = {which: _relative_error(low[i], full[i]) for i, which in enumerate(compared)}
    for which in compared:
        assert errors["ea"][which] <= ALLOWED_FACTOR * errors["vanilla"][which], (mode, which, errors)


@pytest.mark.parametrize("causal", [False, True])
def test_evolving_step_in_fp16_is_within_a_few_roundings_of_fp32(causal):
    g = torch.Generator().manual_seed(0)
    batch, heads, queries, keys, k = 3, 4, 37, 41, 3
    # Inputs are drawn once and rounded to fp16, so that both runs start from the same numbers;
    # a smooth activation, for the reason the module's docstring gives.
    scores = (3 * torch.randn(batch, heads, queries, keys, generator=g)).half().float()
    previous = (3 * torch.randn(batch, heads, queries, keys, generator=g)).half().float()
    weight = (0.3 * torch.randn(heads, heads, k, k, generator=g)).half().float()
    bias = (0.1 * torch.randn(heads, generator=g)).half().float()
    padding = torch.zeros(batch, keys, dtype=torch.bool)
    padding[0, :5] = True  # a left-padded source
    masked = masked_entries(keys, key_padding_mask=padding)
    readout = torch.linspace(-1, 1, keys)

    def step(dtype: torch.dtype):
        s = scores.to(dtype).requires_grad_()
        p = previous.to(dtype).requires_grad_()
        # The map handed on is zero where the chain masks, as `handed_on` leaves it.
        _, evolved, _ = evolve(
            s, handed_on(p, masked), alpha=0.5, beta=0.5, weight=weight.to(dtype), bias=bias.to(dtype),
            activation="gelu", causal=causal, masked=masked, chain_masked=masked,
        )
        (probabilities(evolved, masked).float() * readout).sum().backward()
        return evolved.detach().float(), s.grad.float(), p.grad.float()

    halves, fulls = step(torch.float16), step(torch.float32)
    for name, low, full in zip(("A_l", "dS_l", "dA_l-1"), halves, fulls, strict=True):
        assert _relative_error(low, full) <= STEP_ALLOWED_UNITS * FP16_UNIT, name
