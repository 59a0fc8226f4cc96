"""How `evo-mt --help` names values: RUN, N, PATH, as Unix help does.

typer shows each value's Python type instead (<bool> beside a flag, <list[Path]>) and wraps a
required argument in braces ({recipe}); neither reads as help. PlainHelp, the group class of
the `evo-mt` app, gives every parameter of every command a plain name once, when it is built.
"""

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# Option values by their type's name; anything else is a VALUE.
_VALUE_NAMES = {"int": "N", "float": "X", "path": "PATH", "str": "TEXT"}


class _Argument(TyperArgument):
    """An argument shown as its name in capitals in the usage line, [optional] ones in brackets."""

    def _usage_display_name(self) -> str:
        name = self.metavar or self.name.upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # its name says what it is


class _Option(TyperOption):
    """An option whose value is shown by its plain name (N, PATH), and a flag by none."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return self.metavar


def _plain(param: Any) -> None:
    if isinstance(param, TyperArgument):
        param.__class__ = _Argument  # same state, plainer usage line
        param.metavar = param.metavar or (param.name or "value").upper() + ("..." if param.nargs != 1 else "")
    elif isinstance(param, TyperOption):
        param.__class__ = _Option
        if param.is_flag or param.count:
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = _VALUE_NAMES.get(param.bare_type().lower(), "VALUE")


def _plain_help_option(option: Any) -> Any:
    if option is not None:
        _plain(option) if isinstance(option, TyperOption) else setattr(option, "metavar", "")
    return option


class _Command(TyperCommand):
    def get_help_option(self, ctx: Any) -> Any:
        return _plain_help_option(super().get_help_option(ctx))


class PlainHelp(TyperGroup):
    """The `evo-mt` group: plain value names in every command's help (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            _plain(param)
        for command in self.commands.values():
            if type(command) is TyperCommand:
                command.__class__ = _Command
            for param in command.params:
                _plain(param)

    def get_help_option(self, ctx: Any) -> Any:
        return _plain_help_option(super().get_help_option(ctx))

