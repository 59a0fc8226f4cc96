"""Serving the app with uvicorn: bind, serve until SIGTERM/SIGINT, shut down gracefully."""

import logging
import signal
import socket
from typing import Callable, Sequence

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.serving.app import create_app
from evo_mt.runtime.serving.keys import Access
from evo_mt.runtime.serving.limits import ServerLimits
from evo_mt.runtime.text.glossary import Glossary
from evo_mt.runtime.text.translator import TextTranslator

logger = logging.getLogger("evo_mt")


def serve(
    translators: Sequence[TextTranslator],
    limits: ServerLimits,
    listening: socket.socket,
    on_ready: Callable[[str], None] | None = None,
    access: Access | None = None,
    glossary: Glossary | None = None,
    names: Sequence[str] | None = None,
) -> None:
    """Serve `translators` (one per language pair; `names`: how errors and /info name them)
    on `listening` (see `listen`) until SIGTERM or SIGINT: then stop accepting,
    answer the requests in flight, close the socket and return.

    `on_ready` gets the address ("http://host:port") once the server accepts requests;
    `access` holds the API keys and the rate limit (default: neither); `glossary` the terms
    of every request (a request's own "glossary" adds to them).
    """
    import uvicorn

    for translator in translators:
        limits.check_beam(translator.beam)
    host, port = listening.getsockname()[:2]
    address = f"http://{f'[{host}]' if ':' in host else host}:{port}"

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if on_ready is not None and self.started:
                on_ready(address)

    server = Server(
        uvicorn.Config(
            create_app(translators, limits, access, glossary, names),
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=None,  # in-flight translations are finished, however long
        )
    )
    # uvicorn catches the signal, shuts down, then raises it again to whatever handler was
    # there before; these do nothing, so a signalled shutdown ends like a normal return.
    previous = {sig: signal.signal(sig, _shutdown_done) for sig in (signal.SIGINT, signal.SIGTERM)}
    # SIGHUP: the --api-keys file is read again (at the next request that needs a key).
    if access is not None and access.keys is not None and hasattr(signal, "SIGHUP"):
        keys = access.keys
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda _signal, _frame: keys.reload_soon())
    try:
        server.run(sockets=[listening])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listening.close()


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: a free one), before the model is loaded, so that
    a port already taken is told at once."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except socket.gaierror as error:
        raise OptionError("host", f"{host!r} is not an address to listen on ({error})") from None
    except (OSError, OverflowError) as error:
        raise OptionError("port", f"{port} on {host}: cannot listen there ({error})") from None


def _shutdown_done(_signal: int, _frame) -> None:
    logger.info("serve: stopped")
