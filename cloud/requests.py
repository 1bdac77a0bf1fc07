"""Reading request input: JSON bodies and query parameters, with clear errors."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from flask import request

from cloud.errors import BadRequest
from cloud.wiring import services
from nevoa_adapters import jsonapi
from nevoa_core.clock import parse_instant

E = TypeVar("E", bound=StrEnum)


def json_body(*required: str) -> dict[str, Any]:
    """The JSON object body (bounded and strict: :func:`nevoa_adapters.jsonapi.json_body`)
    with the ``required`` fields."""
    body = jsonapi.json_body()
    missing = [f for f in required if f not in body]
    if missing:
        raise BadRequest("missing field(s): " + ", ".join(missing))
    return body


def optional_json_body() -> dict[str, Any]:
    if not request.get_data(cache=True):
        return {}
    return json_body()


def choice_arg(name: str, choices: type[E], default: E | None = None) -> E | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return choices(raw)
    except ValueError:
        raise BadRequest(f"{name} must be one of: " + ", ".join(c.value for c in choices)
                         ) from None


def str_arg(name: str, choices: tuple[str, ...] | None = None) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if choices is not None and raw not in choices:
        raise BadRequest(f"{name} must be one of: " + ", ".join(choices))
    if len(raw) > 64:
        raise BadRequest(f"{name} is too long")
    return raw


def parse_time(raw: str, name: str) -> float:
    """Epoch seconds, or ISO 8601 (a time without an offset is the utility's local time)."""
    try:
        return float(raw) if raw.replace(".", "", 1).isdigit() else parse_instant(
            raw, services().settings.calendar.zone)
    except ValueError:
        raise BadRequest(f"{name} must be epoch seconds or ISO 8601, e.g. "
                         "2026-11-20T00:00:00-03:00") from None


def time_arg(name: str, default: float) -> float:
    raw = request.args.get(name)
    value = default if raw is None or raw == "" else parse_time(raw, name)
    if not 946_684_800 <= value <= 4_102_444_800:
        raise BadRequest(f"{name} must be between 2000 and 2100")
    return value
