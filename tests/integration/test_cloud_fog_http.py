"""The keep-alive transport to fog nodes, on a real local HTTP server that drops kept
connections the way a fog node's idle timeout does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from cloud.fog_http import KeepAliveTransport, TransportError


class DroppingHandler(BaseHTTPRequestHandler):
    """Answers as HTTP/1.1 keep-alive, then closes the connection anyway."""

    protocol_version = "HTTP/1.1"
    calls: ClassVar[list[str]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.calls.append(self.command)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True  # without saying so: the client's kept socket is stale

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    DroppingHandler.calls = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), DroppingHandler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_get_on_a_stale_kept_connection_is_sent_again(server: str) -> None:
    transport = KeepAliveTransport(timeout=2)
    for _ in range(3):
        assert transport.request("GET", server, "/x") == (200, b'{"ok": true}')
    assert DroppingHandler.calls == ["GET", "GET", "GET"]
    transport.close()


def test_a_post_is_never_sent_twice(server: str) -> None:
    transport = KeepAliveTransport(timeout=2)
    assert transport.request("POST", server, "/x", b"{}")[0] == 200
    try:
        transport.request("POST", server, "/x", b"{}")
    except TransportError:
        pass  # the stale connection failed: reported, not resent
    assert DroppingHandler.calls.count("POST") <= 2
    transport.close()


def test_nothing_listening_is_a_transport_error() -> None:
    with pytest.raises(TransportError):
        KeepAliveTransport(timeout=1).request("GET", "http://127.0.0.1:9", "/")


def test_get_many_answers_by_the_deadline_whatever_each_server_does(server: str) -> None:
    from tests.integration.cloud_support import SilentFog

    transport = KeepAliveTransport(timeout=2)
    with SilentFog() as silent:
        for _ in range(2):  # the second round reuses (stale) kept connections
            started = time.monotonic()
            got = transport.get_many({"up": (server, "/a"), "hangs": (silent.url, "/b"),
                                      "down": ("http://127.0.0.1:9", "/c")},
                                     deadline=time.monotonic() + 0.3)
            assert time.monotonic() - started < 0.6
            assert got["up"] == (200, b'{"ok": true}')
            assert isinstance(got["hangs"], TransportError)
            assert "deadline" in str(got["hangs"])
            assert isinstance(got["down"], TransportError)
    transport.close()
