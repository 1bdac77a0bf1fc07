"""Whether the region's Redis can take writes, told apart by the kind of failure.

Every failure of Redis itself — out of memory, a read-only replica, busy running a
script, loading its data after a restart, the connection gone — means the same thing to
ingest: *retry with back-pressure*. Nothing is acknowledged, the backlog stays in the
broker, ``/health`` says ``degraded`` and why, a metric counts it, and one log line marks
each change of state (not one per retry). Only an error about a batch's *data* (the
ingest script refused it) is something else: :func:`fault_of` returns None for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

import redis

log = logging.getLogger("nevoa.fog.store")


class StoreFault(StrEnum):
    OUT_OF_MEMORY = "out_of_memory"
    READ_ONLY = "read_only"
    BUSY = "busy"
    LOADING = "loading"
    CONNECTION = "connection"
    UNAVAILABLE = "unavailable"  # cluster down, master down, try again


# reply prefixes of server states, for the ones redis-py has no class for
_PREFIXES = {"OOM": StoreFault.OUT_OF_MEMORY, "READONLY": StoreFault.READ_ONLY,
             "BUSY": StoreFault.BUSY, "LOADING": StoreFault.LOADING,
             "MASTERDOWN": StoreFault.UNAVAILABLE, "TRYAGAIN": StoreFault.UNAVAILABLE,
             "CLUSTERDOWN": StoreFault.UNAVAILABLE, "MISCONF": StoreFault.READ_ONLY,
             # a misconfigured account: retry until someone fixes it, never drop readings
             "NOPERM": StoreFault.UNAVAILABLE, "NOAUTH": StoreFault.UNAVAILABLE,
             "WRONGPASS": StoreFault.UNAVAILABLE}


def fault_of(exc: redis.RedisError) -> StoreFault | None:
    """The server state behind an error, or None when the error is about the data sent.

    Redis 7 appends ``script: <sha>`` to an error raised inside a script whatever its
    cause, so the message alone cannot tell a full memory from a script bug: the class
    redis-py picks from the reply's first word (OOM, READONLY, ...) can.
    """
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return StoreFault.OUT_OF_MEMORY
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return StoreFault.READ_ONLY
    if isinstance(exc, redis.exceptions.BusyLoadingError):
        return StoreFault.LOADING
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return StoreFault.CONNECTION
    if isinstance(exc, redis.ResponseError):
        first = str(exc).split(" ", 1)[0].upper()
        return _PREFIXES.get(first)
    return StoreFault.UNAVAILABLE  # any other client-side failure: retry, do not drop


@dataclass(frozen=True, slots=True)
class HealthView:
    fault: StoreFault | None
    since: float | None  # wall clock of the first failure of this fault
    detail: str


class StoreHealth:
    """The writers report each failure and success; /health and /metrics read it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: StoreFault | None = None
        self._since: float | None = None
        self._detail = ""
        self.errors: Counter[str] = Counter()  # per fault, every failed attempt
        self.data_errors = 0  # batches the script refused (isolated reading by reading)

    def failed(self, fault: StoreFault, exc: Exception, backlog: int) -> None:
        with self._lock:
            self.errors[fault.value] += 1
            changed = fault is not self._fault
            if changed:
                self._since = self._since or time.time()
                self._fault, self._detail = fault, str(exc).split(" script:", 1)[0][:200]
        if changed:
            log.warning("Redis cannot store readings (%s: %s): ingest paused, nothing is "
                        "acknowledged, the broker keeps the backlog (%d messages waiting "
                        "here); retrying", fault.value, self._detail, backlog)

    def recovered(self) -> None:
        if self._fault is None:
            return
        with self._lock:
            fault, since = self._fault, self._since
            self._fault, self._since, self._detail = None, None, ""
        log.warning("Redis stores readings again after %.1f s of %s: ingest resumed",
                    time.time() - (since or time.time()), fault.value if fault else "?")

    def view(self) -> HealthView:
        with self._lock:
            return HealthView(self._fault, self._since, self._detail)
