"""Publisher: the fog node's outgoing MQTT connection (commands and alerts), QoS 1.

Low volume, so stock paho does the job: it queues while the broker is away and
delivers after reconnecting. Commands are retried by the command center anyway. With a
TLS context (the ingest link's, :func:`fog_node.mqtt_link.tls_client_context`) it
verifies the broker the same way.
"""

from __future__ import annotations

import logging
import ssl
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger("nevoa.fog.publish")


class Publisher:
    def __init__(self, host: str, port: int, client_id: str, username: str | None = None,
                 password: str | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.connected = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            c.username_pw_set(username, password)
        if tls is not None:
            c.tls_set_context(tls)
        c.max_queued_messages_set(10_000)
        c.reconnect_delay_set(min_delay=1, max_delay=10)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        self._client = c
        self._host, self._port = host, port

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        if getattr(rc, "is_failure", False):
            log.error("broker refused the publishing connection: %s", rc)
            return
        self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: object,
                       _p: object) -> None:
        self.connected.clear()

    def start(self) -> None:
        self._client.connect_async(self._host, self._port, keepalive=30)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        """Queue a QoS 1 message; False if paho refused it (queue full)."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
            log.warning("could not queue a message for %s (rc %s)", topic, info.rc)
            return False
        return True

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
