"""`evo-mt translate RUN` on the run's export cached in the run folder: the lean engine's
translations, exported once per checkpoint content, never half-written."""

import shutil
import sys

import pytest
from conftest import evo_mt, run_command
from test_export import BLOCKED, toy_lines

from evo_mt.export import run_cache
from evo_mt.export.run_cache import CACHE, cached_export
from evo_mt.runtime.base.files import digest as sha256
from evo_mt.runtime.model.folder import DECODER, open_folder


@pytest.fixture()
def own_run(toy_run, tmp_path):
    """A copy of the toy run, without any export cached in it yet."""
    run = tmp_path / "run"
    shutil.copytree(toy_run, run, ignore=shutil.ignore_patterns(CACHE, "tensorboard"))
    return run


def test_translate_run_uses_its_cached_export_and_equals_the_lean_engine(own_run, fairseq_env):
    lines = toy_lines(own_run, 40) + ["", "an unknown w0rd"]
    text = "\n".join(lines) + "\n"
    lean = evo_mt("translate", str(own_run), "--engine", "lean", "--nbest", "2", env=fairseq_env, input=text)
    first = evo_mt("translate", str(own_run), "--nbest", "2", env=fairseq_env, input=text)
    assert lean.returncode == 0 and first.returncode == 0, first.stderr[-2000:]
    assert first.stdout == lean.stdout and len(first.stdout.splitlines()) == len(lines)
    (folder,) = [path for path in (own_run / CACHE).iterdir() if path.is_dir()]
    assert open_folder(folder).manifest["checkpoint"]["sha256"] == sha256(
        own_run / "checkpoints" / "checkpoint_averaged.pt"
    )
    # Once exported, the run translates without torch or fairseq.
    command = [sys.executable, "-c", BLOCKED, "from evo_mt_cli.app import main; main()"]
    again = run_command([*command, "translate", str(own_run), "--nbest", "2"], fairseq_env, input=text)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout == lean.stdout


def test_the_export_is_redone_when_the_checkpoint_changes_and_only_then(own_run):
    checkpoint = own_run / "checkpoints" / "checkpoint_averaged.pt"
    folder = cached_export(own_run)
    made = (folder / DECODER).stat().st_mtime_ns
    assert cached_export(own_run) == folder and (folder / DECODER).stat().st_mtime_ns == made
    checkpoint.touch()  # a new time, the same content: hashed again, not exported again
    assert cached_export(own_run) == folder and (folder / DECODER).stat().st_mtime_ns == made
    shutil.copyfile(own_run / "checkpoints" / "checkpoint2.pt", checkpoint)
    renewed = cached_export(own_run)
    assert renewed != folder and not folder.exists()
    assert open_folder(renewed).manifest["checkpoint"]["sha256"] == sha256(checkpoint)
    assert sorted(path.name for path in (own_run / CACHE).iterdir()) == sorted(
        [renewed.name, "checkpoint_averaged.json"]
    )


def test_an_interrupted_export_leaves_nothing_and_a_damaged_one_is_redone(own_run, monkeypatch):
    from evo_mt.export import exporter

    real_optimize = exporter._optimize

    def interrupted(folder):  # the last step of an export, its graphs all written
        real_optimize(folder)
        raise KeyboardInterrupt

    monkeypatch.setattr(exporter, "_optimize", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cached_export(own_run)
    assert [path.name for path in (own_run / CACHE).iterdir()] == ["checkpoint_averaged.json"]
    monkeypatch.setattr(exporter, "_optimize", real_optimize)
    folder = cached_export(own_run)
    (folder / DECODER).write_bytes(b"damaged")
    assert cached_export(own_run) == folder
    assert open_folder(folder).manifest["files"][DECODER]["bytes"] == (folder / DECODER).stat().st_size


def test_a_read_only_run_and_a_gpu_use_the_lean_engine(own_run, monkeypatch):
    assert run_cache.default_engine(own_run, None) == "onnx"
    assert run_cache.default_engine(own_run, "cuda") == "lean"
    monkeypatch.setattr(run_cache.os, "access", lambda path, mode: False)
    assert run_cache.default_engine(own_run, "cpu") == "lean"


def test_a_run_that_cannot_hold_its_export_is_refused_in_one_line(own_run, fairseq_env):
    (own_run / CACHE).write_text("a file where the export folder goes")
    done = evo_mt("translate", str(own_run), "--engine", "onnx", env=fairseq_env, input="x\n")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().endswith("translate with --engine lean"), done.stderr
