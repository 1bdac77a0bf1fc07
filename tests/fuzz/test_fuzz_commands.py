"""Fuzzing ``decode_ack``: a meter's command acknowledgement, as hostile as the meter.

Whatever the bytes or text, the result is a ``CommandAck`` that keeps the contract
(nevoa_core/commands.py) or a ``CommandError``, never another exception.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from nevoa_core.commands import MAX_COMMAND_BYTES, CommandAck, CommandError, Outcome, decode_ack
from nevoa_core.senml import LATEST_TIME
from tests.fuzz.support import fuzz, json_scalars, json_values, mutate, render


def check(payload: bytes | str) -> CommandAck | CommandError:
    try:
        ack = decode_ack(payload)
    except CommandError as exc:
        return exc
    assert isinstance(ack.id, str) and 1 <= len(ack.id) <= 64
    assert isinstance(ack.outcome, Outcome)
    assert isinstance(ack.at, float) and math.isfinite(ack.at) and 0 <= ack.at <= LATEST_TIME
    assert isinstance(ack.detail, str) and len(ack.detail) <= 200
    assert ack.valve in (None, "open", "closed")
    ack.encode()  # what was accepted can be written back
    return ack


ids = st.text(min_size=1, max_size=64) | st.sampled_from(["c-7f3a", "x" * 64, "x" * 65, ""])
valid_acks = st.builds(
    CommandAck, ids.filter(lambda i: 1 <= len(i) <= 64), st.sampled_from(list(Outcome)),
    st.floats(0, LATEST_TIME), st.text(max_size=40), st.sampled_from([None, "open", "closed"]),
).map(lambda a: a.encode())
hostile = json_values(json_scalars | ids | st.sampled_from(
    [o.value for o in Outcome] + ["open", "closed", 0, LATEST_TIME, LATEST_TIME + 1, -1,
                                  10**15, 10**16, 1e16, -0.0]))


@st.composite
def structured_acks(draw: st.DrawFn) -> bytes:
    """An acknowledgement's fields, some missing, repeated or hostile, in any order."""
    fields: list[tuple[str, Any]] = [("id", "c-7f3a"), ("outcome", "applied"),
                                     ("at", 1_763_600_001.2), ("detail", "valve closed"),
                                     ("valve", "closed")]
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["set", "drop", "dup-key", "add"]))
        if op == "set" and fields:
            j = draw(st.integers(0, len(fields) - 1))
            fields[j] = (fields[j][0], draw(hostile))
        elif op == "drop" and fields:
            del fields[draw(st.integers(0, len(fields) - 1))]
        elif op == "dup-key" and fields:
            fields.insert(draw(st.integers(0, len(fields))),
                          (draw(st.sampled_from(fields))[0], draw(hostile)))
        elif op == "add":
            fields.append((draw(st.text(max_size=8)), draw(hostile)))
    return render(draw(st.permutations(fields)), pairs=True).encode()


@fuzz
@given(st.binary(max_size=300) | st.text(max_size=300))
@example(b"{" * 5_000)
@example("[" * (MAX_COMMAND_BYTES + 1))
@example(b'{"id":"c","outcome":"applied","at":' + b"1" * 400 + b"}")
def test_arbitrary_input_is_an_ack_or_a_command_error(payload: bytes | str) -> None:
    check(payload)


@st.composite
def mutated_acks(draw: st.DrawFn) -> bytes:
    raw = draw(valid_acks | structured_acks())
    return mutate(draw, raw) if draw(st.booleans()) else raw


@fuzz
@given(mutated_acks())
@example(b'{"id":"c","outcome":"applied","at":NaN}')
@example(b'{"id":"c","outcome":"applied","at":1e999}')
@example(b'{"id":"c","outcome":["applied"],"at":1}')
@example(b'{"id":"c","outcome":"applied","at":1,"detail":' + b"[" * 20 + b"]" * 20 + b"}")
def test_mutated_acks_are_an_ack_or_a_command_error(payload: bytes) -> None:
    check(payload)


# A "\ud800" escape decodes to a lone surrogate, which no UTF-8 encoder accepts: the
# commander's Redis calls raised UnicodeEncodeError on that id, and fog_node/ingest.py then
# dropped every acknowledgement of the batch, other meters' too. decode_ack refuses them.
@pytest.mark.parametrize("payload", [
    b'{"id":"c-\\ud800","outcome":"applied","at":1}',
    b'{"id":"c","outcome":"applied","at":1,"detail":"\\udfff"}',
])
def test_an_accepted_ack_is_valid_utf8(payload: bytes) -> None:
    ack = check(payload)
    if isinstance(ack, CommandAck):
        for text in (ack.id, ack.detail):
            assert text == text.encode("utf-8", "replace").decode(), "a lone surrogate"
