"""The errors the library raises for problems a user can fix.

They are worded in the library's own terms (parameter names, paths). The command line
catches them and prints one line, naming the flag (`--nbest`) where the library named the
parameter (`nbest`).
"""


class UserError(Exception):
    """A mistake the user can fix (bad recipe, missing data, no checkpoint yet...)."""


class OptionError(UserError):
    """A parameter with a value that cannot be used; `option` is the parameter's name."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option} {problem}")
        self.option = option
        self.problem = problem


class CheckpointError(UserError):
    """A checkpoint that cannot be loaded; the message says why, in one line.

    Defined here, free of torch, so that the command line can catch it without importing
    torch; evo_mt.checkpoints raises it and re-exports it."""
