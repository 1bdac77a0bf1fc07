"""A small closed-loop HTTP load generator for the benchmarks.

``clients`` concurrent clients (spread over worker processes so the generator's own GIL
does not become the bottleneck), each with a keep-alive connection, send GET requests
back to back for ``seconds`` and record each latency. Percentiles are computed over all
requests of a run.
"""

from __future__ import annotations

import http.client
import multiprocessing
import random
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

Request = tuple[str, dict[str, str]]  # path, headers


@dataclass(frozen=True, slots=True)
class RunResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def _client(host: str, port: int, requests: Sequence[Request], deadline: float, seed: int,
            latencies: list[float], errors: list[str]) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    while time.perf_counter() < deadline:
        path, headers = requests[rng.randrange(len(requests))]
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(type(exc).__name__)
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
            continue
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            errors.append(str(response.status))
    conn.close()


def _worker(host: str, port: int, requests: Sequence[Request], clients: int, seconds: float,
            seed: int) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    threads = [threading.Thread(target=_client, args=(host, port, requests, deadline,
                                                      seed * 1000 + i, latencies, errors))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def run_load(host: str, port: int, requests: Sequence[Request], clients: int,
             seconds: float, clients_per_process: int = 4) -> RunResult:
    processes = max(1, -(-clients // clients_per_process))
    shares = [clients // processes + (1 if i < clients % processes else 0)
              for i in range(processes)]
    ctx = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with ctx.Pool(processes) as pool:
        results = pool.starmap(_worker, [(host, port, requests, n, seconds, i)
                                         for i, n in enumerate(shares)])
    elapsed = time.perf_counter() - started
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = [e for _, errs in results for e in errs]
    if not latencies:
        raise RuntimeError(f"no request succeeded: {errors[:5]}")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    # the pool's start-up is not load time: rate over the clients' own window
    return RunResult(len(latencies), len(errors), min(elapsed, seconds),
                     statistics.median(latencies) * 1000, p99 * 1000)


def median_of(runs: Sequence[RunResult]) -> tuple[float, float, float, int]:
    """(median p50 ms, median p99 ms, median req/s, total errors) over repeated runs."""
    return (statistics.median(r.p50_ms for r in runs), statistics.median(r.p99_ms for r in runs),
            statistics.median(r.rps for r in runs), sum(r.errors for r in runs))
