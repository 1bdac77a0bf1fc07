"""``nevoa-stack run``: the whole system on this machine, with demo data (``make run``)."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from nevoa_adapters.cli import add_logging_flag, env, env_int, setup_logging, stop_event_on_signals
from nevoa_core.calendar import DEFAULT_TIMEZONE
from nevoa_stack.processes import port_open
from nevoa_stack.services import HOST
from nevoa_stack.stack import LocalStack
from nevoa_stack.supervise import Supervisor

log = logging.getLogger("nevoa.stack")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nevoa-stack",
        description="Run nevoa locally: per region a Mosquitto, a Redis and a fog node on "
        "free loopback ports; the cloud's Redis and API; a demo fleet of meters. A process "
        "that dies is restarted (back-off 1 s doubling to 30 s). Ctrl-C stops everything "
        "it started.",
    )
    add_logging_flag(p)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the stack and keep it running until Ctrl-C",
                         description="Start the stack and keep it running until Ctrl-C "
                         "or SIGTERM, restarting any process that dies.")
    run.add_argument("--regions", default=env("REGIONS", "r1,r2"),
                     help="comma-separated region ids (env NEVOA_REGIONS; default %(default)s)")
    run.add_argument("--timezone", default=env("TIMEZONE", DEFAULT_TIMEZONE),
                     help="the utility's IANA time zone, given to every fog node and the "
                     "cloud (env NEVOA_TIMEZONE; default %(default)s)")
    run.add_argument("--meters-per-region", type=int, default=env_int("METERS_PER_REGION", 100),
                     help="demo meters per region (env NEVOA_METERS_PER_REGION; "
                     "default %(default)s)")
    run.add_argument("--interval", type=float, default=float(env("INTERVAL", "5") or 5),
                     help="seconds between a meter's readings (env NEVOA_INTERVAL; "
                     "default %(default)s)")
    run.add_argument("--cloud-port", type=int, default=env_int("CLOUD_PORT", 8000),
                     help="cloud API port (env NEVOA_CLOUD_PORT; default %(default)s)")
    run.add_argument("--workdir", type=Path, default=Path(env("WORKDIR", ".nevoa") or ".nevoa"),
                     help="logs, data and stack.json go here (default %(default)s)")
    run.add_argument("--keep-data", action="store_true",
                     help="keep the previous run's brokers' and Redis data")
    run.add_argument("--tls", action="store_true",
                     help="brokers listen with TLS only; a CA and their certificates are made "
                     "in <workdir>/tls (kept across runs); fog nodes and meters verify them")
    return p


def _banner(stack: LocalStack) -> str:
    c = stack.cloud_url
    lines = ["", "nevoa is running.", "", f"  cloud API      {c}   (OpenAPI: {c}/openapi.json)"]
    for region, rp in stack.region_processes.items():
        scheme = "mqtts" if rp.tls_ca else "mqtt"
        lines.append(f"  region {region:<7} broker {scheme}://{rp.broker.host}:{rp.broker.port}  "
                     f"redis {rp.redis.url}  fog {rp.fog_url}")
    if stack.tls:
        lines.append(f"  TLS CA         {stack.workdir / 'tls' / 'ca' / 'ca.crt'}")
    lines += [
        f"  endpoints      {stack.workdir / 'stack.json'}",
        f"  logs           {stack.workdir / 'logs'}",
        "",
        "Try (readings arrive every few seconds; the alert needs 5 of them):",
        f"  curl -s -X POST {c}/validacao-usuario -H 'Content-Type: application/json' "
        "-d '{\"username\": \"maria\", \"matricula\": \"10001\"}'",
        f"  curl -s -X POST {c}/medicoes/ultima-medicao -H 'Content-Type: application/json' "
        "-d '{\"matricula\": \"10001\"}'",
        f"  curl -s -X POST {c}/gerar-fatura -H 'Content-Type: application/json' "
        "-d '{\"matricula\": \"10002\"}'",
        f"  curl -s -X POST {c}/alerta-consumo -H 'Content-Type: application/json' "
        "-d '{\"matricula\": \"10001\"}'",
        "",
        "A customer (token from login; see the README's \"The cloud API\" for every route):",
        f"  T=$(curl -s -X POST {c}/api/v1/auth/login -H 'Content-Type: application/json' "
        "-d '{\"username\": \"maria\", \"registration\": \"10001\"}' | "
        "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')",
        f"  curl -s -H \"Authorization: Bearer $T\" '{c}/api/v1/customers/10001/history?step=raw'",
        f"  curl -s -H \"Authorization: Bearer $T\" "
        f"{c}/api/v1/customers/10001/invoices/$(date -u +%Y-%m)",
        "",
        f"The utility (demo operator key, also in stack.json):  K={stack.operator_key}",
        f"  curl -s -H \"X-API-Key: $K\" '{c}/api/v1/top?n=5'",
        f"  curl -s -H \"X-API-Key: $K\" {c}/api/v1/regions/stats",
        f"  curl -s -H \"X-API-Key: $K\" -X POST {c}/api/v1/meters/r2-e000002/supply "
        "-H 'Content-Type: application/json' -d '{\"action\": \"cut\"}'",
        f"  Browsable docs: {c}/docs",
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def run(a: argparse.Namespace) -> int:
    regions = [r.strip() for r in a.regions.split(",") if r.strip()]
    if port_open(HOST, a.cloud_port):
        log.error("port %d is in use; choose another: NEVOA_CLOUD_PORT=8001 make run",
                  a.cloud_port)
        return 2
    workdir: Path = a.workdir.resolve()
    if not a.keep_data:
        for region in [*regions, "cloud-redis"]:
            shutil.rmtree(workdir / region, ignore_errors=True)
        shutil.rmtree(workdir / "logs", ignore_errors=True)
    stop = stop_event_on_signals()
    stack = LocalStack(workdir, regions, cloud_port=a.cloud_port, tls=a.tls,
                       timezone=a.timezone)
    try:
        for region in regions:
            log.info("starting region %s (mosquitto, redis, fog node)", region)
            stack.start_region(region)
        log.info("starting the cloud; directory: %d electricity + %d water customers "
                 "per region", a.meters_per_region, a.meters_per_region)
        stack.start_cloud(demo_meters_per_region=a.meters_per_region)
        for region in regions:
            stack.start_meters(region, a.meters_per_region, a.interval)
        stack.write_description(workdir / "stack.json")
        print(_banner(stack), flush=True)
        Supervisor(stack.children()).run(stop)  # restarts what dies, until Ctrl-C
        return 0
    except Exception as exc:  # say what failed, then clean up
        log.error("could not start the stack: %s", exc)
        return 1
    finally:
        log.info("stopping every process started")
        stack.stop()
        (workdir / "stack.json").unlink(missing_ok=True)
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    setup_logging(a.log_level, "stack")
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
