"""The evo-mt command line, through the installed script and through Typer's CliRunner."""

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import EVO_MT, evo_mt, run_command
from test_corpora import iwslt_archive
from typer.testing import CliRunner

from evo_mt.checkpoints import read_checkpoint, saved_updates
from evo_mt.pipeline.recipes import PROJECT_RECIPES, load_recipe
from evo_mt.runtime.base.errors import UserError
from evo_mt_cli.app import app

# An untrained model scores ~0 BLEU on the toy test set. toy_run's budget gave 80.2 when
# calibrated (epochs 1+2 averaged: 8.7; the full recipe: 98.2); a model that learned the
# lexicon but not the agreement or the word order stays well below 50.
MIN_BLEU = 50.0


def test_help_lists_every_command_with_an_example(fairseq_env):
    done = evo_mt("--help", env=fairseq_env)
    assert done.returncode == 0
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert sorted(commands) == sorted(
        ["prepare", "train", "average", "score", "translate", "serve", "export", "compare", "attention",
         "plot", "runs"]
    )
    # bench is a group: one subcommand per measurement.
    assert [group.typer_instance.info.name for group in app.registered_groups] == ["bench"]
    bench = evo_mt("bench", "--help", env=fairseq_env)
    measurements = ["model", "translate", "serve", "quality", "paragraphs", "constraints", "ray"]
    assert bench.returncode == 0 and all(name in bench.stdout for name in measurements)
    for command in [*commands, *(f"bench {name}" for name in measurements)]:
        assert command.split()[0] in done.stdout
        sub = evo_mt(*command.split(), "--help", env=fairseq_env)
        assert sub.returncode == 0 and "Example: evo-mt " + command in sub.stdout.replace("\n", " ")


def test_toy_scores_above_threshold_with_every_sentence(toy_run, fairseq_env):
    done = evo_mt("score", str(toy_run), env=fairseq_env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(next((toy_run / "scores").glob("test.checkpoint_averaged.json")).read_text())
    assert report["hypotheses"] == report["references"] == 500
    assert report["bleu"] > MIN_BLEU, report
    assert report["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert "nc:6" in report["chrf_signature"]
    assert f"BLEU {report['bleu']:.2f}" in done.stdout
    # The averaged checkpoints and their updates: in the report and the line printed.
    averaged_from = [source["checkpoint"] for source in report["averaged_from"]]
    assert averaged_from == ["checkpoint2.pt", "checkpoint3.pt"]
    assert "(checkpoint_averaged.pt = checkpoint2.pt at " in done.stdout
    hypotheses = Path(report["hypotheses_file"]).read_text().splitlines()
    assert len(hypotheses) == 500 and sum(bool(h) for h in hypotheses) > 450


def test_translate_keeps_one_line_per_input_line(toy_run, fairseq_env):
    test_lines = (toy_run / "raw" / "test.en").read_text().splitlines()
    long_line = " ".join(["the"] * 5000)
    lines = [test_lines[0], "", long_line, "  ", test_lines[1]]
    data = ("\n".join(lines) + "\n").encode() + b"invalid \xff\xfe utf-8 here\n"
    done = run_command(
        [EVO_MT, "translate", str(toy_run), "--beam", "2"], fairseq_env, input=data.decode("latin-1")
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.split("\n")[:-1]
    assert len(out) == len(lines) + 1
    assert out[1] == "" and out[3] == "  "  # blank lines come back as they came
    assert out[0] and out[4] and out[5]
    warnings = [line for line in done.stderr.splitlines() if "translated in pieces" in line]
    assert len(warnings) == 1  # said once
    assert len(out[2].split()) > 1000  # the 5,000 words are translated in pieces, not truncated


def test_translate_ten_thousand_lines_from_a_pipe(toy_run, fairseq_env, tmp_path):
    test_lines = (toy_run / "raw" / "test.en").read_text().splitlines()
    lines = [test_lines[i % 50] if i % 7 else "" for i in range(10_000)]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n")
    with open(source, "rb") as stdin:
        done = subprocess.run(
            [EVO_MT, "translate", str(toy_run), "--beam", "1", "--batch-size", "256"],
            stdin=stdin, capture_output=True, env=fairseq_env, timeout=600,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.decode().split("\n")[:-1]
    assert len(out) == 10_000
    # Same input, same output: input order is kept through length-sorted batching.
    assert all((out[i] == "") == (lines[i] == "") for i in range(10_000))
    assert out[1] == out[1 + 50 * 7]


def test_average_is_the_mean_of_the_newest_checkpoints_not_of_stale_update_ones(toy_run, tmp_path):
    # A copy of the toy run, with two update checkpoints from mid-epoch 1 (as a run first
    # trained with --save-interval-updates 20 leaves them): by updates, they are the oldest.
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(toy_run / "recipe.toml", run)
    shutil.copytree(toy_run / "checkpoints", run / "checkpoints", ignore=shutil.ignore_patterns("*_*.pt"))
    stale = read_checkpoint(run / "checkpoints" / "checkpoint1.pt")
    for updates in (20, 40):
        stale["optimizer_history"][-1]["num_updates"] = updates
        torch.save(stale, run / "checkpoints" / f"checkpoint_1_{updates}.pt")
    result = CliRunner().invoke(app, ["average", str(run), "--last", "2"])
    assert result.exit_code == 0, result.output
    updates = [saved_updates(run / "checkpoints" / f"checkpoint{epoch}.pt") for epoch in (2, 3)]
    assert result.output.strip() == (
        f"averaged checkpoint2.pt at {updates[0]} updates + checkpoint3.pt at {updates[1]} updates "
        f"into {run / 'checkpoints' / 'checkpoint_averaged.pt'}"
    )
    averaged = read_checkpoint(run / "checkpoints" / "checkpoint_averaged.pt")
    assert averaged["averaged_from"] == [
        {"checkpoint": "checkpoint2.pt", "updates": updates[0]},
        {"checkpoint": "checkpoint3.pt", "updates": updates[1]},
    ]
    sources = [read_checkpoint(run / "checkpoints" / f"checkpoint{epoch}.pt") for epoch in (2, 3)]
    name = "encoder.layers.1.self_attn.conv.weight"
    expected = (sources[0]["model"][name].double() + sources[1]["model"][name].double()) / 2
    torch.testing.assert_close(averaged["model"][name].double(), expected, rtol=0, atol=1e-7)


def test_user_mistakes_end_in_one_line_errors(toy_run, tmp_path, fairseq_env):
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    shutil.copy(toy_run / "recipe.toml", untrained)
    cases = [
        (["translate", str(untrained)], f"{untrained}: no checkpoint yet; train first (`evo-mt train`)"),
        (
            [
                "prepare",
                "iwslt14",
                "--workdir",
                str(tmp_path / "w"),
                "--source",
                str(tmp_path / "missing.tgz"),
            ],
            "no such file or folder",
        ),
        (["train", "no-such-recipe"], "unknown recipe 'no-such-recipe'"),
        (["translate", str(tmp_path)], "is not a run folder"),
        (["score", str(toy_run), "--split", "nope"], "no prepared 'nope' split"),
        (["translate", str(toy_run), "--device", "cuda"], "--device cuda: no CUDA device"),
        (["average", str(tmp_path)], "is not a run folder"),
    ]
    if torch.cuda.is_available():
        cases = [case for case in cases if "cuda" not in case[0]]
    for args, message in cases:
        done = evo_mt(*args, env=fairseq_env, input="")
        assert done.returncode == 1, (args, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, args
        assert (
            done.stderr.strip().splitlines()[-1] == f"evo-mt: error: {message}" or message in done.stderr
        ), (
            args,
            done.stderr[-500:],
        )


def test_recipe_validation_names_unknown_keys_and_wrong_types(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    base = (PROJECT_RECIPES / "toy" / "recipe.toml").read_text()
    (folder / "recipe.toml").write_text(base.replace("[subwords]", "[subwords]\nvocab_sise = 3"))
    with pytest.raises(UserError, match=r"\[?subwords\]?: unknown key 'vocab_sise'"):
        load_recipe(folder)
    (folder / "recipe.toml").write_text(base.replace("sentences = 12000", 'sentences = "many"'))
    with pytest.raises(UserError, match=r"corpus.sentences must be an integer, not 'many'"):
        load_recipe(folder)
    result = CliRunner().invoke(app, ["prepare", str(folder)])
    assert result.exit_code != 0 and isinstance(result.exception, UserError)


def test_every_project_recipe_loads():
    names = sorted(p.name for p in PROJECT_RECIPES.iterdir() if (p / "recipe.toml").is_file())
    assert "toy" in names
    for name in names:
        assert load_recipe(name).name == name


def test_training_killed_mid_epoch_resumes_to_the_same_number_of_updates(toy_run, tmp_path, fairseq_env):
    run = tmp_path / "run"
    shutil.copytree(toy_run, run, ignore=shutil.ignore_patterns("checkpoints", "scores"))
    budget = [
        "--max-update",
        "30",
        "--max-epoch",
        "0",
        "--save-interval-updates",
        "10",
        "--max-tokens",
        "1024",
    ]
    command = [EVO_MT, "train", str(run / "recipe"), "--workdir", str(run), "--cpu", *budget]
    shutil.copytree(toy_run.parent / "recipe", run / "recipe")
    child = subprocess.Popen(command, env=fairseq_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.time() + 600
    checkpoints = run / "checkpoints"
    # Kill the whole process group (evo-mt and fairseq-train) once an update checkpoint and its
    # copy to checkpoint_last.pt exist (the copy is written, synced and renamed after it).
    while time.time() < deadline and not (
        list(checkpoints.glob("checkpoint_*_10.pt")) and (checkpoints / "checkpoint_last.pt").is_file()
    ):
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    killed_at = saved_updates(run / "checkpoints" / "checkpoint_last.pt")
    assert killed_at < 30
    done = run_command(command, fairseq_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained toy: 30 updates" in done.stderr
    for checkpoint in (run / "checkpoints").glob("*.pt"):
        read_checkpoint(checkpoint)  # none is corrupt


def test_two_process_cpu_training_on_gloo(toy_run, tmp_path, fairseq_env):
    run = tmp_path / "run"
    shutil.copytree(toy_run, run, ignore=shutil.ignore_patterns("checkpoints", "scores"))
    shutil.copytree(toy_run.parent / "recipe", run / "recipe")
    done = evo_mt(
        "train", str(run / "recipe"), "--workdir", str(run), "--cpu", "--nproc-per-node", "2",
        "--master-port", "29617", "--max-update", "6", "--max-epoch", "0",
        env=fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "trained toy: 6 updates" in done.stderr
    state = read_checkpoint(run / "checkpoints" / "checkpoint_last.pt")
    assert state["cfg"]["distributed_training"]["distributed_world_size"] == 2


def test_train_iwslt14_recipe_on_an_archive_in_the_official_layout(tmp_path, fairseq_env):
    archive, kept, test_pairs = iwslt_archive(tmp_path / "de-en.tgz")
    run = tmp_path / "run"
    done = evo_mt(
        "train", "iwslt14", "--source", str(archive), "--workdir", str(run), "--cpu",
        "--max-update", "2", "--max-tokens", "2000",
        env=fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained iwslt14: 2 updates" in done.stderr
    state = read_checkpoint(run / "checkpoints" / "checkpoint_last.pt")
    # fairseq stores the model's dataclass (ea_transformer is registered with one) as plain containers.
    assert state["cfg"]["model"]["_name"] == "ea_transformer_iwslt_de_en"
    raw = run / "raw"
    assert (raw / "test.de").read_text().splitlines() == [de.lower() for de, _ in test_pairs]
    train_valid = len((raw / "train.en").read_text().splitlines()) + len(
        (raw / "valid.en").read_text().splitlines()
    )
    assert train_valid == len(kept)


def test_translate_answers_each_line_at_once_on_a_terminal(toy_run, fairseq_env):
    line = (toy_run / "raw" / "test.en").read_text().splitlines()[0]
    terminal, child_side = pty.openpty()
    child = subprocess.Popen(
        [EVO_MT, "translate", str(toy_run)], stdin=child_side, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=fairseq_env,
    )
    os.close(child_side)
    try:
        os.write(terminal, (line + "\n").encode())
        # The answer comes while the terminal is still open: no waiting for more input.
        ready, _, _ = select.select([child.stdout], [], [], 120)
        assert ready, "no answer to a line typed on a terminal"
        assert child.stdout.readline().strip()
        os.write(terminal, b"\x04")  # Ctrl-D: end of input
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
        os.close(terminal)
