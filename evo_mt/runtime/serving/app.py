"""The HTTP side: composes the routes (the one /translate, LibreTranslate's others, the page,
/health, /info, /metrics, the OpenAPI description), JSON errors, client disconnects. No model
work and no translation steps here: the pipeline (evo_mt.runtime.text.pipeline) lays out the
lines and joins the results, the batcher runs the model."""

import asyncio
import contextlib
import logging
import resource
import sys
from functools import partial
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.serving import files, libretranslate
from evo_mt.runtime.serving.batcher import Batcher, QueueFull
from evo_mt.runtime.serving.bodies import api_key, client_address, read_payload
from evo_mt.runtime.serving.cache import TranslationCache
from evo_mt.runtime.serving.keys import Access
from evo_mt.runtime.serving.libretranslate import Routed
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.serving.metrics import Metrics
from evo_mt.runtime.serving.requests import RequestError, TranslateRequest, parse_translate
from evo_mt.runtime.text.detection import LanguageDetector
from evo_mt.runtime.text.documents.html import translate_html
from evo_mt.runtime.text.glossary import Glossary
from evo_mt.runtime.text.phrases import ConstraintError
from evo_mt.runtime.text.pipeline import plan_lines
from evo_mt.runtime.text.routing import Catalog, Router, pair_of, translate_marked_through
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
    translators: Sequence[TextTranslator],
    limits: ServerLimits,
    access: Access | None = None,
    glossary: Glossary | None = None,
    names: Sequence[str] | None = None,
) -> Starlette:
    """The server of `translators` (at most one per language pair; `names`: how errors and
    /info name them, default their folders)."""
    access = access or Access()
    names = list(names) if names is not None else [_model_name(translator) for translator in translators]
    catalog = Catalog(translators, names)
    detector = LanguageDetector(catalog.sources)
    info = {
        "models": [
            {
                "name": catalog.names[pair],
                **translator.describe(),
                "sentence_pieces": translator.sentence_pieces,
            }
            for pair, translator in catalog.models.items()
        ],
        "limits": limits.as_dict(),
    }
    metrics = Metrics(queued_sentences=lambda: sum(batcher.queued_sentences for batcher in batchers.values()))
    cache = TranslationCache(limits.cache_size)  # one bound for every model: keys name the model
    batchers = {
        pair: Batcher(
            translator, limits, on_batch=metrics.batch_done, cache=cache, on_cache=metrics.cache_done
        )
        for pair, translator in catalog.models.items()
    }
    metrics.cache_entries.set_function(lambda: len(cache))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette):
        for batcher in batchers.values():
            batcher.start()
        try:
            yield
        finally:
            # uvicorn gets here after the in-flight requests have been answered.
            await asyncio.gather(*(asyncio.to_thread(batcher.stop) for batcher in batchers.values()))

    async def translate(request: Request) -> Response:
        try:
            payload = await read_payload(request, limits.max_body_bytes)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        access.check(api_key(request, payload), client_address(request))
        parsed = parse_translate(payload, limits, catalog, glossary)
        routed = await asyncio.to_thread(_routes, parsed, catalog, detector)
        answered = await translated(request, parsed, routed)
        if answered is None:
            return Response(status_code=400)  # the client left
        results, warnings = answered
        metrics.lines_done([line for line in parsed.lines if line.strip()])
        if parsed.libretranslate:
            return JSONResponse(libretranslate.translate_answer(parsed, results, warnings, routed))
        if parsed.scores:
            translations = results
        else:
            translations = results if parsed.nbest > 1 else [best[0] for best in results]
        answer = {
            "translations": translations, "warnings": warnings,
            "routes": [list(found.route.languages) for found in routed],
        }
        if parsed.source_auto:
            answer["detected"] = [libretranslate.detected(found) for found in routed]
        return JSONResponse(answer)

    async def translated(request: Request, parsed: TranslateRequest, routed: List[Routed]):
        """(each line's n best, or with "scores" its --json object; warnings), or None when
        the client left first. Texts of one route are translated together, leg by leg."""
        if parsed.format == "html":  # each text a document, as `evo-mt translate --format html`
            documents = [
                await asyncio.to_thread(
                    translate_html, text, partial(translate_marked_through, found.route, beam=parsed.beam)
                )
                for text, found in zip(parsed.lines, routed, strict=True)
            ]
            return [[document] for document in documents], []
        texts = parsed.texts
        results: List = [None] * len(texts)
        warnings: List[str] = []
        by_route: Dict[Tuple[str, ...], List[int]] = {}
        for i, found in enumerate(routed):
            by_route.setdefault(found.route.languages, []).append(i)
        for indices in by_route.values():
            route = routed[indices[0]].route
            lines = [line for i in indices for line in texts[i]]
            labels = [label for i in indices for label in _labels(parsed, i)]
            for number, leg in enumerate(route.legs):
                last = number == len(route.legs) - 1
                nbest = parsed.nbest if last else 1
                done = await through_model(
                    request, leg, lines, labels, parsed.beam_for(leg.beam, nbest), nbest,
                    parsed.glossary if last else None,
                )
                if done is None:
                    return None
                found, cut = done
                into = route.languages[number + 1]
                warnings.extend(cut if last else [f"{warning} (into {into})" for warning in cut])
                lines = [line.texts[0] for line in found]
            start = 0
            for i in indices:
                mine, start = found[start : start + len(texts[i])], start + len(texts[i])
                results[i] = [line.to_json(parsed.shape) if parsed.scores else line.texts for line in mine]
        return [line for text in results for line in text], warnings

    async def through_model(
        request: Request, translator: TextTranslator, lines: List[str], labels: List[str], beam: int,
        nbest: int, terms: Glossary | None,
    ):
        """(each line's LineTranslation, warnings) from one model, or None when the client left."""
        try:
            plan = await asyncio.to_thread(
                plan_lines, translator, lines, labels=labels, glossary=terms, beam=beam
            )
        except ConstraintError as error:  # a glossary term that cannot be searched for
            raise RequestError(400, str(error)) from None
        warnings = [
            f"{label}: a sentence longer than the {translator.sentence_pieces} subwords the model "
            "reads at once; translated in pieces"
            for label in plan.cut_labels
        ]
        batcher = batchers[pair_of(translator)]
        try:
            job = batcher.submit(plan.units, beam=beam, nbest=nbest, phrases=plan.encoded)
        except QueueFull:
            raise RequestError(
                503, "the server is busy (its queue is full); retry later", retry_after=RETRY_AFTER_S
            ) from None
        results = await _unless_disconnected(request, job.future)
        if results is None:
            batcher.cancel(job)
            return None
        return plan.joined(results, nbest), warnings

    async def health(_request: Request) -> Response:
        alive = all(batcher.alive for batcher in batchers.values())
        queued = sum(batcher.queued_sentences for batcher in batchers.values())
        ready = alive and queued < limits.max_queued_sentences
        status = "ready" if ready else ("busy" if alive else "stopping")
        counters: Dict[str, int] = {}
        for batcher in batchers.values():
            for name, value in vars(batcher.counters).items():
                counters[name] = counters.get(name, 0) + value
        models = [
            {"name": catalog.names[pair], "source": pair[0], "target": pair[1],
             "queued_sentences": batcher.queued_sentences}
            for pair, batcher in batchers.items()
        ]
        return JSONResponse(
            {"status": status, "queued_sentences": queued, **counters, **memory_mib(), "models": models},
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
        *libretranslate.routes(catalog, detector, access, limits),
        *files.routes(catalog, detector, access, limits),
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


def _model_name(translator: TextTranslator) -> str:
    described = translator.describe()
    return str(described.get("model") or described.get("checkpoint"))


def _labels(parsed: TranslateRequest, text: int) -> List[str]:
    start = sum(parsed.counts[:text])
    return parsed.labels[start : start + parsed.counts[text]]


def _routes(parsed: TranslateRequest, catalog: Catalog, detector: LanguageDetector) -> List[Routed]:
    """Each text's route to the target (and with "auto" its language detected); RequestError(400)
    for a text whose language cannot be told or has no way to the target."""
    router = Router(catalog, parsed.source, parsed.target, detector)
    found = []
    for i, lines in enumerate(parsed.texts):
        where = f"q[{i}]" if parsed.libretranslate and not parsed.single else (
            "q" if parsed.libretranslate else f"line {i}"
        )
        try:
            found.append(Routed(*router.detected_route("\n".join(lines), where)))
        except UserError as error:
            raise RequestError(400, str(error)) from None
    return found


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
