"""One `prepare` or `train` per run folder; a killed holder never blocks the next run."""

import os
import signal
import subprocess
import sys

import pytest
from conftest import evo_mt

from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.run_lock import holding
from evo_mt.runtime.base.errors import UserError

HOLDER = """
import sys, time
from pathlib import Path
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.run_lock import holding
with holding(Run(Path(sys.argv[1]))):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding tmp_path/run."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline() == "held\n"
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_folder_in_use_is_refused_at_once_naming_the_process(tmp_path, holder):
    with pytest.raises(UserError, match=rf"{tmp_path / 'run'} is in use by process {holder.pid} "):
        with holding(Run(tmp_path / "run")):
            pass


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path, holder):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with holding(Run(tmp_path / "run")):
        with holding(Run(tmp_path / "run")):  # nested holds in one process: train prepares first
            pass


def test_evo_mt_prepare_on_a_folder_in_use_exits_with_one_line(tmp_path, holder, fairseq_env):
    done = evo_mt("prepare", "toy", "--workdir", str(tmp_path / "run"), env=fairseq_env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"evo-mt: error: {tmp_path / 'run'} is in use by process {holder.pid} (-c {tmp_path / 'run'}); "
        "wait for it to end"
    ]
    assert not (tmp_path / "run" / "raw").exists()
