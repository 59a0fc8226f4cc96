"""The evolving step of `evolving_maths` equals the plain formulation of the maths, kept here.

The library computes the same maps with fewer passes (one mask, lerp, padding inside the
convolution, a 1-D convolution for one decoding row, a cached window): values and gradients
must equal the reference's for every chain, with padding on either side, in training and in
incremental decoding.
"""

from typing import List, Tuple

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from evo_mt.activations import CONVOLUTION
from evo_mt.evolving_maths import evolve, handed_on, probabilities

HEADS, LAYERS = 4, 3
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}


def reference_layer(logits, previous, *, alpha, beta, weight, bias, activation, causal, masked, chain_masked):
    """M_l and A_l as the paper writes them: mask, mix, mask, zero-pad, convolve, residual."""
    scores = logits if masked is None else logits.masked_fill(masked, 0.0)
    mixed = scores if previous is None or alpha == 0.0 else alpha * previous + (1 - alpha) * scores
    if weight is None:
        return mixed, mixed
    if chain_masked is not None:
        mixed = mixed.masked_fill(chain_masked, 0.0)
    k = weight.size(-1)
    top, bottom = (k - 1, 0) if causal else (k // 2, k // 2)
    convolved = F.conv2d(F.pad(mixed, (k // 2, k // 2, top, bottom)), weight, bias)
    return mixed, beta * CONVOLUTION[activation](convolved) + (1 - beta) * mixed


def reference_probabilities(evolved, masked):
    if masked is None:
        return torch.softmax(evolved, dim=-1)
    probs = torch.softmax(evolved.masked_fill(masked, float("-inf")), dim=-1)
    return torch.nan_to_num(probs, nan=0.0)  # rows with every key masked


def padding(lengths: List[int], width: int, *, left: bool) -> Tensor:
    """(batch, width), True at padding: before each sentence (left) or after it."""
    return torch.tensor([[(i < width - n) if left else (i >= n) for i in range(width)] for n in lengths])


class Chain:
    """Layer weights and the masks of one chain: which entries the softmax and the chain skip."""

    def __init__(self, kind: str, kernel: int, activation: str, alpha: float, beta: float, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.kind, self.alpha, self.beta, self.activation = kind, alpha, beta, activation
        self.causal = kind != "encoder"
        self.batch, self.queries = 3, 7
        self.keys = self.queries if kind != "cross" else 9
        # The first layer of a chain never convolves, nor does any layer with beta 0.
        convolves = [layer > 0 and beta != 0.0 for layer in range(LAYERS)]
        self.weights = [
            (0.3 * torch.randn(HEADS, HEADS, kernel, kernel, generator=g), torch.randn(HEADS, generator=g))
            if on
            else None
            for on in convolves
        ]
        self.logits = [
            torch.randn(self.batch, HEADS, self.queries, self.keys, generator=g) for _ in range(LAYERS)
        ]
        # Sources are left-padded, targets right-padded (as fairseq batches them).
        if kind == "encoder":
            query_padding = key_padding = padding([7, 5, 1], self.queries, left=True)
        else:
            query_padding = padding([7, 4, 2], self.queries, left=False)
            key_padding = query_padding if kind == "decoder" else padding([9, 6, 3], self.keys, left=True)
        self.masked = key_padding.view(self.batch, 1, 1, self.keys)
        if kind == "decoder":
            self.masked = self.masked | torch.ones(self.queries, self.keys, dtype=torch.bool).triu(1)
        self.masked = self.masked.expand(self.batch, 1, self.queries, self.keys)  # sliced by steps below
        self.chain_masked = self.masked | query_padding.view(self.batch, 1, self.queries, 1)
        # fairseq hands over its logits with -inf at padded keys while decoding.
        for logits in self.logits:
            logits.masked_fill_(key_padding.view(self.batch, 1, 1, self.keys), float("-inf"))

    def options(self, layer: int) -> dict:
        weight, bias = self.weights[layer] or (None, None)
        return dict(
            alpha=self.alpha if layer else 0.0,
            beta=self.beta if layer else 0.0,
            weight=weight,
            bias=bias,
            activation=self.activation,
            causal=self.causal,
        )

    def parameters(self) -> List[Tensor]:
        return [t for pair in self.weights if pair for t in pair] + self.logits


def run_reference(chain: Chain) -> Tuple[List[Tensor], List[Tensor]]:
    evolved_maps, probs = [], []
    previous = None
    for layer in range(LAYERS):
        _, evolved = reference_layer(
            chain.logits[layer], previous, masked=chain.masked, chain_masked=chain.chain_masked,
            **chain.options(layer),
        )
        previous = evolved.masked_fill(chain.chain_masked, 0.0)
        evolved_maps.append(evolved)
        probs.append(reference_probabilities(evolved, chain.masked))
    return evolved_maps, probs


def run_library(chain: Chain) -> Tuple[List[Tensor], List[Tensor]]:
    evolved_maps, probs = [], []
    previous = None
    for layer in range(LAYERS):
        _, evolved, rows = evolve(
            chain.logits[layer], previous, masked=chain.masked, chain_masked=chain.chain_masked,
            **chain.options(layer),
        )
        assert rows is None
        previous = handed_on(evolved, chain.chain_masked)
        evolved_maps.append(evolved)
        probs.append(probabilities(evolved, chain.masked))
    return evolved_maps, probs


VARIANTS = [
    (kind, kernel, activation, alpha, beta)
    for kind in ("encoder", "decoder", "cross")
    for kernel, activation, alpha, beta in [
        (3, "relu", 0.5, 0.5),
        (5, "gelu", 0.0, 0.7),
        (3, "linear", 0.3, 0.0),  # no convolution: the residual mix alone
    ]
]


@pytest.mark.parametrize("kind,kernel,activation,alpha,beta", VARIANTS)
def test_training_step_equals_the_reference_in_values_and_gradients(kind, kernel, activation, alpha, beta):
    chain = Chain(kind, kernel, activation, alpha, beta, seed=kernel + int(10 * alpha))
    parameters = [p.requires_grad_() for p in chain.parameters()]
    cotangent = torch.Generator().manual_seed(1)
    results = []
    for run in (run_reference, run_library):
        evolved_maps, probs = run(chain)
        loss = sum(
            (p * torch.randn(p.shape, generator=cotangent.manual_seed(layer))).sum()
            for layer, p in enumerate(probs)
        )
        gradients = torch.autograd.grad(loss, parameters)
        # Masked entries of A_l are whatever the convolution spilled there: only the softmax
        # and what is handed on read A_l, and both mask them.
        kept = [m.masked_fill(chain.chain_masked, 0.0) for m in evolved_maps]
        results.append((kept, probs, gradients))
    (ref_maps, ref_probs, ref_grads), (maps, probs, grads) = results
    for expected, actual in zip([*ref_maps, *ref_probs, *ref_grads], [*maps, *probs, *grads], strict=True):
        torch.testing.assert_close(actual, expected, **TOLERANCE)
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("kind,kernel,activation,alpha,beta", [v for v in VARIANTS if v[0] != "encoder"])
def test_step_by_step_decoding_equals_the_whole_sequence(kind, kernel, activation, alpha, beta):
    chain = Chain(kind, kernel, activation, alpha, beta, seed=3)
    with torch.no_grad():
        _, full_probs = run_reference(chain)
        cache: List[Tensor | None] = [None] * LAYERS
        for t in range(chain.queries):
            # Self-attention keys grow by one per step; cross-attention's are all there.
            keys = t + 1 if kind == "decoder" else chain.keys
            masked = chain.masked[:, :, t : t + 1, :keys]
            chain_masked = chain.chain_masked[:, :, t : t + 1, :keys]
            previous = None
            for layer in range(LAYERS):
                options = chain.options(layer)
                rows_above = None
                if options["weight"] is not None:
                    rows_above = cache[layer]
                    if rows_above is None:  # the first step: the causal zero padding
                        rows_above = torch.zeros(chain.batch, HEADS, kernel - 1, keys)
                logits = chain.logits[layer][:, :, t : t + 1, :keys]
                _, evolved, cache[layer] = evolve(
                    logits, previous, masked=masked, chain_masked=chain_masked, rows_above=rows_above,
                    **options,
                )
                assert (cache[layer] is None) == (rows_above is None)
                previous = handed_on(evolved, chain_masked)
                step_probs = probabilities(evolved, masked)
                torch.testing.assert_close(step_probs, full_probs[layer][:, :, t : t + 1, :keys], **TOLERANCE)
