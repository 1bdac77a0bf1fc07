"""Benchmark of the cloud API: p50/p99 latency and requests/s of the invoice and the
global top-N under concurrent clients, with a large stored fleet, next to baselines
measured in the same run.

It starts its own services (nevoa_stack: per region Mosquitto, Redis and a fog node;
the cloud's Redis and API served by waitress), writes the fleet straight into each
region's Redis through the fog node's store API (``RegionStore.record``, the same
script MQTT ingest runs, so rollups and per-period rankings are built as in production),
and loads the directory into the cloud's Redis.

    .venv/bin/python bench/bench_cloud.py                 # 100,000 meters, a few minutes
    .venv/bin/python bench/bench_cloud.py --meters 20000 --clients 8   # quicker

Baselines: ``GET /health`` of the cloud (the HTTP stack alone, no Redis, no fog) and
``GET /api/v1/top`` of one fog node directly (what one region's answer costs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import redis
from cloud_loadgen import Request, median_of, run_load

from cloud.demo import demo_customers
from cloud.directory import Directory
from fog_node.store import IngestBatch, RegionStore
from nevoa_core.calendar import Calendar
from nevoa_core.clock import shifted_spec
from nevoa_core.fleet_naming import customer_naming, region_number
from nevoa_core.kinds import Kind
from nevoa_core.periods import Step
from nevoa_core.senml import Reading
from nevoa_stack.processes import free_port
from nevoa_stack.stack import LocalStack

REGIONS = ["r1", "r2"]
BATCH = 2000


CALENDAR = Calendar()
PINNED_AT = time.time()
_last_month = CALENDAR.period_containing(Step.MONTH, PINNED_AT).previous()
PINNED = _last_month.start_epoch + 19 * 86400 + 12 * 3600  # the 20th, about noon local

def fill_region(redis_url: str, region: str, meters: int, days: int, per_day: float,
                end: float) -> tuple[str, int, float]:
    """Write ``days`` of readings for ``meters`` meters, ending at ``end``."""
    started = time.perf_counter()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = RegionStore(client, region)
    rng = random.Random(region)
    step = 86400 / per_day
    first = end - days * 86400
    registers = [rng.uniform(0, 5000) for _ in range(meters)]
    rates = [rng.uniform(0.2, 2.0) for _ in range(meters)]  # kWh per hour
    written = 0
    for n in range(round(days * per_day)):
        t = first + n * step
        batch: list[Reading] = []
        for i in range(meters):
            registers[i] += rates[i] * step / 3600 * rng.uniform(0.5, 1.5)
            meter = f"{region}-e{i + 1:06d}"
            batch.append(Reading(meter, n, t + (i % 600), Kind.ELECTRICITY,
                                 round(registers[i], 3)))
            if len(batch) == BATCH:
                store.record(IngestBatch(readings=batch), now=t + 600)
                written += len(batch)
                batch = []
        if batch:
            store.record(IngestBatch(readings=batch), now=t + 600)
            written += len(batch)
    return region, written, time.perf_counter() - started


def fresh(requests: list[Request]) -> list[Request]:
    """The same requests, asking for an answer computed now: every one fans out."""
    return [(path, {**headers, "Cache-Control": "no-cache"}) for path, headers in requests]


def post_json(url: str, body: str) -> str:
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def customer_token(cloud_url: str, region: str, index: int) -> tuple[str, str]:
    who = customer_naming(region, region_number(region), index)
    answer = json.loads(post_json(f"{cloud_url}/api/v1/auth/login", json.dumps(
        {"username": who.username, "registration": who.registration})))
    return who.registration, answer["token"]


def warm(cloud_url: str, requests: list[Request]) -> None:
    """Issue each request once (issues last month's invoices: later reads are reads);
    a request that fails stops the benchmark (urlopen raises on 4xx/5xx)."""
    for path, headers in requests:
        with urllib.request.urlopen(urllib.request.Request(cloud_url + path, headers=headers),
                                    timeout=30) as response:
            response.read()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--meters", type=int, default=100_000, help="total, over 2 regions")
    p.add_argument("--days", type=int, default=32, help="days of readings (a month and more)")
    p.add_argument("--per-day", type=float, default=0.25,
                   help="readings per meter per day (default: one every 4 days; 1 takes "
                   "~4x longer to store)")
    p.add_argument("--clients", default="4,16",
                   help="concurrent clients, one or several levels (default %(default)s)")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per run")
    p.add_argument("--repeats", type=int, default=3, help="runs per scenario (medians)")
    p.add_argument("--sample", type=int, default=2000, help="customers the clients ask for")
    p.add_argument("--cloud-processes", type=int, default=os.cpu_count() or 1,
                   help="waitress worker processes of the cloud (default: one per CPU)")
    a = p.parse_args()
    per_region = a.meters // len(REGIONS)
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    with tempfile.TemporaryDirectory(prefix="nevoa-bench-cloud-") as tmp:
        # the same calendar position on any day of the year: the stack's clock is pinned
        # to the 20th, 12:00 local, of last month (so the running month has readings)
        stack = LocalStack(Path(tmp), REGIONS, cloud_port=free_port(),
                           clock_start=shifted_spec(PINNED, time.time()))
        try:
            run(stack, a, per_region)
        finally:
            stack.stop()
    return 0


def run(stack: LocalStack, a: argparse.Namespace, per_region: int) -> None:
    for region in REGIONS:
        stack.start_region(region)
    now = PINNED + (time.time() - PINNED_AT)
    this_month = CALENDAR.period_containing(Step.MONTH, now)
    last_month = this_month.previous()
    print(f"fleet: {a.meters:,} meters over {len(REGIONS)} regions, {a.days} days x "
          f"{a.per_day:g} readings/day = {round(a.meters * a.days * a.per_day):,} readings")
    started = time.perf_counter()
    with ProcessPoolExecutor(len(REGIONS)) as pool:
        jobs = [pool.submit(fill_region, stack.region_processes[r].redis.url, r, per_region,
                            a.days, a.per_day, now) for r in REGIONS]
        for job in jobs:
            region, written, took = job.result()
            print(f"  {region}: {written:,} readings written in {took:.1f} s "
                  f"({written / took:,.0f}/s through RegionStore.record)")
    print(f"  fleet stored in {time.perf_counter() - started:.1f} s")
    os.environ["NEVOA_HTTP_PROCESSES"] = str(a.cloud_processes)  # the cloud child reads it
    stack.cloud_port = free_port()  # chosen now: the fill took minutes
    stack.start_cloud(0)
    assert stack.cloud_redis is not None and stack.operator_key is not None
    directory = Directory(redis.Redis.from_url(stack.cloud_redis.url, decode_responses=True))
    directory.add_many(demo_customers(REGIONS, per_region))
    print(f"  directory: {directory.count():,} customers")

    cloud = stack.cloud_url
    rng = random.Random(7)
    sample = [(r, rng.randint(1, per_region)) for r in rng.choices(REGIONS, k=a.sample)]
    tokens = [customer_token(cloud, r, i) for r, i in sample]
    ops = {"X-API-Key": stack.operator_key}
    issued = [(f"/api/v1/customers/{reg}/invoices/{last_month.label}",
               {"Authorization": f"Bearer {tok}"}) for reg, tok in tokens]
    running = [(f"/api/v1/customers/{reg}/invoices/{this_month.label}",
                {"Authorization": f"Bearer {tok}"}) for reg, tok in tokens]
    top_month = [(f"/api/v1/top?period=month:{last_month.label}&n={n}", ops)
                 for n in (10, 10, 10, 100)]
    last_reading = now - a.days * 86400 + (round(a.days * a.per_day) - 1) * 86400 / a.per_day
    busy_day = CALENDAR.period_containing(Step.DAY, last_reading)  # a day every meter reported
    top_day = [(f"/api/v1/top?period={busy_day.name}&n=10&kind=electricity", ops)]
    warm(cloud, issued)
    scenarios: list[tuple[str, str, list[Request]]] = [
        ("baseline: cloud GET /health", cloud, [("/health", {})]),
        ("baseline: fog r1 GET /api/v1/top (direct)", stack.region_processes["r1"].fog_url,
         [(f"/api/v1/top?period=month:{last_month.label}&n=10&kind=electricity", {})]),
        ("invoice, issued month (cloud Redis)", cloud, issued),
        ("invoice, running month (fog rollups + tariff)", cloud, running),
        ("global top-N, last month, fresh (no-cache)", cloud, fresh(top_month)),
        ("global top-N, a day, kind filter, fresh", cloud, fresh(top_day)),
        ("global top-N, last month, reused (<= 30 s)", cloud, top_month),
    ]
    for _, base, requests in scenarios:  # every scenario must succeed before it counts
        warm(base, requests[:1])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {load} (everything shares them: "
          "the clients, the cloud, 2 fog nodes, 3 Redis)")
    for clients in (int(c) for c in str(a.clients).split(",")):
        print(f"\nload: {clients} concurrent keep-alive clients, {a.seconds:g} s per run, "
              f"medians of {a.repeats} runs; cloud: {a.cloud_processes} waitress "
              "process(es) x 16 threads")
        print(f"{'scenario':<48} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>9} {'errors':>7}")
        baseline_rps = None
        for name, base, requests in scenarios:
            url = urlsplit(base)
            runs = [run_load(url.hostname or "127.0.0.1", url.port or 80, requests, clients,
                             a.seconds) for _ in range(a.repeats)]
            p50, p99, rps, errors = median_of(runs)
            baseline_rps = baseline_rps or rps
            print(f"{name:<48} {p50:8.2f} {p99:8.2f} {rps:9,.0f} {errors:7d}"
                  f"   ({rps / baseline_rps:.2f} x /health)", flush=True)
    print("\ntarget: p99 < 25 ms for the invoice and the global top-N")


if __name__ == "__main__":
    sys.exit(main())
