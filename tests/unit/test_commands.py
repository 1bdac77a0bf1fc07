from __future__ import annotations

import pytest

from nevoa_core.commands import (
    Action,
    Command,
    CommandAck,
    CommandError,
    Outcome,
    decode_ack,
    decode_command,
)


def test_commands_round_trip() -> None:
    c = Command("c-1", Action.SET_INTERVAL, 100.0, 400.0, {"seconds": 30})
    assert decode_command(c.encode()) == c
    assert not c.expired(400.0) and c.expired(400.1)


def test_acks_round_trip() -> None:
    a = CommandAck("c-1", Outcome.APPLIED, 101.0, "valve closed", "closed")
    assert decode_ack(a.encode()) == a


@pytest.mark.parametrize("payload", [
    b"nope", b"[]", b'{"id": "c", "action": "explode", "issued_at": 1, "expires_at": 2}',
    b'{"id": "", "action": "open_valve", "issued_at": 1, "expires_at": 2}',
    b'{"id": "c", "action": "open_valve", "issued_at": 3, "expires_at": 2}',
    b'{"id": "c", "action": "set_interval", "issued_at": 1, "expires_at": 2, "args": {}}',
    b'{"id": "c", "action": "set_interval", "issued_at": 1, "expires_at": 2,'
    b' "args": {"seconds": -5}}',
    b'{"id": "c", "action": "set_tendency", "issued_at": 1, "expires_at": 2,'
    b' "args": {"tendency": "wild"}}',
    b'{"id": "c", "action": "open_valve", "issued_at": "1", "expires_at": 2}',
])
def test_bad_commands_are_refused(payload: bytes) -> None:
    with pytest.raises(CommandError):
        decode_command(payload)


@pytest.mark.parametrize("payload", [
    b"{}", b'{"id": "c", "outcome": "maybe", "at": 1}',
    b'{"id": "c", "outcome": "applied", "at": 1, "valve": "ajar"}',
])
def test_bad_acks_are_refused(payload: bytes) -> None:
    with pytest.raises(CommandError):
        decode_ack(payload)


@pytest.mark.parametrize("at", ["NaN", "Infinity", "-Infinity", "1e400", "-5", "1e300",
                                "9" * 400, '"1"', "true", "null"])
def test_an_ack_with_an_absurd_time_is_refused(at: str) -> None:
    """Before: ``"at": NaN`` was stored, and the fog's GET /api/v1/commands/{id} answered
    NaN, which is not JSON."""
    with pytest.raises(CommandError):
        decode_ack(f'{{"id": "c-1", "outcome": "applied", "at": {at}}}'.encode())


@pytest.mark.parametrize("payload", [
    b'{"id": "c", "action": "set_interval", "issued_at": 1, "expires_at": 2,'
    b' "args": {"seconds": ' + b"9" * 400 + b"}}",
    b'{"id": "c", "action": "set_interval", "issued_at": 1, "expires_at": 2,'
    b' "args": {"seconds": NaN}}',
    b'{"id": "c", "action": "open_valve", "issued_at": NaN, "expires_at": 2}',
    b'{"id": "c", "action": "open_valve", "issued_at": 1, "expires_at": 1e300}',
    b'{"id": "c", "action": "open_valve", "issued_at": 1, "expires_at": 2, "args": '
    + b'{"a": ' * 17 + b"1" + b"}" * 17 + b"}",
    b'{"id": "c", "action": "open_valve", "issued_at": 1, "expires_at": 2, "args": '
    + b"[" * 2000 + b"]" * 2000 + b"}",
])
def test_commands_with_absurd_numbers_or_nesting_are_refused(payload: bytes) -> None:
    with pytest.raises(CommandError):
        decode_command(payload)


def test_a_deep_ack_is_refused_and_brackets_in_strings_do_not_count() -> None:
    with pytest.raises(CommandError, match="nested"):
        decode_ack(b'{"id": "c-1", "outcome": "applied", "at": 1, "x": '
                   + b"[" * 1500 + b"]" * 1500 + b"}")
    ack = decode_ack(b'{"id": "c-1", "outcome": "applied", "at": 1, "detail": "[[[\\"[[[["}')
    assert ack.detail == '[[["[[[['


def test_nothing_non_finite_is_ever_encoded() -> None:
    with pytest.raises(ValueError):
        CommandAck("c-1", Outcome.APPLIED, float("nan")).encode()
    with pytest.raises(CommandError):
        Command("c-1", Action.OPEN_VALVE, float("nan"), 1.0)
    with pytest.raises(CommandError):
        Command("c-1", Action.SET_INTERVAL, 1.0, 2.0, {"seconds": 10**400})
