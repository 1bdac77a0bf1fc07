"""The fog node's configuration, read once at the entry point."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FogConfig:
    region: str
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    client_id: str | None = None  # stable per process: the broker keeps its session
    shared_group: str | None = None  # several fog processes of a region share the load
    batch_size: int = 500
    batch_wait: float = 0.02  # seconds a partial batch may wait for more messages
    receive_maximum: int = 2000  # unacknowledged QoS 1 messages the broker may send us
    raw_limit: int = 4096  # raw readings kept per meter

    @property
    def session_id(self) -> str:
        return self.client_id or f"nevoa-fog-{self.region}"
