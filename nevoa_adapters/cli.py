"""Command-line helpers: environment fallbacks for flags, logging, graceful stop."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Callable


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


def serve_http_in_thread(app: Callable[..., object], host: str, port: int) -> threading.Thread:
    """Serve a WSGI app with waitress on a daemon thread (the process's lifetime)."""
    from waitress import serve

    thread = threading.Thread(
        target=serve, args=(app,), kwargs={"host": host, "port": port, "threads": 8,
                                           "_quiet": True},
        name="http", daemon=True,
    )
    thread.start()
    return thread
