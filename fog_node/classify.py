"""Turn received MQTT messages into what the store writes; nothing here raises on bad input.

Readings in the canonical form meters send take the fast path
(:func:`nevoa_core.senml_fast.decode_canonical`); everything else gets the full
:func:`nevoa_core.senml.decode_pack`, whose reject reason is counted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from fog_node.mqtt_wire import Publish
from fog_node.store import IngestBatch
from nevoa_core import topics
from nevoa_core.clock import Clock, SystemClock
from nevoa_core.commands import CommandAck, CommandError, decode_ack
from nevoa_core.senml import RejectReason, WireError, decode_pack
from nevoa_core.senml_fast import decode_canonical

log = logging.getLogger("nevoa.fog.ingest")

UNKNOWN_TOPIC = "unknown_topic"  # reject reason: a topic outside the region's meter topics
BAD_ACK = "bad_command_ack"


@dataclass(slots=True)
class Chunk:
    """The messages of one socket read, classified, with what acknowledges them."""

    generation: int
    received: float  # time.monotonic() when read
    batch: IngestBatch = field(default_factory=IngestBatch)
    command_acks: list[tuple[str, CommandAck]] = field(default_factory=list)
    mids: list[int] = field(default_factory=list)
    messages: int = 0


class Classifier:
    def __init__(self, region: str, clock: Clock | None = None) -> None:
        self.region = region
        self.clock = clock or SystemClock()
        self._prefix = f"{topics.ROOT}/{region}/meters/"
        self._suffix = "/" + topics.Channel.READING.value

    def chunk(self, publishes: list[Publish], generation: int) -> Chunk:
        chunk = Chunk(generation, time.monotonic())
        readings = chunk.batch.readings
        prefix, suffix = self._prefix, self._suffix
        start, end = len(prefix), -len(suffix)
        for p in publishes:
            if p.qos:
                chunk.mids.append(p.mid)
            topic = p.topic
            if topic.startswith(prefix) and topic.endswith(suffix):
                try:
                    decoded = decode_canonical(p.payload, topic[start:end])
                except Exception:  # never expected; the slow path will say what is wrong
                    decoded = None
                if decoded is not None:
                    readings += decoded
                    continue
            self._slow_path(p, chunk)
        chunk.messages = len(publishes)
        return chunk

    def _slow_path(self, p: Publish, chunk: Chunk) -> None:
        try:
            self._classify(p, chunk)
        except Exception:  # a fog node never dies of a bad message
            log.exception("unexpected failure on a message on %r; counted as malformed", p.topic)
            chunk.batch.rejects[RejectReason.MALFORMED.value] += 1

    def _classify(self, p: Publish, chunk: Chunk) -> None:
        try:
            parsed = topics.parse_meter_topic(p.topic)
        except topics.TopicError:
            parsed = None
        if parsed is None or parsed.region != self.region:
            chunk.batch.rejects[UNKNOWN_TOPIC] += 1
            log.debug("rejected a message on %r: not a meter topic of region %s", p.topic,
                      self.region)
            return
        if parsed.channel is topics.Channel.READING:
            try:
                chunk.batch.readings += decode_pack(p.payload, parsed.meter)
            except WireError as exc:
                chunk.batch.rejects[exc.reason.value] += 1
                log.debug("rejected a reading of %s (%s): %s", parsed.meter, exc.reason.value,
                          exc.message)
        elif parsed.channel is topics.Channel.STATUS:
            status = p.payload.decode("utf-8", "replace").strip()
            if status in ("online", "offline"):
                chunk.batch.statuses.append((parsed.meter, status, self.clock.now()))
            elif p.payload:  # an empty retained message only clears the retained status
                chunk.batch.rejects[RejectReason.MALFORMED.value] += 1
        elif parsed.channel is topics.Channel.COMMAND_ACK:
            try:
                chunk.command_acks.append((parsed.meter, decode_ack(p.payload)))
            except CommandError as exc:
                chunk.batch.rejects[BAD_ACK] += 1
                log.warning("ignored a command acknowledgement from %s: %s", parsed.meter, exc)
        else:
            chunk.batch.rejects[UNKNOWN_TOPIC] += 1


def merge(chunks: list[Chunk]) -> IngestBatch:
    if len(chunks) == 1:
        return chunks[0].batch
    batch = IngestBatch()
    for c in chunks:
        batch.readings += c.batch.readings
        batch.statuses += c.batch.statuses
        batch.rejects.update(c.batch.rejects)
    return batch
