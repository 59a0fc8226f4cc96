"""A /translate request body read, checked against the limits, and cleaned into lines."""

import json
import re
from dataclasses import dataclass
from typing import Any, List

from evo_mt.runtime.serving.limits import Limits

FIELDS = ("text", "beam", "nbest")
# json.loads keeps an unpaired \ud800-\udfff escape as a lone surrogate, which no encoder
# accepts; it becomes U+FFFD, as invalid UTF-8 does for `evo-mt translate`.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class RequestError(Exception):
    """A request the server refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class TranslateRequest:
    lines: List[str]
    beam: int
    nbest: int


def parse_translate(body: bytes, limits: Limits, default_beam: int) -> TranslateRequest:
    """The request in `body`, or RequestError: 400 not JSON, 413 over a limit, 422 not the
    expected shape or values."""
    try:
        payload = json.loads(body.decode("utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError) as error:
        raise RequestError(400, f"the body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise RequestError(422, 'the body must be a JSON object such as {"text": ["a line"]}')
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise RequestError(422, f"unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}")
    if "text" not in payload:
        raise RequestError(422, 'missing field "text" (a list of lines)')
    text = payload["text"]
    if not isinstance(text, list):
        raise RequestError(422, f'"text" must be a list of strings, not {_json_type(text)}')
    if len(text) > limits.max_lines:
        raise RequestError(413, f'"text" has {len(text)} lines; the limit is {limits.max_lines}')
    for i, line in enumerate(text):
        if not isinstance(line, str):
            raise RequestError(422, f'"text"[{i}] must be a string, not {_json_type(line)}')
        if len(line) > limits.max_chars:
            raise RequestError(
                413, f'"text"[{i}] has {len(line)} characters; the limit is {limits.max_chars}'
            )
    beam = _integer(payload, "beam", default_beam, 1, limits.max_beam)
    nbest = _integer(payload, "nbest", 1, 1, beam)
    return TranslateRequest([LONE_SURROGATE.sub("\ufffd", line) for line in text], beam, nbest)


def _integer(payload: dict, name: str, default: int, low: int, high: int) -> int:
    value = payload.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestError(422, f'"{name}" must be an integer, not {_json_type(value)}')
    if not low <= value <= high:
        raise RequestError(422, f'"{name}" must lie between {low} and {high}, not {value}')
    return value


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}
    names[dict] = "an object"
    return "null" if value is None else names.get(type(value), type(value).__name__)
