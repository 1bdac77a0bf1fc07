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
