"""The HTTP side: composes the routes (the one /translate, LibreTranslate's others, the page,
/health, /info, /metrics, the OpenAPI description), JSON errors, client disconnects. No model
work and no translation steps here: the pipeline (evo_mt.runtime.text.pipeline) lays out the
lines and joins the results, the batcher runs the model."""

import asyncio
import contextlib
import logging
import resource
import sys
from pathlib import Path
from typing import Dict, List

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from evo_mt.runtime.serving import files, libretranslate
from evo_mt.runtime.serving.batcher import Batcher, QueueFull
from evo_mt.runtime.serving.bodies import api_key, client_address, read_payload
from evo_mt.runtime.serving.keys import Access
from evo_mt.runtime.serving.languages import LanguagePair
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.serving.metrics import Metrics
from evo_mt.runtime.serving.requests import RequestError, TranslateRequest, parse_translate
from evo_mt.runtime.text.glossary import Glossary
from evo_mt.runtime.text.phrases import ConstraintError
from evo_mt.runtime.text.pipeline import plan_lines
from evo_mt.runtime.text.translator import TextTranslator

logger = logging.getLogger("evo_mt")

RETRY_AFTER_S = 1
PAGE = Path(__file__).parent / "page"
OPENAPI = Path(__file__).parent / "openapi.json"
OPENAPI_PATHS = ("/openapi.json", "/spec")  # evo-mt's path, and LibreTranslate's


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


def create_app(
    translator: TextTranslator,
    limits: ServerLimits,
    access: Access | None = None,
    glossary: Glossary | None = None,
) -> Starlette:
    access = access or Access()
    info = {
        **translator.describe(),
        "sentence_pieces": translator.sentence_pieces,
        "limits": limits.as_dict(),
    }
    pair = LanguagePair(info["source_language"], info["target_language"])
    metrics = Metrics(queued_sentences=lambda: batcher.queued_sentences)
    batcher = Batcher(translator, limits, on_batch=metrics.batch_done, on_cache=metrics.cache_done)
    metrics.cache_entries.set_function(lambda: len(batcher.cache))

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
            payload = await read_payload(request, limits.max_body_bytes)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        access.check(api_key(request, payload), client_address(request))
        parsed = parse_translate(payload, limits, translator.beam, pair, glossary)
        results, warnings = await translated(request, parsed)
        if results is None:
            return Response(status_code=400)  # the client left
        metrics.lines_done([line for line in parsed.lines if line.strip()])
        if parsed.libretranslate:
            return JSONResponse(libretranslate.translate_answer(parsed, results, warnings, pair))
        if parsed.scores:
            translations = results
        else:
            translations = results if parsed.nbest > 1 else [best[0] for best in results]
        return JSONResponse({"translations": translations, "warnings": warnings})

    async def translated(request: Request, parsed: TranslateRequest):
        """(each line's n best, or with "scores" its --json object; warnings), or (None, None)
        when the client left first."""
        if parsed.format == "html":  # each text a document, as `evo-mt translate --format html`
            from evo_mt.runtime.text.documents.html import translate_html_with

            searching = translator.with_search(parsed.beam, 1)
            done = [await asyncio.to_thread(translate_html_with, searching, text) for text in parsed.lines]
            return [[document] for document in done], []
        try:
            plan = await asyncio.to_thread(
                plan_lines, translator, parsed.lines, labels=parsed.labels, glossary=parsed.glossary,
                beam=parsed.beam,
            )
        except ConstraintError as error:  # a glossary term that cannot be searched for
            raise RequestError(400, str(error)) from None
        warnings = [
            f"{label}: a sentence longer than the {translator.sentence_pieces} subwords the model "
            "reads at once; translated in pieces"
            for label in plan.cut_labels
        ]
        try:
            job = batcher.submit(plan.units, beam=parsed.beam, nbest=parsed.nbest, phrases=plan.encoded)
        except QueueFull:
            raise RequestError(
                503, "the server is busy (its queue is full); retry later", retry_after=RETRY_AFTER_S
            ) from None
        results = await _unless_disconnected(request, job.future)
        if results is None:
            batcher.cancel(job)
            return None, None
        lines = plan.joined(results, parsed.nbest)
        if parsed.scores:
            return [line.to_json(parsed.shape) for line in lines], warnings
        return [line.texts for line in lines], warnings

    async def health(_request: Request) -> Response:
        ready = batcher.alive and batcher.queued_sentences < limits.max_queued_sentences
        status = "ready" if ready else ("busy" if batcher.alive else "stopping")
        return JSONResponse(
            {
                "status": status,
                "queued_sentences": batcher.queued_sentences,
                **vars(batcher.counters),
                **memory_mib(),
            },
            status_code=200 if ready else 503,
        )

    async def show_info(_request: Request) -> Response:
        return JSONResponse(info)

    async def show_metrics(request: Request) -> Response:
        # With --api-keys, a scraper sends one of the keys (Prometheus: `authorization:
        # credentials`); not rate-limited, since scrapes come at a fixed pace.
        access.check_key(api_key(request), required=True)
        return metrics.exposition()

    async def page(_request: Request) -> Response:
        return FileResponse(PAGE / "index.html")

    async def openapi(_request: Request) -> Response:
        return FileResponse(OPENAPI, media_type="application/json")

    routes: List[Route | Mount] = [
        Route("/", page, methods=["GET"]),
        Route("/translate", translate, methods=["POST"]),
        *libretranslate.routes(pair, access, limits),
        *files.routes(translator, pair, access, limits),
        Route("/health", health, methods=["GET"]),
        Route("/info", show_info, methods=["GET"]),
        Route("/metrics", show_metrics, methods=["GET"]),
        *(Route(path, openapi, methods=["GET"]) for path in OPENAPI_PATHS),
    ]
    counted = metrics.middleware([route.path for route in routes], prefixes=["/page", files.DOWNLOADS])
    return Starlette(
        routes=[*routes, Mount("/page", StaticFiles(directory=PAGE), name="page")],
        lifespan=lifespan,
        middleware=[
            Middleware(counted),
            # Browser extensions and web apps on other origins call LibreTranslate servers.
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            ),
        ],
        exception_handlers={
            RequestError: _request_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )


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
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return _error(error.status, error.message, headers)


async def _http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return _error(error.status_code, error.detail, error.headers)


async def _internal_error(_request: Request, error: Exception) -> Response:
    logger.error("a request failed: %r", error)
    return _error(500, f"internal error: {type(error).__name__}")
