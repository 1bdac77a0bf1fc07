"""JSON errors for every Flask app of nevoa: ``{"error": ..., "status": ...}``."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("nevoa.http")


def error_response(status: int, message: str, **extra: object) -> ResponseReturnValue:
    return jsonify(error=message, status=status, **extra), status


def register_json_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        response = error_response(status, exc.description or exc.name)
        if status == 405 and exc.get_response().headers.get("Allow"):
            body, code = response  # type: ignore[misc]
            return body, code, {"Allow": exc.get_response().headers["Allow"]}
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error")
        return error_response(500, InternalServerError.description)
