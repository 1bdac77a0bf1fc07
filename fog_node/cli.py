"""``nevoa-fog``: run the fog node of one region."""

from __future__ import annotations

import argparse
import ssl
import sys

from fog_node.api import create_app
from fog_node.config import DAY, FogConfig, Retention
from fog_node.mqtt_link import tls_client_context
from fog_node.node import FogNode
from nevoa_adapters.cli import (
    add_logging_flag,
    env,
    env_int,
    serve_http_in_thread,
    setup_logging,
    stop_event_on_signals,
)
from nevoa_core.calendar import DEFAULT_TIMEZONE, Calendar
from nevoa_core.clock import clock_from
from nevoa_core.ids import InvalidId, check_id


def _env_float(name: str, default: float) -> float:
    value = env(name)
    return float(value) if value not in (None, "") else default


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nevoa-fog",
        description="Fog node of one region: consumes the region's MQTT broker, validates "
        "and stores readings in Redis, decides alerts and supply cuts locally, and serves "
        "an HTTP API to the cloud (README.md, 'Fog node HTTP API'). Every flag can also "
        "be set by the "
        "environment variable named in its help.",
    )
    add = p.add_argument
    add("--region", default=env("REGION"), help="region id, e.g. r1 (env NEVOA_REGION)")
    add("--broker-host", default=env("BROKER_HOST", "127.0.0.1"),
        help="MQTT broker host (env NEVOA_BROKER_HOST; default %(default)s)")
    add("--broker-port", type=int, default=env_int("BROKER_PORT", 0) or None,
        help="MQTT broker port (env NEVOA_BROKER_PORT; default 1883, 8883 with --tls-ca)")
    add("--tls-ca", default=env("TLS_CA") or None, metavar="PATH",
        help="connect over TLS (1.2+), verifying the broker's certificate and host name "
        "against this CA file, e.g. broker/generated/r1/tls/ca.crt (env NEVOA_TLS_CA)")
    add("--mqtt-username", default=env("MQTT_USERNAME"),
        help="broker account (env NEVOA_MQTT_USERNAME)")
    add("--mqtt-password", default=env("MQTT_PASSWORD"),
        help="broker password (env NEVOA_MQTT_PASSWORD)")
    add("--mqtt-out-username", default=env("MQTT_OUT_USERNAME"),
        help="account of the connection that sends commands and alerts (env "
        "NEVOA_MQTT_OUT_USERNAME; default the --mqtt-username account)")
    add("--mqtt-out-password", default=env("MQTT_OUT_PASSWORD"),
        help="its password (env NEVOA_MQTT_OUT_PASSWORD)")
    add("--redis-url", default=env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="the region's Redis (env NEVOA_REDIS_URL; default %(default)s)")
    add("--http-host", default=env("HTTP_HOST", "127.0.0.1"),
        help="HTTP API bind address (env NEVOA_HTTP_HOST; default %(default)s)")
    add("--http-port", type=int, default=env_int("HTTP_PORT", 8080),
        help="HTTP API port (env NEVOA_HTTP_PORT; default %(default)s)")
    add("--client-id", default=env("CLIENT_ID"),
        help="MQTT client id, stable across restarts so the broker keeps the session; give "
        "each process of a shared group its own (env NEVOA_CLIENT_ID; default nevoa-fog-<region>)")
    add("--shared-group", default=env("SHARED_GROUP"),
        help="share the region's messages with other fog processes of this group via "
        "$share subscriptions (env NEVOA_SHARED_GROUP)")
    add("--batch-size", type=int, default=env_int("BATCH_SIZE", 2000),
        help="readings written per Redis round trip, at most (env NEVOA_BATCH_SIZE; "
        "default %(default)s)")
    add("--raw-retention-days", type=float, default=_env_float("RAW_RETENTION_DAYS", 2.0),
        help="days raw readings are kept (env NEVOA_RAW_RETENTION_DAYS; default %(default)s)")
    add("--hourly-retention-days", type=float, default=_env_float("HOURLY_RETENTION_DAYS", 92.0),
        help="days hourly rollups are kept (env NEVOA_HOURLY_RETENTION_DAYS; default %(default)s)")
    add("--leak-hours", type=float, default=_env_float("LEAK_HOURS", 6.0),
        help="hours of water flowing without a pause that make a leak alert "
        "(env NEVOA_LEAK_HOURS; default %(default)s)")
    add("--silent-factor", type=float, default=_env_float("SILENT_FACTOR", 3.0),
        help="a meter is silent after this many of its usual intervals without a reading "
        "(env NEVOA_SILENT_FACTOR; default %(default)s)")
    add("--silent-min", type=float, default=_env_float("SILENT_MIN", 60.0),
        help="... and never before this many seconds (env NEVOA_SILENT_MIN; default %(default)s)")
    add("--judge-interval", type=float, default=_env_float("JUDGE_INTERVAL", 2.0),
        help="seconds between alert rounds (env NEVOA_JUDGE_INTERVAL; default %(default)s)")
    add("--timezone", default=env("TIMEZONE", DEFAULT_TIMEZONE),
        help="the utility's IANA time zone: the local days and months of rollups and "
        "rankings; the same as the cloud's (env NEVOA_TIMEZONE; default %(default)s)")
    add("--clock-start", default=env("CLOCK_START"),
        help="tests and drills only: the clock starts at this instant (ISO 8601 with offset, "
        "or epoch seconds) and runs on (env NEVOA_CLOCK_START)")
    add_logging_flag(p)
    return p


def parse_args(argv: list[str] | None = None) -> tuple[FogConfig, str]:
    p = _parser()
    a = p.parse_args(argv)
    if a.region is None:
        p.error("--region is required (or NEVOA_REGION)")
    try:
        check_id(a.region, "region")
    except InvalidId as exc:
        p.error(str(exc))
    if a.batch_size < 1:
        p.error("--batch-size must be >= 1")
    for name in ("raw_retention_days", "hourly_retention_days", "leak_hours", "silent_factor",
                 "silent_min", "judge_interval"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be > 0")
    try:
        Calendar(a.timezone)
        clock_from(a.clock_start)
    except ValueError as exc:
        p.error(str(exc))
    if a.tls_ca:
        try:
            tls_client_context(a.tls_ca)
        except (OSError, ssl.SSLError) as exc:
            p.error(f"--tls-ca {a.tls_ca}: not a readable CA file ({exc})")
    port = a.broker_port or (8883 if a.tls_ca else 1883)
    retention = Retention(raw=int(a.raw_retention_days * DAY),
                          hourly=int(a.hourly_retention_days * DAY))
    config = FogConfig(
        region=a.region, broker_host=a.broker_host, broker_port=port,
        mqtt_username=a.mqtt_username, mqtt_password=a.mqtt_password, tls_ca=a.tls_ca,
        mqtt_out_username=a.mqtt_out_username, mqtt_out_password=a.mqtt_out_password,
        redis_url=a.redis_url,
        http_host=a.http_host, http_port=a.http_port, client_id=a.client_id,
        shared_group=a.shared_group, batch_size=a.batch_size, retention=retention,
        silent_factor=a.silent_factor, silent_min=a.silent_min,
        leak_window=a.leak_hours * 3600, judge_interval=a.judge_interval,
        timezone=a.timezone, clock_start=a.clock_start or None,
    )
    return config, a.log_level


def main(argv: list[str] | None = None) -> int:
    config, level = parse_args(argv)
    setup_logging(level, f"fog[{config.region}]")
    stop = stop_event_on_signals()
    node = FogNode(config)
    node.start()
    serve_http_in_thread(create_app(node.services()), config.http_host, config.http_port)
    node.log_started()
    stop.wait()
    node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
