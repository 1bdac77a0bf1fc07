"""The fast path gives exactly decode_pack's answer, or steps aside."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading, WireError, decode_pack, encode_pack
from nevoa_core.senml_fast import decode_canonical

METER = "r1-w000001"
T0 = 1_763_600_000.0

times = st.floats(min_value=946_684_800.0, max_value=4_102_444_800.0, allow_nan=False)
registers = st.floats(min_value=0.0, max_value=100_000.0, exclude_max=True, allow_nan=False)
rates = st.none() | st.floats(min_value=0.0, max_value=10.0, allow_nan=False)
seqs = st.integers(min_value=0, max_value=2**53 - 1)


@st.composite
def packs(draw: st.DrawFn) -> list[Reading]:
    kind = draw(st.sampled_from(list(Kind)))
    n = draw(st.integers(min_value=1, max_value=4))
    first_seq = draw(st.integers(min_value=0, max_value=2**53 - 10))
    start = draw(times)
    out = []
    for i in range(n):
        offset = draw(st.sampled_from([0.0, 15.0, 30.5, 1e-3])) * i
        t = min(start + offset, 4_102_444_800.0)
        out.append(Reading(METER, first_seq + i, t, kind, draw(registers), draw(rates)))
    return out


def reference(payload: bytes, meter: str = METER) -> list[Reading] | None:
    try:
        return decode_pack(payload, meter)
    except WireError:
        return None


@settings(max_examples=300)
@given(packs())
def test_canonical_packs_decode_like_decode_pack(readings: list[Reading]) -> None:
    payload = encode_pack(METER, readings)
    fast = decode_canonical(payload, METER)
    assert fast is None or fast == reference(payload)
    if len(readings) == 1:
        assert fast == reference(payload)  # single readings always take the fast path


@settings(max_examples=500)
@given(packs(), st.data())
def test_any_mutation_is_either_decoded_identically_or_left_to_decode_pack(
        readings: list[Reading], data: st.DataObject) -> None:
    payload = bytearray(encode_pack(METER, readings))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        position = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
        payload[position] = data.draw(st.sampled_from(b'0123456789.-e,:"{}[]x '))
    fast = decode_canonical(bytes(payload), METER)
    if fast is not None:
        assert fast == reference(bytes(payload))


@pytest.mark.parametrize("payload", [
    b'[{"bn":"urn:dev:mtr:r1-w000001:","bt":1763600000.0,"n":"volume","u":"m3","s":-1.0},'
    b'{"n":"seq","v":1}]',  # negative register
    b'[{"bn":"urn:dev:mtr:r1-w000001:","bt":1763600000.0,"n":"volume","u":"kWh","s":1.0},'
    b'{"n":"seq","v":1}]',  # wrong unit
    b'[{"bn":"urn:dev:mtr:r1-w000001:","bt":1763600000.0,"n":"volume","u":"m3","s":1.0},'
    b'{"n":"seq","v":1},{"n":"power","u":"W","v":1.0}]',  # an electricity rate on water
    b'[{"bn":"urn:dev:mtr:r1-w000001:","bt":1763600000.0,"n":"volume","u":"m3","s":1e999},'
    b'{"n":"seq","v":1}]',  # infinite
    b'[{"bn":"urn:dev:mtr:other:","bt":1763600000.0,"n":"volume","u":"m3","s":1.0},'
    b'{"n":"seq","v":1}]',  # another meter's pack on this meter's topic
    b'[{"bn":"urn:dev:mtr:r1-w000001:","bt":1763600000.0,"n":"volume","u":"m3","s":1.0},'
    b'{"n":"seq","v":9007199254740992}]',  # seq beyond 2^53-1
    b'[{"bn":"urn:dev:mtr:r1-w000001:","bt":1763600000.0,"n":"volume","u":"m3","s":1.0},'
    b'{"n":"seq","v":1}] ',  # trailing bytes
])
def test_invalid_or_unusual_packs_are_left_to_decode_pack(payload: bytes) -> None:
    assert decode_canonical(payload, METER) is None


def test_a_backlog_pack_takes_the_fast_path() -> None:
    rs = [Reading(METER, 5 + i, T0 + 15 * i, Kind.WATER, 1.5 + i, 0.001 * i) for i in range(5)]
    assert decode_canonical(encode_pack(METER, rs), METER) == rs
