"""The HTTP transport to fog nodes: one keep-alive connection per thread and fog node.

Plain ``http.client`` with TCP_NODELAY: a call costs one round trip and little Python,
which is most of what a fan-out costs (urllib3 doubled the cloud's share of it). A GET
or PUT that finds its kept-alive connection closed by the fog node is sent once more on
a new connection; a POST is never resent, and goes on a fresh connection when the kept
one has been idle long enough that the fog node may have closed it.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from urllib.parse import urlsplit

IDEMPOTENT = frozenset({"GET", "PUT", "HEAD"})
IDLE_REUSE_LIMIT = 30.0  # seconds; waitress closes idle connections after 120


class TransportError(OSError):
    """The fog node could not be reached, or did not answer in time."""


class _Kept:
    __slots__ = ("conn", "last_used")

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

    def _connect(self, host: str, port: int) -> _Kept:
        conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Kept(conn)

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
