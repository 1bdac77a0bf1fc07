"""The MQTT 5 packets the ingest connection needs, encoded and decoded by hand.

Only what a QoS 1 subscriber uses: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH in,
PUBACK out, PINGREQ/PINGRESP, DISCONNECT. :func:`parse_packets` decodes every complete
packet in a buffer in one pass, without a Python object per header field: that tight
loop is why the fog node drains a backlog several times faster than with paho (see
README.md, "The fog node", "Choice of MQTT client").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # reason 0: normal disconnection, the session stays

_PROP_SESSION_EXPIRY = 0x11
_PROP_RECEIVE_MAXIMUM = 0x21
_PROP_REASON_STRING = 0x1F
_PROP_MAXIMUM_PACKET_SIZE = 0x27


class ProtocolError(Exception):
    """The broker sent something this client does not accept; the connection is dropped."""


@dataclass(slots=True)  # not frozen: a frozen dataclass is slower to build, per message
class Publish:
    """One PUBLISH received; ``mid`` is 0 for QoS 0."""

    topic: str
    payload: bytes
    qos: int
    mid: int


@dataclass(frozen=True, slots=True)
class Control:
    """Any other packet received: its type and body (without the fixed header)."""

    kind: int
    body: bytes


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _string(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(raw)) + raw


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + varint(len(body)) + body


def connect_packet(
    client_id: str,
    keepalive: int,
    clean_start: bool,
    session_expiry: int,
    receive_maximum: int,
    maximum_packet_size: int,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    flags = 0x02 if clean_start else 0
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    props = (bytes([_PROP_SESSION_EXPIRY]) + struct.pack("!I", session_expiry)
             + bytes([_PROP_RECEIVE_MAXIMUM]) + struct.pack("!H", receive_maximum)
             # the broker drops larger messages instead of sending what we would refuse
             + bytes([_PROP_MAXIMUM_PACKET_SIZE]) + struct.pack("!I", maximum_packet_size))
    body = _string("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive)
    body += varint(len(props)) + props + _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return _packet(CONNECT << 4, body)


def subscribe_packet(mid: int, filters: list[str], qos: int = 1) -> bytes:
    body = struct.pack("!H", mid) + b"\x00"  # no properties
    for f in filters:
        body += _string(f) + bytes([qos])
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def publish_packet(topic: str, payload: bytes, qos: int = 0, mid: int = 0,
                   retain: bool = False) -> bytes:
    """A PUBLISH without properties (the benchmark's fast publisher and the tests use it)."""
    head = _string(topic) + (struct.pack("!H", mid) if qos else b"") + b"\x00"
    return _packet((PUBLISH << 4) | (qos << 1) | int(retain), head + payload)


def pubacks(mids: list[int]) -> bytes:
    """PUBACKs (reason 0, success) for many messages, as one buffer to send at once."""
    return b"".join(b"\x40\x02" + m.to_bytes(2, "big") for m in mids)


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    reason: int
    reason_string: str


def parse_connack(body: bytes) -> ConnAck:
    if len(body) < 2:
        raise ProtocolError("CONNACK too short")
    reason_string = ""
    if len(body) > 2:
        props, _ = _properties(body, 2)
        reason_string = props.get(_PROP_REASON_STRING, "")
    return ConnAck(bool(body[0] & 1), body[1], reason_string)


def parse_suback(body: bytes) -> list[int]:
    """The reason codes of a SUBACK: the granted QoS, or >= 0x80 for a refusal."""
    props_len, pos = _read_varint(body, 2)
    return list(body[pos + props_len:])


def _read_varint(buf: bytes | bytearray, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtocolError("truncated variable byte integer")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ProtocolError("variable byte integer longer than 4 bytes")


def _properties(body: bytes, pos: int) -> tuple[dict[int, str], int]:
    """Only the reason string is kept; the rest is skipped (we do not need it)."""
    length, pos = _read_varint(body, pos)
    end = pos + length
    found: dict[int, str] = {}
    if body[pos:end].startswith(bytes([_PROP_REASON_STRING])) and end - pos >= 3:
        n = struct.unpack_from("!H", body, pos + 1)[0]
        found[_PROP_REASON_STRING] = body[pos + 3 : pos + 3 + n].decode("utf-8", "replace")
    return found, end


def parse_packets(
    buf: bytes | bytearray, publishes: list[Publish], controls: list[Control], max_packet: int
) -> int:
    """Decode the complete packets at the start of ``buf``; return the bytes consumed.

    Given ``bytes`` (not a bytearray), payloads are sliced out without a second copy.

    PUBLISH packets go to ``publishes``, everything else to ``controls``. A packet cut
    at the end of the buffer is left for the next call.
    """
    pos = 0
    end = len(buf)
    while end - pos >= 2:
        first = buf[pos]
        # remaining length: 1-4 bytes, 7 bits each
        i = pos + 1
        length = 0
        shift = 0
        while True:
            if i >= end:
                return pos
            byte = buf[i]
            i += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise ProtocolError("malformed remaining length")
        if length > max_packet:
            raise ProtocolError(f"packet of {length} bytes is larger than {max_packet}")
        stop = i + length
        if stop > end:
            return pos
        kind = first >> 4
        if kind == PUBLISH:
            qos = (first >> 1) & 3
            topic_len = (buf[i] << 8) | buf[i + 1]
            j = i + 2 + topic_len
            topic = buf[i + 2 : j].decode("utf-8", "replace")
            mid = 0
            if qos:
                if qos > 1:
                    raise ProtocolError("QoS 2 PUBLISH on a QoS 1 subscription")
                mid = (buf[j] << 8) | buf[j + 1]
                j += 2
            props = buf[j]
            if props < 0x80:
                j += 1 + props
            else:
                props, j = _read_varint(buf, j)
                j += props
            payload = buf[j:stop]
            publishes.append(Publish(topic, payload if isinstance(payload, bytes)
                                     else bytes(payload), qos, mid))
        else:
            controls.append(Control(kind, bytes(buf[i:stop])))
        pos = stop
    return pos
