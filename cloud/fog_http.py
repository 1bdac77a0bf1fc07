"""The HTTP transport to fog nodes: one keep-alive connection per thread and fog node.

Plain ``http.client`` with TCP_NODELAY: a call costs one round trip and little Python,
which is most of what a fan-out costs (urllib3 doubled the cloud's share of it). A GET
or PUT that finds its kept-alive connection closed by the fog node is sent once more on
a new connection; a POST is never resent, and goes on a fresh connection when the kept
one has been idle long enough that the fog node may have closed it.

:meth:`KeepAliveTransport.get_many` asks several fog nodes at once from the calling
thread: it sends every request, then waits on the sockets with ``select`` until the
deadline — concurrency without handing work to other threads (a thread pool cost more
in wake-ups and GIL hand-offs than the fog nodes took to answer).
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
import weakref
from collections.abc import Hashable, Mapping
from urllib.parse import urlsplit

IDEMPOTENT = frozenset({"GET", "PUT", "HEAD"})
IDLE_REUSE_LIMIT = 30.0  # seconds; waitress closes idle connections after 120


class TransportError(OSError):
    """The fog node could not be reached, or did not answer in time."""


class _Kept:
    __slots__ = ("__weakref__", "conn", "last_used")

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.conn = conn
        self.last_used = 0.0

    def __del__(self) -> None:
        # a thread's connections go when the thread does: close, do not leak the socket
        self.conn.close()


class KeepAliveTransport:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._local = threading.local()
        self._all: weakref.WeakSet[_Kept] = weakref.WeakSet()  # every thread's, for close()
        self._lock = threading.Lock()

    def _connect(self, host: str, port: int, timeout: float | None = None) -> _Kept:
        conn = http.client.HTTPConnection(host, port, timeout=timeout or self.timeout)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sock.settimeout(self.timeout)
        kept = _Kept(conn)
        with self._lock:
            self._all.add(kept)
        return kept

    def close(self) -> None:
        """Close every kept connection, whichever thread opened it."""
        with self._lock:
            kept = list(self._all)
        for k in kept:
            k.conn.close()

    def _kept(self, netloc: str) -> dict[str, _Kept]:
        kept: dict[str, _Kept] | None = getattr(self._local, "kept", None)
        if kept is None:
            kept = self._local.kept = {}
        return kept

    def request(self, method: str, base_url: str, target: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """(status, body) of ``method target`` on the fog node at ``base_url``."""
        url = urlsplit(base_url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        pool = self._kept(url.netloc)
        kept = pool.get(url.netloc)
        now = time.monotonic()
        if kept is not None and method not in IDEMPOTENT and \
                now - kept.last_used > IDLE_REUSE_LIMIT:
            kept.conn.close()
            kept = None
        for attempt in (0, 1):
            reused = kept is not None
            try:
                if kept is None:
                    kept = pool[url.netloc] = self._connect(host, port)
                kept.conn.request(method, target, body=body, headers=headers or {})
                response = kept.conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                pool.pop(url.netloc, None)
                if kept is not None:
                    kept.conn.close()
                kept = None
                stale = isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError,
                                         BrokenPipeError))
                if attempt == 0 and reused and stale and method in IDEMPOTENT:
                    continue
                raise TransportError(type(exc).__name__) from None
            if response.will_close:
                pool.pop(url.netloc, None)
                kept.conn.close()
            else:
                kept.last_used = time.monotonic()
            return response.status, data
        raise AssertionError("unreachable")

    def get_many(self, gets: Mapping[Hashable, tuple[str, str]], deadline: float
                 ) -> dict[Hashable, tuple[int, bytes] | TransportError]:
        """GET ``target`` from each ``base_url`` at once; what has not fully answered at
        ``deadline`` (a ``time.monotonic()`` value) is a :class:`TransportError`."""
        results: dict[Hashable, tuple[int, bytes] | TransportError] = {}
        waiting: dict[Hashable, tuple[str, _Kept, bool]] = {}
        for key, (base_url, target) in gets.items():
            try:
                waiting[key] = self._send_get(base_url, target, deadline)
            except TransportError as exc:
                results[key] = exc
        while waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            by_socket = {kept.conn.sock: key for key, (_, kept, _) in waiting.items()}
            readable, _, _ = select.select(list(by_socket), [], [], remaining)
            for sock in readable:
                key = by_socket[sock]
                url, kept, reused = waiting.pop(key)
                results[key] = self._receive(key, gets[key], url, kept, reused, deadline)
        for key, (url, kept, _) in waiting.items():
            self._drop(url, kept)  # a late answer would desynchronise the connection
            results[key] = TransportError("no answer within the deadline")
        return results

    def _send_get(self, base_url: str, target: str, deadline: float
                  ) -> tuple[str, _Kept, bool]:
        url = urlsplit(base_url)
        pool = self._kept(url.netloc)
        kept = pool.get(url.netloc)
        reused = kept is not None
        try:
            if kept is None:
                kept = pool[url.netloc] = self._connect(
                    url.hostname or "127.0.0.1", url.port or 80,
                    max(deadline - time.monotonic(), 0.001))
            kept.conn.request("GET", target)
        except (OSError, http.client.HTTPException) as exc:
            pool.pop(url.netloc, None)
            if kept is not None:
                kept.conn.close()
            raise TransportError(type(exc).__name__) from None
        return url.netloc, kept, reused

    def _receive(self, key: Hashable, get: tuple[str, str], netloc: str, kept: _Kept,
                 reused: bool, deadline: float) -> tuple[int, bytes] | TransportError:
        assert kept.conn.sock is not None
        try:
            kept.conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            response = kept.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop(netloc, kept)
            stale = isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError,
                                     BrokenPipeError))
            if reused and stale and deadline > time.monotonic():  # the fog closed it idle
                try:
                    return self.request("GET", get[0], get[1])
                except TransportError as again:
                    return again
            return TransportError(type(exc).__name__)
        if response.will_close:
            self._drop(netloc, kept)
        else:
            kept.conn.sock.settimeout(self.timeout)
            kept.last_used = time.monotonic()
        return response.status, data

    def _drop(self, netloc: str, kept: _Kept) -> None:
        self._kept(netloc).pop(netloc, None)
        kept.conn.close()
