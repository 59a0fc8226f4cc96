"""Models built without data on disk: the same factory for tests and benchmarks."""

import argparse
import copy
from types import SimpleNamespace
from typing import Any

import torch
from fairseq.data import Dictionary
from fairseq.models import ARCH_CONFIG_REGISTRY
from fairseq.models.transformer import TransformerModel

from evo_mt.architecture.options import EA_FORMAT_VERSION
from evo_mt.models.ea_transformer import EATransformerModel


def build_model(
    arch: str, dictionary: Dictionary, *, vanilla: bool = False, seed: int = 0, **overrides: Any
) -> torch.nn.Module:
    """An `ea_transformer` architecture, or fairseq's `transformer` with exactly its dimensions.

    `overrides` are model options (`encoder_layers=2`, `ea_alpha=0.0`, ...); one dictionary
    serves both languages, as with `--share-all-embeddings`.
    """
    args = argparse.Namespace(arch=arch, **{"ea_format_version": EA_FORMAT_VERSION, **overrides})
    ARCH_CONFIG_REGISTRY[arch](args)
    task = SimpleNamespace(source_dictionary=dictionary, target_dictionary=dictionary)
    torch.manual_seed(seed)
    if vanilla:
        args = copy.copy(args)
        args.arch = "transformer"
        return TransformerModel.build_model(args, task)
    return EATransformerModel.build_model(args, task)
