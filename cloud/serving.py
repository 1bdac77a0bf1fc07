"""Serving the cloud with waitress, in one process or several sharing one socket.

The cloud keeps no state in memory that matters (the directory, keys, invoices and the
audit log are in Redis; the answer cache is only an optimisation), so it scales out:
``--processes N`` binds the port once and forks N waitress workers that accept on it,
each with its own application, Redis pool and fog connections. A Python process runs
one thread at a time; N processes use N cores.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable

from flask import Flask

log = logging.getLogger("nevoa.cloud")


def _serve(app: Flask, sock: socket.socket, threads: int) -> None:
    from waitress import serve

    # waitress reads a whole body before the app sees it: what is far over any route's
    # allowance (the bulk import's IMPORT_MAX_BYTES) it refuses itself, unbuffered
    largest = max(int(app.config["MAX_CONTENT_LENGTH"]), int(app.config["IMPORT_MAX_BYTES"]))
    serve(app, sockets=[sock], threads=threads, _quiet=True,
          max_request_body_size=2 * largest)


def serve_forever(make_app: Callable[[], Flask], host: str, port: int, threads: int,
                  processes: int) -> None:
    sock = socket.create_server((host, port), backlog=1024)  # SO_REUSEADDR on POSIX
    if processes <= 1:
        _serve(make_app(), sock, threads)
        return
    children = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:  # a worker: its own app, clients and threads, created after the fork
            code = 0
            try:
                _serve(make_app(), sock, threads)
            except BaseException:  # report, then leave without running the parent's cleanup
                log.exception("cloud worker failed")
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    sock.close()

    def stop(signum: int, _frame: object) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in children:
        pid, status = os.wait()
        if os.waitstatus_to_exitcode(status) not in (0, -signal.SIGTERM):
            log.error("cloud worker %d exited with %d; stopping", pid,
                      os.waitstatus_to_exitcode(status))
            stop(signal.SIGTERM, None)
            sys.exit(1)
