"""Shared helpers: small models built without data on disk, and padded batches."""

import argparse
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import List

import pytest
import torch
from fairseq.data import Dictionary, data_utils
from fairseq.models import ARCH_CONFIG_REGISTRY
from fairseq.models.transformer import TransformerModel

import evo_mt  # noqa: F401  (registers the model)
from evo_mt.ea_transformer import EATransformerModel

VOCAB = 40
VENV_BIN = Path(sys.executable).parent


def dictionary() -> Dictionary:
    d = Dictionary()
    for i in range(VOCAB):
        d.add_symbol(f"w{i}")
    return d


def model_args(arch: str = "ea_transformer_tiny", **overrides) -> argparse.Namespace:
    args = argparse.Namespace(arch=arch, dropout=0.0, attention_dropout=0.0, **overrides)
    ARCH_CONFIG_REGISTRY[arch](args)
    return args


def build_ea(seed: int = 0, **overrides) -> EATransformerModel:
    torch.manual_seed(seed)
    d = dictionary()
    task = SimpleNamespace(source_dictionary=d, target_dictionary=d)
    return EATransformerModel.build_model(model_args(**overrides), task).eval()


def build_vanilla(seed: int = 0) -> TransformerModel:
    """fairseq's own transformer with the dimensions of ea_transformer_tiny."""
    torch.manual_seed(seed)
    d = dictionary()
    task = SimpleNamespace(source_dictionary=d, target_dictionary=d)
    args = model_args()
    args.arch = "transformer"
    return TransformerModel.build_model(args, task).eval()


def random_sentences(lengths: List[int], seed: int) -> List[torch.Tensor]:
    """Token ids (no specials) ending in </s>, as fairseq's datasets hold them."""
    g = torch.Generator().manual_seed(seed)
    d = dictionary()
    return [
        torch.cat([torch.randint(d.nspecial, len(d), (n,), generator=g), torch.tensor([d.eos()])])
        for n in lengths
    ]


def source_batch(sentences: List[torch.Tensor]):
    """Left-padded source tokens and lengths, as fairseq's translation task builds them."""
    d = dictionary()
    tokens = data_utils.collate_tokens(sentences, d.pad(), d.eos(), left_pad=True)
    return tokens, torch.tensor([len(s) for s in sentences])


def target_inputs(sentences: List[torch.Tensor]) -> torch.Tensor:
    """Right-padded decoder inputs (</s> moved to the front), as fairseq builds them."""
    d = dictionary()
    return data_utils.collate_tokens(sentences, d.pad(), d.eos(), left_pad=False, move_eos_to_beginning=True)


@pytest.fixture
def clean_env() -> dict:
    """The environment for fairseq subprocesses, with weights_only left on."""
    env = dict(os.environ)
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    env.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env
