"""The fog node's configuration, read once at the entry point."""

from __future__ import annotations

from dataclasses import dataclass

from nevoa_core.calendar import DEFAULT_TIMEZONE

DAY = 86_400


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of data is kept, in seconds."""

    raw: int = 2 * DAY  # a block of 128 raw readings, counted from when a newer block starts
    hourly: int = 92 * DAY  # per-meter hourly rollups
    daily: int = 3 * 366 * DAY  # per-meter daily rollups
    top_day: int = 35 * DAY  # the region's per-day consumption of each meter (top-N, mean)
    top_month: int = 25 * 31 * DAY  # the same per month


@dataclass(frozen=True, slots=True)
class FogConfig:
    region: str
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    # the connection that sends commands and alerts; its own account where the broker
    # binds client ids to usernames (compose), else the ingest account
    mqtt_out_username: str | None = None
    mqtt_out_password: str | None = None
    tls_ca: str | None = None  # CA file: the broker is reached over TLS and verified with it
    redis_url: str = "redis://127.0.0.1:6379/0"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    client_id: str | None = None  # stable per process: the broker keeps its session
    shared_group: str | None = None  # several fog processes of a region share the load
    batch_size: int = 2000  # readings written per Redis round trip, at most
    writers: int = 2  # batches in flight to Redis (writer threads, one connection each)
    receive_maximum: int = 20_000  # unacknowledged QoS 1 messages the broker may send us
    retention: Retention = Retention()
    silent_factor: float = 3.0  # silent: no reading for this many of its usual intervals
    silent_min: float = 60.0  # ... and never less than this many seconds
    leak_window: float = 6 * 3600.0  # water flowing without a pause this long: a leak
    judge_interval: float = 2.0  # seconds between rounds judging meters with new readings
    full_sweep: float = 30.0  # seconds between rounds judging every meter (silence, restore)
    command_retry: float = 5.0  # first retry of an unacknowledged command (then doubles)
    timezone: str = DEFAULT_TIMEZONE  # the utility's calendar: local days and months
    clock_start: str | None = None  # tests and drills: the clock starts at this instant

    @property
    def session_id(self) -> str:
        return self.client_id or f"nevoa-fog-{self.region}"
