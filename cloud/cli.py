"""``nevoa-cloud``: serve the cloud API, or load the demo customer directory."""

from __future__ import annotations

import argparse
import logging
import sys

import redis

from cloud import create_app, parse_fog_urls
from cloud.demo import demo_customers
from cloud.directory import Directory
from nevoa_adapters.cli import add_logging_flag, env, env_int, setup_logging

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
    serve.add_argument("--flat-rate", default=env("FLAT_RATE", "3"),
                       help="price per unit for the seed invoice (env NEVOA_FLAT_RATE; "
                       "default %(default)s)")
    serve.add_argument("--threads", type=int, default=env_int("HTTP_THREADS", 16),
                       help="worker threads (default %(default)s)")
    demo = sub.add_parser("load-demo", help="load the demo customers (maria, joao, ...)",
                          description="Load one demo customer per simulated meter into "
                          "the directory: maria (10001, r1) and joao (10002, r2) first.")
    demo.add_argument("--regions", default="r1,r2", help="comma-separated (default %(default)s)")
    demo.add_argument("--meters-per-region", type=int, default=100,
                      help="customers per region (default %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    setup_logging(a.log_level, "cloud")
    if a.command == "load-demo":
        regions = [r.strip() for r in a.regions.split(",") if r.strip()]
        directory = Directory(redis.Redis.from_url(a.redis_url, decode_responses=True))
        n = directory.add_many(demo_customers(regions, a.meters_per_region))
        log.info("loaded %d demo customers for regions %s", n, ", ".join(regions))
        return 0
    fogs = parse_fog_urls(",".join(a.fog)) if a.fog else parse_fog_urls(env("FOG_URLS", "") or "")
    app = create_app({"REDIS_URL": a.redis_url, "FOG_URLS": fogs, "FLAT_RATE": a.flat_rate})
    from waitress import serve

    log.info("cloud API on http://%s:%d (regions: %s)", a.host, a.port,
             ", ".join(f"{r}={u}" for r, u in sorted(fogs.items())) or "none")
    serve(app, host=a.host, port=a.port, threads=a.threads, _quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
