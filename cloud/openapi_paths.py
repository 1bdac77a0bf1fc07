"""Every operation of the cloud API, as OpenAPI 3 path items (see :mod:`cloud.openapi`)."""

from __future__ import annotations

from typing import Any

from cloud.openapi import (
    CUSTOMER_AUTH,
    ID_PATTERN,
    MATRICULA,
    MONTH,
    OBJ,
    PARTIAL_SCHEMA,
    PERIOD,
    STAFF_AUTH,
    body,
    operation,
    path_param,
    query,
)

REGISTRATION = path_param("registration", MATRICULA)
MONTH_PARAM = path_param("month", MONTH)
ID = {"type": "string", "pattern": ID_PATTERN}
REGION = path_param("region", {**ID, "example": "r1"})
METER = path_param("meter", {**ID, "example": "r1-e000001"})
CUSTOMER_ERRORS = (400, 401, 403, 404)
KIND = query("kind", {"type": "string", "enum": ["electricity", "water"]},
             "never ranked together (kWh and m3); default electricity")
REGION_FILTER = query("region", {**ID, "example": "r1"}, "one region only")
PERIOD_Q = query("period", PERIOD, "day: or month: of the utility's local calendar; "
                 "default today")
ALERT_STATE = query("state", {"type": "string", "enum": ["open", "acknowledged", "cleared"]})
ALERT_TYPE = query("type", {"type": "string", "enum": [
    "excess", "leak", "above_mean", "above_cap", "silent", "tamper"]})
LIMIT_1000 = query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})


def _obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def _partial(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["partial", "missing_regions"],
            "properties": {**properties, **PARTIAL_SCHEMA}}


def _seed(summary: str, fields: dict[str, Any], required: list[str],
          error_codes: tuple[int, ...] = (400, 404, 409, 503), description: str = ""
          ) -> dict[str, Any]:
    return {"post": operation("seed", summary, request=body(fields, required),
                              error_codes=error_codes, security=[],
                              description="The energy seed's route, unchanged: no token."
                              + description)}


LIMITED = (" Failed attempts are rate-limited per username and per client address "
           "(429 with Retry-After).")


def _customer(summary: str, *, params: list[dict[str, Any]] | None = None,
              extra_errors: tuple[int, ...] = (), ok: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    return operation("customers", summary, ok=ok, params=[REGISTRATION, *(params or [])],
                     error_codes=(*CUSTOMER_ERRORS, *extra_errors), security=CUSTOMER_AUTH)


def _staff(tag: str, summary: str, *, writes: bool = False, **kw: Any) -> dict[str, Any]:
    codes = kw.pop("error_codes", ())
    return operation(tag, summary, error_codes=(400, 401, 403, *codes), security=STAFF_AUTH,
                     description=("Role operator." if writes else "Role viewer or operator.")
                     + (" " + kw.pop("description") if "description" in kw else ""), **kw)


REUSE = ("A complete answer is reused for 2 s (running period) or 30 s (period over), "
         "with an Age header; send 'Cache-Control: no-cache' for one computed now. A partial "
         "answer is never reused.")
INVOICE = {"$ref": "#/components/schemas/Invoice"}
COMMAND_ISSUED = {"$ref": "#/components/schemas/CommandIssued"}

PATHS: dict[str, Any] = {
    "/health": {"get": operation("ops", "liveness", security=[])},
    "/openapi.json": {"get": operation("ops", "this document", security=[])},
    "/docs": {"get": {"tags": ["ops"], "summary": "browsable documentation (HTML)",
                      "security": [], "responses": {"200": {
                          "description": "an HTML page",
                          "content": {"text/html": {"schema": {"type": "string"}}}}}}},
    # -- the energy seed ---------------------------------------------------------------
    "/validacao-usuario": _seed("Is this customer registered (username + matricula)?",
                                {"username": {"type": "string"}, "matricula": MATRICULA},
                                ["username", "matricula"], (400, 404, 409, 429, 503), LIMITED),
    "/medicoes/ultima-medicao": _seed("Latest reading of the customer's meter",
                                      {"matricula": MATRICULA}, ["matricula"]),
    "/gerar-fatura": _seed("Invoice of the last period: (last - previous reading) x rate",
                           {"matricula": MATRICULA}, ["matricula"]),
    "/alerta-consumo": _seed(
        "Excess check: newest of the last 4 periods >= 1.5 x mean of the 3 before",
        {"matricula": MATRICULA}, ["matricula"]),
    # -- auth --------------------------------------------------------------------------
    "/api/v1/auth/login": {"post": operation(
        "auth", "A customer's token for username + registration",
        request=body({"username": {"type": "string"}, "registration": MATRICULA},
                     ["username", "registration"]),
        ok=_obj(token={"type": "string"}, token_type={"type": "string"},
                expires_at={"type": "integer"}, registration={"type": "string"}),
        error_codes=(400, 401, 429), security=[], description=LIMITED.strip())},
    "/api/v1/auth/whoami": {"get": operation(
        "auth", "Who these credentials are", error_codes=(401,), security=CUSTOMER_AUTH)},
    # -- customers ---------------------------------------------------------------------
    "/api/v1/customers/validate": {"post": operation(
        "customers", "Is this customer registered?", security=[],
        request=body({"username": {"type": "string"}, "registration": MATRICULA},
                     ["username", "registration"]), error_codes=(400, 404, 429),
        description=LIMITED.strip())},
    "/api/v1/customers/{registration}": {"get": _customer("The customer's directory entry")},
    "/api/v1/customers/{registration}/latest-reading": {"get": _customer(
        "Latest reading", extra_errors=(409, 503))},
    "/api/v1/customers/{registration}/readings": {"get": _customer(
        "Latest readings, oldest first", extra_errors=(503,), params=[LIMIT_1000])},
    "/api/v1/customers/{registration}/history": {"get": _customer(
        "Consumption over a range by step, with date/time and running total",
        extra_errors=(503,), params=[
            query("from", {"type": "string", "example": "2026-11-01T00:00:00-03:00"},
                  "ISO 8601 (without an offset: the utility's local time) or epoch seconds; "
                  "default: one step span before 'to'"),
            query("to", {"type": "string", "example": "2026-11-20T00:00:00-03:00"},
                  "ISO 8601 or epoch seconds; default now"),
            query("step", {"type": "string", "enum": ["raw", "hour", "day"]},
                  "default hour; raw <= 7 days, hour <= 31 days, day <= 400 days")])},
    "/api/v1/customers/{registration}/invoice": {"get": _customer(
        "The seed's invoice of the last period at the flat rate", extra_errors=(409, 503))},
    "/api/v1/customers/{registration}/consumption-alert": {"get": _customer(
        "The seed's excess-consumption check", extra_errors=(409, 503))},
    "/api/v1/customers/{registration}/alerts": {"get": _customer(
        "The meter's alerts and whether its supply is cut", extra_errors=(503,),
        params=[ALERT_STATE, ALERT_TYPE, LIMIT_1000])},
    "/api/v1/customers/{registration}/invoices": {"get": _customer("Issued invoices")},
    "/api/v1/customers/{registration}/invoices/{month}": {"get": {**_customer(
        "The invoice of a calendar month (provisional while the month runs)",
        params=[MONTH_PARAM], extra_errors=(409, 503), ok=INVOICE),
        "description": "A month without readings bills the fixed charges, with a note; "
        "409 for a closed month before the meter's first reading. A time-of-use tariff "
        "has a peak, an intermediate and an off_peak line."}},
    "/api/v1/customers/{registration}/invoices/{month}/payment": {"post": operation(
        "customers", "Pay an issued invoice; restores supply cut for debt",
        params=[REGISTRATION, MONTH_PARAM], error_codes=(*CUSTOMER_ERRORS, 409, 503),
        security=CUSTOMER_AUTH,
        ok=_obj(invoice=INVOICE, supply_restored={**COMMAND_ISSUED, "nullable": True}))},
    # -- tariffs and billing -----------------------------------------------------------
    "/api/v1/tariffs": {"get": operation(
        "billing", "The tariff book", security=[],
        description="Each tariff's type is flat, tiered, electricity or time_of_use.")},
    "/api/v1/tariff-flags/{month}": {
        "get": operation("billing", "The month's tariff flag", params=[MONTH_PARAM],
                         error_codes=(400,), security=[]),
        "put": _staff("billing", "Set the month's tariff flag", writes=True,
                      params=[MONTH_PARAM], request=body({"flag": {
                          "type": "string", "enum": ["green", "yellow", "red1", "red2"]}},
                          ["flag"]))},
    "/api/v1/billing/overdue-cuts": {"post": _staff(
        "billing", "Cut the supply of meters with overdue invoices; restore the paid-up",
        writes=True,
        params=[query("limit", {"type": "integer", "minimum": 1, "maximum": 10000})],
        error_codes=(404, 503))},
    # -- the utility -------------------------------------------------------------------
    "/api/v1/top": {"get": _staff(
        "utility", "The N heaviest consumers, merged exactly from the regions' top-N",
        description=REUSE, error_codes=(404, 503), params=[
            PERIOD_Q, query("n", {"type": "integer", "minimum": 1, "maximum": 1000}), KIND,
            REGION_FILTER],
        ok=_partial(items={"type": "array", "items": OBJ}, period={"type": "string"}))},
    "/api/v1/regions": {"get": _staff("utility", "The regions and their fog nodes' health",
                                      ok=_partial(regions={"type": "array", "items": OBJ}))},
    "/api/v1/regions/stats": {"get": _staff(
        "utility", "Each region's mean and the city-wide mean", params=[PERIOD_Q, KIND],
        description=REUSE, error_codes=(503,),
        ok=_partial(regions={"type": "array", "items": OBJ}, city=OBJ))},
    "/api/v1/alerts": {"get": _staff(
        "utility", "Alerts across regions, newest first (default state open)",
        params=[ALERT_STATE, ALERT_TYPE, REGION_FILTER, query("meter", ID), LIMIT_1000],
        error_codes=(404, 503), ok=_partial(alerts={"type": "array", "items": OBJ}))},
    "/api/v1/regions/{region}/alerts/{alert_id}/ack": {"post": _staff(
        "utility", "Acknowledge an alert", writes=True,
        params=[REGION, path_param("alert_id", ID)], error_codes=(404, 409, 503))},
    "/api/v1/regions/{region}/alerts/{alert_id}/clear": {"post": _staff(
        "utility", "Clear an alert by hand (the only way to clear a tamper alert)",
        writes=True, params=[REGION, path_param("alert_id", ID)],
        error_codes=(404, 409, 503))},
    "/api/v1/regions/{region}/policy": {
        "get": _staff("utility", "The region's rationing cap and policies", params=[REGION],
                      error_codes=(404, 503)),
        "put": _staff("utility", "Set the region's rationing cap and policies", writes=True,
                      params=[REGION], error_codes=(404, 409, 503), request=body({
                          "rationing_cap": {"type": "number", "nullable": True, "minimum": 0,
                                            "description": "m3 per cap_period (water)"},
                          "cap_period": {"type": "string", "enum": ["day", "month"]},
                          "cut_above_cap": {"type": "boolean"},
                          "cut_above_mean": {"type": "boolean"},
                          "mean_factor": {"type": "number", "exclusiveMinimum": True,
                                          "minimum": 0}}, [], extra=False))},
    # -- operations --------------------------------------------------------------------
    "/api/v1/directory/import": {"post": _staff(
        "operations", "Bulk import of customers and meters (idempotent)", writes=True,
        description="CSV (text/csv) with a header, or JSON rows; columns registration, "
        "username, meter, region, kind (optional), tariff (optional).",
        request={"required": True, "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": OBJ}}}},
        ok=_obj(rows={"type": "integer"}, created={"type": "integer"},
                updated={"type": "integer"}, unchanged={"type": "integer"},
                rejected={"type": "array", "items": OBJ}))},
    "/api/v1/meters/{meter}/supply": {
        "get": _staff("operations", "The meter's supply state", params=[METER],
                      error_codes=(404,)),
        "post": _staff("operations", "Cut or restore the meter's supply", writes=True,
                       params=[METER], status=202, ok=COMMAND_ISSUED,
                       error_codes=(404, 409, 503), request=body({
                           "action": {"type": "string", "enum": ["cut", "restore"]},
                           "reason": {"type": "string", "enum": [
                               "manual", "debt", "payment", "cap", "mean"]}},
                           ["action"]))},
    "/api/v1/meters/{meter}/commands": {"post": _staff(
        "operations", "Change a meter's reporting interval or consumption tendency",
        writes=True, params=[METER], status=202, ok=COMMAND_ISSUED,
        error_codes=(404, 409, 503), request=body({
            "action": {"type": "string", "enum": ["set_interval", "set_tendency"]},
            "args": {"type": "object", "example": {"seconds": 30}}}, ["action"]))},
    "/api/v1/commands/{command_id}": {"get": _staff(
        "operations", "A valve command's state until the meter acknowledges or it expires",
        params=[path_param("command_id", ID)], error_codes=(404, 503))},
    "/api/v1/audit": {"get": _staff(
        "operations", "The audit log, newest first", writes=True,
        params=[LIMIT_1000, query("actor", {"type": "string", "maxLength": 64}),
                query("actions_only", {"type": "boolean"})])},
}
