"""`GET /metrics`: the server's counters in Prometheus' text format (prometheus-client, with a
registry of its own so that two apps in one process never share counts)."""

import time
from typing import Callable, Iterable, List

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
OTHER_ROUTE = "other"  # paths no route serves: one label, however many are tried


class Metrics:
    def __init__(self, queued_sentences: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "evo_mt_http_requests", "HTTP requests answered, by route and status", ["route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "evo_mt_http_request_duration_seconds", "Time from a request's arrival to its answer, by route",
            ["route"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.lines = Counter("evo_mt_translated_lines", "Non-empty lines translated", registry=registry)
        self.characters = Counter(
            "evo_mt_translated_characters", "Characters of the non-empty lines translated", registry=registry
        )
        self.sentences = Counter(
            "evo_mt_translated_sentences", "Sentences (or pieces of over-long ones) decoded",
            registry=registry,
        )
        self.batch_sentences = Histogram(
            "evo_mt_batch_sentences", "Sentences in each decoded batch", buckets=BATCH_BUCKETS,
            registry=registry,
        )
        Gauge(
            "evo_mt_queued_sentences", "Sentences waiting to be translated", registry=registry
        ).set_function(queued_sentences)
        self.cache_hits = Counter(
            "evo_mt_cache_hits", "Sentences answered from the translation cache", registry=registry
        )
        self.cache_misses = Counter(
            "evo_mt_cache_misses", "Sentences not in the translation cache, decoded", registry=registry
        )
        self.cache_entries = Gauge(
            "evo_mt_cache_entries", "Sentences held in the translation cache", registry=registry
        )

    def cache_done(self, hits: int, misses: int) -> None:
        """Called by the batcher for each request's sentences, with the cache on."""
        self.cache_hits.inc(hits)
        self.cache_misses.inc(misses)

    def batch_done(self, sentences: int) -> None:
        """Called by the batcher's worker after each batch it decoded."""
        self.batch_sentences.observe(sentences)
        self.sentences.inc(sentences)

    def lines_done(self, lines: List[str]) -> None:
        """Called when a request's lines are translated (its blank lines left out)."""
        self.lines.inc(len(lines))
        self.characters.inc(sum(len(line) for line in lines))

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def middleware(self, routes: Iterable[str], prefixes: Iterable[str] = ()) -> Callable[[ASGIApp], ASGIApp]:
        """An ASGI middleware counting every HTTP answer by route (the route's path, a mount's
        prefix, or "other") and status. A plain ASGI wrapper, so that the app still sees the
        client's own `receive` (it watches it for disconnects)."""
        paths, mounts = frozenset(routes), tuple(prefixes)

        def route_of(path: str) -> str:
            if path in paths:
                return path
            return next((prefix for prefix in mounts if path.startswith(prefix + "/")), OTHER_ROUTE)

        def wrap(app: ASGIApp) -> ASGIApp:
            async def counted(scope: Scope, receive: Receive, send: Send) -> None:
                if scope["type"] != "http":
                    await app(scope, receive, send)
                    return
                start, status = time.perf_counter(), [500]

                async def sending(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        status[0] = message["status"]
                    await send(message)

                try:
                    await app(scope, receive, sending)
                finally:
                    route = route_of(scope["path"])
                    self.requests.labels(route, str(status[0])).inc()
                    self.latency.labels(route).observe(time.perf_counter() - start)

            return counted

        return wrap
