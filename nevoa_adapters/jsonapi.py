"""JSON in and out for every Flask app of nevoa: bounded request bodies, strict parsing,
an encoder that never writes NaN, and errors as ``{"error": ..., "status": ...}``.

A request body is at most ``MAX_BODY_BYTES`` (413 beyond; a route may allow more by
setting ``request.max_content_length`` before it reads), nested at most
``MAX_JSON_DEPTH`` levels (counted before parsing, so no body can exhaust the parser's
stack), and its numbers are finite, its integers within ``±MAX_JSON_INT`` (what every
JSON peer holds exactly); ``NaN`` and ``Infinity`` are not JSON and are refused. An
error message quotes at most a few dozen characters of what the caller sent.
"""

from __future__ import annotations

import json
import logging
import math
import re
from itertools import accumulate
from typing import Any

from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

log = logging.getLogger("nevoa.http")

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_JSON_INT = 2**53 - 1
MAX_ERROR_CHARS = 300  # the longest error message an answer carries
QUOTE_CHARS = 40  # how much of a caller's value an error message quotes

_STRING = re.compile(r'"[^"]*"')  # once escaped backslashes and quotes are gone
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class InvalidJson(ValueError):
    """Input that is not JSON nevoa accepts: malformed, too deep, or a number out of range."""


def quoted(value: object, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)``, cut to about ``limit`` characters: how an error names the input."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def json_depth(text: str) -> int:
    """How deeply ``text`` nests arrays and objects (brackets inside strings not counted)."""
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", unescaped))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _refuse_constant(name: str) -> None:
    raise InvalidJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson(f"the number {quoted(text, 24)} is out of range")
    return value


def _bounded_int(text: str) -> int:
    value = int(text) if len(text) <= 17 else MAX_JSON_INT + 1  # never parse 4,000 digits
    if abs(value) > MAX_JSON_INT:
        raise InvalidJson(f"the integer {quoted(text, 24)} is out of range "
                          f"(at most {MAX_JSON_INT} either way)")
    return value


def parse_json(data: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``data`` parsed as strict JSON; raises :class:`InvalidJson`."""
    try:
        text = data.decode(json.detect_encoding(data)) if isinstance(data, bytes) else data
    except (UnicodeDecodeError, LookupError):
        raise InvalidJson("the body is not UTF-8 text") from None
    if text.count("[") + text.count("{") > max_depth and json_depth(text) > max_depth:
        raise InvalidJson(f"the JSON is nested deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                          parse_int=_bounded_int)
    except InvalidJson:
        raise
    except RecursionError:  # unreachable after the depth check; never a 500 all the same
        raise InvalidJson(f"the JSON is nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError: its message gives a position, not input
        raise InvalidJson(f"the body is not valid JSON: {str(exc)[:80]}") from None


def json_body() -> dict[str, Any]:
    """The request's JSON object body, or a 400 (413 when over the size limit)."""
    if not request.is_json:
        raise BadRequest(description="the request body must be a JSON object "
                                     "(Content-Type: application/json)")
    try:
        body = parse_json(request.get_data(cache=True))
    except InvalidJson as exc:
        raise BadRequest(description=str(exc)) from None
    if not isinstance(body, dict):
        raise BadRequest(description="the request body must be a JSON object")
    return body


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but NaN and Infinity are never written (``allow_nan=False``: a
    non-finite number is a bug that becomes a 500, not an answer no peer can parse), and
    whatever Flask itself parses is parsed by :func:`parse_json`."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return parse_json(s)


def error_response(status: int, message: str, **extra: object) -> Response:
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS - 1] + "…"
    response = jsonify(error=message, status=status, **extra)
    response.status_code = status
    return response


def _too_large() -> str:
    limit = request.max_content_length
    return (f"the request body is larger than {limit} bytes" if limit
            else "the request body is too large")


def register_json_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = _too_large() if status == 413 else exc.description or exc.name
        response = error_response(status, message)
        allow = exc.get_response().headers.get("Allow")
        if allow:  # 405 says which methods the route accepts
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error")
        return error_response(500, InternalServerError.description)


def json_api(app: Flask, max_body_bytes: int = MAX_BODY_BYTES) -> None:
    """Make ``app`` a nevoa JSON API: strict JSON both ways, bounded bodies, JSON errors.
    A ``MAX_CONTENT_LENGTH`` already in the app's config is kept."""
    app.json = StrictJSONProvider(app)
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    register_json_errors(app)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter in [low, high]; anything else is a JSON 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if len(raw) <= 20 else low - 1
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadRequest(description=f"{name} must be an integer from {low} to {high}")
    return value
