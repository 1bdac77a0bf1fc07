"""MqttLink: one MQTT connection that publishes for one or many meters, QoS 1.

paho numbers QoS 1 messages with 16-bit ids; with an unbounded queue it wraps past
65,535 unacknowledged messages and stalls. A semaphore bounds what is outstanding:
``publish`` blocks when ``max_outstanding`` messages await their PUBACK.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger("nevoa.meter.link")


@dataclass(frozen=True, slots=True)
class LinkConfig:
    host: str
    port: int
    client_id: str
    username: str | None = None
    password: str | None = None
    max_outstanding: int = 1000
    will_topic: str | None = None  # retained "offline" if the connection dies


class MqttLink:
    def __init__(self, config: LinkConfig) -> None:
        self.config = config
        self.connected = threading.Event()
        self._window = threading.BoundedSemaphore(config.max_outstanding)
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self.published = 0
        self.acknowledged = 0
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=config.client_id,
                        clean_session=False)
        c.max_inflight_messages_set(min(config.max_outstanding, 65_000))
        c.max_queued_messages_set(0)
        if config.username:
            c.username_pw_set(config.username, config.password)
        if config.will_topic:
            c.will_set(config.will_topic, "offline", qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=15)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        self._client = c

    def _on_connect(self, c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        if getattr(rc, "is_failure", False):
            log.error("%s: broker refused the connection: %s", self.config.client_id, rc)
            return
        if self.config.will_topic:
            c.publish(self.config.will_topic, "online", qos=1, retain=True)
        self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: object,
                       _p: object) -> None:
        self.connected.clear()
        log.warning("%s: disconnected (%s)", self.config.client_id, rc)

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, _rc: object, _p: object) -> None:
        with self._lock:
            if mid not in self._pending:  # the status message takes no window slot
                return
            self._pending.discard(mid)
            self.acknowledged += 1
        self._window.release()

    def start(self) -> None:
        self._client.connect_async(self.config.host, self.config.port, keepalive=30)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, timeout: float | None = None) -> bool:
        """Queue a QoS 1 message; False if the window stayed full for ``timeout`` seconds."""
        if not self._window.acquire(timeout=timeout):
            return False
        with self._lock:
            info = self._client.publish(topic, payload, qos=1)
            self._pending.add(info.mid)
            self.published += 1
        return True

    def outstanding(self) -> int:
        with self._lock:
            return len(self._pending)

    def stop(self, drain_timeout: float = 5.0) -> None:
        """Wait (a bounded time) for outstanding PUBACKs, then disconnect cleanly."""
        deadline = threading.Event()
        waited = 0.0
        # also while still connecting: messages queued before CONNACK go out after it
        while self.outstanding() > 0 and waited < drain_timeout:
            deadline.wait(0.05)
            waited += 0.05
        if self.config.will_topic and self.connected.is_set():
            self._client.publish(self.config.will_topic, "offline", qos=1, retain=True)
        self._client.disconnect()
        self._client.loop_stop()
