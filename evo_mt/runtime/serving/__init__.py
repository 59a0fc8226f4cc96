"""`evo-mt serve`: a translation server (Starlette under uvicorn) with dynamic batching.

limits.py    what a request and the queue may hold, and the batching budget
requests.py  a request's JSON body read, checked and cleaned into lines
batcher.py   lines of concurrent requests batched by length on one worker thread
app.py       the HTTP routes: /translate, /health, /info; JSON errors
server.py    uvicorn: bind, serve, shut down gracefully on SIGTERM/SIGINT
"""
