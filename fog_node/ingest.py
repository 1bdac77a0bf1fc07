"""The ingest loop: MQTT in, validated readings to Redis, acknowledgement after the write.

paho's network thread hands each message to :meth:`Ingestor._on_message`, which only
queues it. The writer thread takes what has queued (up to ``batch_size``), decodes and
validates it, writes the batch to Redis in one round trip, and only then sends the
PUBACKs (``manual_ack``). If the process dies before the write, the broker still holds
the messages in the persistent session and delivers them again; the store's
idempotence by (meter, seq) turns such redeliveries into counted duplicates.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import redis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fog_node.config import FogConfig
from fog_node.store import RegionStore
from nevoa_core import topics
from nevoa_core.senml import Reading, RejectReason, WireError, decode_pack

log = logging.getLogger("nevoa.fog.ingest")

SESSION_EXPIRY = 7 * 24 * 3600  # the broker keeps our session and queue for a week offline


@dataclass(frozen=True, slots=True)
class Inbound:
    """An MQTT message converted at the boundary: the rest never sees paho objects."""

    mid: int
    qos: int
    topic: str
    payload: bytes


@dataclass(slots=True)
class Batch:
    readings: list[Reading]
    rejects: Counter[str]
    statuses: list[tuple[str, str]]


def classify(messages: list[Inbound], region: str) -> Batch:
    """Decode and validate a batch; nothing here raises on bad input."""
    batch = Batch([], Counter(), [])
    for m in messages:
        try:
            parsed = topics.parse_meter_topic(m.topic)
        except topics.TopicError:
            batch.rejects[RejectReason.BN_MISMATCH.value] += 1
            continue
        if parsed.region != region:
            batch.rejects[RejectReason.BN_MISMATCH.value] += 1
            continue
        if parsed.channel is topics.Channel.STATUS:
            status = m.payload.decode("utf-8", "replace").strip()
            if status in ("online", "offline"):
                batch.statuses.append((parsed.meter, status))
            else:
                batch.rejects[RejectReason.MALFORMED.value] += 1
            continue
        if parsed.channel is not topics.Channel.READING:
            continue
        try:
            batch.readings.extend(decode_pack(m.payload, parsed.meter))
        except WireError as exc:
            batch.rejects[exc.reason.value] += 1
            log.debug("rejected %s from %s: %s", exc.reason.value, m.topic, exc.message)
    return batch


class Ingestor:
    def __init__(self, config: FogConfig, store: RegionStore) -> None:
        self.config = config
        self.store = store
        self._queue: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        self._stop = threading.Event()
        self.connected = threading.Event()
        self._client = self._make_client()
        self._writer = threading.Thread(target=self._write_loop, name="fog-writer", daemon=True)

    def _make_client(self) -> mqtt.Client:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.config.session_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.config.mqtt_username:
            c.username_pw_set(self.config.mqtt_username, self.config.mqtt_password)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.reconnect_delay_set(min_delay=1, max_delay=10)
        return c

    # --- paho callbacks (network thread) ---------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        if getattr(rc, "is_failure", False):
            log.error("broker refused the connection: %s", rc)
            return
        region = self.config.region
        filters = [
            topics.region_filter(region, topics.Channel.READING),
            topics.region_filter(region, topics.Channel.STATUS),
        ]
        if self.config.shared_group:
            filters = [topics.shared(self.config.shared_group, f) for f in filters]
        client.subscribe([(f, 1) for f in filters])
        log.info("connected to %s:%s, subscribed to %s", self.config.broker_host,
                 self.config.broker_port, ", ".join(filters))
        self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", rc)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self._queue.put(Inbound(message.mid, message.qos, message.topic, message.payload))

    # --- writer thread ------------------------------------------------------------------
    def _take_batch(self) -> list[Inbound]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.config.batch_wait
        while len(batch) < self.config.batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=remaining))
                except queue.Empty:
                    break
        return batch

    def _write_loop(self) -> None:
        while not self._stop.is_set() or not self._queue.empty():
            messages = self._take_batch()
            if not messages:
                continue
            batch = classify(messages, self.config.region)
            self._write_until_done(batch)
            for m in messages:
                if m.qos > 0:
                    self._client.ack(m.mid, m.qos)

    def _write_until_done(self, batch: Batch) -> None:
        """Write, retrying while Redis is away: nothing is acknowledged before it is stored."""
        delay = 0.1
        while True:
            try:
                result = self.store.record(batch.readings, batch.rejects)
                now = time.time()
                for meter, status in batch.statuses:
                    self.store.set_status(meter, status, now)
                if result.duplicates:
                    log.debug("ignored %d duplicate readings", result.duplicates)
                return
            except redis.RedisError as exc:
                log.warning("Redis write failed (%s); retrying in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY
        props.ReceiveMaximum = self.config.receive_maximum
        self._writer.start()
        self._client.connect_async(
            self.config.broker_host, self.config.broker_port, keepalive=30,
            clean_start=False, properties=props,
        )
        self._client.loop_start()

    def stop(self) -> None:
        """Stop taking messages, store what was taken, then disconnect."""
        self._stop.set()
        self._writer.join(timeout=10)
        self._client.disconnect()
        self._client.loop_stop()
