"""`evo-mt attention`: the picture, its panels, and clean failures."""

import argparse

import torch
from conftest import evo_mt

from evo_mt.checkpoints import read_checkpoint
from evo_mt.evidence.attention_maps import collect, draw
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.translation import Translator

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_picture_has_a_panel_per_chain_layer_and_kind(toy_run):
    sentence = Run(toy_run).text("test", "en").read_text().splitlines()[3]
    translator = Translator.load(toy_run, "checkpoint_averaged.pt", engine="fairseq")
    translation, chains = collect(translator, sentence)
    assert translation
    assert [c.title for c in chains] == [
        "encoder self-attention",
        "decoder self-attention",
        "cross-attention",
    ]
    for maps in chains:
        assert len(maps.probs) == 3  # layers of ea_transformer_tiny
        for probs in maps.probs:
            assert probs.shape == (4, len(maps.queries), len(maps.keys))
            torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[:2]))
        # No convolution in the first layer of a chain, one in each later layer.
        assert maps.added[0] is None and all(a is not None and a.abs().sum() > 0 for a in maps.added[1:])
    decoder = chains[1].probs[0].mean(0)
    assert torch.all(decoder.triu(1) == 0)  # causal: nothing attends to later target tokens
    figure = draw(chains, added=True)
    drawn = [axis for axis in figure.axes if axis.get_images()]
    assert len(figure.axes) == 3 * 2 * 3 and len(drawn) == 3 * 2 * 3 - 3  # layer 1 has no A - M
    assert len(draw(chains, head=2).axes) == 3 * 3


def test_command_writes_a_png(toy_run, tmp_path, fairseq_env):
    sentence = (toy_run / "raw" / "test.en").read_text().splitlines()[0]
    output = tmp_path / "attention.png"
    done = evo_mt("attention", str(toy_run), sentence, "--added", "--output", str(output), env=fairseq_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("translation: ")
    assert output.read_bytes()[:8] == PNG_SIGNATURE and output.stat().st_size > 50_000


def _as_legacy_transformer(model: dict) -> argparse.Namespace:
    """An EA model's stored dataclass as fairseq's `transformer` stores its options: flat names
    (`encoder_embed_dim` for `encoder: {embed_dim}`) in an argparse.Namespace."""
    flat = {key: value for key, value in model.items() if not isinstance(value, dict)}
    for group, values in model.items():
        if isinstance(values, dict):
            flat.update({f"{group}_{key}": value for key, value in values.items()})
    flat["arch"] = flat["_name"] = "transformer"
    return argparse.Namespace(**flat)


def test_fails_cleanly_on_a_vanilla_checkpoint_or_an_empty_sentence(toy_run, tmp_path, fairseq_env):
    # The same model saved as fairseq's vanilla transformer: no convolutions, arch "transformer".
    state = read_checkpoint(toy_run / "checkpoints" / "checkpoint_averaged.pt")
    state["model"] = {name: p for name, p in state["model"].items() if ".conv." not in name}
    state["cfg"]["model"] = _as_legacy_transformer(state["cfg"]["model"])
    vanilla = toy_run / "checkpoints" / "vanilla.pt"
    torch.save(state, vanilla)
    try:
        for args, message in [
            (["--checkpoint", str(vanilla), "the house ."], "no evolving attention"),
            (["   "], "the sentence is empty"),
        ]:
            done = evo_mt(
                "attention", str(toy_run), *args, "--output", str(tmp_path / "a.png"), env=fairseq_env
            )
            assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
            assert message in done.stderr.strip().splitlines()[-1]
        assert not (tmp_path / "a.png").exists()
    finally:
        vanilla.unlink()
