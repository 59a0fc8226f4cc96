"""Every activation the model accepts computes the same function in every engine.

Each of fairseq's --activation-fn choices (paired with one of the --ea-activation choices, so
that both lists are covered) is trained briefly, then the lean engine and fairseq's model give
the same log-probabilities (teacher-forced) and the same beam-search tokens.
"""

import dataclasses

import pytest
import torch
from conftest import NO_DROPOUT, dictionary, random_sentences, source_batch, target_inputs
from fairseq.utils import get_available_activation_fns
from test_lean_engine import fairseq_hypotheses

from evo_mt.activations import CONVOLUTION, FEED_FORWARD
from evo_mt.architecture.options import CONVOLUTION_ACTIVATIONS, FEED_FORWARD_ACTIVATIONS
from evo_mt.inference.lean_model import LeanModel
from evo_mt.models.factory import build_model
from evo_mt.pipeline.fairseq_commands import MAX_LEN_A, MAX_LEN_B

# (feed-forward, convolution): every name of both lists at least once.
_CYCLED = (CONVOLUTION_ACTIVATIONS * 2)[: len(FEED_FORWARD_ACTIVATIONS)]
PAIRS = list(zip(FEED_FORWARD_ACTIVATIONS, _CYCLED, strict=True))
LENGTHS = [6, 3, 9, 4]
# The engines agree to about 2e-6 here; computing gelu_accurate as exact GELU (what the lean
# engine once did) moves them 9e-5 apart.
TOLERANCE = 2e-5


def test_the_names_are_fairseqs_and_each_has_a_function():
    assert FEED_FORWARD_ACTIVATIONS == tuple(get_available_activation_fns())
    assert tuple(FEED_FORWARD) == FEED_FORWARD_ACTIVATIONS
    assert tuple(CONVOLUTION) == CONVOLUTION_ACTIVATIONS


def _trained(feed_forward: str, convolution: str):
    """A tiny EA model after a few Adam updates on random sentences (target = source reversed)."""
    model = build_model(
        "ea_transformer_tiny", dictionary(), seed=5, share_all_embeddings=True,
        activation_fn=feed_forward, ea_activation=convolution, **NO_DROPOUT,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(6):
        sentences = random_sentences([5, 7, 4, 8], seed=100 + step)
        src, src_lengths = source_batch(sentences)
        targets = [torch.cat([s[:-1].flip(0), s[-1:]]) for s in sentences]
        logits, _ = model(src, src_lengths, target_inputs(targets))
        gold = torch.nn.utils.rnn.pad_sequence(targets, batch_first=True, padding_value=dictionary().pad())
        loss = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), gold, ignore_index=dictionary().pad()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def _saved(model, folder):
    cfg = dataclasses.asdict(model.cfg)
    cfg["_name"] = "ea_transformer"
    cfg.update({k: v for k, v in vars(model.cfg).items() if k.startswith("ea_")})
    path = folder / "model.pt"
    torch.save(
        {
            "model": model.state_dict(),
            "cfg": {"model": cfg, "task": {"source_lang": "s", "target_lang": "t"}},
        },
        path,
    )
    for lang in ("s", "t"):
        dictionary().save(str(folder / f"dict.{lang}.txt"))
    return path


def _lean_teacher_forced(engine: LeanModel, source, target_in):
    """The lean engine's log-probabilities of each next token, one decoding step at a time."""
    tokens, _ = source_batch([source])
    encoder_out, padding = engine.model.encoder(tokens)
    state = engine.model.decoder.start(encoder_out, padding)
    state.select(torch.zeros(1, dtype=torch.long), None)
    return torch.stack([engine.model.decoder.step(token.view(1), state)[0] for token in target_in])


@pytest.mark.parametrize("feed_forward,convolution", PAIRS)
def test_every_activation_gives_the_same_model_in_every_engine(feed_forward, convolution, tmp_path):
    model = _trained(feed_forward, convolution)
    engine = LeanModel.load(_saved(model, tmp_path), tmp_path)
    sentences = random_sentences(LENGTHS, seed=9)
    with torch.no_grad():
        for source in sentences:
            target_in = target_inputs([source])[0]  # teacher forcing with the source as target
            tokens, lengths = source_batch([source])
            logits, _ = model(tokens, lengths, target_in.unsqueeze(0))
            expected = torch.log_softmax(logits[0].float(), dim=-1)
            torch.testing.assert_close(
                _lean_teacher_forced(engine, source, target_in), expected, atol=TOLERANCE, rtol=0
            )
    lean = engine.generate(
        [s.tolist() for s in sentences], beam=3, lenpen=1.0, max_len_a=MAX_LEN_A, max_len_b=MAX_LEN_B
    )
    for sentence, found in zip(sentences, lean, strict=True):
        assert [h.tokens for h in found] == [tokens for tokens, _ in fairseq_hypotheses(model, sentence, 3)]
