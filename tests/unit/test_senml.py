"""The wire format: what is accepted, and what is refused for which reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading, RejectReason, WireError, decode_pack, encode_pack

METER = "r1-e000001"
T0 = 1_763_600_000.0


def reading(seq: int, register: float, time: float = T0, rate: float | None = None,
            kind: Kind = Kind.ELECTRICITY) -> Reading:
    return Reading(METER, seq, time, kind, register, rate)


def pack(*records: dict[str, object]) -> bytes:
    return json.dumps(list(records)).encode()


HEAD = {"bn": f"urn:dev:mtr:{METER}:", "bt": T0, "n": "energy", "u": "kWh", "s": 10.0}


def test_one_reading_round_trips() -> None:
    r = reading(7, 12.5, rate=300.0)
    assert decode_pack(encode_pack(METER, [r]), METER) == [r]


def test_a_backlog_pack_carries_readings_with_their_own_times() -> None:
    rs = [reading(1, 1.0, T0), reading(2, 2.5, T0 + 15), reading(3, 4.0, T0 + 30.5)]
    assert decode_pack(encode_pack(METER, rs), METER) == rs


def test_water_readings_round_trip() -> None:
    r = reading(1, 3.25, rate=0.0002, kind=Kind.WATER)
    assert decode_pack(encode_pack(METER, [r]), METER) == [r]


def test_the_encoding_is_the_documented_senml() -> None:
    records = json.loads(encode_pack(METER, [reading(17, 1234.5, rate=450.0)]))
    assert records == [
        {"bn": "urn:dev:mtr:r1-e000001:", "bt": T0, "n": "energy", "u": "kWh", "s": 1234.5},
        {"n": "seq", "v": 17},
        {"n": "power", "u": "W", "v": 450.0},
    ]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", RejectReason.MALFORMED),
        (b"\xff\xfe", RejectReason.MALFORMED),
        (b"x" * 300_000, RejectReason.MALFORMED),
        (b"{}", RejectReason.NOT_SENML),
        (b"[]", RejectReason.NOT_SENML),
        (b"[1, 2]", RejectReason.NOT_SENML),
        (pack({**HEAD, "bn": "urn:dev:mtr:r1-e000002:"}, {"n": "seq", "v": 1}),
         RejectReason.BN_MISMATCH),
        (pack({**HEAD, "bn": "meter-1"}, {"n": "seq", "v": 1}), RejectReason.NOT_SENML),
        (pack({k: v for k, v in HEAD.items() if k != "bn"}, {"n": "seq", "v": 1}),
         RejectReason.MISSING_FIELD),
        (pack({k: v for k, v in HEAD.items() if k != "bt"}, {"n": "seq", "v": 1}),
         RejectReason.MISSING_FIELD),
        (pack({**HEAD}), RejectReason.MISSING_FIELD),  # no seq
        (pack({"bn": HEAD["bn"], "bt": T0, "n": "seq", "v": 1}), RejectReason.MISSING_FIELD),
        (pack({**HEAD, "s": -1.0}, {"n": "seq", "v": 1}), RejectReason.BAD_VALUE),
        (pack({**HEAD, "s": 1e300}, {"n": "seq", "v": 1}), RejectReason.BAD_VALUE),
        # a 5-digit register never shows its modulus or more: 500,000 is not consumption
        (pack({**HEAD, "s": 100_000.0}, {"n": "seq", "v": 1}), RejectReason.BAD_VALUE),
        (pack({**HEAD, "s": 500_000.0}, {"n": "seq", "v": 1}), RejectReason.BAD_VALUE),
        (b'[{"bn":"urn:dev:mtr:r1-e000001:","bt":1763600000,"n":"energy","u":"kWh",'
         b'"s":NaN},{"n":"seq","v":1}]', RejectReason.BAD_VALUE),
        (b'[{"bn":"urn:dev:mtr:r1-e000001:","bt":1763600000,"n":"energy","u":"kWh",'
         b'"s":Infinity},{"n":"seq","v":1}]', RejectReason.BAD_VALUE),
        (pack({**HEAD, "s": "12"}, {"n": "seq", "v": 1}), RejectReason.MISSING_FIELD),
        (pack({**HEAD, "u": "Wh"}, {"n": "seq", "v": 1}), RejectReason.BAD_VALUE),
        (pack({**HEAD}, {"n": "seq", "v": -1}), RejectReason.BAD_VALUE),
        (pack({**HEAD}, {"n": "seq", "v": 1.5}), RejectReason.BAD_VALUE),
        (pack({**HEAD}, {"n": "seq", "v": True}), RejectReason.BAD_VALUE),
        (pack({**HEAD, "bt": 12.0}, {"n": "seq", "v": 1}), RejectReason.BAD_VALUE),
        (pack({**HEAD}, {"n": "seq", "v": 1}, {"n": "power", "u": "W", "v": 1e9}),
         RejectReason.BAD_VALUE),
        (pack({**HEAD}, {"n": "seq", "v": 1}, {"n": "flow", "u": "m3/s", "v": 1.0}),
         RejectReason.NOT_SENML),
        (pack({**HEAD}, {"n": "seq", "v": 1}, {"n": "volume", "u": "m3", "s": 1.0},
              {"n": "seq", "v": 2}), RejectReason.NOT_SENML),
        (pack({**HEAD}, {"n": "seq", "v": 1}, {"n": "temperature", "v": 20}),
         RejectReason.NOT_SENML),
        (pack({**HEAD, "foo_": 1}, {"n": "seq", "v": 1}), RejectReason.NOT_SENML),
        (pack({**HEAD}, {"n": "seq", "v": 2}, {"n": "energy", "u": "kWh", "s": 11.0, "t": 1},
              {"n": "seq", "v": 2, "t": 1}), RejectReason.SEQ_ORDER),
        (pack({**HEAD}, {"n": "seq", "v": 1, "t": 5}), RejectReason.NOT_SENML),
    ],
)
def test_invalid_packs_are_refused_with_their_reason(payload: bytes, reason: RejectReason) -> None:
    with pytest.raises(WireError) as caught:
        decode_pack(payload, METER)
    assert caught.value.reason is reason
    assert caught.value.message


def test_deeply_nested_json_is_refused_not_a_crash() -> None:
    with pytest.raises(WireError):
        decode_pack(b"[" * 100_000 + b"]" * 100_000, METER)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_anything_but_wire_error(payload: bytes) -> None:
    try:
        decode_pack(payload, METER)
    except WireError:
        pass


@given(
    st.lists(
        st.tuples(st.floats(0, 100_000, exclude_max=True, allow_nan=False),
                  st.floats(0, 1e6, allow_nan=False)),
        min_size=1, max_size=20,
    )
)
def test_any_valid_backlog_round_trips(values: list[tuple[float, float]]) -> None:
    rs = [reading(i + 1, reg, T0 + i * 15, rate) for i, (reg, rate) in enumerate(values)]
    assert decode_pack(encode_pack(METER, rs), METER) == rs
