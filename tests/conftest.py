"""Shared helpers: small models built without data on disk, and padded batches."""

import argparse
import atexit
import os
import random
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, List

import numpy as np
import pytest
import torch
from fairseq.data import Dictionary, data_utils
from fairseq.models import ARCH_CONFIG_REGISTRY
from fairseq.models.transformer import TransformerModel
from hypothesis import HealthCheck, settings

import evo_mt
from evo_mt.models.ea_transformer import EATransformerModel
from evo_mt.models.factory import build_model
from evo_mt.pipeline.recipes import PROJECT_RECIPES
from evo_mt.runtime.search.decoding import Decoded
from evo_mt.runtime.text.translator import TextTranslator

# Property-based tests: the same examples on every run and machine, few enough to stay fast.
settings.register_profile(
    "evo-mt", derandomize=True, max_examples=60, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile("evo-mt")

VOCAB = 40
VENV_BIN = Path(sys.executable).parent
USER_DIR = str(Path(evo_mt.__file__).parent)


def dictionary() -> Dictionary:
    d = Dictionary()
    for i in range(VOCAB):
        d.add_symbol(f"w{i}")
    return d


NO_DROPOUT = {"dropout": 0.0, "attention_dropout": 0.0}


def model_args(arch: str = "ea_transformer_tiny", **overrides) -> argparse.Namespace:
    args = argparse.Namespace(arch=arch, **NO_DROPOUT, **overrides)
    ARCH_CONFIG_REGISTRY[arch](args)
    return args


def build_ea(seed: int = 0, **overrides) -> EATransformerModel:
    return build_model("ea_transformer_tiny", dictionary(), seed=seed, **NO_DROPOUT, **overrides).eval()


def build_vanilla(seed: int = 0) -> TransformerModel:
    """fairseq's own transformer with the dimensions of ea_transformer_tiny."""
    return build_model("ea_transformer_tiny", dictionary(), vanilla=True, seed=seed, **NO_DROPOUT).eval()


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


FAIRSEQ_TEST_SENTENCES = 926  # not a multiple of 8: fairseq 0.12 would drop the last batch


def write_parallel_corpus(folder: Path, sizes: dict, seed: int = 0) -> None:
    """A toy language pair (target = source reversed, upper-cased) as plain text files."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(60)]
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in sizes.items():
        with open(folder / f"{split}.src", "w") as src, open(folder / f"{split}.tgt", "w") as tgt:
            for _ in range(n):
                sentence = [rng.choice(words) for _ in range(rng.randint(2, 10))]
                src.write(" ".join(sentence) + "\n")
                tgt.write(" ".join(w.upper() for w in reversed(sentence)) + "\n")


def run_command(args: List[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="session")
def fairseq_env() -> dict:
    """The environment for fairseq subprocesses, with weights_only left on."""
    env = dict(os.environ)
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    env.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["OMP_NUM_THREADS"] = "1"
    # fairseq 0.12's own commands load checkpoints only with evo-mt's fixes (torch >= 2.6).
    env["EVO_MT_FAIRSEQ_FIXES"] = "1"
    return env


@pytest.fixture(scope="session")
def binarized(tmp_path_factory, fairseq_env) -> Path:
    """A toy corpus binarized by fairseq-preprocess, with a 926-sentence test set."""
    root = tmp_path_factory.mktemp("corpus")
    write_parallel_corpus(root / "text", {"train": 400, "valid": 40, "test": FAIRSEQ_TEST_SENTENCES})
    text = root / "text"
    done = run_command(
        ["fairseq-preprocess", "--source-lang", "src", "--target-lang", "tgt",
         "--trainpref", str(text / "train"), "--validpref", str(text / "valid"),
         "--testpref", str(text / "test"), "--destdir", str(root / "bin"),
         "--joined-dictionary", "--workers", "1"],
        fairseq_env,
    )
    assert done.returncode == 0, done.stderr
    return root / "bin"


@pytest.fixture(scope="session")
def trained_checkpoint(binarized, tmp_path_factory, fairseq_env) -> Path:
    """A few updates of ea_transformer_tiny through fairseq-train itself."""
    save_dir = tmp_path_factory.mktemp("checkpoints")
    done = run_command(
        ["fairseq-train", str(binarized), "--user-dir", USER_DIR, "--arch", "ea_transformer_tiny",
         "--optimizer", "adam", "--lr", "0.002", "--max-tokens", "2000", "--max-update", "12",
         "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1",
         "--share-all-embeddings", "--save-dir", str(save_dir), "--cpu", "--seed", "1",
         "--no-progress-bar", "--log-interval", "4", "--num-workers", "0"],
        fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "num_updates 12" in done.stderr + done.stdout
    return save_dir / "checkpoint_last.pt"


EVO_MT = str(VENV_BIN / "evo-mt")
# The toy recipe with 3 epochs instead of 4 (about 2 minutes on 2 cores), averaged over 2 and 3.
SMALL_TOY = {"max_epoch = 4": "max_epoch = 3"}


def evo_mt(*args: str, env: dict, **kwargs) -> subprocess.CompletedProcess:
    """The installed `evo-mt` script in a subprocess."""
    return run_command([EVO_MT, *args], env, **kwargs)


def toy_lines(toy_run: Path, count: int) -> List[str]:
    """The first `count` source lines of a toy run's test set."""
    return (toy_run / "raw" / "test.en").read_text(encoding="utf-8").splitlines()[:count]


def small_toy_recipe(folder: Path) -> Path:
    text = (PROJECT_RECIPES / "toy" / "recipe.toml").read_text()
    for old, new in SMALL_TOY.items():
        assert old in text
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.toml").write_text(text)
    return folder


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory, fairseq_env) -> Path:
    """The small toy recipe trained and averaged through the installed `evo-mt` script."""
    start_de_fr(tmp_path_factory, fairseq_env)
    root = tmp_path_factory.mktemp("toy")
    recipe = small_toy_recipe(root / "recipe")
    run = root / "run"
    reused = os.environ.get("EVO_MT_TEST_TOY_RUN")
    if reused:
        # For a developer's repeated runs of a few tests: a toy run this fixture trained
        # before (CI never sets it, and every test then trains its own).
        shutil.copytree(reused, run, symlinks=True)
        return run
    done = evo_mt("train", str(recipe), "--workdir", str(run), "--cpu", env=fairseq_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained toy: " in done.stderr
    assert done.stdout == ""  # fairseq's log goes to stderr: stdout is for results only
    done = evo_mt("average", str(run), "--last", "2", env=fairseq_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run / "checkpoints" / "checkpoint_averaged.pt").is_file()
    return run


@pytest.fixture(scope="session")
def exported_toy(toy_run, tmp_path_factory, fairseq_env) -> Path:
    """The toy run exported once (`evo-mt export`), fp32."""
    folder = tmp_path_factory.mktemp("exported") / "toy-model"
    done = evo_mt("export", str(toy_run), "--output", str(folder), env=fairseq_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "exported checkpoint_averaged.pt" in done.stderr
    return folder


DE_FR_RECIPE = """\
# A second language pair for the tests of several models: the toy corpus's German-like side
# into a "French" whose words are the German-like words spelled backwards.
name = "toy_de_fr"
source_lang = "de"
target_lang = "fr"
average_last = 1

[corpus]
name = "plain"

[subwords]
vocab_size = 500
model_type = "unigram"

[score]
beam = 5

[train]
arch = "ea_transformer_tiny"
encoder_embed_dim = 128
decoder_embed_dim = 128
encoder_ffn_embed_dim = 256
decoder_ffn_embed_dim = 256
share_all_embeddings = true
optimizer = "adam"
lr = 0.002
lr_scheduler = "inverse_sqrt"
warmup_updates = 50
dropout = 0.1
criterion = "label_smoothed_cross_entropy"
label_smoothing = 0.1
max_tokens = 2048
max_epoch = 4
seed = 1
num_workers = 0
"""


def backwards(sentence: str) -> str:
    return " ".join(word[::-1] for word in sentence.split())


_DE_FR: dict = {}  # the de -> fr model's training: started once, beside the toy run's


def start_de_fr(tmp_path_factory, fairseq_env) -> None:
    """Train and export the de -> fr model in a background process. The toy run's training
    keeps one core busy (fairseq-train with one thread) and leaves the other idle: the toy_run
    fixture starts this beside it, so that it costs the suite nothing."""
    if _DE_FR:
        return
    from evo_mt.pipeline.corpora.toy import generate

    root = tmp_path_factory.mktemp("de-fr")
    corpus = root / "corpus"
    corpus.mkdir()
    for split, pairs in generate(3000, seed=2).items():
        german = [target for _, target in pairs][:200 if split != "train" else None]
        (corpus / f"{split}.de").write_text("\n".join(german) + "\n", encoding="utf-8")
        (corpus / f"{split}.fr").write_text("\n".join(map(backwards, german)) + "\n", encoding="utf-8")
    recipe = root / "recipe"
    recipe.mkdir()
    (recipe / "recipe.toml").write_text(DE_FR_RECIPE)
    run, folder = root / "run", root / "de-fr-model"
    train = [EVO_MT, "train", str(recipe), "--source", str(corpus), "--workdir", str(run), "--cpu"]
    export = [EVO_MT, "export", str(run), "--output", str(folder)]
    log = open(root / "log.txt", "w")
    process = subprocess.Popen(
        ["bash", "-c", f"{shlex.join(train)} && {shlex.join(export)}"],
        env=fairseq_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )
    _DE_FR.update(process=process, folder=folder, log=root / "log.txt")
    atexit.register(process.kill)  # a session that never needed the model does not wait for it


@pytest.fixture(scope="session")
def de_fr_model(tmp_path_factory, fairseq_env) -> Path:
    """A second pair (de -> fr, about a minute of training) exported: the toy model's target
    language is its source, so the two models chain (en -> de -> fr)."""
    start_de_fr(tmp_path_factory, fairseq_env)
    assert _DE_FR["process"].wait(timeout=900) == 0, _DE_FR["log"].read_text()[-3000:]
    return _DE_FR["folder"]


class _Words:
    """A stand-in sentencepiece model: a piece is a word."""

    def encode(self, text: str, out_type=str) -> List[str]:
        return ["\u2581" + word for word in text.split()]

    def decode(self, pieces: List[str]) -> str:
        return " ".join(piece.lstrip("\u2581") for piece in pieces)


class StandInTranslator(TextTranslator):
    """A translator without a model for the text layer's tests: `rewrite` turns a sentence's
    words into its translation's words; `source_of`, if given, says which source word each
    translated word comes from (the stand-in then aligns, with that alignment)."""

    spm = _Words()
    nbest, beam, max_source_pieces, source_language = 1, 1, 1000, "en"

    def __init__(
        self,
        rewrite: Callable[[List[str]], List[str]],
        source_of: Callable[[List[str]], List[int]] | None = None,
    ) -> None:
        self.rewrite, self.source_of = rewrite, source_of
        self.aligns = source_of is not None
        self.pieces: List[str] = []

    def source_indices(self, pieces: List[str]) -> List[int]:
        self.pieces += pieces
        return list(range(len(self.pieces) - len(pieces), len(self.pieces)))

    def target_indices(self, pieces: List[str]) -> List[int]:
        return self.source_indices(pieces)

    def generate(self, sources, constraints=None) -> List[List[Decoded]]:
        words = [[self.pieces[i].lstrip("\u2581") for i in source] for source in sources]
        return [[Decoded(["\u2581" + w for w in self.rewrite(found)], 0.0)] for found in words]

    def attention(self, sources, targets):
        found = []
        for source, target in zip(sources, targets, strict=True):
            weights = np.zeros((len(target), len(source) + 1))  # </s> on both sides
            origins = self.source_of([self.pieces[i] for i in source])
            weights[np.arange(len(origins)), origins] = 1.0
            weights[len(origins):, -1] = 1.0
            found.append(weights)
        return found
