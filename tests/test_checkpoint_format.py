"""Evolving-attention checkpoints: a format version, per-version defaults, warm starts from vanilla."""

import argparse

import torch
from conftest import (
    NO_DROPOUT,
    build_ea,
    build_vanilla,
    dictionary,
    random_sentences,
    source_batch,
    target_inputs,
)

from evo_mt.architecture import options as evolving_options
from evo_mt.architecture.options import EA_FORMAT_VERSION, ea_defaults
from evo_mt.models.factory import build_model


def outputs(model, seed):
    """The decoder's outputs at real (not padded) target positions."""
    src, tgt = random_sentences([5, 9, 3], seed=seed), random_sentences([6, 2, 8], seed=seed + 1)
    tokens, lengths = source_batch(src)
    prev = target_inputs(tgt)
    with torch.no_grad():
        logits, _ = model(tokens, lengths, prev)
    return logits[prev.ne(dictionary().pad())]


def test_a_version_1_namespace_takes_the_defaults_of_version_1(monkeypatch):
    today = {**evolving_options.EA_DEFAULTS[2], "ea_kernel_size": 5}
    monkeypatch.setitem(evolving_options.EA_DEFAULTS, 2, today)
    old = argparse.Namespace(ea_alpha=0.5)  # what a checkpoint written before versions holds
    ea_defaults(old)
    assert (old.ea_format_version, old.ea_kernel_size) == (1, 3)
    new = argparse.Namespace(ea_format_version=EA_FORMAT_VERSION)
    ea_defaults(new)
    assert new.ea_kernel_size == 5


def test_every_option_and_the_version_are_stored_in_the_config():
    cfg = build_ea().cfg
    for name in ("ea_alpha", "ea_beta", "ea_kernel_size", "ea_activation", "ea_chains"):
        assert getattr(cfg, name) is not None, name
    assert cfg.ea_format_version == EA_FORMAT_VERSION


def test_warm_start_from_a_vanilla_transformer_keeps_its_outputs():
    vanilla = build_vanilla(seed=1)
    ea = build_ea(seed=2, ea_alpha=0.0, ea_activation="linear")
    assert any(".conv." in name for name in ea.state_dict())
    ea.load_state_dict(vanilla.state_dict(), strict=True)  # as fairseq's --finetune-from-model does
    torch.testing.assert_close(outputs(ea, 3), outputs(vanilla, 3), atol=1e-5, rtol=0)


def test_warm_start_with_alpha_is_close_but_not_exact():
    vanilla = build_vanilla(seed=1)
    ea = build_ea(seed=2)  # alpha 0.5, relu: the mix with the previous layer cannot be undone
    ea.load_state_dict(vanilla.state_dict(), strict=True)
    assert not torch.allclose(outputs(ea, 4), outputs(vanilla, 4), atol=1e-3)


def test_ea_weights_with_convolutions_load_unchanged():
    trained = build_ea(seed=5)
    fresh = build_model("ea_transformer_tiny", dictionary(), seed=6, **NO_DROPOUT).eval()
    fresh.load_state_dict(trained.state_dict(), strict=True)
    torch.testing.assert_close(outputs(fresh, 7), outputs(trained, 7), atol=0, rtol=0)


def test_a_run_started_from_the_command_line_is_stored_with_todays_version(tmp_path):
    from fairseq import options

    parser = options.get_training_parser()
    argv = [str(tmp_path), "--user-dir", "evo_mt", "--arch", "ea_transformer_tiny", "--task", "translation"]
    args = options.parse_args_and_arch(parser, argv)
    assert args.ea_format_version == EA_FORMAT_VERSION
    explicit = options.parse_args_and_arch(options.get_training_parser(), [*argv, "--ea-format-version", "1"])
    assert explicit.ea_format_version == 1
