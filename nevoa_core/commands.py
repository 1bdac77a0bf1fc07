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

Both are strict JSON: ``NaN`` and ``Infinity`` are refused, integers hold at most 15
digits, times are epoch seconds from 0 to 2100, nesting is bounded; anything else is a
:class:`CommandError`, and neither is ever encoded with a non-finite number.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from nevoa_core.senml import LATEST_TIME  # commands' times are bounded as readings' are

MAX_COMMAND_BYTES = 4096
MAX_DEPTH = 16  # arrays and objects inside a command or acknowledgement
MAX_INT_DIGITS = 15
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
        if not (_is_time(self.issued_at) and _is_time(self.expires_at)):
            raise CommandError("issued_at and expires_at must be epoch seconds from 0 to 2100")
        if self.expires_at < self.issued_at:
            raise CommandError("a command expires after it is issued")
        _check_args(self.action, self.args)

    def expired(self, now: float) -> bool:
        return now > self.expires_at

    def encode(self) -> bytes:
        return json.dumps({"id": self.id, "action": self.action.value, "args": self.args,
                           "issued_at": self.issued_at, "expires_at": self.expires_at},
                          separators=(",", ":"), allow_nan=False).encode()


def _is_time(value: float) -> bool:
    return 0 <= value <= LATEST_TIME  # NaN compares false


def _check_args(action: Action, args: dict[str, Any]) -> None:
    if not isinstance(args, dict):
        raise CommandError("args must be an object")
    if action is Action.SET_INTERVAL:
        seconds = args.get("seconds")
        # the range first: NaN compares false, and a 400-digit int is never made a float
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
                or not 0 < seconds <= 86_400:
            raise CommandError("set_interval needs args.seconds from 0 (exclusive) to 86400")
    elif action is Action.SET_TENDENCY and args.get("tendency") not in TENDENCIES:
        raise CommandError("set_tendency needs args.tendency: " + ", ".join(TENDENCIES))


def _refuse_constant(name: str) -> None:
    raise CommandError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise CommandError(f"the number {text[:24]!r} is out of range")
    return value


def _short_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise CommandError(f"integers have at most {MAX_INT_DIGITS} digits")
    return int(text)


def _depth(payload: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in payload:  # at most MAX_COMMAND_BYTES characters
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _load_object(payload: bytes | str, what: str) -> dict[str, Any]:
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"{what} larger than {MAX_COMMAND_BYTES} bytes")
    try:
        text = payload.decode() if isinstance(payload, bytes) else payload
        if _depth(text) > MAX_DEPTH:
            raise CommandError(f"{what} is nested deeper than {MAX_DEPTH} levels")
        body = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                          parse_int=_short_int)
    except CommandError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise CommandError(f"{what} is not JSON: {str(exc)[:80]}") from None
    if not isinstance(body, dict):
        raise CommandError(f"{what} must be a JSON object")
    return body


def _time(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not _is_time(value):
        raise CommandError(f"{name} must be epoch seconds from 0 to 2100")
    return float(value)


def decode_command(payload: bytes | str) -> Command:
    body = _load_object(payload, "command")
    try:
        action = Action(body.get("action"))
    except ValueError:
        raise CommandError(f"unknown action {str(body.get('action'))[:40]!r}") from None
    return Command(
        id=body.get("id"),  # type: ignore[arg-type]  # checked in __post_init__
        action=action,
        issued_at=_time(body, "issued_at"),
        expires_at=_time(body, "expires_at"),
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
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def decode_ack(payload: bytes | str) -> CommandAck:
    body = _load_object(payload, "acknowledgement")
    cid = body.get("id")
    if not isinstance(cid, str) or not 1 <= len(cid) <= 64:
        raise CommandError("acknowledgement id must be a string of 1-64 characters")
    try:
        outcome = Outcome(body.get("outcome"))
    except ValueError:
        raise CommandError(f"unknown outcome {str(body.get('outcome'))[:40]!r}") from None
    valve = body.get("valve")
    if valve not in (None, "open", "closed"):
        raise CommandError("valve must be 'open' or 'closed'")
    detail = str(body.get("detail", ""))[:200]
    for text in (cid, detail):  # a "\ud800" escape decodes to a lone surrogate: not UTF-8
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise CommandError("acknowledgement text must be valid Unicode") from None
    return CommandAck(cid, outcome, _time(body, "at"), detail, valve)
