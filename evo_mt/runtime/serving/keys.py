"""Who may translate: the API key file (`--api-keys`, each key with its own rate limit or the
default one), requests without a key (`--keyless`: refused, or served at the default limit) and
the rate limit (`--rate-limit`).

Keys are held as SHA-256 digests, compared as digests and never written anywhere: the log
names the file and how many keys it holds, never a key.
"""

import hashlib
import logging
import math
import os
import time
from pathlib import Path
from typing import Dict, Tuple

from limits import RateLimitItemPerMinute, storage, strategies

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.serving.requests import RequestError

logger = logging.getLogger("evo_mt")

KEYLESS = ("refuse", "serve")  # what --keyless does with a request that carries no key


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).digest()


class KeyFile:
    """The keys of a file of one key a line, optionally followed (after white space) by that
    key's limit in requests a minute, 0 for none (blank lines and lines starting with #
    ignored); read again when the file changes (checked on each use), or at the next use after
    `reload_soon` (SIGHUP)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp: Tuple[int, int, int] | None = None
        self._stale = False
        try:
            self._digests = self._read()
        except (OSError, UnicodeDecodeError) as error:
            raise OptionError("api_keys", f"{path}: cannot read the key file ({_reason(error)})") from None
        except ValueError as error:
            raise OptionError("api_keys", str(error)) from None
        if not self._digests:
            logger.warning("serve: %s holds no key: every request that needs one is refused", self.path)

    def __len__(self) -> int:
        return len(self._digests)

    def holds(self, key: str) -> bool:
        self._reload_if_changed()
        return _digest(key) in self._digests

    def limit_of(self, key: str) -> int | None:
        """The key's own requests a minute (0: none), or None: the server's --rate-limit."""
        return self._digests.get(_digest(key))

    def reload_soon(self) -> None:
        """Have the next use read the file again: safe in a signal handler (SIGHUP)."""
        self._stale = True

    def reload(self) -> None:
        """Read the file again; when it cannot be read, keep the keys read before."""
        try:
            digests = self._read()
        except (OSError, UnicodeDecodeError, ValueError) as error:
            logger.warning("serve: cannot read %s again (%s); its %d keys read before stay", self.path,
                           _reason(error), len(self._digests))
            return
        logger.warning("serve: %s read again: %d key(s)", self.path, len(digests))
        self._digests = digests

    def _reload_if_changed(self) -> None:
        try:
            stamp = self._stat()
        except OSError:
            stamp = None
        if stamp != self._stamp or self._stale:
            self._stale = False
            self.reload()

    def _stat(self) -> Tuple[int, int, int]:
        status = os.stat(self.path)
        return status.st_mtime_ns, status.st_size, status.st_ino

    def _read(self) -> Dict[bytes, int | None]:
        """Each key's digest and its own limit; ValueError naming the line of a bad limit."""
        stamp = self._stat()
        lines = self.path.read_text(encoding="utf-8").splitlines()
        keys: Dict[bytes, int | None] = {}
        for number, line in enumerate(lines, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) > 2 or (len(fields) == 2 and not fields[1].isdigit()):
                limit = "a whole number, 0: no limit"
                raise ValueError(f"{self.path}:{number}: not 'KEY' or 'KEY REQUESTS_A_MINUTE' ({limit})")
            keys[_digest(fields[0])] = int(fields[1]) if len(fields) == 2 else None
        self._stamp = stamp
        return keys


class RateLimit:
    """At most N requests of one caller in any 60 seconds (N: the caller's own limit, else
    `per_minute`; 0: no limit): the `limits` library's moving window, in this process's memory
    (which also forgets callers who stopped)."""

    def __init__(self, per_minute: int) -> None:
        if per_minute < 0:
            raise OptionError("rate_limit", f"must not be negative, not {per_minute}")
        self.per_minute = per_minute
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def retry_after(self, caller: bytes, per_minute: int | None = None) -> int | None:
        """None when the caller may go on (the call is counted); else the seconds to wait."""
        allowed = self.per_minute if per_minute is None else per_minute
        if allowed == 0:
            return None
        item = RateLimitItemPerMinute(allowed)
        if self._limiter.hit(item, caller.hex()):
            return None
        reset = self._limiter.get_window_stats(item, caller.hex()).reset_time
        return max(1, math.ceil(reset - time.time()))


class Access:
    """The key check (403) and the rate limit (429) of the routes that translate.

    Without a key file, every request is served, each client address counted against
    `rate_limit`. With one, a listed key is counted against its own limit (else `rate_limit`),
    a key not listed is refused (403), and a request without a key is refused (403) or, with
    `keyless` "serve", served as without a key file."""

    def __init__(self, keys: KeyFile | None = None, rate_limit: int = 0, keyless: str = "refuse") -> None:
        if keyless not in KEYLESS:
            raise OptionError("keyless", f"must be one of {', '.join(KEYLESS)}, not {keyless!r}")
        self.keys = keys
        self.limit = RateLimit(rate_limit)
        self.keyless = keyless

    @property
    def key_required(self) -> bool:
        """Whether a request without a key is refused (LibreTranslate's `keyRequired`)."""
        return self.keys is not None and self.keyless == "refuse"

    def check_key(self, key: str | None, required: bool = False) -> None:
        """Pass, or RequestError(403) for a key not in the file, or for no key when keys are
        required (`required`: whenever there is a key file, as for /metrics)."""
        if self.keys is None:
            return
        if not key:
            if required or self.key_required:
                raise RequestError(403, "an API key is needed: send api_key (or Authorization: Bearer KEY)")
        elif not self.keys.holds(key):
            raise RequestError(403, "invalid API key")

    def check(self, key: str | None, client: str) -> None:
        """Pass, or RequestError: 403 (see check_key), 429 over the caller's rate limit. A
        listed key's requests are counted per key; the others per client address."""
        self.check_key(key)
        caller, per_minute = b"address:" + client.encode(), None
        if key and self.keys is not None:
            caller, per_minute = _digest(key), self.keys.limit_of(key)
        wait = self.limit.retry_after(caller, per_minute)
        if wait is not None:
            allowed = self.limit.per_minute if per_minute is None else per_minute
            raise RequestError(
                429, f"Slowdown: more than {allowed} requests a minute; retry in {wait} s", retry_after=wait,
            )


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)
