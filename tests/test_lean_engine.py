"""The lean inference engine gives fairseq's hypotheses, without importing fairseq."""

import argparse
import dataclasses
import subprocess
import sys

import pytest
import torch
from conftest import NO_DROPOUT, dictionary, evo_mt, random_sentences, source_batch
from fairseq.sequence_generator import SequenceGenerator

from evo_mt.checkpoints import CheckpointError
from evo_mt.inference.lean_model import LeanModel
from evo_mt.models.factory import build_model
from evo_mt.pipeline.fairseq_commands import MAX_LEN_A, MAX_LEN_B
from evo_mt.pipeline.translation import Translator
from evo_mt.runtime.base.vocabulary import Vocabulary, VocabularyError

# Mixed lengths: the random models' hypotheses run to their maximum length, which is each
# sentence's own in the lean engine; fairseq is given each sentence alone to compare.
LENGTHS = [5, 9, 3, 12, 7, 1]
VARIANTS = {
    "fairseq transformer": ({}, True),
    "all chains": ({}, False),
    "encoder chain": ({"ea_chains": "encoder"}, False),
    "decoder chain": ({"ea_chains": "decoder"}, False),
    "cross chain": ({"ea_chains": "cross"}, False),
    "pre-norm, kernel 5, gelu": (
        {"encoder_normalize_before": True, "decoder_normalize_before": True, "ea_kernel_size": 5,
         "ea_activation": "gelu", "activation_fn": "gelu"},
        False,
    ),
    "residual only (beta 0)": ({"ea_beta": 0.0}, False),
    "convolution only (alpha 0)": ({"ea_alpha": 0.0}, False),
    "unshared embeddings, learned positions": (
        {"share_all_embeddings": False, "encoder_learned_pos": True, "decoder_learned_pos": True},
        False,
    ),
}


def saved_checkpoint(folder, overrides: dict, vanilla: bool):
    """A checkpoint as fairseq writes one (state dict, cfg.model as plain containers) and its dictionaries."""
    d = dictionary()
    options = {"share_all_embeddings": True, **overrides}
    model = build_model("ea_transformer_tiny", d, vanilla=vanilla, seed=1, **NO_DROPOUT, **options).eval()
    cfg = dataclasses.asdict(model.cfg)
    cfg["_name"] = "transformer" if vanilla else "ea_transformer"
    cfg.update({k: v for k, v in vars(model.cfg).items() if k.startswith("ea_")})
    path = folder / "model.pt"
    task = {"source_lang": "src", "target_lang": "tgt"}
    torch.save({"model": model.state_dict(), "cfg": {"model": cfg, "task": task}}, path)
    d.save(str(folder / "dict.src.txt"))
    d.save(str(folder / "dict.tgt.txt"))
    return model, path


def fairseq_hypotheses(model, sentence: torch.Tensor, beam: int):
    tokens, lengths = source_batch([sentence])
    generator = SequenceGenerator(
        [model], dictionary(), beam_size=beam, max_len_a=MAX_LEN_A, max_len_b=MAX_LEN_B,
        max_len=model.max_decoder_positions() - 1,
    )
    best = generator.generate([model], {"net_input": {"src_tokens": tokens, "src_lengths": lengths}})[0]
    return [(h["tokens"].tolist(), float(h["score"])) for h in best]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_lean_hypotheses_equal_fairseqs_for_every_model_variant(variant, tmp_path):
    overrides, vanilla = VARIANTS[variant]
    model, path = saved_checkpoint(tmp_path, overrides, vanilla)
    engine = LeanModel.load(path, tmp_path)
    sentences = random_sentences(LENGTHS, seed=3)
    beam = 4
    lean = engine.generate(
        [s.tolist() for s in sentences], beam=beam, lenpen=1.0, max_len_a=MAX_LEN_A, max_len_b=MAX_LEN_B
    )
    for sentence, found in zip(sentences, lean, strict=True):
        expected = fairseq_hypotheses(model, sentence, beam)
        assert [h.tokens for h in found] == [tokens for tokens, _ in expected]  # all beam of them, in order
        assert [h.score for h in found] == pytest.approx([score for _, score in expected], abs=1e-4)


def test_the_batch_does_not_change_a_translation(tmp_path):
    _, path = saved_checkpoint(tmp_path, {}, vanilla=False)
    engine = LeanModel.load(path, tmp_path)
    sentences = [s.tolist() for s in random_sentences(LENGTHS, seed=4)]
    options = {"beam": 3, "lenpen": 1.0, "max_len_a": MAX_LEN_A, "max_len_b": MAX_LEN_B}
    together = engine.generate(sentences, **options)
    for sentence, found in zip(sentences, together, strict=True):
        alone = engine.generate([sentence], **options)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in found]


def test_unsupported_models_are_refused_in_one_line(tmp_path):
    _, path = saved_checkpoint(tmp_path, {}, vanilla=False)
    state = torch.load(path, weights_only=True)
    state["cfg"]["model"]["adaptive_softmax_cutoff"] = "10,20"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="--adaptive-softmax-cutoff, which the lean engine does not"):
        LeanModel.load(path, tmp_path)
    state["cfg"]["model"] = argparse.Namespace(_name="lstm", arch="lstm")
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="a lstm model; the lean engine runs Transformer"):
        LeanModel.load(path, tmp_path)


def test_vocabulary_reads_fairseqs_dictionary_as_fairseq_does(tmp_path):
    d = dictionary()
    d.save(str(tmp_path / "dict.txt"))
    vocabulary = Vocabulary.load(tmp_path / "dict.txt")
    assert len(vocabulary) == len(d)
    pieces = ["w3", "w17", "never-seen", "w0"]
    assert vocabulary.encode(pieces) == d.encode_line(" ".join(pieces), add_if_not_exist=False).tolist()
    assert vocabulary.decode(vocabulary.encode(pieces)) == ["w3", "w17", "<unk>", "w0"]
    (tmp_path / "broken.txt").write_text("w1 12\nnot-a-count-line\n")
    with pytest.raises(VocabularyError, match="broken.txt:2: not a 'symbol count' line"):
        Vocabulary.load(tmp_path / "broken.txt")


def toy_lines(toy_run, count: int | None = None):
    lines = (toy_run / "raw" / "test.en").read_text(encoding="utf-8").splitlines()
    return lines[:count] if count else lines


def test_lean_translations_of_the_toy_test_set_equal_fairseqs(toy_run):
    lines = toy_lines(toy_run)
    lean = Translator.load(toy_run, beam=5, engine="lean").translate(lines)
    # Both engines limit each hypothesis by its own sentence's length (the fairseq engine
    # generates each source length as a batch of its own), so batching changes nothing.
    fairseq = Translator.load(toy_run, beam=5, engine="fairseq").translate(lines)
    assert len(lean) == len(lines) == 500
    assert lean == fairseq


def test_nbest_empty_and_over_long_lines_equal_fairseqs(toy_run):
    lines = toy_lines(toy_run, 20)
    long_line = " ".join(lines) * 4  # 80 sentences, far beyond the model's 1024 source positions
    lines = ["", *lines[:8], "   ", long_line]
    lean = Translator.load(toy_run, beam=4, nbest=4, engine="lean").translate(lines)
    fairseq = Translator.load(toy_run, beam=4, nbest=4, engine="fairseq").translate(lines)
    assert lean == fairseq
    assert lean[0] == ["", "", "", ""] and lean[9] == ["   "] * 4
    assert all(len(set(best)) > 1 for best in lean[1:9])  # n different hypotheses, not copies


def test_int8_translates_and_keeps_the_score_within_bound(toy_run):
    from evo_mt.pipeline.run_folder import Run
    from evo_mt.pipeline.scoring import score_run

    full = score_run(Run(toy_run), split="test")
    int8 = score_run(Run(toy_run), split="test", quantize="int8")
    assert int8["quantize"] == "int8" and full["quantize"] == "none"
    # Each keeps its own files: scoring int8 does not overwrite the fp32 score.
    assert int8["report_file"].endswith(".int8.json") and not full["report_file"].endswith(".int8.json")
    assert abs(int8["bleu"] - full["bleu"]) <= 0.3


def test_translating_imports_no_fairseq(toy_run, fairseq_env):
    # The whole command, start-up included, in a fresh interpreter: which modules it loaded.
    script = (
        "import sys\n"
        "from evo_mt_cli.app import main\n"
        f"sys.argv = ['evo-mt', 'translate', {str(toy_run)!r}]\n"
        "try:\n    main()\nexcept SystemExit as end:\n    assert not end.code, end.code\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('fairseq', 'fairseq_cli')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input="the cat sees the dog .\n", capture_output=True, text=True,
        env=fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    translation, modules = done.stdout.splitlines()
    assert translation.strip()
    assert modules == "[]"


def test_engine_and_quantize_mistakes_are_one_line_errors(toy_run, fairseq_env):
    done = evo_mt("translate", str(toy_run), "--engine", "ctranslate", env=fairseq_env, input="x\n")
    assert done.returncode == 1
    assert done.stderr.strip() == "evo-mt: error: --engine must be one of lean, fairseq, not 'ctranslate'"
    done = evo_mt("translate", str(toy_run), "--engine", "fairseq", "--quantize", "int8", env=fairseq_env)
    assert done.returncode == 1
    assert done.stderr.strip() == "evo-mt: error: --quantize int8 needs the lean engine (--engine lean)"
