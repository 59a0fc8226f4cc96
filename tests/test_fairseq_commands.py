"""The plugin inside fairseq's own commands, with torch's weights_only loading left on."""

from types import SimpleNamespace

import numpy as np
from conftest import FAIRSEQ_TEST_SENTENCES, USER_DIR, run_command
from fairseq.data import data_utils

from evo_mt.checkpoints import read_checkpoint
from evo_mt.models import fairseq_fixes


def test_fairseq_generate_translates_every_test_sentence(binarized, trained_checkpoint, fairseq_env):
    # --batch-size 64 leaves a last batch of 926 % 64 = 30 sentences, which fairseq drops.
    done = run_command(
        ["fairseq-generate", str(binarized), "--user-dir", USER_DIR, "--path", str(trained_checkpoint),
         "--beam", "2", "--batch-size", "64", "--max-len-b", "6", "--cpu", "--print-alignment"],
        fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    hypotheses = [line for line in done.stdout.splitlines() if line.startswith("H-")]
    ids = {int(line.split("\t")[0][2:]) for line in hypotheses}
    assert len(hypotheses) == FAIRSEQ_TEST_SENTENCES
    assert ids == set(range(FAIRSEQ_TEST_SENTENCES))
    # --print-alignment still works: fairseq gets the attention weights it expects.
    assert sum(line.startswith("A-") for line in done.stdout.splitlines()) == FAIRSEQ_TEST_SENTENCES
    assert "BLEU4" in done.stdout


def test_fairseq_interactive_answers_every_line(binarized, trained_checkpoint, fairseq_env):
    lines = ["w1 w2 w3", "w4 w5", "w10 w11 w12 w13 w14"]
    done = run_command(
        ["fairseq-interactive", str(binarized), "--user-dir", USER_DIR, "--path", str(trained_checkpoint),
         "--beam", "3", "--cpu", "--source-lang", "src", "--target-lang", "tgt", "--max-len-b", "8"],
        fairseq_env,
        input="\n".join(lines) + "\n",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    hypotheses = [line for line in done.stdout.splitlines() if line.startswith("H-")]
    assert [int(line.split("\t")[0][2:]) for line in hypotheses] == [0, 1, 2]


def test_training_resumes_from_its_checkpoint(binarized, trained_checkpoint, fairseq_env):
    # fairseq-train reloads checkpoint_last.pt (weights_only) and trains on to 16 updates.
    done = run_command(
        ["fairseq-train", str(binarized), "--user-dir", USER_DIR, "--arch", "ea_transformer_tiny",
         "--optimizer", "adam", "--lr", "0.002", "--max-tokens", "2000", "--max-update", "16",
         "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1",
         "--share-all-embeddings", "--save-dir", str(trained_checkpoint.parent), "--cpu", "--seed", "1",
         "--no-progress-bar", "--log-interval", "4", "--num-workers", "0"],
        fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stderr + done.stdout
    assert "Loaded checkpoint" in log and "num_updates 16" in log


def _batches(indices):
    return data_utils.batch_by_size(indices, lambda i: 4, max_sentences=8, required_batch_size_multiple=8)


def test_last_batch_is_kept_at_evaluation_and_training_batches_stay_as_fairseq_makes_them():
    indices = np.arange(30)
    evaluation = _batches(indices)
    assert np.array_equal(np.concatenate(evaluation), indices)
    training = fairseq_fixes._as_training(_batches)(indices)
    fairseq_own = data_utils.batch_by_size.__wrapped__(
        indices, lambda i: 4, max_sentences=8, required_batch_size_multiple=8
    )
    assert sum(map(len, fairseq_own)) == 24  # the bug being fixed: 6 sentences dropped
    assert [list(b) for b in training] == [list(b) for b in fairseq_own]
    # --rebuild-batches: the train iterator makes each epoch's batches later, lazily.
    iterator = fairseq_fixes._as_training(
        lambda: SimpleNamespace(batch_sampler=lambda dataset, epoch: _batches(indices))
    )()
    assert [list(b) for b in iterator.batch_sampler(None, 2)] == [list(b) for b in fairseq_own]


def test_checkpoint_copies_are_atomic_synced_and_respect_overwrite(tmp_path, monkeypatch):
    from fairseq.file_io import PathManager

    synced = []
    monkeypatch.setattr(fairseq_fixes.os, "fsync", lambda fd: synced.append(fd))
    source, target = tmp_path / "checkpoint3.pt", tmp_path / "checkpoint_last.pt"
    source.write_bytes(b"new")
    target.write_bytes(b"old")
    assert PathManager.copy(str(source), str(target), overwrite=False) is False
    assert target.read_bytes() == b"old" and not synced
    assert PathManager.copy(str(source), str(target), overwrite=True) is True
    assert target.read_bytes() == b"new" and len(synced) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint3.pt", "checkpoint_last.pt"]


HYDRA_CONFIG = """
common: {{cpu: true, seed: 1, user_dir: {user_dir}, no_progress_bar: true}}
task: {{_name: translation, data: {data}}}
model:
  _name: ea_transformer
  encoder: {{embed_dim: 32, ffn_embed_dim: 64, layers: 2, attention_heads: 4}}
  decoder: {{embed_dim: 32, ffn_embed_dim: 64, layers: 3, attention_heads: 4}}
  share_all_embeddings: true
  ea_kernel_size: 5
criterion: {{_name: label_smoothed_cross_entropy, label_smoothing: 0.1}}
optimizer: {{_name: adam}}
lr_scheduler: {{_name: fixed}}
optimization: {{max_update: 4, lr: [0.002]}}
dataset: {{max_tokens: 2000, num_workers: 0}}
checkpoint: {{save_dir: {save_dir}, no_epoch_checkpoints: true}}
"""


def test_fairseq_hydra_train_builds_trains_and_generate_decodes(binarized, tmp_path, fairseq_env):
    (tmp_path / "tiny.yaml").write_text(
        HYDRA_CONFIG.format(user_dir=USER_DIR, data=binarized, save_dir=tmp_path / "checkpoints")
    )
    done = run_command(
        ["fairseq-hydra-train", "--config-dir", str(tmp_path), "--config-name", "tiny"],
        fairseq_env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "num_updates 4" in done.stderr + done.stdout
    checkpoint = tmp_path / "checkpoints" / "checkpoint_last.pt"
    model = read_checkpoint(checkpoint)["cfg"]["model"]
    assert (model["encoder"]["layers"], model["decoder"]["layers"], model["ea_kernel_size"]) == (2, 3, 5)
    weights = read_checkpoint(checkpoint)["model"]
    assert weights["decoder.layers.2.encoder_attn.conv.weight"].shape == (4, 4, 5, 5)
    done = run_command(
        ["fairseq-generate", str(binarized), "--user-dir", USER_DIR, "--path", str(checkpoint),
         "--beam", "2", "--max-len-b", "5", "--cpu", "--batch-size", "128"],
        fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert sum(line.startswith("H-") for line in done.stdout.splitlines()) == FAIRSEQ_TEST_SENTENCES


def test_legacy_arch_command_line_overrides_reach_the_nested_config(binarized, tmp_path, fairseq_env):
    done = run_command(
        ["fairseq-train", str(binarized), "--user-dir", USER_DIR, "--arch", "ea_transformer_tiny",
         "--encoder-layers", "2", "--ea-beta", "0.25", "--optimizer", "adam", "--lr", "0.002",
         "--max-tokens", "2000", "--max-update", "2", "--criterion", "cross_entropy",
         "--share-all-embeddings", "--save-dir", str(tmp_path), "--cpu", "--no-progress-bar",
         "--num-workers", "0"],
        fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    model = read_checkpoint(tmp_path / "checkpoint_last.pt")["cfg"]["model"]
    dimensions = (model["encoder"]["layers"], model["decoder"]["layers"], model["encoder"]["embed_dim"])
    assert dimensions == (2, 3, 64)
    assert model["ea_beta"] == 0.25


def test_the_fixes_warn_of_a_fairseq_they_were_not_written_for():
    assert fairseq_fixes.version_warning(fairseq_fixes.FAIRSEQ_VERSION) is None
    warning = fairseq_fixes.version_warning("0.13.0")
    assert "written for fairseq-fixed 0.12.3.1 (known to work)" in warning and "0.13.0" in warning
