"""The ingest loop: MQTT in, validated readings to Redis, acknowledgement after the write.

The link's thread reads the socket and classifies each read's messages into a
:class:`~fog_node.classify.Chunk`. The writer thread merges waiting chunks into a batch
(up to ``batch_size`` readings), writes it to Redis in one round trip, and only then
sends the batch's PUBACKs. While Redis works on one batch, the link thread decodes the
next, so Redis and Python share the two cores. ``writers`` writer threads (2 by
default), each on its own Redis connection, keep Redis busy: one builds and sends its
batch while Redis runs the other's script. Each acknowledges only its own batch after its
own write; two batches in flight may hold readings of one meter out of order, which the
store places exactly (as it does for ``$share`` workers).

If the process dies before the write, the broker still holds the messages in the
persistent session and delivers them again; the store's idempotence by (meter, seq)
turns such redeliveries into counted duplicates.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable

import redis

from fog_node.classify import Chunk, Classifier, merge
from fog_node.config import FogConfig
from fog_node.metrics import IngestMetrics
from fog_node.mqtt_link import IngestLink, LinkSettings
from fog_node.mqtt_wire import Publish
from fog_node.store import IngestBatch, RecordResult, RegionStore
from fog_node.store_health import StoreHealth, fault_of
from nevoa_core import topics
from nevoa_core.clock import Clock
from nevoa_core.commands import CommandAck

log = logging.getLogger("nevoa.fog.ingest")
STORE_ERROR = "store_error"  # reject reason: a reading the store's script refused

CommandAckHandler = Callable[[list[tuple[str, CommandAck]]], None]
BatchHandler = Callable[[IngestBatch], None]


def subscriptions(config: FogConfig) -> tuple[str, ...]:
    region = config.region
    filters = [topics.region_filter(region, channel) for channel in (
        topics.Channel.READING, topics.Channel.STATUS, topics.Channel.COMMAND_ACK)]
    if config.shared_group:
        filters = [topics.shared(config.shared_group, f) for f in filters]
    return tuple(filters)


class Ingestor:
    def __init__(self, config: FogConfig, store: RegionStore,
                 on_command_acks: CommandAckHandler | None = None,
                 metrics: IngestMetrics | None = None,
                 on_stored: BatchHandler | None = None, clock: Clock | None = None) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics or IngestMetrics()
        self.health = StoreHealth()
        self._on_command_acks = on_command_acks
        self._on_stored = on_stored
        self._classifier = Classifier(config.region, clock)
        self._queue: queue.SimpleQueue[Chunk] = queue.SimpleQueue()
        self._queued = 0  # messages read and not yet stored
        self._queued_lock = threading.Lock()
        self._stop = threading.Event()
        self.link = IngestLink(LinkSettings(
            config.broker_host, config.broker_port, config.session_id, subscriptions(config),
            config.mqtt_username, config.mqtt_password,
            receive_maximum=config.receive_maximum), self._on_publishes)
        self._writers = [threading.Thread(target=self._write_loop, name=f"fog-writer-{i}",
                                          daemon=True) for i in range(max(1, config.writers))]

    @property
    def connected(self) -> threading.Event:
        return self.link.connected

    def backlogged(self) -> bool:
        """More is waiting than one batch: the fog node is catching up."""
        return self._queued > self.config.batch_size

    # --- link thread ---------------------------------------------------------------------
    def _on_publishes(self, publishes: list[Publish], generation: int) -> None:
        chunk = self._classifier.chunk(publishes, generation)
        with self._queued_lock:
            self._queued += chunk.messages
        self._queue.put(chunk)

    # --- writer thread -------------------------------------------------------------------
    def _take(self) -> list[Chunk]:
        """What is waiting, up to ``batch_size`` readings; waits briefly for the first."""
        try:
            chunks = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        readings = len(chunks[0].batch.readings)
        while readings < self.config.batch_size:
            try:
                chunk = self._queue.get_nowait()
            except queue.Empty:
                break
            chunks.append(chunk)
            readings += len(chunk.batch.readings)
        return chunks

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            chunks = self._take()
            if not chunks:
                continue
            try:
                if not self._write_chunks(chunks):
                    return
            except Exception:  # a bug must not end ingest: let the broker redeliver
                log.exception("could not store %d messages; reconnecting so that the broker "
                              "delivers them again", sum(c.messages for c in chunks))
                with self._queued_lock:
                    self._queued -= sum(c.messages for c in chunks)
                self.link.drop()

    def _write_chunks(self, chunks: list[Chunk]) -> bool:
        """Store, acknowledge and account for some chunks; False when stopping first."""
        batch = merge(chunks)
        result = self._write_until_done(batch)
        if result is None:
            return False  # stopping while Redis is away: nothing written, nothing acked
        command_acks = [a for c in chunks for a in c.command_acks]
        if command_acks and self._on_command_acks is not None:
            self._handle_command_acks(command_acks)
        self._acknowledge(chunks)
        if self._on_stored is not None and batch.readings:
            self._on_stored(batch)
        messages = sum(c.messages for c in chunks)
        with self._queued_lock:
            self._queued -= messages
            self.metrics.queued = self._queued
        self.metrics.batch_written(
            messages, len(batch.readings), result.stored, result.duplicates, result.stale,
            batch.rejects, chunks[0].received,
            max((r.time for r in batch.readings), default=None))
        return True

    def _acknowledge(self, chunks: list[Chunk]) -> None:
        by_generation: dict[int, list[int]] = defaultdict(list)
        for c in chunks:
            by_generation[c.generation] += c.mids
        for generation, mids in by_generation.items():
            if not self.link.ack(mids, generation):
                log.info("%d messages were stored but the connection that delivered them "
                         "is gone; the broker will redeliver them as duplicates", len(mids))

    def _write_until_done(self, batch: IngestBatch, isolating: bool = False
                          ) -> RecordResult | None:
        """Write, retrying while Redis cannot store (out of memory, read-only, busy,
        loading, unreachable): nothing is acknowledged before it is stored, so the broker
        keeps the backlog. Only a refusal of the batch's data is isolated."""
        delay = 0.1
        while True:
            try:
                result = self.store.record(batch)
            except redis.RedisError as exc:
                fault = fault_of(exc)
                if fault is None:  # the script refused this batch's data, having written
                    self.health.data_errors += 1  # nothing (it validates first)
                    return self._isolate(batch, exc, isolating)
                self.metrics.redis_errors += 1
                self.health.failed(fault, exc, self._queued)
                if self._stop.is_set():
                    log.warning("stopping with %d readings unwritten (Redis: %s); the broker "
                                "keeps them for the next start", len(batch.readings), exc)
                    return None
                log.debug("Redis write failed (%s); retrying in %.1fs", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.health.recovered()
            return result

    def _isolate(self, batch: IngestBatch, error: Exception, isolating: bool) -> RecordResult:
        """The store refused a batch (a bug meeting unexpected data): store what it accepts,
        halving the batch, and count each reading it refuses as ``store_error``."""
        if not isolating:
            log.error("the store refused a batch of %d readings (%s); isolating the cause",
                      len(batch.readings), error)
        if len(batch.readings) > 1:
            half = len(batch.readings) // 2
            first = IngestBatch(batch.readings[:half], batch.statuses, batch.rejects)
            results = [self._write_until_done(first, True),
                       self._write_until_done(IngestBatch(batch.readings[half:]), True)]
            done = [r for r in results if r is not None]
            return RecordResult(sum(r.stored for r in done), sum(r.duplicates for r in done),
                                sum(r.stale for r in done), sum(r.conflicts for r in done),
                                sum(r.seq_jumps for r in done))
        if batch.readings:
            log.error("reading refused by the store, counted as %s: %s", STORE_ERROR,
                      batch.readings[0])
            rejects = Counter(batch.rejects)
            rejects[STORE_ERROR] += 1
            return self._write_until_done(IngestBatch([], batch.statuses, rejects), True) \
                or RecordResult(0, 0)
        log.error("status changes and reject counts refused by the store, dropped: %s (%s)",
                  batch.statuses, error)
        return RecordResult(0, 0)

    def _handle_command_acks(self, acks: list[tuple[str, CommandAck]]) -> None:
        assert self._on_command_acks is not None
        delay = 0.1
        while not self._stop.is_set():
            try:
                self._on_command_acks(acks)
                return
            except redis.RedisError as exc:
                log.warning("could not record %d command acknowledgements (%s); retrying",
                            len(acks), exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # a bug: the acknowledgements are lost, ingest goes on
                log.exception("could not record %d command acknowledgements", len(acks))
                return

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        for writer in self._writers:
            writer.start()
        self.link.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Store and acknowledge what was already read, then disconnect."""
        deadline = time.monotonic() + timeout
        self.link.pause()
        while self._queued > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        for writer in self._writers:
            writer.join(timeout=max(0.5, deadline - time.monotonic()))
        self.link.stop()
