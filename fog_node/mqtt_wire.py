"""The MQTT 5 packets the ingest connection needs, encoded and decoded by hand.

Only what a QoS 1 subscriber uses: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH in,
PUBACK out, PINGREQ/PINGRESP, DISCONNECT. :func:`parse_packets` decodes every complete
packet in a buffer in one pass, without a Python object per header field: that tight
loop is why the fog node drains a backlog several times faster than with paho (see
README.md, "The fog node", "Choice of MQTT client"). Whatever the bytes, the decoders
return a packet or raise :class:`ProtocolError` (tests/fuzz holds them to that).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # reason 0: normal disconnection, the session stays

_PROP_SESSION_EXPIRY = 0x11
_PROP_RECEIVE_MAXIMUM = 0x21
_PROP_REASON_STRING = 0x1F
_PROP_USER_PROPERTY = 0x26
_PROP_MAXIMUM_PACKET_SIZE = 0x27

# how each MQTT 5 property is encoded (section 2.2.2.2), by identifier
_BYTE, _TWO_BYTES, _FOUR_BYTES, _VARINT, _STRING, _BINARY, _STRING_PAIR = range(7)
_PROPERTY_TYPES = {
    0x01: _BYTE, 0x02: _FOUR_BYTES, 0x03: _STRING, 0x08: _STRING, 0x09: _BINARY,
    0x0B: _VARINT, 0x11: _FOUR_BYTES, 0x12: _STRING, 0x13: _TWO_BYTES, 0x15: _STRING,
    0x16: _BINARY, 0x17: _BYTE, 0x18: _FOUR_BYTES, 0x19: _BYTE, 0x1A: _STRING,
    0x1C: _STRING, 0x1F: _STRING, 0x21: _TWO_BYTES, 0x22: _TWO_BYTES, 0x23: _TWO_BYTES,
    0x24: _BYTE, 0x25: _BYTE, 0x26: _STRING_PAIR, 0x27: _FOUR_BYTES, 0x28: _BYTE,
    0x29: _BYTE, 0x2A: _BYTE,
}
_FIXED_SIZE = {_BYTE: 1, _TWO_BYTES: 2, _FOUR_BYTES: 4}


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


PropertyValue = int | str | bytes


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    reason: int
    reason_string: str
    # every property but the user properties, by identifier (0x13: Server Keep Alive...)
    properties: dict[int, PropertyValue] = field(default_factory=dict)


def parse_connack(body: bytes) -> ConnAck:
    if len(body) < 2:
        raise ProtocolError("CONNACK too short")
    props: dict[int, PropertyValue] = {}
    if len(body) > 2:
        props, end = _properties(body, 2)
        if end != len(body):
            raise ProtocolError("CONNACK has bytes after its properties")
    reason_string = props.get(_PROP_REASON_STRING, "")
    return ConnAck(bool(body[0] & 1), body[1],
                   reason_string if isinstance(reason_string, str) else "", props)


def parse_suback(body: bytes) -> list[int]:
    """The reason codes of a SUBACK: the granted QoS, or >= 0x80 for a refusal."""
    if len(body) < 3:
        raise ProtocolError("SUBACK too short")
    _, pos = _properties(body, 2)
    codes = list(body[pos:])
    if not codes:
        raise ProtocolError("SUBACK without a reason code")
    bad = next((c for c in codes if 2 < c < 0x80), None)
    if bad is not None:
        raise ProtocolError(f"SUBACK reason code 0x{bad:02x} is neither a QoS nor a refusal")
    return codes


def _read_varint(buf: bytes | bytearray, pos: int, end: int) -> tuple[int, int]:
    """The Variable Byte Integer at ``pos``, which must end before ``end``."""
    value = shift = 0
    while True:
        if pos >= end:
            raise ProtocolError("truncated variable byte integer")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ProtocolError("variable byte integer longer than 4 bytes")


def _properties(body: bytes, pos: int) -> tuple[dict[int, PropertyValue], int]:
    """The property section at ``pos``: every property, in any order, and where it ends.

    Each one is read by its type and must lie inside the section, which must lie inside
    ``body``; an unknown identifier or one given twice is refused (user properties may
    repeat: they are checked, not kept). Strings are decoded leniently: they are shown,
    never interpreted.
    """
    length, pos = _read_varint(body, pos, len(body))
    end = pos + length
    if end > len(body):
        raise ProtocolError("properties run past the end of the packet")
    found: dict[int, PropertyValue] = {}
    while pos < end:
        pid = body[pos]
        kind = _PROPERTY_TYPES.get(pid)
        if kind is None:
            raise ProtocolError(f"unknown property 0x{pid:02x}")
        pos += 1
        value: PropertyValue
        if kind in _FIXED_SIZE:
            size = _FIXED_SIZE[kind]
            if pos + size > end:
                raise ProtocolError(f"property 0x{pid:02x} runs past the properties")
            value = int.from_bytes(body[pos:pos + size], "big")
            pos += size
        elif kind == _VARINT:
            value, pos = _read_varint(body, pos, end)
        else:
            raw, pos = _binary(body, pos, end, pid)
            if kind == _STRING_PAIR:
                _, pos = _binary(body, pos, end, pid)
            value = raw if kind == _BINARY else raw.decode("utf-8", "replace")
        if pid == _PROP_USER_PROPERTY:
            continue
        if pid in found:
            raise ProtocolError(f"property 0x{pid:02x} given twice")
        found[pid] = value
    return found, end


def _binary(body: bytes, pos: int, end: int, pid: int) -> tuple[bytes, int]:
    """Length-prefixed data (a string or binary data) of property ``pid``, before ``end``."""
    if pos + 2 > end:
        raise ProtocolError(f"property 0x{pid:02x} runs past the properties")
    stop = pos + 2 + ((body[pos] << 8) | body[pos + 1])
    if stop > end:
        raise ProtocolError(f"property 0x{pid:02x} runs past the properties")
    return body[pos + 2:stop], stop


def parse_packets(
    buf: bytes | bytearray, publishes: list[Publish], controls: list[Control], max_packet: int
) -> int:
    """Decode the complete packets at the start of ``buf``; return the bytes consumed.

    Given ``bytes`` (not a bytearray), payloads are sliced out without a second copy.

    PUBLISH packets go to ``publishes``, everything else to ``controls``. A packet cut
    at the end of the buffer is left for the next call. A malformed packet raises
    :class:`ProtocolError` (and nothing else, whatever the bytes): a remaining length
    over 4 bytes or ``max_packet``, a PUBLISH of QoS 2 or 3, with packet identifier 0,
    or whose topic, identifier or properties run past its own end. PUBLISH properties
    are skipped by their length, not read.
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
            # every field is bounded by this packet's end (``stop``), never by the
            # buffer's: a PUBLISH too short for its own header must not read the next one
            if length < 3:
                raise ProtocolError("PUBLISH shorter than its header")
            qos = (first >> 1) & 3
            j = i + 2 + ((buf[i] << 8) | buf[i + 1])  # after the topic
            topic = buf[i + 2 : j].decode("utf-8", "replace")  # j is checked below
            mid = 0
            if qos:
                if qos > 1:
                    raise ProtocolError(f"QoS {qos} PUBLISH on a QoS 1 subscription")
                if j + 2 >= stop:
                    raise ProtocolError("PUBLISH cut before its properties")
                mid = (buf[j] << 8) | buf[j + 1]
                if not mid:
                    raise ProtocolError("QoS 1 PUBLISH with packet identifier 0")
                j += 2
            elif j >= stop:
                raise ProtocolError("PUBLISH cut before its properties")
            props = buf[j]
            if props < 0x80:
                j += 1 + props
            else:
                props, j = _read_varint(buf, j, stop)
                j += props
            if j > stop:
                raise ProtocolError("PUBLISH properties run past the packet")
            payload = buf[j:stop]
            publishes.append(Publish(topic, payload if isinstance(payload, bytes)
                                     else bytes(payload), qos, mid))
        else:
            controls.append(Control(kind, bytes(buf[i:stop])))
        pos = stop
    return pos
