"""A command's plain arguments parsed without building the whole Typer application.

Typer converts every command's every parameter through pydantic before it parses one (since
typer 0.16): about a third of a one-line `evo-mt translate`'s start-up (docs/export.md). This
reads a command's parameters as its Typer declaration states them (names, flags, types,
defaults, `min`) and parses the common case with the standard library; anything else
(`--help`, a mistake, a value below its minimum, an option it does not know) is left to Typer,
which then parses and words its errors as always. The declaration stays the one place.
"""

from __future__ import annotations

import inspect
import types
import typing
from pathlib import Path
from typing import Any, Callable, Dict, List

import typer.models

SCALARS = (int, float, str, Path)


def parse(command: Callable[..., Any], args: List[str]) -> Dict[str, Any] | None:
    """`command`'s keyword arguments from `args`, or None where Typer must parse them."""
    parameters = inspect.signature(command).parameters
    options: Dict[str, tuple] = {}  # a flag as typed -> (parameter, value type or a bool it sets)
    positional: List[tuple] = []
    values: Dict[str, Any] = {}
    for name, parameter in parameters.items():
        info = parameter.default
        many = typing.get_origin(parameter.annotation) in (list, List)
        kind = _scalar(typing.get_args(parameter.annotation)[0] if many else parameter.annotation)
        if kind is None:
            return None
        values[name] = None if info.default is ... else info.default
        if isinstance(info, typer.models.ArgumentInfo):
            if positional and positional[-1][3]:
                return None  # a list argument before another: Typer's to share out
            positional.append((name, kind, info, many))
            continue
        if many:
            return None  # a repeated option: Typer's
        declared = info.param_decls or (f"--{name.replace('_', '-')}",)
        for flag in declared:
            if kind is bool and "/" in flag:
                on, off = flag.split("/")
                options[on], options[off] = (name, True, info), (name, False, info)
            else:
                options[flag] = (name, True if kind is bool else kind, info)
    remaining = list(args)
    position = 0
    while remaining:
        word = remaining.pop(0)
        if word.startswith("-") and word != "-":
            flag, equals, given = word.partition("=")
            if flag not in options:
                return None
            name, kind, info = options[flag]
            if isinstance(kind, bool):
                if equals:
                    return None
                values[name] = kind
                continue
            if not equals:
                if not remaining:
                    return None
                given = remaining.pop(0)
        else:
            if position >= len(positional):
                return None
            name, kind, info, many = positional[position]
            if many:  # the last argument takes every word left that is not an option
                try:
                    values[name] = [*(values[name] or []), kind(word)]
                except ValueError:
                    return None
                continue
            position += 1
            given = word
        try:
            value = kind(given)
        except ValueError:
            return None
        if getattr(info, "min", None) is not None and value < info.min:
            return None
        values[name] = value
    unfilled = [entry for entry in positional[position:] if not (entry[3] and values[entry[0]])]
    if unfilled:
        return None
    return values


def _scalar(annotation: Any) -> type | None:
    """The type of a parameter Typer reads as one value (or a flag); None for any other."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [kind for kind in typing.get_args(annotation) if kind is not type(None)]
        annotation = kinds[0] if len(kinds) == 1 else None
    if annotation is bool or annotation in SCALARS:
        return annotation
    return None
