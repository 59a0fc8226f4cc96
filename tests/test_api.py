"""The Python API (`import evo_mt`), the layers it is built of, and `--checkpoint` everywhere."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EVO_MT, USER_DIR, evo_mt, run_command

import evo_mt as library
from evo_mt.runtime.base.errors import OptionError, UserError


def _loaded_modules(code: str, env: dict) -> list:
    listing = "\nimport sys; print(' '.join(sorted(sys.modules)))"
    done = run_command([sys.executable, "-c", code + listing], env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_importing_the_package_loads_neither_fairseq_nor_the_library(fairseq_env):
    loaded = _loaded_modules("import evo_mt", fairseq_env)
    assert [m for m in loaded if m.startswith(("evo_mt", "fairseq", "torch"))] == ["evo_mt"]
    # The evolving-attention maths and checkpoint loading need torch only, never fairseq.
    loaded = _loaded_modules("import evo_mt.evolving_maths, evo_mt.checkpoints", fairseq_env)
    assert not [m for m in loaded if m.startswith("fairseq")]


def test_fairseq_user_dir_registers_the_model_from_models_and_loads_no_library(fairseq_env):
    code = (
        "from argparse import Namespace\n"
        "from fairseq import utils\n"
        f"utils.import_user_module(Namespace(user_dir={USER_DIR!r}))\n"
        "from fairseq.models import ARCH_MODEL_REGISTRY\n"
        "assert 'ea_transformer_tiny' in ARCH_MODEL_REGISTRY\n"
    )
    loaded = _loaded_modules(code, fairseq_env)
    assert "evo_mt.models.ea_transformer" in loaded
    assert not [m for m in loaded if m.startswith(("evo_mt.pipeline", "evo_mt.evidence", "evo_mt_cli"))]


PLUGIN_SIDE_EFFECTS = (
    "import sys\n"
    "from fairseq.data import data_utils\n"
    "from fairseq import checkpoint_utils\n"
    "before = (sys.excepthook, data_utils.batch_by_size, checkpoint_utils.load_checkpoint_to_cpu)\n"
    "import evo_mt, evo_mt.models\n"
    "after = (sys.excepthook, data_utils.batch_by_size, checkpoint_utils.load_checkpoint_to_cpu)\n"
    "print(sys.excepthook is sys.__excepthook__, before == after)\n"
)


def test_importing_the_plugin_registers_and_changes_nothing_else(fairseq_env):
    env = {k: v for k, v in fairseq_env.items() if k != "EVO_MT_FAIRSEQ_FIXES"}
    for opt_in, changed in (({}, "True"), ({"EVO_MT_FAIRSEQ_FIXES": "1"}, "False")):
        command = [sys.executable, "-c", PLUGIN_SIDE_EFFECTS]
        done = subprocess.run(command, env={**env, **opt_in}, capture_output=True, text=True)
        # No hook replaced either way; fairseq's functions wrapped only when asked for.
        assert done.stdout.split() == ["True", changed], done.stderr[-2000:]


def test_every_public_name_resolves():
    for name in library.__all__:
        assert getattr(library, name) is not None, name
    with pytest.raises(AttributeError):
        library.no_such_name  # noqa: B018


def test_translator_from_python_equals_the_command_line(toy_run, fairseq_env):
    lines = library.Run(toy_run).text("test", "en").read_text().splitlines()[:4] + [""]
    translator = library.Translator.load(toy_run, beam=2, nbest=2)
    from_python = translator.translate(lines)
    done = run_command(
        [EVO_MT, "translate", str(toy_run), "--beam", "2", "--nbest", "2"],
        fairseq_env,
        input="\n".join(lines) + "\n",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert ["\t".join(hypotheses) for hypotheses in from_python] == done.stdout.splitlines()
    assert from_python[-1] == ["", ""]
    scores = library.score_lines([h[0] for h in from_python[:4]], [h[0] for h in from_python[:4]])
    assert scores["bleu"] == 100.0 and scores["hypotheses"] == scores["references"] == 4
    with pytest.raises(UserError, match="4 hypotheses for 3 references"):
        library.score_lines(["a"] * 4, ["a"] * 3)


def test_library_errors_name_parameters_and_the_command_line_names_flags(toy_run, fairseq_env):
    with pytest.raises(OptionError, match=r"^nbest \(3\) must lie between 1 and the beam size \(2\)$"):
        library.Translator.load(toy_run, beam=2, nbest=3)
    with pytest.raises(OptionError, match="^last must be at least 1"):
        library.average_run(library.Run(toy_run), last=0)
    done = evo_mt("translate", str(toy_run), "--beam", "2", "--nbest", "3", env=fairseq_env, input="")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "evo-mt: error: --nbest (3) must lie between 1 and the beam size (2)"
    )


def test_checkpoint_is_a_file_or_a_name_in_the_run_for_every_command(toy_run, tmp_path, fairseq_env):
    run = library.Run(toy_run)
    assert run.checkpoint() == run.averaged
    assert run.checkpoint("checkpoint2.pt") == run.checkpoints / "checkpoint2.pt"
    assert run.checkpoint(run.checkpoints / "checkpoint3.pt") == run.checkpoints / "checkpoint3.pt"
    with pytest.raises(UserError, match="nope.pt: no such checkpoint"):
        run.checkpoint("nope.pt")
    sentence = run.text("test", "en").read_text().splitlines()[0]
    for command in (
        ["score", str(toy_run), "--split", "valid", "--beam", "1"],
        ["attention", str(toy_run), sentence, "--output", str(tmp_path / "a.png")],
    ):
        done = evo_mt(*command, "--checkpoint", "checkpoint2.pt", env=fairseq_env)
        assert done.returncode == 0, (command, done.stderr[-2000:])
        done = evo_mt(*command, "--checkpoint", "nope.pt", env=fairseq_env)
        assert done.returncode == 1 and "nope.pt: no such checkpoint" in done.stderr.splitlines()[-1]
    assert (toy_run / "scores" / "valid.checkpoint2.json").is_file()
    # compare reads the hypotheses score wrote for that checkpoint.
    compare = ["compare", str(toy_run), str(toy_run), "--split", "valid"]
    done = evo_mt(*compare, "--checkpoint", "checkpoint2.pt", env=fairseq_env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "500 hypotheses per system, 500 references" in done.stdout
    done = evo_mt(*compare, "--checkpoint", "nope.pt", env=fairseq_env)
    assert done.returncode == 1 and "nope.pt: no such checkpoint" in done.stderr.splitlines()[-1]


def test_no_module_of_the_project_spells_a_run_folder_name_but_the_run_folder():
    names = ['"checkpoint_averaged.pt"', '"checkpoint_last.pt"', '"checkpoint_best.pt"', '"data-bin"']
    found = subprocess.run(
        ["grep", "-rlF", "--include=*.py", *[f"-e{n}" for n in names], "evo_mt", "cli"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout.split()
    assert found == ["evo_mt/pipeline/run_folder.py"]
