"""`evo-mt translate`'s quick parse reads its arguments as Typer does, or leaves them to Typer."""

import typer.main
from hypothesis import given
from hypothesis import strategies as st

from evo_mt_cli.app import app, translate
from evo_mt_cli.quick_parse import parse

COMMAND = typer.main.get_command(app).commands["translate"]
WORDS = [
    "--beam", "--batch-size", "--nbest", "--lenpen", "--workers", "--threads", "--input", "--output",
    "--format", "--shard-id", "--num-shards", "--ray-address", "--glossary", "--engine", "--device",
    "--split", "--no-split", "--json", "--constraints", "--mid-word", "--ray", "--help", "--bogus",
    "--source", "--target", "--alignment", "auto", "de",
    "markdown", "text", "0", "1", "3", "-2", "1.5", "x", "file.txt", "--beam=4", "--lenpen=0.5", "--",
]


def typer_parse(args):
    """What Typer gives the command, or None where it refuses the arguments or shows help."""
    try:
        return COMMAND.make_context("translate", list(args)).params
    except Exception:
        return None


@given(st.lists(st.sampled_from(WORDS), max_size=8))
def test_the_quick_parse_agrees_with_typer_or_defers(words):
    args = ["toy-model", *words]
    quick = parse(translate, args)
    if quick is not None:
        assert quick == typer_parse(args)


def test_common_command_lines_are_parsed_quickly():
    for args in (
        ["toy-model"], ["toy-model", "--beam", "3", "--json", "--no-split", "--input", "in.txt"],
        ["en-de", "de-fr", "--source", "auto", "--target", "fr"],
    ):
        assert parse(translate, args) == typer_parse(args)
    assert parse(translate, ["toy-model", "--help"]) is None
    assert parse(translate, ["toy-model", "--beam", "0"]) is None  # Typer words the error
    assert parse(translate, []) is None  # no model: Typer says it is missing
