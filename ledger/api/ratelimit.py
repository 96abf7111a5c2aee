"""Per-client rate limits for public routes, and the keyed name a client is counted under.

A client is named by a keyed hash of its network address (HMAC-SHA256 with a per-ledger secret,
cut to 64 bits), never by the address: counts and records cannot be turned back into addresses
without the ledger's log key. Behind a reverse proxy the server must be told to trust the
forwarded address (docs/deploy.md), or every client is the proxy.

Limits are kept in each worker process's memory: with W workers a client gets at most W times
the limit, which bounds abuse without a shared store on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time


def client_source(secret: bytes, address: str) -> str:
    """The stored name of a client address: 16 hex digits of a keyed hash."""
    return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()[:16]


class MinuteRateLimit:
    """At most `per_minute` allowed calls per key in each clock minute."""

    MAX_KEYS = 100_000  # a minute's worth of clients at most; older minutes are dropped

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._recent: dict[str, tuple[int, int]] = {}  # key -> (minute, calls allowed in it)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        minute = int(time.monotonic() // 60)
        with self._lock:
            if len(self._recent) > self.MAX_KEYS:
                self._recent = {k: v for k, v in self._recent.items() if v[0] == minute}
            seen_minute, count = self._recent.get(key, (minute, 0))
            if seen_minute != minute:
                count = 0
            if count >= self.per_minute:
                return False
            self._recent[key] = (minute, count + 1)
            return True
