"""Fuzzing the hand-written MQTT 5 decoder (``fog_node.mqtt_wire``).

``parse_packets`` is held to a slow, obviously correct reference decoder written from
the MQTT 5 specification: on any bytes, split anywhere, both return the same packets,
consume the same bytes, and refuse the same streams (with ``ProtocolError``, nothing
else). ``parse_connack`` and ``parse_suback`` read valid bodies whatever the order of
their properties and refuse anything else with ``ProtocolError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fog_node import mqtt_wire as wire
from tests.fuzz.support import fuzz

BIG = 1 << 20  # max_packet for the tests where no packet is too large

# --- the reference decoder ----------------------------------------------------------------


class Malformed(Exception):
    pass


def ref_varint(buf: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """A Variable Byte Integer at ``pos``: (value, next pos); None if cut at ``end``."""
    value = 0
    for k in range(4):
        if pos + k >= end:
            return None
        value |= (buf[pos + k] & 0x7F) << (7 * k)
        if not buf[pos + k] & 0x80:
            return value, pos + k + 1
    raise Malformed("a variable byte integer of more than 4 bytes")


def ref_publish(first: int, body: bytes) -> wire.Publish:
    """MQTT 5 section 3.3: topic, packet identifier if QoS > 0, properties, payload."""
    qos = (first >> 1) & 3
    if qos > 1:
        raise Malformed("QoS 2 on a QoS 1 subscription, or QoS 3")
    if len(body) < 2:
        raise Malformed("no topic length")
    topic_end = 2 + ((body[0] << 8) | body[1])
    if topic_end > len(body):
        raise Malformed("topic beyond the packet")
    pos, mid = topic_end, 0
    if qos:
        if pos + 2 > len(body):
            raise Malformed("packet identifier beyond the packet")
        mid = (body[pos] << 8) | body[pos + 1]
        if mid == 0:
            raise Malformed("packet identifier 0")
        pos += 2
    props = ref_varint(body, pos, len(body))
    if props is None:
        raise Malformed("property length beyond the packet")
    length, pos = props
    if pos + length > len(body):
        raise Malformed("properties beyond the packet")
    return wire.Publish(body[2:topic_end].decode("utf-8", "replace"), body[pos + length:],
                        qos, mid)


def reference(buf: bytes, max_packet: int) -> tuple[list[object], int, bool]:
    """(the packets decoded, bytes consumed, whether the stream is refused)."""
    packets: list[object] = []
    pos = 0
    try:
        while len(buf) - pos >= 2:
            header = ref_varint(buf, pos + 1, len(buf))
            if header is None:
                break
            length, start = header
            if length > max_packet:
                raise Malformed("too large")
            if start + length > len(buf):
                break
            body = buf[start:start + length]
            kind = buf[pos] >> 4
            packets.append(ref_publish(buf[pos], body) if kind == wire.PUBLISH
                           else wire.Control(kind, body))
            pos = start + length
    except Malformed:
        return packets, pos, True
    return packets, pos, False


def parse(buf: bytes, max_packet: int, as_bytearray: bool = False
          ) -> tuple[list[object], int, bool]:
    """parse_packets, in the reference's terms; any exception but ProtocolError fails."""
    publishes: list[wire.Publish] = []
    controls: list[wire.Control] = []
    consumed, refused = 0, False
    try:
        consumed = wire.parse_packets(bytearray(buf) if as_bytearray else buf, publishes,
                                      controls, max_packet)
    except wire.ProtocolError:
        refused = True
    else:
        assert 0 <= consumed <= len(buf)
    # the order across the two lists is kept by the reference; compare per kind
    return [*publishes, *controls], consumed, refused


def assert_like_reference(buf: bytes, max_packet: int) -> None:
    packets, consumed, refused = reference(buf, max_packet)
    for as_bytearray in (False, True):
        got, got_consumed, got_refused = parse(buf, max_packet, as_bytearray)
        assert got_refused == refused, (buf, packets)
        expected = [p for p in packets if isinstance(p, wire.Publish)] + [
            p for p in packets if isinstance(p, wire.Control)]
        if refused:  # what came before the bad packet was decoded; the caller disconnects
            assert got == expected
        else:
            assert (got, got_consumed) == (expected, consumed)
        for p in got:
            if isinstance(p, wire.Publish):
                assert type(p.payload) is bytes


# --- valid packets ------------------------------------------------------------------------


def u16(n: int) -> bytes:
    return struct.pack("!H", n)


def mqtt_string(raw: bytes) -> bytes:
    return u16(len(raw)) + raw


utf8 = st.text(st.characters(exclude_categories=["Cs"]), max_size=30).map(str.encode)
BYTE, TWO, FOUR, VARINT, STRING, BINARY, PAIR = range(7)
PROPERTY_TYPES = {
    0x01: BYTE, 0x02: FOUR, 0x03: STRING, 0x08: STRING, 0x09: BINARY, 0x0B: VARINT,
    0x11: FOUR, 0x12: STRING, 0x13: TWO, 0x15: STRING, 0x16: BINARY, 0x17: BYTE, 0x18: FOUR,
    0x19: BYTE, 0x1A: STRING, 0x1C: STRING, 0x1F: STRING, 0x21: TWO, 0x22: TWO, 0x23: TWO,
    0x24: BYTE, 0x25: BYTE, 0x26: PAIR, 0x27: FOUR, 0x28: BYTE, 0x29: BYTE, 0x2A: BYTE,
}
CONNACK_PROPERTIES = [0x11, 0x21, 0x24, 0x25, 0x27, 0x12, 0x22, 0x1F, 0x26, 0x28, 0x29, 0x2A,
                      0x13, 0x1A, 0x1C, 0x15, 0x16]
PUBLISH_PROPERTIES = [0x01, 0x02, 0x23, 0x08, 0x09, 0x26, 0x0B, 0x03]


@st.composite
def property_value(draw: st.DrawFn, pid: int) -> tuple[bytes, Any]:
    """One property: its encoding and the value parse_connack reports for it."""
    kind = PROPERTY_TYPES[pid]
    if kind == BYTE:
        n = draw(st.integers(0, 255))
        return bytes([pid, n]), n
    if kind == TWO:
        n = draw(st.integers(0, 0xFFFF))
        return bytes([pid]) + u16(n), n
    if kind == FOUR:
        n = draw(st.integers(0, 0xFFFFFFFF))
        return bytes([pid]) + struct.pack("!I", n), n
    if kind == VARINT:
        n = draw(st.integers(1, 268_435_455))
        return bytes([pid]) + wire.varint(n), n
    if kind == STRING:
        raw = draw(utf8)
        return bytes([pid]) + mqtt_string(raw), raw.decode()
    if kind == BINARY:
        raw = draw(st.binary(max_size=30))
        return bytes([pid]) + mqtt_string(raw), raw
    key, value = draw(utf8), draw(st.binary(max_size=200) | utf8)  # long pairs: 2-byte varint
    return bytes([pid]) + mqtt_string(key) + mqtt_string(value), None


@st.composite
def properties(draw: st.DrawFn, allowed: list[int]) -> tuple[bytes, dict[int, Any]]:
    """Properties in any order (user properties repeated); their section and values."""
    pids = draw(st.lists(st.sampled_from(allowed), unique=True, max_size=6))
    pids += [0x26] * draw(st.integers(0, 2))
    pids = draw(st.permutations(pids))
    encoded, values = b"", {}
    for pid in pids:
        raw, value = draw(property_value(pid))
        encoded += raw
        if pid != 0x26:
            values[pid] = value
    return wire.varint(len(encoded)) + encoded, values


@dataclass(frozen=True)
class Packet:
    raw: bytes
    decoded: object  # what parse_packets returns for it: a Publish or a Control


def packet(first: int, body: bytes, decoded: object) -> Packet:
    return Packet(bytes([first]) + wire.varint(len(body)) + body, decoded)


@st.composite
def publishes(draw: st.DrawFn) -> Packet:
    topic = draw(utf8 | st.sampled_from([b"nevoa/r1/meters/r1-e000001/reading",
                                         b"\xff\xfe", b""]))
    qos = draw(st.sampled_from([0, 1, 1]))
    mid = draw(st.integers(1, 0xFFFF)) if qos else 0
    props = draw(st.just(b"\x00") | properties(PUBLISH_PROPERTIES).map(lambda p: p[0]))
    payload = draw(st.binary(max_size=100) | st.sampled_from([b"", b"x" * 200, b"y" * 17_000]))
    flags = (qos << 1) | draw(st.integers(0, 1)) | (draw(st.integers(0, 1)) << 3 if qos else 0)
    body = mqtt_string(topic) + (u16(mid) if qos else b"") + props + payload
    return packet(0x30 | flags, body,
                  wire.Publish(topic.decode("utf-8", "replace"), payload, qos, mid))


def connack_body(session_present: bool, reason: int, props: bytes) -> bytes:
    return bytes([int(session_present), reason]) + props


def control(first: int, body: bytes) -> Packet:
    return packet(first, body, wire.Control(first >> 4, body))


connacks = st.builds(
    lambda sp, reason, props: control(0x20, connack_body(sp, reason, props[0])),
    st.booleans(), st.integers(0, 255), properties(CONNACK_PROPERTIES))
GRANTED_OR_REFUSED = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2]
subacks = st.builds(
    lambda mid, props, codes: control(0x90, u16(mid) + props[0] + bytes(codes)),
    st.integers(1, 0xFFFF), properties([0x1F, 0x26]),
    st.lists(st.sampled_from(GRANTED_OR_REFUSED), min_size=1, max_size=5))
pingresps = st.just(control(0xD0, b""))
others = st.builds(  # PUBACK, PUBREC..., UNSUBACK, DISCONNECT, AUTH: bodies passed on as is
    control, st.sampled_from([0x40, 0x50, 0x62, 0x70, 0xB0, 0xE0, 0xF0]), st.binary(max_size=20))
any_packet = st.one_of(publishes(), publishes(), connacks, subacks, pingresps, others)


def concatenated(packets: list[Packet]) -> bytes:
    return b"".join(p.raw for p in packets)


# --- mutations of streams -----------------------------------------------------------------


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    """A valid stream, then flips, cut bodies, lengths rewritten, garbage, QoS 2/3."""
    data = bytearray(concatenated(draw(st.lists(any_packet, min_size=1, max_size=5))))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF, 0x30, 0x32,
                                             0x34, 0x36, 0xD0]))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 4))]
    return bytes(data)


packet_like = st.builds(  # a first byte that is often a PUBLISH, a short length, any body
    lambda first, body, length: bytes([first]) + wire.varint(
        len(body) if length is None else length) + body,
    st.sampled_from([0x30, 0x31, 0x32, 0x33, 0x34, 0x36, 0x3A, 0x3B, 0x20, 0x90, 0xD0])
    | st.integers(0, 255),
    st.binary(max_size=12), st.none() | st.integers(0, 20))

# --- the tests: parse_packets -------------------------------------------------------------

# Regressions: a PUBLISH shorter than its own header read past its end into the next
# packet (topic, packet identifier, property length) or raised IndexError.
NEXT = b"\xd0\x00"  # a PINGRESP after the bad packet


@fuzz
@given(st.binary(max_size=120), st.sampled_from([0, 1, 2, 8, 64, BIG]))
@example(b"\x30\x00" + NEXT, BIG)  # no topic length: IndexError or read the PINGRESP
@example(b"\x30\x01\x00" + NEXT, BIG)  # half a topic length
@example(b"\x30\x02\x00\x05" + NEXT + b"abc", BIG)  # the topic runs past the packet
@example(b"\x30\x02\x00\x00" + NEXT, BIG)  # no property length: read 0xd0 as one
@example(b"\x32\x03\x00\x00\x00" + NEXT, BIG)  # half a packet identifier
@example(b"\x32\x04\x00\x00\x00\x07", BIG)  # no property length after the identifier
@example(b"\x30\x03\x00\x00\x05abcd" + NEXT, BIG)  # properties run past the packet
@example(b"\x30\x04\x00\x00\x80\x01" + NEXT, BIG)  # a 2-byte property length, cut
@example(b"\x32\x05\x00\x00\x00\x00\x00", BIG)  # packet identifier 0
@example(b"\x36\x05\x00\x00\x00\x01\x00", BIG)  # QoS 3
@example(b"\x30\xff\xff\xff\xff\x01", BIG)  # a 5-byte remaining length
def test_arbitrary_bytes_parse_like_the_reference(buf: bytes, max_packet: int) -> None:
    assert_like_reference(buf, max_packet)


@fuzz
@given(st.lists(packet_like, min_size=1, max_size=6).map(b"".join),
       st.sampled_from([4, 64, BIG]))
def test_packet_like_bytes_parse_like_the_reference(buf: bytes, max_packet: int) -> None:
    assert_like_reference(buf, max_packet)


@fuzz
@given(mutated_streams(), st.sampled_from([64, BIG]))
def test_mutated_streams_parse_like_the_reference(buf: bytes, max_packet: int) -> None:
    assert_like_reference(buf, max_packet)


@fuzz
@given(st.lists(any_packet, min_size=1, max_size=8), st.data(), st.booleans())
def test_valid_streams_split_anywhere_give_exactly_the_complete_packets(
        packets: list[Packet], data: st.DataObject, as_bytearray: bool) -> None:
    stream = concatenated(packets)
    ends = [0]
    for p in packets:
        ends.append(ends[-1] + len(p.raw))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    buf, offset, decoded = b"", 0, 0  # offset: where buf starts in the stream
    for chunk in chunks:
        buf += chunk
        publishes: list[wire.Publish] = []
        controls: list[wire.Control] = []
        consumed = wire.parse_packets(bytearray(buf) if as_bytearray else buf, publishes,
                                      controls, BIG)
        complete = max(e for e in ends if e <= offset + len(buf))  # the last complete end
        assert offset + consumed == complete
        done = ends.index(complete)
        expected = [p.decoded for p in packets[decoded:done]]
        assert publishes == [p for p in expected if isinstance(p, wire.Publish)]
        assert controls == [p for p in expected if isinstance(p, wire.Control)]
        buf, offset, decoded = buf[consumed:], offset + consumed, done
    assert buf == b"" and decoded == len(packets)


@fuzz
@given(publishes(), st.data(), any_packet)
def test_a_truncated_publish_never_swallows_the_next_packet(
        publish: Packet, data: st.DataObject, after: Packet) -> None:
    """A PUBLISH whose remaining length is cut short, then a valid packet: either the
    PUBLISH is refused, or it is read within its own bytes and the next packet follows."""
    assert isinstance(publish.decoded, wire.Publish)
    _, start = ref_varint(publish.raw, 1, len(publish.raw)) or (0, 0)
    body = publish.raw[start:]
    cut = body[:data.draw(st.integers(0, len(body) - 1))]
    stream = bytes([publish.raw[0]]) + wire.varint(len(cut)) + cut + after.raw
    assert_like_reference(stream, BIG)
    publishes: list[wire.Publish] = []
    controls: list[wire.Control] = []
    try:
        consumed = wire.parse_packets(stream, publishes, controls, BIG)
    except wire.ProtocolError:
        return
    assert consumed == len(stream)
    got = publishes[0]
    assert got.payload == publish.decoded.payload[:len(got.payload)]  # the payload cut
    assert (got.topic, got.qos, got.mid) == (publish.decoded.topic, publish.decoded.qos,
                                             publish.decoded.mid)
    assert [*publishes[1:], *controls] == [after.decoded]


@fuzz
@given(st.lists(any_packet, min_size=1, max_size=5), st.integers(0, 300))
def test_a_packet_larger_than_max_packet_is_refused(packets: list[Packet], max_packet: int
                                                    ) -> None:
    stream = concatenated(packets)
    assert_like_reference(stream, max_packet)
    largest = max((ref_varint(p.raw, 1, len(p.raw)) or (0, 0))[0] for p in packets)
    if largest > max_packet:
        with pytest.raises(wire.ProtocolError):
            wire.parse_packets(stream, [], [], max_packet)
    else:
        assert wire.parse_packets(stream, [], [], max_packet) == len(stream)


# --- the tests: CONNACK and SUBACK bodies -------------------------------------------------

# Regressions: parse_connack read the reason string only when it was the first property,
# and a property section longer than the body raised struct.error.


@fuzz
@given(st.booleans(), st.integers(0, 255), properties(CONNACK_PROPERTIES))
@example(False, 0x87, (b"\x07\x21\x00\x0a\x1f\x00\x01x", {0x21: 10, 0x1F: "x"}))
@example(False, 0x87, (b"\x04\x1f\x00\x01x", {0x1F: "x"}))
@example(True, 0, (b"\x00", {}))
def test_connack_properties_are_read_in_any_order(
        session_present: bool, reason: int, props: tuple[bytes, dict[int, Any]]) -> None:
    section, values = props
    body = connack_body(session_present, reason, section)
    ack = wire.parse_connack(body)
    assert (ack.session_present, ack.reason) == (session_present, reason)
    assert ack.reason_string == values.get(0x1F, "")
    assert ack.properties == values
    for cut in range(3, len(body)):  # a body cut short: never read beyond, refused
        with pytest.raises(wire.ProtocolError):
            wire.parse_connack(body[:cut])


@fuzz
@given(st.binary(max_size=60) | st.builds(
    lambda head, props, tail: head + props[0] + tail, st.binary(min_size=2, max_size=2),
    properties(CONNACK_PROPERTIES), st.binary(max_size=3)))
@example(b"\x00\x87\x05\x1f")  # struct.error: the reason string is cut
@example(b"\x00\x87\x04\x1f\x00\x09x")  # a reason string longer than its section
@example(b"\x00\x00\x01\x1f\x00\x01x")  # a reason string longer than the properties
@example(b"\x00\x00\x02\x7e\x00")  # an unknown property
@example(b"\x00\x00\x06\x1f\x00\x01x\x1f\x00")  # the reason string twice
@example(b"\x00\x00\x00junk")  # bytes after the properties
def test_any_connack_body_is_read_or_refused(body: bytes) -> None:
    try:
        ack = wire.parse_connack(body)
    except wire.ProtocolError:
        return
    assert isinstance(ack.reason_string, str) and 0 <= ack.reason <= 255


@fuzz
@given(st.integers(0, 0xFFFF), properties([0x1F, 0x26]),
       st.lists(st.sampled_from(GRANTED_OR_REFUSED), min_size=1, max_size=5),
       st.binary(max_size=40))
@example(1, (b"\x00", {}), [1], b"\x00\x01")  # no property length
@example(1, (b"\x00", {}), [1], b"\x00\x01\x09\x1f")  # properties beyond the body
@example(1, (b"\x00", {}), [1], b"\x00\x01\x00")  # no reason code at all
@example(1, (b"\x00", {}), [1], b"\x00\x01\x00\x05")  # 5 is neither granted nor refused
def test_suback_codes_are_read_and_anything_else_refused(
        mid: int, props: tuple[bytes, dict[int, Any]], codes: list[int], junk: bytes) -> None:
    body = u16(mid) + props[0] + bytes(codes)
    assert wire.parse_suback(body) == codes
    for cut in range(0, len(body) - len(codes) + 1):  # no reason code left: refused
        with pytest.raises(wire.ProtocolError):
            wire.parse_suback(body[:cut])
    try:
        got = wire.parse_suback(junk)
    except wire.ProtocolError:
        return
    assert got and all(c <= 2 or c >= 0x80 for c in got)
