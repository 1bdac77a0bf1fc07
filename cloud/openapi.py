"""The OpenAPI 3 description of the cloud API, served at /openapi.json.

Tests check that every documented path is a real route and every route is documented.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("openapi", __name__)

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "invalid input",
        404: "unknown customer",
        409: "not enough readings yet",
        503: "the customer's region is not answering",
    }
    return {str(c): _json(_ERROR, text[c]) for c in codes}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object", "properties": properties, "required": required}}},
    }


_MATRICULA = {"type": "string", "pattern": "^[0-9]{1,20}$", "example": "10001"}
_REGISTRATION_PARAM = {
    "name": "registration", "in": "path", "required": True, "schema": _MATRICULA,
}
_OBJ = {"type": "object"}


def _seed(summary: str, fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"post": {
        "tags": ["seed"], "summary": summary,
        "requestBody": _body(fields, required),
        "responses": {"200": _json(_OBJ, "the answer"), **_errors(400, 404, 409, 503)},
    }}


def _customer_get(summary: str, extra_params: list[dict[str, Any]] | None = None,
                  errors: tuple[int, ...] = (400, 404, 409, 503)) -> dict[str, Any]:
    return {"get": {
        "tags": ["customers"], "summary": summary,
        "parameters": [_REGISTRATION_PARAM, *(extra_params or [])],
        "responses": {"200": _json(_OBJ, "the answer"), **_errors(*errors)},
    }}


def build_spec() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "nevoa cloud API",
            "version": "1.0.0",
            "description": "Customers' readings, invoices and alerts, answered by asking "
            "the fog node of each customer's region. Errors are JSON: "
            '{"error": "...", "status": N}.',
        },
        "paths": {
            "/health": {"get": {"tags": ["ops"], "summary": "liveness",
                                "responses": {"200": _json(_OBJ, "alive")}}},
            "/validacao-usuario": _seed(
                "Is this customer registered (username + matricula)?",
                {"username": {"type": "string"}, "matricula": _MATRICULA},
                ["username", "matricula"]),
            "/medicoes/ultima-medicao": _seed(
                "Latest reading of the customer's meter", {"matricula": _MATRICULA},
                ["matricula"]),
            "/gerar-fatura": _seed(
                "Invoice of the last period: (last - previous reading) x rate",
                {"matricula": _MATRICULA}, ["matricula"]),
            "/alerta-consumo": _seed(
                "Excess check: newest of the last 4 periods >= 1.5 x mean of the 3 before",
                {"matricula": _MATRICULA}, ["matricula"]),
            "/api/v1/customers/validate": {"post": {
                "tags": ["customers"], "summary": "Is this customer registered?",
                "requestBody": _body({"username": {"type": "string"},
                                      "registration": _MATRICULA},
                                     ["username", "registration"]),
                "responses": {"200": _json(_OBJ, "registered"), **_errors(400, 404)},
            }},
            "/api/v1/customers/{registration}": _customer_get(
                "The customer's directory entry", errors=(400, 404)),
            "/api/v1/customers/{registration}/latest-reading": _customer_get(
                "Latest reading"),
            "/api/v1/customers/{registration}/readings": _customer_get(
                "Latest readings, oldest first",
                [{"name": "limit", "in": "query", "required": False,
                  "schema": {"type": "integer", "minimum": 1, "maximum": 1000,
                             "default": 10}}],
                errors=(400, 404, 503)),
            "/api/v1/customers/{registration}/invoice": _customer_get(
                "Invoice of the last period at the flat rate"),
            "/api/v1/customers/{registration}/consumption-alert": _customer_get(
                "The excess-consumption check"),
        },
        "components": {"schemas": {"Error": {
            "type": "object", "required": ["error", "status"],
            "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
        }}},
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(build_spec())
