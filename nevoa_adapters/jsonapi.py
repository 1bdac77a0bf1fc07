"""JSON errors for every Flask app of nevoa: ``{"error": ..., "status": ...}``."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

log = logging.getLogger("nevoa.http")


def error_response(status: int, message: str, **extra: object) -> Response:
    response = jsonify(error=message, status=status, **extra)
    response.status_code = status
    return response


def register_json_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = error_response(status, exc.description or exc.name)
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


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter in [low, high]; anything else is a JSON 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadRequest(description=f"{name} must be an integer from {low} to {high}")
    return value
