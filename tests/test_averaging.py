"""Averaging takes the newest checkpoints by the updates they were saved at, epoch and update
checkpoints together, on hand-made checkpoint folders (no training)."""

import tempfile
from pathlib import Path

import pytest
import torch
from conftest import small_toy_recipe
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from evo_mt.checkpoints import CheckpointError, read_checkpoint
from evo_mt.pipeline.averaging import average_run, newest_checkpoints, saved_checkpoints
from evo_mt.pipeline.run_folder import Run
from evo_mt.pipeline.run_table import summary
from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt_cli.app import app

EPOCH = 145  # updates in an epoch of the hand-made runs, as in the small toy run


def save(folder: Path, name: str, updates: int | None) -> None:
    """A tiny checkpoint as fairseq-train writes one, its one weight equal to its update count
    (so that an average tells which checkpoints went into it)."""
    state = {
        "model": {"w": torch.full((2,), float(updates or 0))},
        "extra_state": {"train_iterator": {"epoch": 1, "iterations_in_epoch": 0}},
        "last_optimizer_state": {"state": {}},
    }
    if updates is not None:
        state["optimizer_history"] = [{"optimizer_name": "FairseqAdam", "num_updates": updates}]
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / name)


def make_run(root: Path, epochs: int = 0, updates: tuple = ()) -> Run:
    """A run folder (the small toy recipe) with epoch checkpoints 1..`epochs` (EPOCH updates
    each) and update checkpoints at `updates`."""
    small_toy_recipe(root)
    run = Run(root)
    for epoch in range(1, epochs + 1):
        save(run.checkpoints, f"checkpoint{epoch}.pt", epoch * EPOCH)
    for count in updates:
        save(run.checkpoints, f"checkpoint_{(count - 1) // EPOCH + 1}_{count}.pt", count)
    return run


def averaged_weight(run: Run) -> float:
    return read_checkpoint(run.averaged)["model"]["w"][0].item()


def names(averaged) -> list:
    return [source.path.name for source in averaged.sources]


def test_stale_update_checkpoints_of_a_resumed_run_lose_to_its_later_epochs(tmp_path):
    # Trained with --save-interval-updates 20 for 40 updates, then resumed without it.
    run = make_run(tmp_path / "run", epochs=3, updates=(20, 40))
    result = CliRunner().invoke(app, ["average", str(run.root), "--last", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"averaged checkpoint2.pt at 290 updates + checkpoint3.pt at 435 updates into {run.averaged}"
    )
    assert averaged_weight(run) == (290 + 435) / 2
    assert read_checkpoint(run.averaged)["averaged_from"] == [
        {"checkpoint": "checkpoint2.pt", "updates": 290}, {"checkpoint": "checkpoint3.pt", "updates": 435},
    ]


def test_stale_update_checkpoints_chosen_by_kind_are_said_to_be_behind(tmp_path):
    run = make_run(tmp_path / "run", epochs=3, updates=(20, 40))
    averaged = average_run(run, 2, kind="update")
    assert names(averaged) == ["checkpoint_1_20.pt", "checkpoint_1_40.pt"]
    assert averaged.cautions == [
        "behind the newest checkpoint: checkpoint3.pt at 435 updates is 395 updates after "
        "checkpoint_1_40.pt, more than 1.5 epochs of about 145 updates"
    ]
    assert "; behind the newest checkpoint: checkpoint3.pt at 435 updates" in averaged.line()


def test_mixed_kinds_are_said_and_kind_picks_one(tmp_path):
    run = make_run(tmp_path / "run", epochs=3, updates=(340, 360, 380))
    averaged = average_run(run, 2)
    assert names(averaged) == ["checkpoint_3_380.pt", "checkpoint3.pt"]
    assert averaged.cautions == [
        "mixed kinds: epoch and update checkpoints (--kind epoch|update averages one kind)"
    ]
    epochs = average_run(run, 2, kind="epoch")
    assert (names(epochs), epochs.cautions) == (["checkpoint2.pt", "checkpoint3.pt"], [])
    assert averaged_weight(run) == (290 + 435) / 2
    updates = average_run(run, 3, kind="update")  # checkpoint3.pt is 55 updates later: not far
    assert (names(updates), updates.cautions) == (
        ["checkpoint_3_340.pt", "checkpoint_3_360.pt", "checkpoint_3_380.pt"], []
    )


def test_an_update_checkpoint_at_the_end_of_an_epoch_is_not_averaged_with_itself(tmp_path):
    run = make_run(tmp_path / "run", epochs=3, updates=(400, 435))
    averaged = average_run(run, 2)
    assert names(averaged) == ["checkpoint_3_400.pt", "checkpoint3.pt"]
    assert averaged_weight(run) == (400 + 435) / 2
    with pytest.raises(OptionError, match=r"last 5: .* holds only 4 epoch or update checkpoints"):
        average_run(run, 5)  # five files, four states


def test_keep_interval_updates_leaving_few(tmp_path):
    # --no-epoch-checkpoints --keep-interval-updates 2: two update checkpoints are left.
    run = make_run(tmp_path / "run", updates=(400, 420))
    with pytest.raises(OptionError, match=r"last 3: .* holds only 2 update checkpoints to average"):
        average_run(run, 3, kind="update")
    averaged = average_run(run)  # the recipe's average_last is 2
    assert (names(averaged), averaged.cautions) == (["checkpoint_3_400.pt", "checkpoint_3_420.pt"], [])
    # With epoch checkpoints as well, the newest three are of both kinds.
    for epoch in (1, 2, 3):
        save(run.checkpoints, f"checkpoint{epoch}.pt", epoch * EPOCH)
    assert names(average_run(run, 3)) == ["checkpoint_3_400.pt", "checkpoint_3_420.pt", "checkpoint3.pt"]


def test_epoch_checkpoints_far_apart_are_said(tmp_path):
    run = make_run(tmp_path / "run", epochs=4)
    (run.checkpoints / "checkpoint2.pt").unlink()
    (run.checkpoints / "checkpoint3.pt").unlink()
    averaged = average_run(run, 2)
    assert names(averaged) == ["checkpoint1.pt", "checkpoint4.pt"]
    assert averaged.cautions == [
        "far apart: checkpoint4.pt at 580 updates is 435 updates after checkpoint1.pt, "
        "more than 1.5 epochs of about 145 updates"
    ]


def test_a_folder_without_states_to_average_is_refused_in_one_line(tmp_path):
    run = make_run(tmp_path / "run")
    with pytest.raises(UserError, match="no epoch or update checkpoints to average; train first"):
        average_run(run)
    save(run.checkpoints, "checkpoint1.pt", None)
    with pytest.raises(CheckpointError, match=r"checkpoint1\.pt: no update count in it"):
        average_run(run)
    save(run.checkpoints, "checkpoint1.pt", EPOCH)
    with pytest.raises(UserError, match="no update checkpoints to average"):
        average_run(run, kind="update")
    with pytest.raises(OptionError, match="kind must be one of any, epoch, update, not 'newest'"):
        average_run(run, kind="newest")


def test_the_table_of_runs_names_the_averaged_checkpoints_and_their_updates(tmp_path):
    run = make_run(tmp_path / "run", epochs=3, updates=(20, 40))
    assert summary(run)["averaged"] == "-"
    average_run(run, 2)
    assert summary(run)["averaged"] == "checkpoint2.pt at 290 updates + checkpoint3.pt at 435 updates"
    # An average written before the update counts were kept names its checkpoints only.
    state = read_checkpoint(run.averaged)
    state["averaged_from"] = ["checkpoint2.pt", "checkpoint3.pt"]
    torch.save(state, run.averaged)
    assert summary(run)["averaged"] == "checkpoint2.pt + checkpoint3.pt"


# A folder as a run leaves it: epoch checkpoints every `epoch` updates, update checkpoints at
# any count (one at the end of an epoch, now and then), some of either deleted.
folders = st.integers(10, 60).flatmap(
    lambda epoch: st.tuples(
        st.just(epoch),
        st.sets(st.integers(1, 5)),
        st.sets(st.integers(1, 5 * epoch), max_size=8),
    )
)


@given(folder=folders, count=st.integers(1, 6), kind=st.sampled_from(["any", "epoch", "update"]))
def test_the_checkpoints_averaged_are_the_newest_by_updates(folder, count, kind):
    epoch, epochs, updates = folder
    with tempfile.TemporaryDirectory() as scratch:
        checkpoints = Path(scratch)
        for number in epochs:
            save(checkpoints, f"checkpoint{number}.pt", number * epoch)
        for number in updates:
            save(checkpoints, f"checkpoint_{(number - 1) // epoch + 1}_{number}.pt", number)
        saved = saved_checkpoints(checkpoints)
        chosen = newest_checkpoints(saved, count, kind)
    at_epochs = {number * epoch for number in epochs}
    counts = {"epoch": at_epochs, "update": set(updates), "any": at_epochs | set(updates)}[kind]
    assert [checkpoint.updates for checkpoint in chosen] == sorted(counts)[-count:]
    assert all(kind in ("any", checkpoint.kind) for checkpoint in chosen)
    if kind == "any":  # one state in two files: the epoch checkpoint is the one averaged
        assert all(checkpoint.kind == "epoch" for checkpoint in chosen if checkpoint.updates in at_epochs)
