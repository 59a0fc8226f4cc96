"""Half precision on CPU: bf16 autocast and fp16 weights, against fp32, for evolving attention and
for fairseq's own Transformer on the same inputs (no GPU here: the CUDA path is not exercised)."""

import copy

import pytest
import torch
from conftest import build_ea, build_vanilla, random_sentences, source_batch, target_inputs

# A padded batch with long sentences: 256 tokens and shorter ones beside it.
SOURCE_LENGTHS = [255, 40, 7, 130]
TARGET_LENGTHS = [200, 60, 9, 255]
# EA's error may exceed the vanilla model's by this factor: its convolutions and mixes add
# rounding steps of their own. Measured: relative error of the logits 0.0050 (EA) against
# 0.0046 (vanilla) in bf16 autocast, 0.00095 against 0.00086 with fp16 weights (1.1x).
ALLOWED_FACTOR = 1.5


def _run(model, dtype: torch.dtype | None, weights_half: bool):
    """Logits and all gradients of one forward/backward, in float32 for comparison."""
    model = copy.deepcopy(model).train(False)
    if weights_half:
        model = model.half()
    src, src_lengths = source_batch(random_sentences(SOURCE_LENGTHS, seed=11))
    tgt = target_inputs(random_sentences(TARGET_LENGTHS, seed=12))
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        logits, _ = model(src, src_lengths, tgt)
    loss = torch.log_softmax(logits.float(), dim=-1).mean()
    loss.backward()
    logits = logits.detach()
    gradients = torch.cat([p.grad.float().flatten() for p in model.parameters() if p.grad is not None])
    return logits.float(), gradients


def _relative_error(low, full) -> float:
    return float((low - full).norm() / full.norm())


# fp16 weights: on this torch (2.13.0, CPU) EA's gradients come out 4.4x as far from fp32 as
# vanilla's (0.0134 against 0.0031; logits 1.05x), spread over the decoder's ordinary weights
# rather than the convolutions. The same on the code of a9bfb31, so not from the inference
# engine's refactor; kept visible as a known failure until it is understood (strict: a fix
# turns it into an error to remove the mark).
FP16_GRADIENTS = pytest.mark.xfail(
    strict=True, reason="EA's fp16-weight gradients are 4.4x vanilla's error on torch 2.13 CPU"
)


@pytest.mark.parametrize("mode", ["bf16 autocast", pytest.param("fp16 weights", marks=FP16_GRADIENTS)])
def test_half_precision_agrees_with_fp32_as_closely_as_fairseqs_transformer(mode):
    dtype, weights_half = (torch.bfloat16, False) if mode == "bf16 autocast" else (None, True)
    errors = {}
    for name, model in (("vanilla", build_vanilla(seed=3)), ("ea", build_ea(seed=3))):
        logits32, grads32 = _run(model, None, False)
        logits, grads = _run(model, dtype, weights_half)
        assert torch.isfinite(logits).all() and torch.isfinite(grads).all(), (name, mode)
        errors[name] = (_relative_error(logits, logits32), _relative_error(grads, grads32))
    for which, ea, vanilla in zip(("logits", "gradients"), errors["ea"], errors["vanilla"], strict=True):
        assert ea <= ALLOWED_FACTOR * vanilla, (mode, which, errors)
