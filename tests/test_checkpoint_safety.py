"""Checkpoints are loaded with weights_only=True: unsafe or broken files are refused clearly."""

import os

import pytest
import torch
from conftest import USER_DIR, run_command
from fairseq import checkpoint_utils

from evo_mt.checkpoints import CheckpointError, read_checkpoint
from evo_mt.models import fairseq_fixes

# fairseq's own loader is tested as evo-mt's commands run it: with the fixes applied.
fairseq_fixes.apply()


class Payload:
    """Unpickling this runs a shell command: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def malicious(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "malicious.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "args": Payload(marker)}, path)
    return path, marker


def test_payload_is_live_when_safety_is_off(malicious):
    # The control: without weights_only the payload really runs, so the tests below can fail.
    path, marker = malicious
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_malicious_checkpoint_is_refused_and_its_payload_never_runs(malicious):
    path, marker = malicious
    for load in (read_checkpoint, checkpoint_utils.load_checkpoint_to_cpu):
        with pytest.raises(CheckpointError, match=r"refused: it holds posix\.system"):
            load(str(path))
    assert not marker.exists()


def test_fairseq_generate_refuses_a_malicious_checkpoint_clearly(malicious, binarized, fairseq_env):
    path, marker = malicious
    done = run_command(
        ["fairseq-generate", str(binarized), "--user-dir", USER_DIR, "--path", str(path), "--cpu"],
        fairseq_env,
    )
    # fairseq's own command prints its traceback (the plugin replaces no hook); the last line says why.
    assert done.returncode != 0
    assert f"CheckpointError: {path}: refused" in done.stderr.strip().splitlines()[-1]
    assert not marker.exists()


def test_truncated_checkpoint_gives_a_clear_error(trained_checkpoint, binarized, tmp_path, fairseq_env):
    truncated = tmp_path / "truncated.pt"
    data = trained_checkpoint.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    for load in (read_checkpoint, checkpoint_utils.load_checkpoint_to_cpu):
        with pytest.raises(CheckpointError, match="not a complete checkpoint"):
            load(str(truncated))
    done = run_command(
        ["fairseq-generate", str(binarized), "--user-dir", USER_DIR, "--path", str(truncated), "--cpu"],
        fairseq_env,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].endswith(
        f"CheckpointError: {truncated}: not a complete checkpoint (truncated or corrupt)"
    )


def test_real_checkpoint_loads_with_weights_only(trained_checkpoint):
    state = read_checkpoint(trained_checkpoint)
    # fairseq stores the model's dataclass (ea_transformer is registered with one) as plain containers.
    assert state["cfg"]["model"]["_name"] == "ea_transformer_tiny"
    assert any(".conv." in name for name in state["model"])
