"""Each user mistake ends in one line naming the path or option and a non-zero exit; numeric
options are checked while parsing (property-based); the help names values plainly."""

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import EVO_MT
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from evo_mt import __version__
from evo_mt.pipeline.decoding_defaults import decoding_settings
from evo_mt.pipeline.prepare import encode
from evo_mt.pipeline.recipes import load_recipe
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.translation import Translator
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.base.lines import read_lines
from evo_mt.runtime.search.decoding import DecodingSettings
from evo_mt_cli.app import app, main
from evo_mt_cli.bench import bench_app

runner = CliRunner()


def cli(monkeypatch, capsys, *args: str, stdin: bytes = b"") -> tuple:
    """evo-mt in this process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["evo-mt", *args])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    with pytest.raises(SystemExit) as exit:
        main()
    out = capsys.readouterr()
    return exit.value.code, out.out, out.err


def one_line_error(monkeypatch, capsys, *args: str) -> str:
    status, _, err = cli(monkeypatch, capsys, *args)
    assert status == 1 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("evo-mt: error: "), err
    return lines[-1][len("evo-mt: error: ") :]


@given(
    st.sampled_from(["translate --batch-size", "translate --nbest", "translate --beam", "score --beam",
                     "score --batch-size", "serve --beam", "average --last"]),
    st.integers(min_value=-(10**6), max_value=10**6),
)
def test_numeric_options_are_checked_while_parsing(tmp_path, command, value):
    name, option = command.split()
    result = runner.invoke(app, [name, str(tmp_path / "nope"), option, str(value)])
    if value < 1:
        assert result.exit_code == 2 and option in result.output
    else:  # accepted: the missing run folder is what stops it
        assert isinstance(result.exception, UserError) and "no such run folder" in str(result.exception)


@given(
    st.sampled_from(["--max-lines", "--max-chars", "--max-body-bytes", "--max-beam", "--max-queued-sentences",
                     "--batch-size", "--max-tokens"]),
    st.integers(min_value=-1000, max_value=1000),
)
def test_serve_limits_are_checked_before_anything_loads(tmp_path, option, value):
    result = runner.invoke(app, ["serve", str(tmp_path / "nope"), option, str(value), "--beam", "1"])
    if value < 1:
        assert isinstance(result.exception, OptionError)
        assert result.exception.option == option[2:].replace("-", "_")
    else:
        assert isinstance(result.exception, UserError) and "no such run folder" in str(result.exception)


def test_mistakes_with_paths_are_named(monkeypatch, capsys, tmp_path):
    (tmp_path / "file").write_text("x\n")
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    (tmp_path / "hyp").write_text("a\n")
    (tmp_path / "text.pt").write_text("not a checkpoint\n")
    missing = tmp_path / "missing"
    cases = [
        (["score", str(missing)], f"{missing}: no such run folder"),
        (["average", str(missing)], f"{missing}: no such run folder"),
        (["translate", str(missing)], f"{missing}: no such run folder or checkpoint"),
        (["prepare", str(missing)], f"{missing}: no such recipe folder"),
        (["prepare", "toy", "--workdir", str(tmp_path / "file")], "exists and is not a folder"),
        (["prepare", "toy", "--workdir", "/sys/evo-mt-run"], "/sys/evo-mt-run: cannot create the folder"),
        (["compare", str(tmp_path / "hyp"), str(tmp_path / "hyp"), "--references", str(missing)],
         f"{missing}: no such file"),
        (["compare", str(tmp_path / "hyp"), str(tmp_path / "hyp"), "--references", str(tmp_path)],
         f"{tmp_path}: a folder, not a text file"),
        (["compare", str(tmp_path / "hyp"), str(tmp_path / "hyp"), "--references",
          str(tmp_path / "latin1.txt")],
         f"{tmp_path / 'latin1.txt'}: not UTF-8 text (byte 0xe9 on line 1); convert it to UTF-8"),
        (["compare", str(tmp_path / "hyp"), str(tmp_path / "hyp"), "--references", str(tmp_path / "hyp"),
          "--json", str(tmp_path / "typo" / "out.json")], f"{tmp_path / 'typo'}: no such folder"),
    ]
    for args, expected in cases:
        assert expected in one_line_error(monkeypatch, capsys, *args), args
    assert not (tmp_path / "typo").exists()


def test_usage_mistakes_are_one_line_errors_with_status_2(monkeypatch, capsys, tmp_path):
    cases = [
        (["translate", str(tmp_path), "--batch-size", "0"], "Invalid value for '--batch-size'", "translate"),
        (["translate"], "Missing argument 'MODELS...'", "translate"),
        (["bench", "model", "--sise", "3"], "No such option: --sise", "bench model"),
        (["nonsense"], "No such command 'nonsense'", ""),
    ]
    for args, expected, command in cases:
        status, out, err = cli(monkeypatch, capsys, *args)
        assert status == 2 and out == "", (args, err)
        assert err.count("\n") == 1 and err.startswith(f"evo-mt: error: {expected}"), err
        assert err.rstrip().endswith(f"(see: {' '.join(['evo-mt', command]).strip()} --help)"), err


def test_version_and_plain_help(monkeypatch, capsys):
    assert cli(monkeypatch, capsys, "--version")[:2] == (0, f"evo-mt {__version__}\n")
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    measurements = [f"bench {c.callback.__name__}" for c in bench_app.registered_commands]
    for command in ["", "bench", *commands, *measurements]:
        result = runner.invoke(app, [*command.split(), "--help"], terminal_width=100)
        assert result.exit_code == 0
        assert not re.search(r"<(bool|str|int|float|path|list)|\{[a-z_]+\}", result.output), result.output
    for info in [*app.registered_commands, *bench_app.registered_commands]:  # one sentence on one line
        summary = info.callback.__doc__.strip().split("\n\n")[0]
        assert "\n" not in summary and summary.endswith("."), summary


def _small_copy(toy_run: Path, root: Path) -> Path:
    """A run folder with the toy run's data and averaged checkpoint; the test split cut to 30 lines."""
    run = root / "run"
    for folder in ("sentencepiece", "data-bin"):
        shutil.copytree(toy_run / folder, run / folder)
    (run / "raw").mkdir()
    for split in ("train", "valid", "test"):
        for lang in ("en", "de"):
            lines = (toy_run / "raw" / f"{split}.{lang}").read_text().split("\n")[:30]
            (run / "raw" / f"{split}.{lang}").write_text("\n".join(lines) + "\n")
    (run / "checkpoints").mkdir()
    shutil.copy(toy_run / "checkpoints" / "checkpoint_averaged.pt", run / "checkpoints")
    (run / "recipe.toml").write_text((toy_run / "recipe.toml").read_text())
    return run


def test_translate_serve_and_score_decode_alike(toy_run, tmp_path, fairseq_env):
    run = _small_copy(toy_run, tmp_path)
    text = (run / "recipe.toml").read_text()
    (run / "recipe.toml").write_text(re.sub(r"beam = \d+\nlenpen = [\d.]+", "beam = 2\nlenpen = 0.6", text))
    assert decoding_settings(run) == DecodingSettings(beam=2, lenpen=0.6)
    assert decoding_settings(run / "checkpoints" / "checkpoint_averaged.pt", beam=3).beam == 3
    done = subprocess.run([EVO_MT, "score", str(run)], env=fairseq_env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "beam 2" in done.stdout
    hypotheses = read_lines(run / "scores" / "test.checkpoint_averaged.hyp")
    done = subprocess.run([EVO_MT, "translate", str(run)], env=fairseq_env, capture_output=True, text=True,
                          stdin=open(run / "raw" / "test.en"))
    assert done.returncode == 0 and done.stdout.split("\n")[:-1] == hypotheses


def test_translate_into_a_full_disk_and_another_runs_checkpoint(toy_run, tmp_path, fairseq_env):
    with open("/dev/full", "w") as full:
        done = subprocess.run([EVO_MT, "translate", str(toy_run)], env=fairseq_env, input="the red house .\n",
                              stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "evo-mt: error: standard output: cannot write the translations: No space left on device"
    ]
    run = _small_copy(toy_run, tmp_path)
    state = torch.load(run / "checkpoints" / "checkpoint_averaged.pt", weights_only=False)
    state["cfg"]["task"].update(source_lang="fr", target_lang="es")
    other = run / "checkpoints" / "fr-es.pt"
    torch.save(state, other)
    (run / "checkpoints" / "text.pt").write_text("a text file\n")
    cases = [
        (["--engine", "fairseq"], f"{other}: needs {run / 'data-bin' / 'dict.fr.txt'}, which is not there"),
        ([], f"{other}: a fr-es model, but {run / 'data-bin'} holds dictionaries of de, en"),
    ]
    for options, message in cases:
        done = subprocess.run([EVO_MT, "translate", str(other), *options], env=fairseq_env, input="",
                              capture_output=True, text=True)
        assert done.returncode == 1 and message in done.stderr.strip().splitlines()[-1], done.stderr[-2000:]
    done = subprocess.run([EVO_MT, "translate", str(run / "checkpoints" / "text.pt")], env=fairseq_env,
                          input="", capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1].endswith("not a checkpoint (not a file saved by PyTorch)")


SEPARATORS = ["\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\r"]


def test_separators_inside_lines_keep_corpora_and_translations_aligned(toy_run, tmp_path):
    run = Run(_small_copy(toy_run, tmp_path))
    for path in (run.raw).iterdir():
        lines = read_lines(path)
        marked = [
            f"{line[:5]}{SEPARATORS[i % 6]}{line[5:]}" if i % 7 == 0 else line for i, line in enumerate(lines)
        ]
        path.write_text("".join(line + "\n" for line in marked), encoding="utf-8")
    (tmp_path / "encoded").mkdir()
    encode(load_recipe(run.root), run, tmp_path / "encoded")
    for path in run.raw.iterdir():
        assert len(read_lines(tmp_path / "encoded" / path.name)) == len(read_lines(path)) == 30
    # Translated together or alone, the unmarked lines give the same translations: nothing shifted.
    lines = read_lines(run.text("test", "en"))
    translator = Translator.load(run.root, beam=2, device="cpu")
    together = translator.translate(lines)
    plain = [i for i in range(len(lines)) if i % 7]
    assert len(together) == len(lines)
    assert [together[i] for i in plain] == translator.translate([lines[i] for i in plain])


def test_constraint_and_glossary_mistakes_end_in_one_line(monkeypatch, capsys, toy_run, tmp_path):
    source = "yesterday the rimo tenenulu malas the vamana sasesafo ."
    cases = [
        ([], f"{source}\theute\n{source}\theute\t \n", "line 2: constraint 2 is empty"),
        ([], f"{source}\t\u216b\n", "line 1: constraint '\u216b' cannot be encoded: the model's target"),
        (["--beam", "2"], f"{source}\theute\tder\n", "line 1: 2 constraints are more than beam 2 can carry"),
        (["--mid-word"], f"{source}\t\t\n", "line 1: constraint 1 is empty"),
    ]
    for options, text, message in cases:
        status, out, err = cli(
            monkeypatch, capsys, "translate", str(toy_run), "--constraints", *options, stdin=text.encode()
        )
        assert status == 1 and out == "" and "Traceback" not in err, err
        assert err.strip().splitlines()[-1].startswith(f"evo-mt: error: {message}"), err
    glossary = tmp_path / "terms.tsv"
    for content, message in [
        ("# terms\nyesterday\theute\nthe rimo\n", f"{glossary}:3: not 'source term<TAB>target term' (1 tab-"),
        ("yesterday\t \n", f"{glossary}:1: an empty target term"),
        ("yesterday\theute\nYesterday\tgestern\n", f"{glossary}:2: 'Yesterday' already has the target"),
    ]:
        glossary.write_text(content)
        status, out, err = cli(monkeypatch, capsys, "translate", str(toy_run), "--glossary", str(glossary),
                               stdin=f"{source}\n".encode())
        assert status == 1 and out == "" and "Traceback" not in err, err
        assert err.strip().splitlines()[-1].startswith(f"evo-mt: error: {message}"), err
    missing = tmp_path / "none.tsv"
    status, _, err = cli(monkeypatch, capsys, "translate", str(toy_run), "--glossary", str(missing))
    assert status == 1 and err.strip().splitlines()[-1] == f"evo-mt: error: {missing}: no such file"
