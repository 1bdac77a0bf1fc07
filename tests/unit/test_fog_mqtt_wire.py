"""The hand-written MQTT 5 packets: what they encode, and parsing split streams."""

from __future__ import annotations

import pytest

from fog_node import mqtt_wire as wire


def parse_all(data: bytes, step: int) -> tuple[list[wire.Publish], list[wire.Control]]:
    """Feed ``data`` in pieces of ``step`` bytes, as a socket would."""
    buf = bytearray()
    pubs: list[wire.Publish] = []
    controls: list[wire.Control] = []
    for i in range(0, len(data), step):
        buf += data[i:i + step]
        del buf[:wire.parse_packets(buf, pubs, controls, 1 << 20)]
    assert not buf
    return pubs, controls


def test_varint_matches_the_spec_examples() -> None:
    assert wire.varint(0) == b"\x00"
    assert wire.varint(127) == b"\x7f"
    assert wire.varint(128) == b"\x80\x01"
    assert wire.varint(16_383) == b"\xff\x7f"
    assert wire.varint(2_097_152) == b"\x80\x80\x80\x01"


def test_connect_carries_session_expiry_receive_maximum_and_no_clean_start() -> None:
    packet = wire.connect_packet("fog-r1", 30, False, 3600, 20_000, 1 << 20, "u", "p")
    assert packet[0] == 0x10
    assert b"\x00\x04MQTT\x05" in packet
    flags = packet[packet.index(b"MQTT") + 5]
    assert flags == 0xC0  # username, password, no clean start
    assert b"\x11\x00\x00\x0e\x10" in packet and b"\x21\x4e\x20" in packet
    assert packet.endswith(b"\x00\x06fog-r1\x00\x01u\x00\x01p")


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_publishes_are_parsed_across_any_split(step: int) -> None:
    big = bytes(range(256)) * 600  # a remaining length of 3 bytes
    data = (wire.publish_packet("a/b", b"one", 1, 1) + wire.publish_packet("c", big, 1, 65_535)
            + wire.publish_packet("d", b"", 0) + b"\xd0\x00")
    pubs, controls = parse_all(data, step)
    assert [(p.topic, p.qos, p.mid) for p in pubs] == [("a/b", 1, 1), ("c", 1, 65_535),
                                                       ("d", 0, 0)]
    assert pubs[1].payload == big and pubs[0].payload == b"one"
    assert [c.kind for c in controls] == [wire.PINGRESP]


def test_publish_properties_are_skipped() -> None:
    # topic "t", mid 7, properties of 3 bytes (message expiry would be longer: any bytes do)
    body = b"\x00\x01t\x00\x07\x03\x01\x01\x00payload"
    packet = bytes([0x32, len(body)]) + body
    (pub,), _ = parse_all(packet, 100)
    assert (pub.topic, pub.mid, pub.payload) == ("t", 7, b"payload")


def test_qos2_and_oversized_packets_are_protocol_errors() -> None:
    with pytest.raises(wire.ProtocolError):
        parse_all(bytes([0x34, 6]) + b"\x00\x01t\x00\x01\x00", 100)
    with pytest.raises(wire.ProtocolError):
        wire.parse_packets(bytearray(b"\x30\xff\xff\x7f"), [], [], 1000)


def test_pubacks_are_one_buffer() -> None:
    assert wire.pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"


def test_connack_and_suback() -> None:
    ack = wire.parse_connack(b"\x01\x00\x00")
    assert ack.session_present and ack.reason == 0
    refused = wire.parse_connack(b"\x00\x87\x04\x1f\x00\x01x")
    assert refused.reason == 0x87 and refused.reason_string == "x"
    assert wire.parse_suback(b"\x00\x01\x00\x01\x80") == [1, 0x80]
