"""A /translate request's fields read, checked against the limits and the model's pair, and
cleaned into the lines to translate. Every field of the one /translate API is read here.

Two forms share the route. LibreTranslate's (`q`, a string or a list of texts) is answered in
LibreTranslate's shape (app.py, libretranslate.py) and refused with LibreTranslate's status,
400; its texts may hold several lines, each translated on its own. evo-mt's own (`text`, a list
of lines; any body without `q`) keeps its 422 (shape) and 413 (size). `source`, `target`,
`format`, `api_key`, `beam` and `glossary` (evo-mt's, an extra field for LibreTranslate's
form) belong to both; n-best is `alternatives` with `q`, `nbest` with `text`; `scores` (each
line's translation with its score) is evo-mt's.
"""

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from evo_mt.runtime.serving.languages import LanguagePair
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.text.glossary import Glossary, GlossaryError
from evo_mt.runtime.text.results import JsonShape

LIBRETRANSLATE_FIELDS = ("q", "source", "target", "format", "alternatives", "api_key")
EVO_MT_FIELDS = ("text", "beam", "nbest", "scores")
FIELDS = LIBRETRANSLATE_FIELDS + EVO_MT_FIELDS + ("glossary",)
INTEGER_FIELDS = ("alternatives", "beam", "nbest")
BOOLEAN_FIELDS = {"true": True, "false": False}  # "scores" as a form or a query string writes it
FORMATS = ("text", "html")
# json.loads keeps an unpaired \ud800-\udfff escape as a lone surrogate, which no encoder
# accepts; it becomes U+FFFD, as invalid UTF-8 does for `evo-mt translate`.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class RequestError(Exception):
    """A request the server refuses, with its HTTP status (and when to retry, for 429/503)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class TranslateRequest:
    lines: List[str]  # every line to translate, in order
    counts: List[int]  # how many of `lines` each text holds: text i is lines[sum(counts[:i]):][:counts[i]]
    labels: List[str]  # how a warning names each line
    beam: int
    nbest: int
    libretranslate: bool  # `q` given: answer in LibreTranslate's shape
    single: bool  # `q` was one string, not a list: so is the answer
    source_auto: bool  # `source` was "auto": the answer says which language was assumed
    glossary: Glossary | None = None  # the server's terms and the request's (which win)
    scores: bool = False  # evo-mt's form: answer {translation, score, ...} objects
    format: str = "text"  # "html": each text (or `text` entry) is an HTML document, kept whole

    @property
    def shape(self) -> JsonShape:
        """With `scores`, each line's object as `evo-mt translate --json` writes it."""
        return JsonShape.of(nbest=self.nbest, constrained=False, glossary=self.glossary is not None)


@dataclass(frozen=True)
class _Statuses:
    invalid: int  # a field of the wrong shape or value
    too_large: int  # over a limit


LIBRETRANSLATE_STATUSES = _Statuses(400, 400)
EVO_MT_STATUSES = _Statuses(422, 413)


def is_libretranslate(payload: Dict[str, Any]) -> bool:
    return "q" in payload


def api_key_field(payload: Dict[str, Any]) -> str | None:
    """The `api_key` field, or RequestError when it is not a string."""
    key = payload.get("api_key")
    if key is not None and not isinstance(key, str):
        raise RequestError(400, f'"api_key" must be a string, not {json_type(key)}')
    return key or None


def json_payload(body: bytes) -> Any:
    """A JSON body decoded (invalid UTF-8 becomes U+FFFD), or RequestError(400)."""
    try:
        return json.loads(body.decode("utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError) as error:
        raise RequestError(400, f"the body is not valid JSON: {error}") from None


def form_payload(items: List[Tuple[str, str]]) -> Dict[str, Any]:
    """A form's fields as a JSON body would hold them: a repeated `q` is a list of texts, and
    the integer fields are numbers when written as digits (a form has only strings)."""
    payload: Dict[str, Any] = {}
    for name, value in items:
        if name == "q" and "q" in payload:
            payload["q"] = [*([payload["q"]] if isinstance(payload["q"], str) else payload["q"]), value]
        elif name in INTEGER_FIELDS and value.strip().isdigit():
            payload[name] = int(value)
        elif name == "scores" and value.lower() in BOOLEAN_FIELDS:
            payload[name] = BOOLEAN_FIELDS[value.lower()]
        else:
            payload[name] = value
    return payload


def with_query(payload: Any, query: List[Tuple[str, str]]) -> Any:
    """A body's fields with those of the URL's query string (read as a form's: LibreTranslate
    reads Flask's `request.values`, and clients send `POST /translate?q=...` with no body). A
    field in both places with two values is refused rather than one of them silently chosen."""
    if not query:
        return payload
    fields = form_payload(query)
    if not isinstance(payload, dict):
        return payload  # parse_* refuse it, naming what a body must be
    for name in sorted(set(fields) & set(payload)):
        if fields[name] != payload[name]:
            raise RequestError(
                400, f'"{name}" is given both in the query string and in the body; give it once'
            )
    return {**payload, **fields}


def parse_translate(
    payload: Any,
    limits: ServerLimits,
    default_beam: int,
    pair: LanguagePair,
    glossary: Glossary | None = None,
) -> TranslateRequest:
    """The request in a decoded body (a JSON value or the form's fields), or RequestError;
    `glossary`: the server's terms, to which the request's own are added."""
    if not isinstance(payload, dict):
        raise RequestError(
            422, 'the body must be a JSON object such as {"q": "a text"} or {"text": ["a line"]}'
        )
    libretranslate = is_libretranslate(payload)
    statuses = LIBRETRANSLATE_STATUSES if libretranslate else EVO_MT_STATUSES
    if "q" in payload and "text" in payload:
        raise RequestError(statuses.invalid, 'give "q" (LibreTranslate\'s texts) or "text" (lines), not both')
    if not libretranslate:
        # LibreTranslate ignores fields it does not know, and its clients send a few of their own.
        unknown = sorted(set(payload) - set(FIELDS))
        if unknown:
            raise RequestError(422, f"unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}")
    field, owner, instead = (
        ("nbest", "text", "alternatives") if libretranslate else ("alternatives", "q", "nbest")
    )
    if field in payload:
        raise RequestError(statuses.invalid, f'"{field}" goes with "{owner}"; ask for "{instead}" instead')
    source_auto = check_pair(payload, pair)
    text_format = _check_format(payload, statuses)
    if libretranslate:
        lines, counts, labels, single = _texts(payload, limits, statuses, text_format == "text")
        nbest = _integer(payload, "alternatives", 0, 0, limits.max_beam - 1, statuses) + 1
    else:
        lines, counts, labels, single = _lines(payload, limits, statuses)
        nbest = _integer(payload, "nbest", 1, 1, limits.max_beam, statuses)
    if "beam" in payload:
        beam = _integer(payload, "beam", default_beam, 1, limits.max_beam, statuses)
        if nbest > beam:
            wanted = "alternatives + 1" if libretranslate else '"nbest"'
            raise RequestError(statuses.invalid, f'{wanted} ({nbest}) must not exceed "beam" ({beam})')
    else:
        beam = max(default_beam, nbest)  # asking for n hypotheses takes a beam of n at least
    lines = [LONE_SURROGATE.sub("\ufffd", line) for line in lines]
    scores = payload.get("scores", False)
    if not isinstance(scores, bool):
        raise RequestError(statuses.invalid, f'"scores" must be true or false, not {json_type(scores)}')
    if scores and libretranslate:
        raise RequestError(400, '"scores" goes with "text" (evo-mt\'s form), not with "q"')
    if text_format == "html" and (scores or nbest > 1 or payload.get("glossary") is not None):
        raise RequestError(statuses.invalid, 'format "html" goes without alternatives, "scores", "glossary"')
    if payload.get("glossary") is not None:
        try:
            glossary = Glossary.from_request(payload["glossary"]).merged_into(glossary)
        except GlossaryError as error:
            raise RequestError(400, str(error)) from None
    return TranslateRequest(
        lines, counts, labels, beam, nbest, libretranslate, single, source_auto, glossary, scores, text_format
    )


def parse_detect(payload: Any) -> List[str]:
    """The texts of a /detect request (`q`, a string or a list of strings)."""
    if not isinstance(payload, dict):
        raise RequestError(400, 'the body must be a JSON object such as {"q": "a text"}')
    q = payload.get("q")
    if isinstance(q, str):
        return [q]
    if isinstance(q, list) and q and all(isinstance(text, str) for text in q):
        return q
    raise RequestError(400, 'missing field "q" (a text, or a list of texts)')


def check_pair(payload: Dict[str, Any], pair: LanguagePair) -> bool:
    """Whether `source` is "auto"; RequestError(400) for a pair the model does not translate."""
    source, target = payload.get("source") or pair.source, payload.get("target") or pair.target
    for name, value in (("source", source), ("target", target)):
        if not isinstance(value, str):
            raise RequestError(
                400, f'"{name}" must be a language code such as "{pair.source}", not {json_type(value)}'
            )
    if source not in (pair.source, "auto") or target != pair.target:
        raise RequestError(400, f"this server translates {pair.describe()} only; not {source} to {target}")
    return source == "auto"


def _check_format(payload: Dict[str, Any], statuses: _Statuses) -> str:
    text_format = payload.get("format") or "text"
    if text_format not in FORMATS:
        raise RequestError(statuses.invalid, f'"format" must be "text" or "html", not {text_format!r}')
    return text_format


def _texts(
    payload: Dict[str, Any], limits: ServerLimits, statuses: _Statuses, by_line: bool = True
) -> Tuple[List[str], List[int], List[str], bool]:
    """LibreTranslate's `q`: each text cut into its lines (\\n, \\r\\n or \\r), each a line to
    translate; or (not `by_line`: HTML) each text whole, as long as the body may be."""
    q = payload["q"]
    single = isinstance(q, str)
    texts = [q] if single else q
    if not isinstance(texts, list):
        raise RequestError(statuses.invalid, f'"q" must be a string or a list of strings, not {json_type(q)}')
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise RequestError(statuses.invalid, f'"q"[{i}] must be a string, not {json_type(text)}')
    lines, counts, labels = [], [], []
    for i, text in enumerate(texts):
        if not by_line:
            lines.append(text)
            counts.append(1)
            labels.append("q" if single else f"q[{i}]")
            continue
        parts = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for j, line in enumerate(parts):
            where = f"line {j}" if single else f"q[{i}] line {j}"
            if len(line) > limits.max_chars:
                raise RequestError(
                    statuses.too_large, f"{where} has {len(line)} characters; the limit is {limits.max_chars}"
                )
            labels.append(where)
        lines.extend(parts)
        counts.append(len(parts))
    if len(lines) > limits.max_lines:
        raise RequestError(
            statuses.too_large, f'"q" holds {len(lines)} lines; the limit is {limits.max_lines}'
        )
    return lines, counts, labels, single


def _lines(
    payload: Dict[str, Any], limits: ServerLimits, statuses: _Statuses
) -> Tuple[List[str], List[int], List[str], bool]:
    """evo-mt's `text`: a list of lines."""
    if "text" not in payload:
        raise RequestError(422, 'missing field "q" (a text or a list of texts) or "text" (a list of lines)')
    text = payload["text"]
    if not isinstance(text, list):
        raise RequestError(statuses.invalid, f'"text" must be a list of strings, not {json_type(text)}')
    if len(text) > limits.max_lines:
        raise RequestError(
            statuses.too_large, f'"text" has {len(text)} lines; the limit is {limits.max_lines}'
        )
    for i, line in enumerate(text):
        if not isinstance(line, str):
            raise RequestError(statuses.invalid, f'"text"[{i}] must be a string, not {json_type(line)}')
        if len(line) > limits.max_chars:
            raise RequestError(
                statuses.too_large, f'"text"[{i}] has {len(line)} characters; the limit is {limits.max_chars}'
            )
    return list(text), [1] * len(text), [f"line {i}" for i in range(len(text))], False


def _integer(
    payload: Dict[str, Any], name: str, default: int, low: int, high: int, statuses: _Statuses
) -> int:
    value = payload.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestError(statuses.invalid, f'"{name}" must be an integer, not {json_type(value)}')
    if not low <= value <= high:
        raise RequestError(statuses.invalid, f'"{name}" must lie between {low} and {high}, not {value}')
    return value


def json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}
    names[dict] = "an object"
    return "null" if value is None else names.get(type(value), type(value).__name__)
