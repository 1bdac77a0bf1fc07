"""Remote commands to meters and their acknowledgements: the wire contract.

Command (fog -> meter, QoS 1, on ``nevoa/{region}/meters/{meter}/command``)::

    {"id": "c-7f3a...", "action": "close_valve", "args": {},
     "issued_at": 1763600000.0, "expires_at": 1763600300.0}

Actions: ``close_valve`` and ``open_valve`` (a closed valve or relay means no
consumption), ``set_interval`` (``args.seconds`` > 0), ``set_tendency`` (``args.tendency``
one of slow, normal, fast, erratic).

Acknowledgement (meter -> fog, QoS 1, on ``.../command/ack``)::

    {"id": "c-7f3a...", "outcome": "applied", "detail": "valve closed",
     "at": 1763600001.2, "valve": "closed"}

Outcomes: ``applied``; ``duplicate`` (this id was applied before: not applied again);
``rejected`` (unknown action or bad arguments); ``expired`` (arrived after expires_at).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

MAX_COMMAND_BYTES = 4096
TENDENCIES = ("slow", "normal", "fast", "erratic")


class Action(str, Enum):
    CLOSE_VALVE = "close_valve"
    OPEN_VALVE = "open_valve"
    SET_INTERVAL = "set_interval"
    SET_TENDENCY = "set_tendency"


class Outcome(str, Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    EXPIRED = "expired"


class CommandError(ValueError):
    """A command or acknowledgement that does not follow the contract."""


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    action: Action
    issued_at: float
    expires_at: float
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not 1 <= len(self.id) <= 64:
            raise CommandError("command id must be a string of 1-64 characters")
        if not (math.isfinite(self.issued_at) and math.isfinite(self.expires_at)):
            raise CommandError("issued_at and expires_at must be finite numbers")
        if self.expires_at < self.issued_at:
            raise CommandError("a command expires after it is issued")
        _check_args(self.action, self.args)

    def expired(self, now: float) -> bool:
        return now > self.expires_at

    def encode(self) -> bytes:
        return json.dumps({"id": self.id, "action": self.action.value, "args": self.args,
                           "issued_at": self.issued_at, "expires_at": self.expires_at},
                          separators=(",", ":")).encode()


def _check_args(action: Action, args: dict[str, Any]) -> None:
    if not isinstance(args, dict):
        raise CommandError("args must be an object")
    if action is Action.SET_INTERVAL:
        seconds = args.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
                or not math.isfinite(seconds) or not 0 < seconds <= 86_400:
            raise CommandError("set_interval needs args.seconds from 0 (exclusive) to 86400")
    elif action is Action.SET_TENDENCY and args.get("tendency") not in TENDENCIES:
        raise CommandError("set_tendency needs args.tendency: " + ", ".join(TENDENCIES))


def _load_object(payload: bytes | str, what: str) -> dict[str, Any]:
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"{what} larger than {MAX_COMMAND_BYTES} bytes")
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise CommandError(f"{what} is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise CommandError(f"{what} must be a JSON object")
    return body


def _number(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandError(f"{name} must be a number")
    return float(value)


def decode_command(payload: bytes | str) -> Command:
    body = _load_object(payload, "command")
    try:
        action = Action(body.get("action"))
    except ValueError:
        raise CommandError(f"unknown action {body.get('action')!r}") from None
    return Command(
        id=body.get("id"),  # type: ignore[arg-type]  # checked in __post_init__
        action=action,
        issued_at=_number(body, "issued_at"),
        expires_at=_number(body, "expires_at"),
        args=body.get("args", {}),
    )


@dataclass(frozen=True, slots=True)
class CommandAck:
    id: str
    outcome: Outcome
    at: float
    detail: str = ""
    valve: str | None = None  # "open" / "closed": the meter's valve after the command

    def encode(self) -> bytes:
        body: dict[str, Any] = {"id": self.id, "outcome": self.outcome.value, "at": self.at,
                                "detail": self.detail}
        if self.valve is not None:
            body["valve"] = self.valve
        return json.dumps(body, separators=(",", ":")).encode()


def decode_ack(payload: bytes | str) -> CommandAck:
    body = _load_object(payload, "acknowledgement")
    cid = body.get("id")
    if not isinstance(cid, str) or not 1 <= len(cid) <= 64:
        raise CommandError("acknowledgement id must be a string of 1-64 characters")
    try:
        outcome = Outcome(body.get("outcome"))
    except ValueError:
        raise CommandError(f"unknown outcome {body.get('outcome')!r}") from None
    valve = body.get("valve")
    if valve not in (None, "open", "closed"):
        raise CommandError("valve must be 'open' or 'closed'")
    detail = body.get("detail", "")
    return CommandAck(cid, outcome, _number(body, "at"), str(detail)[:200], valve)
