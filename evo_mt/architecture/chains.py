"""The chain plan: which attention of which layer mixes, convolves, receives and hands on a map.

One rule for every engine (the fairseq plugin, the lean engine, the exported graphs): in a
chain of L layers, the first layer (position 0) neither mixes nor convolves (A_1 = S_1);
every later one mixes the map handed on with weight alpha and convolves with weight beta.
A map is handed on only when alpha is not 0 (otherwise nobody reads it), from every layer
but the last. The decoder's chains (self- and cross-attention) are causal along the target
axis: a query row sees no later target position, so decoding step by step equals decoding
the whole target at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

from evo_mt.architecture.options import CHAINS, EvolvingOptions

# Which side of the model each chain lives on.
SIDE_OF_CHAIN = {"encoder": "encoder", "decoder": "decoder", "cross": "decoder"}


@dataclass(frozen=True)
class Link:
    """How one attention module evolves its map, from its place in a chain."""

    alpha: float  # weight of the map handed on (0: nothing mixed)
    beta: float  # weight of the convolution (0: no convolution is built)
    kernel_size: int
    activation: str
    causal: bool
    receives: bool  # reads the map of the layer below
    passes_on: bool  # hands its map to the layer above

    @property
    def convolves(self) -> bool:
        return self.beta != 0.0


def link(options: EvolvingOptions, chain: str, position: int, layers: int) -> Link:
    """The link at 0-based `position` of a chain of `layers` attention modules."""
    if chain not in CHAINS:
        raise ValueError(f"unknown chain {chain!r}; the chains are {', '.join(CHAINS)}")
    later = position > 0
    carries = options.alpha != 0.0
    return Link(
        alpha=options.alpha if later else 0.0,
        beta=options.beta if later else 0.0,
        kernel_size=options.kernel_size,
        activation=options.activation,
        causal=SIDE_OF_CHAIN[chain] == "decoder",
        receives=carries and later,
        passes_on=carries and position < layers - 1,
    )


def plan(options: EvolvingOptions | None, layers: Dict[str, int]) -> Dict[str, List[Link]]:
    """Each evolving chain's links, layer by layer, in CHAINS order; `layers` per side.

    A chain that is off (or `options` None: a plain Transformer) has no entry."""
    if options is None:
        return {}
    planned = {}
    for chain in CHAINS:
        if chain in options.chains:
            count = layers[SIDE_OF_CHAIN[chain]]
            planned[chain] = [link(options, chain, i, count) for i in range(count)]
    return planned
