"""A /translate request body read, checked against the limits, and cleaned into lines."""

import json
import re
from dataclasses import dataclass
from typing import Any, List

from evo_mt.runtime.constraint_input import ConstraintError, encode_phrases
from evo_mt.runtime.glossary import Glossary, GlossaryError, Term
from evo_mt.runtime.serving.limits import Limits
from evo_mt.runtime.text import LineTranslation, TextTranslator

FIELDS = ("text", "beam", "nbest", "glossary", "scores")
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
    glossary: Glossary | None = None  # the server's terms and the request's (which win)
    scores: bool = False  # answer {translation, score, ...} objects rather than strings

    def required(self, translator: TextTranslator) -> List[tuple[List[str], List[Term]]]:
        """Each line's required phrases and the glossary terms they come from; RequestError
        400 naming the line of a term that cannot be searched for."""
        required = []
        for i, line in enumerate(self.lines):
            terms = self.glossary.find(line) if self.glossary and line.strip() else []
            phrases = list(dict.fromkeys(term.target for term in terms))
            try:
                encode_phrases(translator, phrases, beam=self.beam)
            except ConstraintError as error:
                raise RequestError(400, f"line {i}: {error}") from None
            required.append((phrases, terms))
        return required

    def answer(self, results: List[LineTranslation], terms: List[List[Term]]) -> List[Any]:
        """The "translations" of the response: each line's best translation (or n best), or
        with "scores", what `evo-mt translate --json` writes for it."""
        if self.scores:
            shape = {"nbest": self.nbest > 1, "constrained": False, "glossary": self.glossary is not None}
            return [
                LineTranslation(r.translations, r.constraints, found).to_json(**shape)
                for r, found in zip(results, terms, strict=True)
            ]
        texts = [[t.text for t in r.translations] for r in results]
        return texts if self.nbest > 1 else [best[0] for best in texts]


def parse_translate(
    body: bytes, limits: Limits, default_beam: int, default_glossary: Glossary | None = None
) -> TranslateRequest:
    """The request in `body`, or RequestError: 400 not JSON or an unusable glossary, 413 over
    a limit, 422 not the expected shape or values."""
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
    scores = payload.get("scores", False)
    if not isinstance(scores, bool):
        raise RequestError(422, f'"scores" must be true or false, not {_json_type(scores)}')
    glossary = default_glossary
    if payload.get("glossary") is not None:
        try:
            glossary = Glossary.from_request(payload["glossary"]).merged_into(default_glossary)
        except GlossaryError as error:
            raise RequestError(400, str(error)) from None
    lines = [LONE_SURROGATE.sub("\ufffd", line) for line in text]
    return TranslateRequest(lines, beam, nbest, glossary, scores)


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
