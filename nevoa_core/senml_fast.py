"""A fast path for the packs meters actually send, with exactly ``decode_pack``'s answer.

:func:`nevoa_core.senml.decode_pack` parses JSON into dicts and checks every field
(about 25 µs a reading on our machines). Nearly every pack on the wire is in the
canonical compact form :func:`~nevoa_core.senml.encode_pack` writes, which a regular
expression recognises in a few microseconds. :func:`decode_canonical` returns the
readings of such a pack when every check ``decode_pack`` makes passes, and ``None``
for anything else, which the caller then hands to ``decode_pack`` for the full
validation and its precise reject reason. A property test holds the two equal.
"""

from __future__ import annotations

import re

from nevoa_core.kinds import Kind
from nevoa_core.senml import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_PAYLOAD_BYTES,
    MAX_READINGS_PER_PACK,
    MAX_REGISTER,
    MAX_SEQ,
    Reading,
)

# a non-negative JSON number short enough that float() of it can never overflow
# (negative values are invalid anyway: decode_pack says why)
_NUM = rb"((?:0|[1-9][0-9]{0,19})(?:\.[0-9]{1,20})?(?:[eE][-+]?[0-9]{1,3})?)"
_SEQ = rb"(0|[1-9][0-9]{0,15})"
_REGISTER = rb'"n":"(energy","u":"kWh|volume","u":"m3)","s":' + _NUM
_RATE = rb'"n":"(power","u":"W|flow","u":"m3/s)","v":' + _NUM

_HEAD = re.compile(
    rb'\[\{"bn":"urn:dev:mtr:([A-Za-z0-9][A-Za-z0-9_.-]{0,63}):","bt":' + _NUM + rb","
    + _REGISTER + rb'\},\{"n":"seq","v":' + _SEQ + rb"\}(?:,\{" + _RATE + rb"\})?(\]?)"
)
# a later reading of a backlog pack: all its records carry the same offset "t", or none
_NEXT = re.compile(
    rb',\{' + _REGISTER + rb'(?:,"t":' + _NUM + rb')?\},\{"n":"seq","v":' + _SEQ
    + rb'(?:,"t":' + _NUM + rb')?\}(?:,\{' + _RATE + rb'(?:,"t":' + _NUM + rb')?\})?'
)

_KIND = {b'energy","u":"kWh': Kind.ELECTRICITY, b'volume","u":"m3': Kind.WATER}
# the rate record each register name goes with, and its limit (keyed by bytes: hashing
# an Enum member costs a Python call, and this runs for every message)
_RATE_LIMIT = {b'energy","u":"kWh': (b'power","u":"W', Kind.ELECTRICITY.spec.max_rate),
               b'volume","u":"m3': (b'flow","u":"m3/s', Kind.WATER.spec.max_rate)}


_INVALID = float("nan")  # the identity of this object marks a refused rate


def _rate(reg_name: bytes, rate_name: bytes | None, rate_text: bytes | None) -> float | None:
    """The reading's instantaneous rate: None when absent, ``_INVALID`` when its name does
    not fit the register or its value is out of range (also for inf)."""
    if rate_name is None:
        return None
    expected_rate, limit = _RATE_LIMIT[reg_name]
    if rate_name != expected_rate:
        return _INVALID
    rate = float(rate_text or b"nan")
    return rate if 0.0 <= rate <= limit else _INVALID


def decode_canonical(payload: bytes, meter: str) -> list[Reading] | None:
    """The readings of a canonical, valid pack from ``meter``; None: use ``decode_pack``."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    head = _HEAD.match(payload)
    if head is None:
        return None
    name, bt_text, reg_name, reg_text, seq_text, rate_name, rate_text, closing = head.groups()
    bt = float(bt_text)
    register = float(reg_text)
    seq = int(seq_text)
    rate = _rate(reg_name, rate_name, rate_text)
    if rate is _INVALID:
        return None
    if (name.decode() != meter or not EARLIEST_TIME <= bt <= LATEST_TIME
            or not 0.0 <= register < MAX_REGISTER or seq > MAX_SEQ):
        return None
    first = Reading(meter, seq, bt + 0.0, _KIND[reg_name], register, rate)
    if closing:
        return [first] if head.end() == len(payload) else None
    return _decode_backlog(payload, head.end(), first, bt)


def _decode_backlog(payload: bytes, pos: int, first: Reading, bt: float) -> list[Reading] | None:
    readings = [first]
    while payload[pos : pos + 1] == b",":
        later = _next_reading(payload, pos, readings[-1], bt)
        if later is None:
            return None
        reading, pos = later
        readings.append(reading)
    if payload[pos:] != b"]" or len(readings) > MAX_READINGS_PER_PACK:
        return None
    return readings


def _next_reading(payload: bytes, pos: int, previous: Reading, bt: float
                  ) -> tuple[Reading, int] | None:
    m = _NEXT.match(payload, pos)
    if m is None:
        return None
    reg_name, reg_text, t_reg, seq_text, t_seq, rate_name, rate_text, t_rate = m.groups()
    kind = previous.kind
    if _KIND[reg_name] is not kind:  # an identity test: no hashing
        return None
    # every record of the reading at the same time offset, written or not
    if not t_reg == t_seq == (t_rate if rate_name is not None else t_reg):
        return None
    time = bt + (float(t_reg) if t_reg is not None else 0.0)
    register = float(reg_text)
    seq = int(seq_text)
    rate = _rate(reg_name, rate_name, rate_text)
    if rate is _INVALID:
        return None
    if (seq <= previous.seq or seq > MAX_SEQ or not EARLIEST_TIME <= time <= LATEST_TIME
            or not 0.0 <= register < MAX_REGISTER):
        return None
    return Reading(previous.meter, seq, time, kind, register, rate), m.end()
