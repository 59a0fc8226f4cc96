"""`evo-mt serve`: a translation server (Starlette under uvicorn) with dynamic batching and
LibreTranslate's API.

limits.py          what a request and the queue may hold, and the batching budget
requests.py        every field of /translate (LibreTranslate's `q` and evo-mt's `text`) checked
                   and cleaned into lines, which the text pipeline lays out and joins
bodies.py          a request body read within its limit, from JSON or form data; its API key
languages.py       the model's language pair, named as LibreTranslate names languages
libretranslate.py  LibreTranslate's other routes (/languages, /detect, ...) and its answer shape
keys.py            the API key file (reloaded on change and SIGHUP) and the per-key rate limit
metrics.py         Prometheus metrics (prometheus-client) and the middleware that counts requests
cache.py           the translation cache: units already decoded, answered again (cachetools' LRU)
batcher.py         the sentences of concurrent requests batched by length on one worker thread,
                   decoded by the text pipeline (evo_mt.runtime.text.pipeline)
app.py             composes the routes, the page (page/), the OpenAPI description
                   (openapi.json); JSON errors
server.py          uvicorn: bind, serve, shut down gracefully on SIGTERM/SIGINT
"""
