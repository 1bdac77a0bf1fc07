"""How a meter obeys a command (the contract is :mod:`nevoa_core.commands`), free of I/O.

Every command gets exactly one acknowledgement: ``applied``; ``duplicate`` when its id
was applied before (nothing is applied again); ``rejected`` for an unknown action or bad
arguments (still acknowledged when the payload names an id); ``expired`` when it arrives
after ``expires_at``. Expiry is judged on the wall clock, the clock the fog node stamped
the command with, whatever the simulation speed.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable

from meter.model import SimulatedMeter
from meter.physics import Tendency
from nevoa_core.commands import (
    Action,
    Command,
    CommandAck,
    CommandError,
    Outcome,
    decode_command,
)

REMEMBERED_IDS = 32  # per meter: a redelivered command is recognised this far back


class RecentCommands:
    """The ids of the commands a meter applied lately (a bounded memory)."""

    __slots__ = ("_ids",)

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids: deque[str] = deque(ids, maxlen=REMEMBERED_IDS)

    def __contains__(self, command_id: object) -> bool:
        return command_id in self._ids

    def remember(self, command_id: str) -> None:
        self._ids.append(command_id)

    def ids(self) -> list[str]:
        return list(self._ids)


def valve_state(meter: SimulatedMeter) -> str:
    return "open" if meter.valve_open else "closed"


def obey(meter: SimulatedMeter, command: Command, now: float,
         recent: RecentCommands) -> CommandAck:
    """Apply ``command`` to ``meter`` unless it is a duplicate or expired; the ack."""
    if command.id in recent:
        return CommandAck(command.id, Outcome.DUPLICATE, now, "already applied",
                          valve_state(meter))
    if command.expired(now):
        return CommandAck(command.id, Outcome.EXPIRED, now,
                          f"arrived {now - command.expires_at:.1f}s after it expired",
                          valve_state(meter))
    detail = _apply(meter, command)
    recent.remember(command.id)
    return CommandAck(command.id, Outcome.APPLIED, now, detail, valve_state(meter))


def _apply(meter: SimulatedMeter, command: Command) -> str:
    if command.action is Action.CLOSE_VALVE:
        was = meter.valve_open
        meter.valve_open = False
        return "valve closed" if was else "valve was already closed"
    if command.action is Action.OPEN_VALVE:
        was = meter.valve_open
        meter.valve_open = True
        return "valve opened" if not was else "valve was already open"
    if command.action is Action.SET_INTERVAL:
        meter.interval = float(command.args["seconds"])
        return f"interval set to {meter.interval:g}s"
    meter.tendency = Tendency(command.args["tendency"])
    return f"tendency set to {meter.tendency.value}"


def handle_payload(meter: SimulatedMeter, payload: bytes, now: float,
                   recent: RecentCommands) -> CommandAck | None:
    """Decode and obey a command payload; ``None`` when it names no id to answer."""
    try:
        command = decode_command(payload)
    except CommandError as exc:
        command_id = _id_of(payload)
        if command_id is None:
            return None
        return CommandAck(command_id, Outcome.REJECTED, now, str(exc)[:200], valve_state(meter))
    return obey(meter, command, now, recent)


def _id_of(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    command_id = body.get("id") if isinstance(body, dict) else None
    if isinstance(command_id, str) and 1 <= len(command_id) <= 64:
        return command_id
    return None
