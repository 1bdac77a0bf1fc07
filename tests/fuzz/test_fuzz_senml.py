"""Fuzzing the SenML decoders: ``decode_pack`` and its fast path ``decode_canonical``.

Whatever the bytes, ``decode_pack`` returns valid readings or raises ``WireError`` (with
a reason), ``decode_canonical`` returns readings or None, and whenever the fast path
answers, its readings are exactly ``decode_pack``'s: it may step aside, never disagree.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from nevoa_core.kinds import Kind
from nevoa_core.senml import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_PAYLOAD_BYTES,
    MAX_READINGS_PER_PACK,
    MAX_REGISTER,
    MAX_SEQ,
    Reading,
    RejectReason,
    WireError,
    base_name,
    decode_pack,
    encode_pack,
)
from nevoa_core.senml_fast import decode_canonical
from tests.fuzz.support import HOSTILE_TOKENS, fuzz, json_scalars, json_values, mutate, render

METERS = ("r1-e000001", "r1-w000042", "A", "a.b_c-9", "z" * 64)
T0 = 1_763_600_000.0
OVERFLOWING_INT = b"1" + b"0" * 400  # an integer JSON accepts and no float holds

# --- the properties -----------------------------------------------------------------------


def check(payload: bytes | str, meter: str | None) -> list[Reading] | WireError:
    """Both decoders on one payload: no foreign exception, valid readings, agreement."""
    slow: list[Reading] | WireError
    try:
        slow = readings = decode_pack(payload, meter)
    except WireError as exc:
        assert isinstance(exc.reason, RejectReason) and exc.message
        slow = exc
    else:
        assert_valid(readings, meter)
    if isinstance(payload, bytes) and meter is not None:
        fast = decode_canonical(payload, meter)
        if fast is not None:
            assert fast == slow, "the fast path disagrees with decode_pack"
    return slow


def assert_valid(readings: list[Reading], meter: str | None) -> None:
    assert 1 <= len(readings) <= MAX_READINGS_PER_PACK
    assert len({r.meter for r in readings}) == 1
    assert meter is None or readings[0].meter == meter
    assert len({r.kind for r in readings}) == 1
    previous = -1
    for r in readings:
        assert isinstance(r.seq, int) and previous < r.seq <= MAX_SEQ
        previous = r.seq
        assert isinstance(r.time, float) and EARLIEST_TIME <= r.time <= LATEST_TIME
        assert isinstance(r.register, float) and 0.0 <= r.register < MAX_REGISTER
        assert r.rate is None or (isinstance(r.rate, float)
                                  and 0.0 <= r.rate <= r.kind.spec.max_rate)


# --- valid packs --------------------------------------------------------------------------

meters = st.sampled_from(METERS)
times = st.one_of(st.floats(EARLIEST_TIME, LATEST_TIME),
                  st.sampled_from([EARLIEST_TIME, LATEST_TIME, T0, math.floor(T0)]))
registers = st.one_of(st.floats(0.0, MAX_REGISTER, exclude_max=True),
                      st.sampled_from([0.0, 5e-324, 99_999.999, math.nextafter(MAX_REGISTER, 0)]))


@st.composite
def valid_readings(draw: st.DrawFn, max_size: int = 5) -> list[Reading]:
    meter = draw(meters)
    kind = draw(st.sampled_from(list(Kind)))
    rates = st.none() | st.floats(0.0, kind.spec.max_rate) | st.just(kind.spec.max_rate)
    n = draw(st.integers(1, max_size))
    seq = draw(st.integers(0, MAX_SEQ - 3 * n) | st.just(MAX_SEQ - 3 * n))
    start = draw(times)
    out = []
    for i in range(n):
        offset = draw(st.sampled_from([0.0, 15.0, 30.5, 1e-3, 3600.0])) * i
        t = min(start + offset, LATEST_TIME)
        seq += draw(st.integers(1, 3)) if i else 0
        out.append(Reading(meter, seq, t, kind, draw(registers), draw(rates)))
    return out


def packed(readings: list[Reading]) -> tuple[str, bytes]:
    return readings[0].meter, encode_pack(readings[0].meter, readings)


valid_packs = valid_readings().map(packed)

# --- byte-level and structured mutations --------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, source: st.SearchStrategy[tuple[str, bytes]] = valid_packs
            ) -> tuple[str, bytes]:
    """A valid pack after 1-4 byte-level mutations (tests/fuzz/support.py: mutate)."""
    meter, original = draw(source)
    return meter, mutate(draw, original)


hostile_values = json_values(json_scalars | st.sampled_from([
    0, -0.0, 1, MAX_SEQ, MAX_SEQ + 1, MAX_REGISTER, EARLIEST_TIME, LATEST_TIME, 1e6, 10.0,
    1e308, 5e-324, T0, "energy", "volume", "seq", "power", "flow", "kWh", "m3", "W", "m3/s",
    base_name(METERS[0])]))
FIELDS = ["bn", "bt", "n", "u", "s", "v", "t", "vs", "vb", "ut", "bu", "x_", "bver"]


@st.composite
def structured(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid pack's records, edited: fields set to hostile values, dropped, duplicated
    (same key twice in one object), records copied, moved or removed; then written with
    random separators (the fast path only knows the compact form)."""
    meter, payload = draw(valid_packs)
    records: list[list[tuple[str, Any]]] = [list(r.items()) for r in json.loads(payload)]
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(records) - 1))
        record = records[i]
        op = draw(st.sampled_from(["set", "drop", "dup-key", "add", "copy", "move", "remove"]))
        if op == "set" and record:
            j = draw(st.integers(0, len(record) - 1))
            record[j] = (record[j][0], draw(hostile_values))
        elif op == "drop" and record:
            del record[draw(st.integers(0, len(record) - 1))]
        elif op == "dup-key" and record:
            key = draw(st.sampled_from(record))[0]
            record.insert(draw(st.integers(0, len(record))), (key, draw(hostile_values)))
        elif op == "add":
            record.append((draw(st.sampled_from(FIELDS) | st.text(max_size=4)),
                           draw(hostile_values)))
        elif op == "copy":
            records.insert(draw(st.integers(0, len(records))), list(record))
        elif op == "move":
            records.insert(draw(st.integers(0, len(records))), records.pop(i))
        elif op == "remove" and len(records) > 1:
            del records[i]
    sep = draw(st.sampled_from([(",", ":"), (", ", ": "), (",", ":")]))
    text = "[" + sep[0].join(render(r, sep, pairs=True) for r in records) + "]"
    return meter, text.encode()


# --- the canonical layout with any number text: aimed at the fast path's own checks ------

digits = st.integers(0, 10**25).map(str) | st.sampled_from(["0", "1", "9" * 20, "9" * 21])
json_numbers = st.builds(  # -?int(.frac)?(e[+-]?exp)? with the lengths around the fast
    lambda sign, whole, frac, exp: sign + whole + frac + exp,  # path's limits
    st.sampled_from(["", "", "-"]), digits,
    st.sampled_from(["", ""]) | digits.map(lambda d: "." + d),
    st.sampled_from(["", ""]) | st.builds(lambda e, sign, n: e + sign + str(n),
                                          st.sampled_from("eE"), st.sampled_from(["", "-", "+"]),
                                          st.integers(0, 1200)),
)
number_texts = st.one_of(
    json_numbers,
    st.sampled_from([t.decode() for t in HOSTILE_TOKENS if re.fullmatch(rb"[-+.0-9eE]+", t)]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**30), 10**30).map(str),
)


@st.composite
def canonical_layout(draw: st.DrawFn) -> tuple[str, bytes]:
    """``encode_pack``'s exact layout, every number slot filled with any number text."""
    meter = draw(meters)
    kind = draw(st.sampled_from(list(Kind)))
    spec = kind.spec
    if draw(st.integers(0, 9)) == 0:  # now and then a rate that does not fit the register
        other = next(k for k in Kind if k is not kind).spec
        rate_name, rate_unit = other.rate_name, other.rate_unit
    else:
        rate_name, rate_unit = spec.rate_name, spec.rate_unit
    parts = []
    for i in range(draw(st.integers(1, 3))):
        times = [draw(st.none() | number_texts) if i else None for _ in range(3)]
        if i and draw(st.booleans()):
            times = [times[0]] * 3  # the usual: one offset on every record of the reading
        head = f'"bn":"urn:dev:mtr:{meter}:","bt":{draw(number_texts)},' if not i else ""
        reg = (f'{{{head}"n":"{spec.register_name}","u":"{spec.register_unit}",'
               f'"s":{draw(number_texts)}' + (f',"t":{times[0]}' if times[0] else "") + "}")
        seq = f'{{"n":"seq","v":{draw(number_texts)}' + (
            f',"t":{times[1]}' if times[1] else "") + "}"
        parts += [reg, seq]
        if draw(st.booleans()):
            parts.append(f'{{"n":"{rate_name}","u":"{rate_unit}","v":{draw(number_texts)}'
                         + (f',"t":{times[2]}' if times[2] else "") + "}")
    return meter, ("[" + ",".join(parts) + "]").encode()


# --- the tests ----------------------------------------------------------------------------


@fuzz
@given(st.binary(max_size=400), st.sampled_from((*METERS, None)))
@example(b"", METERS[0])
@example(b"[" * 100_000, METERS[0])
@example(b"\xef\xbb\xbf[]", METERS[0])
def test_arbitrary_bytes_are_readings_or_a_wire_error(payload: bytes, meter: str | None
                                                      ) -> None:
    check(payload, meter)


@fuzz
@given(st.text(max_size=300), st.sampled_from((*METERS, None)))
def test_arbitrary_text_is_readings_or_a_wire_error(payload: str, meter: str | None) -> None:
    check(payload, meter)


@fuzz
@given(valid_readings())
def test_valid_packs_decode_to_their_readings_on_both_paths(readings: list[Reading]) -> None:
    meter, payload = packed(readings)
    decoded = check(payload, meter)
    assert isinstance(decoded, list) and len(decoded) == len(readings)
    for got, sent in zip(decoded, readings, strict=True):
        # encode_pack writes time offsets to the millisecond
        assert got == dataclasses.replace(sent, time=got.time)
        assert abs(got.time - sent.time) < 6e-4
    if len(readings) == 1:  # a single reading always takes the fast path
        assert decode_canonical(payload, meter) == readings


# Regression: an integer too large for a float ("s": 1 followed by 400 zeros) escaped
# decode_pack as OverflowError (math.isfinite(int)) instead of a WireError.
_OVERFLOWING_PACK = (b'[{"bn":"urn:dev:mtr:r1-e000001:","bt":1763600000,"n":"energy","u":"kWh",'
                     b'"s":' + OVERFLOWING_INT + b'},{"n":"seq","v":1}]')


@fuzz
@given(mutated())
@example((METERS[0], _OVERFLOWING_PACK))
@example((METERS[0], _OVERFLOWING_PACK.replace(b'"bt":1763600000', b'"bt":' + OVERFLOWING_INT)))
@example((METERS[0], _OVERFLOWING_PACK.replace(b"}", b',"t":-' + OVERFLOWING_INT + b"}", 1)))
def test_mutated_packs_are_readings_or_a_wire_error(case: tuple[str, bytes]) -> None:
    check(case[1], case[0])
    check(case[1], None)


@fuzz
@given(structured())
@example((METERS[0], b'[{"bn":"urn:dev:mtr:r1-e000001:","bt":1763600000,"n":"energy",'
                     b'"u":"kWh","s":1.0},{"n":"seq","v":1},{"n":"power","u":"W","v":'
                     + OVERFLOWING_INT + b"}]"))
def test_packs_with_hostile_fields_are_readings_or_a_wire_error(case: tuple[str, bytes]
                                                               ) -> None:
    check(case[1], case[0])


@fuzz
@given(canonical_layout())
def test_the_fast_path_agrees_on_any_number_in_the_canonical_layout(
        case: tuple[str, bytes]) -> None:
    check(case[1], case[0])


@fuzz
@given(mutated(canonical_layout()))
def test_the_fast_path_agrees_on_mutated_canonical_layouts(case: tuple[str, bytes]) -> None:
    check(case[1], case[0])


def test_a_pack_over_the_size_limit_is_refused_by_both() -> None:
    meter, payload = packed([Reading(METERS[0], 1, T0, Kind.ELECTRICITY, 1.0)])
    big = payload[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(payload) + 1) + b"]"
    assert isinstance(check(big, meter), WireError) and decode_canonical(big, meter) is None
