"""`evo-mt attention`: how the attention maps of each chain change from layer to layer.

The sentence is translated, then the model is run once on (sentence, translation) with the
evolving-attention modules keeping their maps. Each chain gets a row of panels, one per layer:
the attention probabilities P_l (heads averaged, or one head), and optionally what the
convolution added to the logits, A_l - M_l.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import torch

from evo_mt_cli.errors import UserError
from evo_mt_cli.translator import Translator

CHAINS = (
    ("encoder", "encoder self-attention"),
    ("decoder", "decoder self-attention"),
    ("cross", "cross-attention"),
)


@dataclass
class ChainMaps:
    title: str
    queries: List[str]
    keys: List[str]
    probs: List[torch.Tensor] = field(default_factory=list)  # per layer: (heads, queries, keys)
    added: List[torch.Tensor | None] = field(default_factory=list)  # A_l - M_l; None without conv


def _chain_modules(model, chain: str) -> list:
    if chain == "encoder":
        return [layer.self_attn for layer in model.encoder.layers]
    attribute = "self_attn" if chain == "decoder" else "encoder_attn"
    return [getattr(layer, attribute) for layer in model.decoder.layers]


def collect(translator: Translator, sentence: str) -> tuple:
    """(translation, maps of every evolving chain) for one sentence."""
    from evo_mt.evolving_attention import EvolvingAttention

    if not sentence.strip():
        raise UserError("the sentence is empty: there is nothing to draw")
    model = translator.models[0]
    chains = [(name, title, _chain_modules(model, name)) for name, title in CHAINS]
    chains = [c for c in chains if any(isinstance(m, EvolvingAttention) and m.chain for m in c[2])]
    if not chains:
        raise UserError("this checkpoint has no evolving attention (a vanilla Transformer?): nothing evolves")
    translation = translator.translate([sentence])[0][0]

    source = translator.encode(sentence)
    pieces = translator.spm.encode(translation, out_type=str)
    dictionary = translator.task.target_dictionary
    target = dictionary.encode_line(" ".join(pieces), add_if_not_exist=False).long()
    previous = torch.cat([target.new_tensor([dictionary.eos()]), target[:-1]])
    source_labels = [translator.task.source_dictionary[i] for i in source.tolist()]
    target_labels = ["<s>"] + [dictionary[i] for i in target[:-1].tolist()]

    modules = [m for _, _, ms in chains for m in ms]
    for module in modules:
        module.keep_maps = True
    try:
        with torch.no_grad():
            device = translator.device
            model(
                source[None].to(device), torch.tensor([len(source)], device=device), previous[None].to(device)
            )
        result = []
        for name, title, ms in chains:
            queries = source_labels if name == "encoder" else target_labels
            keys = target_labels if name == "decoder" else source_labels
            maps = ChainMaps(title, queries, keys)
            for module in ms:
                kept = module.kept
                maps.probs.append(kept["probs"][0].float().cpu())
                has_conv = module.conv is not None
                maps.added.append((kept["evolved"] - kept["mixed"])[0].float().cpu() if has_conv else None)
            result.append(maps)
    finally:
        for module in modules:
            module.keep_maps = False
            module.kept = {}
    return translation, result


def draw(chains: List[ChainMaps], head: int | None = None, added: bool = False):
    """A matplotlib Figure: per chain one row of layer panels (two rows with `added`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heads = chains[0].probs[0].size(0)
    if head is not None and not 0 <= head < heads:
        raise UserError(f"--head must be between 0 and {heads - 1}")
    rows = [(c, kind) for c in chains for kind in (("probs", "added") if added else ("probs",))]
    layers = max(len(c.probs) for c in chains)
    figure, axes = plt.subplots(len(rows), layers, figsize=(3.2 * layers, 3.2 * len(rows)), squeeze=False)
    which = "heads averaged" if head is None else f"head {head}"
    for row, (maps, kind) in enumerate(rows):
        for layer in range(layers):
            axis = axes[row][layer]
            tensor = (maps.probs if kind == "probs" else maps.added)[layer]
            label = "P" if kind == "probs" else "A - M (convolution)"
            axis.set_title(f"{maps.title}\nlayer {layer + 1}: {label}", fontsize=8)
            if tensor is None:
                axis.text(0.5, 0.5, "no convolution\nin this layer", ha="center", va="center", fontsize=8)
                axis.set_axis_off()
                continue
            image = tensor.mean(0) if head is None else tensor[head]
            if kind == "probs":
                axis.imshow(image.numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
            else:
                # Masked entries carry no meaning (their probability is zero): left blank.
                blocked = (maps.probs[layer].sum(0) == 0).float()
                image = image.masked_fill(blocked.bool(), float("nan"))
                limit = float(image.nan_to_num().abs().max()) or 1.0
                axis.imshow(image.numpy(), cmap="coolwarm", vmin=-limit, vmax=limit)
            axis.set_xticks(range(len(maps.keys)), maps.keys, rotation=90, fontsize=6)
            axis.set_yticks(range(len(maps.queries)), maps.queries, fontsize=6)
    figure.suptitle(f"evolving attention, {which} (rows: chains; columns: layers)", fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    return figure


def write_picture(figure, output: Path) -> Path:
    from evo_mt_cli.files import atomic_file

    with atomic_file(output) as scratch:
        figure.savefig(scratch, format="png", dpi=120)
    return output
