"""Attention pictures: how the attention maps of each chain change from layer to layer.

The sentence is translated, then the model is run once on (sentence, translation) with the
evolving-attention modules keeping their maps. Each chain gets a row of panels, one per layer:
the attention probabilities P_l (heads averaged, or one head), and optionally what the
convolution added to the logits, A_l - M_l.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import torch

from evo_mt.pipeline.translation import Translator
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.files import atomic_file

TITLES = {
    "encoder": "encoder self-attention",
    "decoder": "decoder self-attention",
    "cross": "cross-attention",
}


@dataclass
class ChainMaps:
    title: str
    queries: List[str]
    keys: List[str]
    probs: List[torch.Tensor] = field(default_factory=list)  # per layer: (heads, queries, keys)
    added: List[torch.Tensor | None] = field(default_factory=list)  # A_l - M_l; None without conv


def collect(translator: Translator, sentence: str) -> tuple:
    """(translation, maps of every evolving chain) for one sentence."""
    from evo_mt.models.ea_transformer import EATransformerModel

    if not sentence.strip():
        raise UserError("the sentence is empty: there is nothing to draw")
    if translator.engine.name != "fairseq":
        raise UserError("attention maps come from fairseq's model: load the translator with engine 'fairseq'")
    model = translator.engine.models[0]
    if not isinstance(model, EATransformerModel) or not model.evolving_chains():
        raise UserError("this checkpoint has no evolving attention (a vanilla Transformer?): nothing evolves")
    # The maps are of one sentence: the model sees the whole input, as written.
    translation = translator.with_split(False).translate([sentence])[0][0]

    source = torch.tensor(translator.source_indices(translator.spm.encode(sentence, out_type=str)))
    pieces = translator.spm.encode(translation, out_type=str)
    dictionary = translator.engine.task.target_dictionary
    target = dictionary.encode_line(" ".join(pieces), add_if_not_exist=False).long()
    previous = torch.cat([target.new_tensor([dictionary.eos()]), target[:-1]])
    source_labels = [translator.engine.task.source_dictionary[i] for i in source.tolist()]
    target_labels = ["<s>"] + [dictionary[i] for i in target[:-1].tolist()]

    device = translator.device
    with torch.no_grad(), model.keeping_maps() as kept:
        model(source[None].to(device), torch.tensor([len(source)], device=device), previous[None].to(device))
    result = []
    for chain, layers in kept.items():
        queries = source_labels if chain == "encoder" else target_labels
        keys = target_labels if chain == "decoder" else source_labels
        maps = ChainMaps(TITLES[chain], queries, keys)
        for layer in layers:
            maps.probs.append(layer["probs"][0].float().cpu())
            maps.added.append(layer["added"][0].float().cpu() if "added" in layer else None)
        result.append(maps)
    return translation, result


def draw(chains: List[ChainMaps], head: int | None = None, added: bool = False):
    """A matplotlib Figure: per chain one row of layer panels (two rows with `added`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heads = chains[0].probs[0].size(0)
    if head is not None and not 0 <= head < heads:
        raise OptionError("head", f"must be between 0 and {heads - 1}")
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
    with atomic_file(output) as scratch:
        figure.savefig(scratch, format="png", dpi=120)
    return output
