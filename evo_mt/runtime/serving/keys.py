"""Who may translate: the API key file (`--api-keys`) and the per-key rate limit (`--rate-limit`).

Keys are held as SHA-256 digests, compared as digests and never written anywhere: the log
names the file and how many keys it holds, never a key.
"""

import hashlib
import logging
import math
import os
import time
from pathlib import Path
from typing import FrozenSet, Tuple

from limits import RateLimitItemPerMinute, storage, strategies

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.serving.requests import RequestError

logger = logging.getLogger("evo_mt")



def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).digest()


class KeyFile:
    """The keys of a file of one key a line (blank lines and lines starting with # ignored),
    read again when the file changes (checked on each use), or at the next use after
    `reload_soon` (SIGHUP)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp: Tuple[int, int, int] | None = None
        self._stale = False
        try:
            self._digests = self._read()
        except (OSError, UnicodeDecodeError) as error:
            raise OptionError("api_keys", f"{path}: cannot read the key file ({_reason(error)})") from None
        if not self._digests:
            logger.warning("serve: %s holds no key: every request that needs one is refused", self.path)

    def __len__(self) -> int:
        return len(self._digests)

    def holds(self, key: str) -> bool:
        self._reload_if_changed()
        return _digest(key) in self._digests

    def reload_soon(self) -> None:
        """Have the next use read the file again: safe in a signal handler (SIGHUP)."""
        self._stale = True

    def reload(self) -> None:
        """Read the file again; when it cannot be read, keep the keys read before."""
        try:
            digests = self._read()
        except (OSError, UnicodeDecodeError) as error:
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

    def _read(self) -> FrozenSet[bytes]:
        stamp = self._stat()
        lines = self.path.read_text(encoding="utf-8").splitlines()
        self._stamp = stamp
        return frozenset(
            _digest(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")
        )


class RateLimit:
    """At most `per_minute` requests of one caller in any 60 seconds: the `limits` library's
    moving window, in this process's memory (which also forgets callers who stopped)."""

    def __init__(self, per_minute: int) -> None:
        if per_minute < 0:
            raise OptionError("rate_limit", f"must not be negative, not {per_minute}")
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def retry_after(self, caller: bytes) -> int | None:
        """None when the caller may go on (the call is counted); else the seconds to wait."""
        if self._limiter.hit(self._item, caller.hex()):
            return None
        reset = self._limiter.get_window_stats(self._item, caller.hex()).reset_time
        return max(1, math.ceil(reset - time.time()))


class Access:
    """The key check (403) and the rate limit (429) of the routes that translate."""

    def __init__(self, keys: KeyFile | None = None, rate_limit: int = 0) -> None:
        self.keys = keys
        self.limit = RateLimit(rate_limit) if rate_limit else None

    @property
    def key_required(self) -> bool:
        return self.keys is not None

    def check_key(self, key: str | None) -> None:
        """Pass, or RequestError(403) when keys are required and `key` is not one of them."""
        if self.keys is not None:
            if not key:
                raise RequestError(403, "an API key is needed: send api_key (or Authorization: Bearer KEY)")
            if not self.keys.holds(key):
                raise RequestError(403, "invalid API key")

    def check(self, key: str | None, client: str) -> None:
        """Pass, or RequestError: 403 without a listed key, 429 over the rate limit. With keys,
        the limit counts each key's requests; without, each client address's."""
        self.check_key(key)
        if self.limit is not None:
            caller = _digest(key) if key and self.keys is not None else b"address:" + client.encode()
            wait = self.limit.retry_after(caller)
            if wait is not None:
                raise RequestError(
                    429, f"Slowdown: more than {self.limit.per_minute} requests a minute; retry in {wait} s",
                    retry_after=wait,
                )


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)
