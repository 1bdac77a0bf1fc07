"""Command-line helpers: environment fallbacks for flags, logging, graceful stop."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any


def env(name: str, default: str | None = None) -> str | None:
    """``NEVOA_<NAME>`` from the environment, so containers configure without flags."""
    return os.environ.get(f"NEVOA_{name}", default)


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value not in (None, "") else default


def add_logging_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        default=env("LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity (env NEVOA_LOG_LEVEL; default %(default)s)",
    )


def setup_logging(level: str, program: str) -> None:
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {program} %(levelname)s %(name)s: %(message)s",
    )


def stop_event_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: the main thread waits on it, then cleans up."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        logging.getLogger("nevoa").info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def http_server(app: Callable[..., object], host: str, port: int,
                max_body_bytes: int | None = None) -> Any:
    """A bound waitress server for a WSGI app (``.run()`` serves, ``.close()`` stops).
    Waitress reads a whole body before the app sees it: past ``max_body_bytes`` (default
    4 x the apps' limit) it refuses the request itself (a plain 413) instead of buffering
    it; below that, a body over the app's ``MAX_CONTENT_LENGTH`` gets the app's JSON 413."""
    from waitress import create_server

    from nevoa_adapters.jsonapi import MAX_BODY_BYTES  # Flask: not for the meters' CLI

    if max_body_bytes is None:
        max_body_bytes = 4 * MAX_BODY_BYTES

    return create_server(app, host=host, port=port, threads=8,
                         max_request_body_size=max_body_bytes)


def serve_http_in_thread(app: Callable[..., object], host: str, port: int) -> threading.Thread:
    """Serve a WSGI app with waitress on a daemon thread (the process's lifetime)."""
    server = http_server(app, host, port)
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    return thread
