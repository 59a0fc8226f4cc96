"""Reading a request: its body within the size limit, decoded from JSON or form data, and the
API key it carries."""

from typing import Any, List, Tuple

from starlette.requests import Request

from evo_mt.runtime.serving.requests import (
    RequestError,
    api_key_field,
    form_payload,
    json_payload,
    with_query,
)

# An over-long body is read and thrown away up to this size, so that its client gets the 413
# instead of a reset connection; beyond it the connection is simply closed.
DRAIN_LIMIT = 64 << 20
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or RequestError 413 beyond `limit` bytes; ClientDisconnect when the client left."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > DRAIN_LIMIT):
        raise RequestError(413 if declared.isdigit() else 400, f"Content-Length {declared!r} refused")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT:
            break
    if size > limit:
        raise RequestError(413, f"the body has {size} bytes or more; the limit is {limit}")
    return b"".join(chunks)


async def read_payload(request: Request, limit: int) -> Any:
    """The request's fields as a JSON body holds them: those of the body and of the URL's query
    string together. Form data (LibreTranslate's clients send it) becomes an object of its
    fields; an empty body with a query string, the query's fields; anything else is read as
    JSON, whatever its Content-Type says."""
    query = request.query_params.multi_items()
    return with_query(await _body_payload(request, limit, bool(query)), query)


async def _body_payload(request: Request, limit: int, has_query: bool) -> Any:
    body = await read_body(request, limit)
    if has_query and not body.strip():
        return {}
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # `curl -d '{...}'` labels JSON as a form: a form's first field never starts with { or [.
    if media_type not in FORM_TYPES or body.lstrip()[:1] in (b"{", b"["):
        return json_payload(body)

    fields = await form_fields(request, body)
    return form_payload([(name, value) for name, value in fields if isinstance(value, str)])


async def form_fields(request: Request, body: bytes) -> List[Tuple[str, str | Tuple[str, bytes]]]:
    """The fields of a form `body` (read already), in order: a text field's value is a string,
    a file's is (its file name, its bytes); RequestError 400 when the form does not parse."""

    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    fields: List[Tuple[str, str | Tuple[str, bytes]]] = []
    try:
        async with Request(request.scope, replay).form() as form:
            for name, value in form.multi_items():
                if not isinstance(value, str):
                    value = (value.filename or "", await value.read())
                fields.append((name, value))
    except (AssertionError, ValueError, KeyError) as error:  # form data that does not parse
        raise RequestError(400, f"the form data does not parse: {error}") from None
    return fields


def api_key(request: Request, payload: Any = None) -> str | None:
    """The key of a request: the `api_key` field (of the body or the query string, as
    LibreTranslate reads it), else the query's `api_key` (routes without a body), else
    `Authorization: Bearer KEY`."""
    key = api_key_field(payload) if isinstance(payload, dict) else None
    if key:
        return key
    if request.query_params.get("api_key"):
        return request.query_params["api_key"]
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else ""
