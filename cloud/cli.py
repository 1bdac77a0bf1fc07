"""``nevoa-cloud``: serve the cloud API, load the demo directory, import customers in
bulk, and create operators' API keys."""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import sys
from pathlib import Path

import redis

from cloud import create_app, parse_fog_urls
from cloud.auth import ApiKeys, Role
from cloud.bulk_import import import_customers, read_rows
from cloud.demo import demo_customers
from cloud.directory import Directory
from cloud.invoicing import tariff_problem
from cloud.serving import serve_forever
from cloud.settings import load_tariff_book
from nevoa_adapters.cli import add_logging_flag, env, env_int, setup_logging
from nevoa_core.calendar import DEFAULT_TIMEZONE

log = logging.getLogger("nevoa.cloud")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nevoa-cloud",
        description="The nevoa cloud API: answers customers and the utility by asking the "
        "fog node of each region.",
    )
    add_logging_flag(p)
    p.add_argument("--redis-url", default=env("REDIS_URL", "redis://127.0.0.1:6379/0"),
                   help="the cloud's own Redis (env NEVOA_REDIS_URL; default %(default)s)")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the HTTP API (waitress)",
                           description="Serve the HTTP API with the waitress WSGI server.")
    serve.add_argument("--host", default=env("HTTP_HOST", "127.0.0.1"),
                       help="bind address (env NEVOA_HTTP_HOST; default %(default)s)")
    serve.add_argument("--port", type=int, default=env_int("HTTP_PORT", 8000),
                       help="port (env NEVOA_HTTP_PORT; default %(default)s)")
    serve.add_argument("--fog", action="append", default=[],
                       help="a region's fog node as region=url, repeatable, e.g. "
                       "--fog r1=http://127.0.0.1:8081 (env NEVOA_FOG_URLS, comma-separated)")
    serve.add_argument("--fog-timeout", type=float, default=float(env("FOG_TIMEOUT", "2") or 2),
                       help="seconds to wait for a fog node, also the deadline of a "
                       "city-wide fan-out (env NEVOA_FOG_TIMEOUT; default %(default)s)")
    serve.add_argument("--flat-rate", default=env("FLAT_RATE", "3"),
                       help="price per unit for the seed invoice (env NEVOA_FLAT_RATE; "
                       "default %(default)s)")
    serve.add_argument("--tariffs", default=env("TARIFFS_FILE", ""),
                       help="tariff book (JSON; env NEVOA_TARIFFS_FILE; default the "
                       "shipped cloud/tariffs.json)")
    serve.add_argument("--timezone", default=env("TIMEZONE", DEFAULT_TIMEZONE),
                       help="the utility's IANA time zone: billing months, days, due dates "
                       "(env NEVOA_TIMEZONE; default %(default)s)")
    serve.add_argument("--clock-start", default=env("CLOCK_START", ""),
                       help="tests and drills only: the clock starts at this instant (ISO 8601 "
                       "with offset, or epoch seconds) and runs on (env NEVOA_CLOCK_START)")
    serve.add_argument("--threads", type=int, default=env_int("HTTP_THREADS", 16),
                       help="worker threads per process (env NEVOA_HTTP_THREADS; "
                       "default %(default)s)")
    serve.add_argument("--processes", type=int, default=env_int("HTTP_PROCESSES", 1),
                       help="worker processes sharing the port, e.g. one per core "
                       "(env NEVOA_HTTP_PROCESSES; default %(default)s)")
    demo = sub.add_parser("load-demo", help="load the demo customers (maria, joao, ...)",
                          description="Load one demo customer per simulated meter into "
                          "the directory: maria (10001, r1) and joao (10002, r2) first.")
    demo.add_argument("--regions", default="r1,r2", help="comma-separated (default %(default)s)")
    demo.add_argument("--meters-per-region", type=int, default=100,
                      help="customers per region (default %(default)s)")
    imp = sub.add_parser("import", help="bulk import customers from a CSV or JSON file",
                         description="Import customers and meters (idempotent); prints the "
                         "report of created, updated, unchanged and rejected rows as JSON.")
    imp.add_argument("files", type=Path, nargs="+", metavar="FILE",
                     help="a .csv (with header) or .json export, e.g. nevoa-meter --export")
    imp.add_argument("--regions", default="",
                     help="comma-separated regions that have a fog node; rows of other "
                     "regions are rejected (default: accept any region)")
    key = sub.add_parser("create-api-key", help="create an operator API key (printed once)",
                         description="Create an API key for the utility's staff. The key is "
                         "printed once; only its hash is stored.")
    key.add_argument("--name", required=True, help="who uses the key (shown in the audit log)")
    key.add_argument("--role", choices=[Role.VIEWER.value, Role.OPERATOR.value],
                     default=Role.OPERATOR.value, help="default %(default)s")
    return p


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    setup_logging(a.log_level, "cloud")
    if a.command == "load-demo":
        regions = [r.strip() for r in a.regions.split(",") if r.strip()]
        n = Directory(_redis(a.redis_url)).add_many(demo_customers(regions, a.meters_per_region))
        log.info("loaded %d demo customers for regions %s", n, ", ".join(regions))
        return 0
    if a.command == "import":
        only: list[str] | None = [r.strip() for r in a.regions.split(",") if r.strip()] or None
        book = load_tariff_book(env("TARIFFS_FILE", "") or "")
        rows = [row for f in a.files for row in read_rows(
            f.read_bytes(), "application/json" if f.suffix == ".json" else "text/csv")]
        report = import_customers(Directory(_redis(a.redis_url)), rows, only,
                                  lambda c: tariff_problem(book, c))
        print(json.dumps(report.as_json(), indent=2))
        return 0 if not report.rejected else 1
    if a.command == "create-api-key":
        print(ApiKeys(_redis(a.redis_url)).create(a.name, Role(a.role)))
        return 0
    fogs = parse_fog_urls(",".join(a.fog)) if a.fog else parse_fog_urls(env("FOG_URLS", "") or "")
    secret = env("SECRET_KEY") or ""
    if not secret:  # one for all the worker processes, so a token works on any of them
        log.warning("NEVOA_SECRET_KEY is not set: customer tokens last until this server "
                    "stops")
        secret = secrets.token_hex(32)
    config = {"REDIS_URL": a.redis_url, "FOG_URLS": fogs, "FLAT_RATE": a.flat_rate,
              "FOG_TIMEOUT": a.fog_timeout, "TARIFFS_FILE": a.tariffs, "SECRET_KEY": secret,
              "TIMEZONE": a.timezone, "CLOCK_START": a.clock_start}
    create_app(config)  # fail here, once, on a bad configuration
    log.info("cloud API on http://%s:%d, %d process(es) x %d threads (regions: %s)", a.host,
             a.port, a.processes, a.threads,
             ", ".join(f"{r}={u}" for r, u in sorted(fogs.items())) or "none")
    serve_forever(lambda: create_app(config), a.host, a.port, a.threads, a.processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
