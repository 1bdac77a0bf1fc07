"""``nevoa-fog``: run the fog node of one region."""

from __future__ import annotations

import argparse
import logging
import sys

import redis

from fog_node.api import create_app
from fog_node.config import FogConfig
from fog_node.ingest import Ingestor
from fog_node.store import RegionStore
from nevoa_adapters.cli import (
    add_logging_flag,
    env,
    env_int,
    serve_http_in_thread,
    setup_logging,
    stop_event_on_signals,
)
from nevoa_core.ids import InvalidId, check_id

log = logging.getLogger("nevoa.fog")


def parse_args(argv: list[str] | None = None) -> tuple[FogConfig, str]:
    p = argparse.ArgumentParser(
        prog="nevoa-fog",
        description="Fog node of one region: consumes the region's MQTT broker, validates "
        "and stores readings in Redis, and serves an HTTP API to the cloud. Every flag "
        "can also be set by the environment variable named in its help.",
    )
    p.add_argument("--region", default=env("REGION"), help="region id, e.g. r1 (env NEVOA_REGION)")
    p.add_argument("--broker-host", default=env("BROKER_HOST", "127.0.0.1"),
                   help="MQTT broker host (env NEVOA_BROKER_HOST; default %(default)s)")
    p.add_argument("--broker-port", type=int, default=env_int("BROKER_PORT", 1883),
                   help="MQTT broker port (env NEVOA_BROKER_PORT; default %(default)s)")
    p.add_argument("--mqtt-username", default=env("MQTT_USERNAME"),
                   help="broker account (env NEVOA_MQTT_USERNAME)")
    p.add_argument("--mqtt-password", default=env("MQTT_PASSWORD"),
                   help="broker password (env NEVOA_MQTT_PASSWORD)")
    p.add_argument("--redis-url", default=env("REDIS_URL", "redis://127.0.0.1:6379/0"),
                   help="the region's Redis (env NEVOA_REDIS_URL; default %(default)s)")
    p.add_argument("--http-host", default=env("HTTP_HOST", "127.0.0.1"),
                   help="HTTP API bind address (env NEVOA_HTTP_HOST; default %(default)s)")
    p.add_argument("--http-port", type=int, default=env_int("HTTP_PORT", 8080),
                   help="HTTP API port (env NEVOA_HTTP_PORT; default %(default)s)")
    p.add_argument("--client-id", default=env("CLIENT_ID"),
                   help="MQTT client id, stable across restarts so the broker keeps the "
                   "session (env NEVOA_CLIENT_ID; default nevoa-fog-<region>)")
    p.add_argument("--shared-group", default=env("SHARED_GROUP"),
                   help="share the region's messages with other fog processes of this "
                   "group via $share subscriptions (env NEVOA_SHARED_GROUP)")
    p.add_argument("--batch-size", type=int, default=env_int("BATCH_SIZE", 500),
                   help="readings written per Redis round trip (env NEVOA_BATCH_SIZE; "
                   "default %(default)s)")
    p.add_argument("--raw-limit", type=int, default=env_int("RAW_LIMIT", 4096),
                   help="raw readings kept per meter (env NEVOA_RAW_LIMIT; default %(default)s)")
    add_logging_flag(p)
    a = p.parse_args(argv)
    if a.region is None:
        p.error("--region is required (or NEVOA_REGION)")
    try:
        check_id(a.region, "region")
    except InvalidId as exc:
        p.error(str(exc))
    if a.batch_size < 1 or a.raw_limit < 5:
        p.error("--batch-size must be >= 1 and --raw-limit >= 5")
    config = FogConfig(
        region=a.region,
        broker_host=a.broker_host,
        broker_port=a.broker_port,
        mqtt_username=a.mqtt_username,
        mqtt_password=a.mqtt_password,
        redis_url=a.redis_url,
        http_host=a.http_host,
        http_port=a.http_port,
        client_id=a.client_id,
        shared_group=a.shared_group,
        batch_size=a.batch_size,
        raw_limit=a.raw_limit,
    )
    return config, a.log_level


def main(argv: list[str] | None = None) -> int:
    config, level = parse_args(argv)
    setup_logging(level, f"fog[{config.region}]")
    stop = stop_event_on_signals()
    client = redis.Redis.from_url(config.redis_url, decode_responses=True)
    store = RegionStore(client, config.region, raw_limit=config.raw_limit)
    ingestor = Ingestor(config, store)
    ingestor.start()
    app = create_app(store, ready=ingestor.connected.is_set)
    serve_http_in_thread(app, config.http_host, config.http_port)
    log.info("region %s: broker %s:%d, redis %s, HTTP API on http://%s:%d", config.region,
             config.broker_host, config.broker_port, config.redis_url, config.http_host,
             config.http_port)
    stop.wait()
    ingestor.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
