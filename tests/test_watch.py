"""Training you can watch: a progress bar and epoch lines on a terminal, plain lines in a pipe,
fairseq's whole log in train.log, validation BLEU with early stopping, `evo-mt plot` and
`evo-mt runs`."""

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path

import pytest
from conftest import EVO_MT, evo_mt
from matplotlib import pyplot as plt

from evo_mt.checkpoints import read_checkpoint
from evo_mt.evidence.curves import draw
from evo_mt.pipeline.recipes import PROJECT_RECIPES
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.train_log import history

# The toy recipe on 1,000 training sentences (14 updates an epoch), greedy validation BLEU.
SMALL = {"sentences = 12000": "sentences = 1000", "beam = 5": "beam = 1"}
# Epoch 1 learns, epoch 2 has a learning rate of 0: its valid BLEU cannot improve, so
# --patience 1 stops there and the best checkpoint stays epoch 1's.
EARLY_STOP = [
    "--max-epoch", "4", "--eval-bleu", "--best-checkpoint-metric", "bleu",
    "--maximize-best-checkpoint-metric", "--patience", "1", "--lr-scheduler", "fixed",
    "--lr", "0.005,0", "--warmup-updates", "0", "--max-valid-steps", "1", "--log-interval", "2",
]
NOISE = ("Warning", "hydra", "EATransformerModel(", "| INFO |", "tensorboard", "Traceback")
ANSI = re.compile(r"\x1b\[")


@pytest.fixture(scope="module")
def small_recipe(tmp_path_factory) -> Path:
    text = (PROJECT_RECIPES / "toy" / "recipe.toml").read_text()
    for old, new in SMALL.items():
        text = text.replace(old, new)
    folder = tmp_path_factory.mktemp("small-recipe")
    (folder / "recipe.toml").write_text(text)
    return folder


def _on_a_terminal(command, env) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal of 120 columns; (status, terminal text, stdout)."""
    terminal, child_side = pty.openpty()
    fcntl.ioctl(child_side, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    child = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=child_side, env=env
    )
    os.close(child_side)
    seen = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(terminal)
    stdout = child.stdout.read().decode()
    return child.wait(timeout=60), seen.decode(errors="replace"), stdout


@pytest.fixture(scope="module")
def runs_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def watched_run(small_recipe, runs_folder, fairseq_env) -> tuple[Path, str]:
    run = runs_folder / "watched"
    command = [EVO_MT, "train", str(small_recipe), "--workdir", str(run), "--cpu", *EARLY_STOP]
    status, seen, stdout = _on_a_terminal(command, fairseq_env)
    assert status == 0, seen[-3000:]
    assert stdout == ""
    return run, seen


@pytest.fixture(scope="module")
def piped_run(small_recipe, runs_folder, fairseq_env) -> tuple[Path, str]:
    run = runs_folder / "piped"
    done = evo_mt("train", str(small_recipe), "--workdir", str(run), "--cpu", "--max-update", "4",
                  "--log-interval", "2", env=fairseq_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == ""
    return run, done.stderr


def test_a_terminal_shows_a_bar_and_one_line_per_epoch_and_no_noise(watched_run):
    run, seen = watched_run
    lines = [line for line in re.split(r"[\r\n]+", seen) if line.strip()]
    bars = [line for line in lines if re.match(r"epoch 1: +\d+%\|.*\| *\d+/14 \[", ANSI.sub("", line))]
    assert bars and all("loss=" in bar and "lr=" in bar and "wps=" in bar for bar in bars[1:]), lines
    summaries = [line for line in lines if re.match(r"epoch \d: \d+ updates, train loss", line)]
    assert [line.split(":")[0] for line in summaries] == ["epoch 1", "epoch 2"]
    for line in summaries:
        assert "valid loss" in line and "valid BLEU" in line and "saved checkpoint" in line
    assert "best valid BLEU" in summaries[1]
    assert any(line.startswith("stopped early") for line in lines)
    for noise in NOISE:
        assert noise not in seen, noise
    log = run.joinpath("train.log").read_text()
    assert "EATransformerModel(" in log and "| train_inner | {" in log and "| valid | {" in log
    for warning in ("Please install tensorboardX", "UserWarning", "FutureWarning"):
        assert warning not in log, warning
    assert list((run / "tensorboard" / "valid").glob("events.out.tfevents.*"))


def test_validation_bleu_each_epoch_and_early_stop_keeps_the_best_checkpoint(watched_run):
    run, _ = watched_run
    valid = [record for record in history(run / "train.log") if record.tag == "valid"]
    assert [int(record.get("epoch")) for record in valid] == [1, 2]  # --max-epoch 4, stopped after 2
    bleu = [record.get("bleu") for record in valid]
    assert all(value is not None for value in bleu)
    assert bleu[1] <= bleu[0]  # no learning in epoch 2
    checkpoints = run / "checkpoints"
    assert not (checkpoints / "checkpoint3.pt").exists()
    best = read_checkpoint(checkpoints / "checkpoint_best.pt")
    assert best["extra_state"]["best"] == max(bleu)
    # fairseq saves a tie as the new best (>=), and stops early only on no strict improvement.
    best_epoch = max(epoch for epoch, value in enumerate(bleu, start=1) if value == max(bleu))
    epoch_checkpoint = read_checkpoint(checkpoints / f"checkpoint{best_epoch}.pt")
    updates = [state["optimizer_history"][-1]["num_updates"] for state in (best, epoch_checkpoint)]
    assert updates[0] == updates[1] == 14 * best_epoch


def test_a_pipe_gets_plain_lines_only(piped_run):
    run, stderr = piped_run
    assert "\r" not in stderr and not ANSI.search(stderr)
    lines = stderr.splitlines()
    assert any(re.match(r"epoch 1: 4 updates, train loss [\d.]+, valid loss", line) for line in lines), lines
    assert lines[-1].startswith("trained toy: 4 updates")
    for noise in NOISE:
        assert noise not in stderr, noise
    assert "EATransformerModel(" in (run / "train.log").read_text()


def test_plot_draws_one_run_and_two_runs_on_the_same_axes(watched_run, piped_run, tmp_path, fairseq_env):
    (watched, _), (piped, _) = watched_run, piped_run
    figure = draw([Run(watched)])
    loss, bleu, lr = figure.axes
    assert [ax.get_ylabel() for ax in figure.axes] == ["loss", "valid BLEU", "learning rate"]
    train_loss = [line for line in loss.get_lines() if line.get_label() == "watched: train loss"]
    updates = [int(r.updates) for r in history(watched / "train.log") if r.tag == "train_inner"]
    assert list(train_loss[0].get_xdata()) == updates
    valid_bleu = [line for line in bleu.get_lines() if line.get_label() == "watched: valid BLEU"]
    assert len(valid_bleu[0].get_xdata()) == 2
    epoch_marks = [line for line in lr.get_lines() if line.get_linestyle() == ":"]
    assert [line.get_xdata()[0] for line in epoch_marks] == [14, 28]
    plt.close(figure)
    both = draw([Run(watched), Run(piped)])
    assert len(both.axes) == 3
    colours = {line.get_color() for line in both.axes[0].get_lines() if "train loss" in str(line.get_label())}
    assert len(colours) == 2
    plt.close(both)
    output = tmp_path / "curves.png"
    done = evo_mt("plot", str(watched), str(piped), "--output", str(output), env=fairseq_env)
    assert done.returncode == 0, done.stderr
    assert output.read_bytes().startswith(b"\x89PNG")


def test_plot_of_a_run_with_no_records_is_a_one_line_error(small_recipe, tmp_path, fairseq_env):
    run = tmp_path / "untrained"
    run.mkdir()
    (run / "recipe.toml").write_text((small_recipe / "recipe.toml").read_text())
    done = evo_mt("plot", str(run), "--output", str(tmp_path / "x.png"), env=fairseq_env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"evo-mt: error: {run}: no training log yet (train.log); train first (`evo-mt train`)"
    ]
    assert not (tmp_path / "x.png").exists()


def test_runs_lists_each_run_with_its_progress(watched_run, piped_run, runs_folder, fairseq_env):
    done = evo_mt("runs", str(runs_folder), env=fairseq_env)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:4] == ["run", "recipe", "arch", "ea"]
    piped, watched = (row.split() for row in rows)  # by name
    bleu = max(r.get("bleu") for r in history(watched_run[0] / "train.log") if r.tag == "valid")
    # run, recipe, arch, ea options, updates, epochs, best valid loss, best valid BLEU, averaged,
    # latest score
    assert watched[:3] == ["watched", "toy", "ea_transformer_tiny"] and watched[4:6] == ["28", "2"]
    assert watched[7] == f"{bleu:.2f}" and watched[8:] == ["-", "-"]
    assert piped[:2] == ["piped", "toy"] and piped[4] == "4" and piped[7] == "-"
