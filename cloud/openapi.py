"""The OpenAPI 3 description of the cloud API, served at /openapi.json.

The paths live in :mod:`cloud.openapi_paths`; this module holds the building blocks
and the shared schemas. Tests check that every documented operation is a real route and
every route is documented, and run schemathesis over the document.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from cloud.caching import public, with_cache

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
OBJ: dict[str, Any] = {"type": "object"}
ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MATRICULA = {"type": "string", "pattern": "^[0-9]{1,20}$", "example": "10001"}
MONTH = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "example": "2026-10"}
PERIOD = {"type": "string", "example": "day:2026-11-20",
          "pattern": r"^(day:\d{4}-\d{2}-\d{2}|month:\d{4}-\d{2})$"}

ERROR_TEXT = {
    400: "invalid input",
    401: "no credentials, or credentials that are not valid",
    403: "these credentials do not allow this",
    404: "not found",
    409: "conflict with the current state (not enough readings, already paid)",
    429: "too many failed attempts for this username or from this address: wait "
         "Retry-After seconds",
    503: "the region's fog node is not answering (city-wide: no region answered)",
}
CUSTOMER_AUTH: list[dict[str, list[str]]] = [{"customerToken": []}, {"apiKey": []}]
STAFF_AUTH: list[dict[str, list[str]]] = [{"apiKey": []}]


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*codes: int) -> dict[str, Any]:
    return {str(c): json_content(ERROR, ERROR_TEXT[c]) for c in codes}


def body(properties: dict[str, Any], required: list[str],
         extra: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": required}
    if not extra:
        schema["additionalProperties"] = False
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    param = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


def operation(tag: str, summary: str, *, ok: dict[str, Any] | None = None, status: int = 200,
              params: list[dict[str, Any]] | None = None, request: dict[str, Any] | None = None,
              error_codes: tuple[int, ...] = (), security: list[dict[str, list[str]]] | None
              = None, description: str = "") -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": [tag], "summary": summary,
        "responses": {str(status): json_content(ok or OBJ, "the answer"),
                      **errors(*error_codes)},
    }
    if description:
        op["description"] = description
    if params:
        op["parameters"] = params
    if request:
        op["requestBody"] = request
    if security is not None:
        op["security"] = security
    return op


PARTIAL_SCHEMA = {
    "partial": {"type": "boolean"},
    "missing_regions": {"type": "array", "items": {"type": "string"}},
    "region_errors": {"type": "object", "additionalProperties": {"type": "string"}},
}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "status"],
              "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
    "Partial": {"type": "object", "required": ["partial", "missing_regions"],
                "properties": PARTIAL_SCHEMA},
    "InvoiceLine": {"type": "object", "required": ["code", "description", "amount"],
                    "properties": {
                        "code": {"type": "string", "enum": [
                            "minimum", "band", "flat", "fixed", "energy", "peak",
                            "intermediate", "off_peak", "flag", "tax"]},
                        "description": {"type": "string"},
                        "quantity": {"type": "string", "nullable": True},
                        "unit": {"type": "string", "nullable": True},
                        "unit_price": {"type": "string", "nullable": True},
                        "amount": {"type": "string"}}},
    "Invoice": {"type": "object",
                "required": ["id", "period", "status", "lines", "subtotal", "taxes", "total"],
                "properties": {
                    "id": {"type": "string"}, "registration": {"type": "string"},
                    "meter": {"type": "string"}, "period": {"type": "string"},
                    "status": {"type": "string", "enum": ["provisional", "open", "paid"]},
                    "tariff": {"type": "string"}, "consumption": {"type": "string"},
                    "unit": {"type": "string"},
                    "flag": {"type": "string", "nullable": True},
                    "lines": {"type": "array",
                              "items": {"$ref": "#/components/schemas/InvoiceLine"}},
                    "subtotal": {"type": "string"}, "taxes": {"type": "string"},
                    "total": {"type": "string"}, "currency": {"type": "string"},
                    "period_start": {"type": "string", "format": "date-time"},
                    "period_end": {"type": "string", "format": "date-time"},
                    "due_at": {"type": "string", "format": "date-time"},
                    "paid_at": {"type": "string", "nullable": True},
                    "note": {"type": "string", "nullable": True,
                             "description": "e.g. no reading has arrived this month yet"}}},
    "CommandIssued": {"type": "object", "required": ["command_id", "region", "status_url"],
                      "properties": {"command_id": {"type": "string"},
                                     "region": {"type": "string"},
                                     "command": OBJ, "status_url": {"type": "string"}}},
}


@cache
def build_spec() -> dict[str, Any]:
    from cloud.openapi_paths import PATHS

    return {
        "openapi": "3.0.3",
        "info": {
            "title": "nevoa cloud API",
            "version": "1.1.0",
            "description": "Customers' readings, history, invoices and alerts; the utility's "
            "rankings, means, alerts, policies and supply control, answered by asking the "
            "fog node of each region. Errors are JSON: {\"error\": \"...\", \"status\": N}. "
            "Customers send 'Authorization: Bearer <token>' from POST /api/v1/auth/login; "
            "operators send 'X-API-Key: <key>'. City-wide answers carry partial and "
            "missing_regions when a region does not answer within the timeout.",
        },
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "customerToken": {"type": "http", "scheme": "bearer",
                                  "description": "token from POST /api/v1/auth/login"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "an operator API key (role viewer or operator)"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return with_cache(jsonify(build_spec()), public(3600))
