"""A small in-process cache of city-wide answers, so that many operators' dashboards
asking the same ranking do not each fan out to every region.

An entry lives ``ttl`` seconds (short for a running period, longer for one that is
over: only a late backlog can still change it). Partial answers are never stored. A
request with ``Cache-Control: no-cache`` bypasses the cache and refreshes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, float, V]] = {}  # key -> (stored, expires, v)
        self._lock = threading.Lock()

    def get(self, key: Hashable, now: float | None = None) -> tuple[V, float] | None:
        """(value, age in seconds), or None when absent or expired."""
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[1] <= now:
            return None
        return entry[2], now - entry[0]

    def put(self, key: Hashable, value: V, ttl: float, now: float | None = None) -> None:
        if ttl <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {k: e for k, e in self._entries.items() if e[1] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[key] = (now, now + ttl, value)

    def get_or_compute(self, key: Hashable, compute: Callable[[], V],
                       ttl_of: Callable[[V], float], fresh: bool = False
                       ) -> tuple[V, float | None]:
        """(value, age) — age None when computed now."""
        if not fresh:
            hit = self.get(key)
            if hit is not None:
                return hit
        value = compute()
        self.put(key, value, ttl_of(value))
        return value, None
