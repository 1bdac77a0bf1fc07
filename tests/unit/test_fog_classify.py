"""Classification of received messages: readings, statuses, acks and rejects by reason."""

from __future__ import annotations

from fog_node.classify import BAD_ACK, UNKNOWN_TOPIC, Classifier, merge
from fog_node.mqtt_wire import Publish
from nevoa_core import topics
from nevoa_core.commands import CommandAck, Outcome
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading, encode_pack

R = "r1"


def publish(topic: str, payload: bytes, mid: int = 1) -> Publish:
    return Publish(topic, payload, 1, mid)


def reading(meter: str, seq: int) -> Publish:
    r = Reading(meter, seq, 1_763_600_000.0 + seq, Kind.ELECTRICITY, 10.0 + seq)
    return publish(topics.reading(R, meter), encode_pack(meter, [r]), seq)


def test_everything_is_classified_and_every_message_is_acknowledged() -> None:
    ack = CommandAck("c-1", Outcome.APPLIED, 1.0, "valve closed", "closed")
    messages = [
        reading("m1", 1),
        reading("m2", 2),
        publish(topics.reading(R, "m3"), b"{not json", 3),
        publish(topics.reading("r2", "m1"), reading("m1", 4).payload, 4),  # another region
        publish(topics.status(R, "m1"), b"online", 5),
        publish(topics.status(R, "m2"), b"", 6),  # clearing a retained status: ignored
        publish(topics.status(R, "m3"), b"maybe", 7),
        publish(topics.command_ack(R, "m1"), ack.encode(), 8),
        publish(topics.command_ack(R, "m1"), b"[]", 9),
        publish("nevoa/r1/else", b"x", 10),
    ]
    chunk = Classifier(R).chunk(messages, generation=3)
    assert [r.meter for r in chunk.batch.readings] == ["m1", "m2"]
    assert [(m, s) for m, s, _ in chunk.batch.statuses] == [("m1", "online")]
    assert chunk.command_acks == [("m1", ack)]
    assert chunk.batch.rejects == {"malformed": 2, UNKNOWN_TOPIC: 2, BAD_ACK: 1}
    assert chunk.mids == list(range(1, 11)) and chunk.generation == 3 and chunk.messages == 10


def test_a_pack_from_another_meter_is_a_bn_mismatch() -> None:
    wrong = publish(topics.reading(R, "m9"), reading("m1", 1).payload)
    assert Classifier(R).chunk([wrong], 1).batch.rejects == {"bn_mismatch": 1}


def test_chunks_merge_into_one_batch() -> None:
    c = Classifier(R)
    merged = merge([c.chunk([reading("a", 1)], 1), c.chunk([reading("b", 1),
                   publish(topics.reading(R, "b"), b"x")], 1)])
    assert [r.meter for r in merged.readings] == ["a", "b"]
    assert merged.rejects == {"malformed": 1}
