"""Reading request input: JSON bodies and query parameters, with clear errors."""

from __future__ import annotations

from typing import Any

from flask import request

from cloud.errors import BadRequest


def json_body(*required: str) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object (Content-Type: application/json)")
    missing = [f for f in required if f not in body]
    if missing:
        raise BadRequest("missing field(s): " + ", ".join(missing))
    return body


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be from {low} to {high}")
    return value
