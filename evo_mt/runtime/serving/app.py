"""The HTTP side: routes, JSON errors, client disconnects. Starlette, no model work here."""

import asyncio
import contextlib
import logging
import resource
import sys
from typing import Dict

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from evo_mt.runtime.glossary import Glossary
from evo_mt.runtime.serving.batcher import Batcher, QueueFull
from evo_mt.runtime.serving.limits import Limits
from evo_mt.runtime.serving.requests import RequestError, parse_translate
from evo_mt.runtime.text import TextTranslator

logger = logging.getLogger("evo_mt")

# An over-long body is read and thrown away up to this size, so that its client gets the 413
# instead of a reset connection; beyond it the connection is simply closed.
DRAIN_LIMIT = 64 << 20
RETRY_AFTER_S = 1


def memory_mib() -> Dict[str, float | None]:
    """This process's resident memory now and at its peak (Linux: /proc; peak: getrusage)."""
    # ru_maxrss counts KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        now = pages * resource.getpagesize() / 2**20
    except OSError:
        now = None
    return {"rss_mib": now, "peak_rss_mib": peak}


def create_app(translator: TextTranslator, limits: Limits, glossary: Glossary | None = None) -> Starlette:
    batcher = Batcher(translator, limits)
    info = {**translator.describe(), "limits": limits.as_dict()}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette):
        batcher.start()
        try:
            yield
        finally:
            # uvicorn gets here after the in-flight requests have been answered.
            await asyncio.to_thread(batcher.stop)

    async def translate(request: Request) -> Response:
        try:
            body = await _read_body(request, limits.max_body_bytes)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        parsed = parse_translate(body, limits, translator.beam, glossary)
        required = await asyncio.to_thread(parsed.required, translator)
        measured = await asyncio.to_thread(lambda: [batcher.measure(line) for line in parsed.lines])
        queued = [
            (i, line, length)
            for i, (line, (length, _)) in enumerate(zip(parsed.lines, measured, strict=True))
            if line.strip()
        ]
        warnings = [
            f"line {i}: longer than the model's {translator.max_source_pieces} subword positions; truncated"
            for i, (line, (_, truncated)) in enumerate(zip(parsed.lines, measured, strict=True))
            if truncated and line.strip()
        ]
        try:
            job = batcher.submit(
                queued, count=len(parsed.lines), beam=parsed.beam, nbest=parsed.nbest,
                phrases=[phrases for phrases, _ in required],
            )  # fmt: skip
        except QueueFull:
            raise RequestError(503, "the server is busy (its queue is full); retry later") from None
        results = await _unless_disconnected(request, job.future)
        if results is None:
            batcher.cancel(job)
            return Response(status_code=400)
        translations = parsed.answer(results, [terms for _, terms in required])
        return JSONResponse({"translations": translations, "warnings": warnings})

    async def health(_request: Request) -> Response:
        ready = batcher.alive and batcher.queued_lines < limits.max_queued_lines
        status = "ready" if ready else ("busy" if batcher.alive else "stopping")
        return JSONResponse(
            {
                "status": status,
                "queued_lines": batcher.queued_lines,
                **vars(batcher.counters),
                **memory_mib(),
            },
            status_code=200 if ready else 503,
        )

    async def show_info(_request: Request) -> Response:
        return JSONResponse(info)

    return Starlette(
        routes=[
            Route("/translate", translate, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/info", show_info, methods=["GET"]),
        ],
        lifespan=lifespan,
        exception_handlers={
            RequestError: _request_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )


async def _read_body(request: Request, limit: int) -> bytes:
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


async def _unless_disconnected(request: Request, future: asyncio.Future):
    """The future's result, or None when the client goes away first."""

    async def disconnected() -> None:
        # The body has been read: the next message can only be the disconnect.
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({future, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    return future.result() if future.done() else None


def _error(status: int, message: str, headers: Dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


async def _request_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestError)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if error.status == 503 else None
    return _error(error.status, error.message, headers)


async def _http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return _error(error.status_code, error.detail, error.headers)


async def _internal_error(_request: Request, error: Exception) -> Response:
    logger.error("a request failed: %r", error)
    return _error(500, f"internal error: {type(error).__name__}")
