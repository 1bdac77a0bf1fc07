"""A meter obeys commands once, acknowledges each one, and refuses what it cannot do."""

from __future__ import annotations

import json

from meter.model import SimulatedMeter
from meter.obey import REMEMBERED_IDS, RecentCommands, handle_payload, obey
from meter.physics import Tendency
from nevoa_core.commands import Action, Command, Outcome
from nevoa_core.kinds import Kind

NOW = 1_763_600_000.0


def cmd(cid: str, action: Action, **args: object) -> Command:
    return Command(cid, action, NOW - 1, NOW + 300, dict(args))


def test_close_and_open_the_valve() -> None:
    m, recent = SimulatedMeter("r1-w500001", Kind.WATER), RecentCommands()
    ack = obey(m, cmd("c1", Action.CLOSE_VALVE), NOW, recent)
    assert (ack.id, ack.outcome, ack.valve) == ("c1", Outcome.APPLIED, "closed")
    assert not m.valve_open
    ack = obey(m, cmd("c2", Action.OPEN_VALVE), NOW, recent)
    assert ack.outcome is Outcome.APPLIED and ack.valve == "open" and m.valve_open


def test_the_same_command_id_is_applied_once() -> None:
    m, recent = SimulatedMeter("r1-w500001", Kind.WATER), RecentCommands()
    close = cmd("c1", Action.CLOSE_VALVE)
    obey(m, close, NOW, recent)
    obey(m, cmd("c2", Action.OPEN_VALVE), NOW, recent)
    again = obey(m, close, NOW + 5, recent)
    assert again.outcome is Outcome.DUPLICATE and again.valve == "open" and m.valve_open


def test_interval_and_tendency() -> None:
    m, recent = SimulatedMeter("r1-e000001", Kind.ELECTRICITY), RecentCommands()
    assert obey(m, cmd("c1", Action.SET_INTERVAL, seconds=60), NOW, recent).outcome \
        is Outcome.APPLIED
    assert obey(m, cmd("c2", Action.SET_TENDENCY, tendency="erratic"), NOW, recent).outcome \
        is Outcome.APPLIED
    assert m.interval == 60 and m.tendency is Tendency.ERRATIC


def test_expired_commands_are_not_applied() -> None:
    m, recent = SimulatedMeter("r1-e000001", Kind.ELECTRICITY), RecentCommands()
    ack = obey(m, cmd("c1", Action.CLOSE_VALVE), NOW + 301, recent)
    assert ack.outcome is Outcome.EXPIRED and m.valve_open and "c1" not in recent


def test_bad_payloads_are_rejected_when_they_name_an_id() -> None:
    m, recent = SimulatedMeter("r1-e000001", Kind.ELECTRICITY), RecentCommands()
    bad = json.dumps({"id": "c9", "action": "set_interval", "args": {"seconds": -1},
                      "issued_at": NOW, "expires_at": NOW + 10}).encode()
    ack = handle_payload(m, bad, NOW, recent)
    assert ack is not None and ack.outcome is Outcome.REJECTED and "seconds" in ack.detail
    assert handle_payload(m, b'{"action": "explode", "id": "c10"}', NOW, recent).outcome \
        is Outcome.REJECTED  # type: ignore[union-attr]
    assert handle_payload(m, b"garbage", NOW, recent) is None
    assert m.interval == 15


def test_recent_ids_are_bounded() -> None:
    recent = RecentCommands()
    for n in range(REMEMBERED_IDS + 5):
        recent.remember(f"c{n}")
    assert "c0" not in recent and f"c{REMEMBERED_IDS + 4}" in recent
    assert len(recent.ids()) == REMEMBERED_IDS
