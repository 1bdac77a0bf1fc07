"""The wire format: readings as SenML packs (RFC 8428, JSON).

One reading is a group of records that starts with the cumulative register::

    [{"bn": "urn:dev:mtr:r1-e000001:", "bt": 1763600000,
      "n": "energy", "u": "kWh", "s": 1234.5},
     {"n": "seq", "v": 17},
     {"n": "power", "u": "W", "v": 450.0}]

A pack may carry several readings (a backlog after an outage): each group starts with
its register record, and every record of a group carries the same time offset ``t``
from ``bt``. ``seq`` is the meter's message counter and must strictly increase inside
a pack. Anything else is refused with a :class:`WireError` naming the reason, so the
fog node can count rejects by reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from nevoa_core.ids import is_valid_id
from nevoa_core.kinds import BY_RATE_NAME, BY_REGISTER_NAME, REGISTER_MODULUS, Kind

BN_PREFIX = "urn:dev:mtr:"
MAX_PAYLOAD_BYTES = 256 * 1024
# The largest MQTT packet anyone accepts: a pack of MAX_PAYLOAD_BYTES plus its topic and
# headers. The brokers (broker/*.conf: max_packet_size) disconnect a client that sends a
# larger one without acknowledging it, and the fog node asks for packets up to this size
# (CONNECT Maximum Packet Size), so a message the broker accepted always reaches the fog;
# there a pack over MAX_PAYLOAD_BYTES is refused and counted (malformed).
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 1024
MAX_READINGS_PER_PACK = 5_000
# A register counts up to its modulus and wraps (nevoa_core.kinds): a value at or above it
# is impossible for the meter, not consumption. Exclusive bound.
MAX_REGISTER = REGISTER_MODULUS
MAX_SEQ = 2**53 - 1  # exactly representable in JSON numbers everywhere
# A reading more than this many seqs ahead of its meter's latest is refused (counted as
# seq_jump): one corrupt seq must not make every later reading of the meter look stale.
# A meter sending every second would need four months of lost readings to jump this far.
MAX_SEQ_JUMP = 10_000_000
EARLIEST_TIME = 946_684_800.0  # 2000-01-01: meters do not report from before
LATEST_TIME = 4_102_444_800.0  # 2100-01-01


class RejectReason(str, Enum):
    MALFORMED = "malformed"  # not JSON, too large
    NOT_SENML = "not_senml"  # JSON, but not a SenML pack nevoa understands
    BN_MISMATCH = "bn_mismatch"  # base name disagrees with the topic
    MISSING_FIELD = "missing_field"  # no register, no seq, no time
    SEQ_ORDER = "seq_order"  # seq not strictly increasing
    BAD_VALUE = "bad_value"  # NaN, negative, absurd, wrong unit


class WireError(ValueError):
    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Reading:
    meter: str
    seq: int
    time: float  # epoch seconds, the meter's (possibly simulated) clock
    kind: Kind
    register: float  # kWh or m3
    rate: float | None = None  # W or m3/s


def base_name(meter: str) -> str:
    return f"{BN_PREFIX}{meter}:"


def encode_pack(meter: str, readings: Sequence[Reading]) -> bytes:
    """Encode readings of one meter (in seq order) as one SenML pack."""
    if not readings:
        raise ValueError("a pack carries at least one reading")
    bt = readings[0].time
    records: list[dict[str, Any]] = []
    for r in readings:
        spec = r.kind.spec
        head: dict[str, Any] = {"n": spec.register_name, "u": spec.register_unit, "s": r.register}
        offset = round(r.time - bt, 3)
        if not records:
            head = {"bn": base_name(meter), "bt": bt, **head}
        elif offset:
            head["t"] = offset
        records.append(head)
        seq: dict[str, Any] = {"n": "seq", "v": r.seq}
        if offset:
            seq["t"] = offset
        records.append(seq)
        if r.rate is not None:
            rate: dict[str, Any] = {"n": spec.rate_name, "u": spec.rate_unit, "v": r.rate}
            if offset:
                rate["t"] = offset
            records.append(rate)
    return json.dumps(records, separators=(",", ":")).encode()


def _reject_constant(name: str) -> float:
    raise WireError(RejectReason.BAD_VALUE, f"{name} is not a number")


def _number(record: dict[str, Any], field: str, what: str) -> float:
    value = record.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(RejectReason.MISSING_FIELD, f"{what} needs a numeric {field!r}")
    try:
        number = float(value)
    except OverflowError:  # a JSON integer of 309 to 4300 digits: no float holds it
        raise WireError(RejectReason.BAD_VALUE, f"{what} is not finite") from None
    if not math.isfinite(number):
        raise WireError(RejectReason.BAD_VALUE, f"{what} is not finite")
    return number


class _Group:
    __slots__ = ("kind", "rate", "register", "seq", "time")

    def __init__(self, kind: Kind, register: float, time: float) -> None:
        self.kind = kind
        self.register = register
        self.time = time
        self.seq: int | None = None
        self.rate: float | None = None


def decode_pack(payload: bytes | str, meter: str | None = None) -> list[Reading]:
    """Decode and validate a pack; ``meter`` is the id the topic names, if any."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(RejectReason.MALFORMED, f"pack larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        records = json.loads(payload, parse_constant=_reject_constant)
    except WireError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise WireError(RejectReason.MALFORMED, f"not JSON: {exc}") from None
    if not isinstance(records, list) or not records:
        raise WireError(RejectReason.NOT_SENML, "a SenML pack is a non-empty JSON array")
    if not all(isinstance(r, dict) for r in records):
        raise WireError(RejectReason.NOT_SENML, "every SenML record is a JSON object")
    name = _meter_of(records[0], meter)
    bt = _number(records[0], "bt", "the first record")
    groups: list[_Group] = []
    for index, record in enumerate(records):
        _check_record_fields(record, is_first=index == 0)
        _add_record(groups, record, bt)
    if not groups:
        raise WireError(RejectReason.MISSING_FIELD, "the pack carries no register record")
    if len(groups) > MAX_READINGS_PER_PACK:
        raise WireError(RejectReason.MALFORMED, f"more than {MAX_READINGS_PER_PACK} readings")
    readings: list[Reading] = []
    previous_seq = -1
    for g in groups:
        if g.seq is None:
            raise WireError(RejectReason.MISSING_FIELD, "every reading needs a 'seq' record")
        if g.seq <= previous_seq:
            raise WireError(RejectReason.SEQ_ORDER, "seq must strictly increase within a pack")
        previous_seq = g.seq
        readings.append(Reading(name, g.seq, g.time, g.kind, g.register, g.rate))
    return readings


def _meter_of(first: dict[str, Any], expected: str | None) -> str:
    bn = first.get("bn")
    if not isinstance(bn, str):
        raise WireError(RejectReason.MISSING_FIELD, "the first record needs a base name 'bn'")
    name = bn[len(BN_PREFIX) : -1] if bn.startswith(BN_PREFIX) and bn.endswith(":") else ""
    if not is_valid_id(name):
        raise WireError(RejectReason.NOT_SENML, f"base name {bn!r} is not urn:dev:mtr:<meter>:")
    if expected is not None and name != expected:
        raise WireError(
            RejectReason.BN_MISMATCH, f"base name names meter {name!r}, topic names {expected!r}"
        )
    return name


def _check_record_fields(record: dict[str, Any], is_first: bool) -> None:
    if not is_first and ("bn" in record or "bt" in record):
        raise WireError(RejectReason.NOT_SENML, "only the first record may carry bn/bt")
    for key in record:
        # RFC 8428 section 4.4: fields ending in "_" must be understood or the pack refused
        if key.endswith("_"):
            raise WireError(RejectReason.NOT_SENML, f"unsupported must-understand field {key!r}")


def _add_record(groups: list[_Group], record: dict[str, Any], bt: float) -> None:
    name = record.get("n")
    if not isinstance(name, str):
        raise WireError(RejectReason.MISSING_FIELD, "every record needs a name 'n'")
    offset = _number(record, "t", f"record {name!r}") if "t" in record else 0.0
    time = bt + offset
    if not EARLIEST_TIME <= time <= LATEST_TIME:
        raise WireError(RejectReason.BAD_VALUE, f"time {time} is outside 2000-2100")
    kind = BY_REGISTER_NAME.get(name)
    if kind is not None:
        _unit(record, kind.spec.register_unit, name)
        register = _number(record, "s", f"register {name!r}")
        if not 0.0 <= register < MAX_REGISTER:
            raise WireError(RejectReason.BAD_VALUE, f"register {register} out of range")
        if groups and groups[0].kind is not kind:
            raise WireError(RejectReason.NOT_SENML, "a pack mixes energy and volume registers")
        groups.append(_Group(kind, register, time))
        return
    if not groups:
        raise WireError(RejectReason.MISSING_FIELD, f"record {name!r} before any register record")
    group = groups[-1]
    if time != group.time:
        raise WireError(RejectReason.NOT_SENML,
                        f"record {name!r} has another time than its reading")
    if name == "seq":
        seq = record.get("v")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
            raise WireError(RejectReason.BAD_VALUE, "seq must be an integer from 0 to 2^53-1")
        if group.seq is not None:
            raise WireError(RejectReason.NOT_SENML, "a reading carries one seq")
        group.seq = seq
        return
    rate_kind = BY_RATE_NAME.get(name)
    if rate_kind is group.kind:
        _unit(record, rate_kind.spec.rate_unit, name)
        rate = _number(record, "v", f"record {name!r}")
        if not 0.0 <= rate <= rate_kind.spec.max_rate:
            raise WireError(RejectReason.BAD_VALUE, f"{name} {rate} out of range")
        group.rate = rate
        return
    raise WireError(RejectReason.NOT_SENML, f"unknown record name {name!r}")


def _unit(record: dict[str, Any], unit: str, name: str) -> None:
    if record.get("u") != unit:
        raise WireError(RejectReason.BAD_VALUE, f"record {name!r} must have unit {unit!r}")
