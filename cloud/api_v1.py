"""A customer's own data under /api/v1/customers/{registration}: the customer's token,
or an operator's key, is required (the seed's routes stay open, as in the original)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from cloud import presenters
from cloud.access import customer_data
from cloud.caching import private, with_cache
from cloud.errors import BadRequest
from cloud.history import DEFAULT_SPAN, MAX_SPAN, STEP_SECONDS, HistoryStep, consumption_history
from cloud.ratelimit import checks_registration
from cloud.requests import choice_arg, json_body, str_arg, time_arg
from cloud.utility import ALERT_STATES, ALERT_TYPES, MAX_ALERTS
from cloud.wiring import accounts, now, services
from nevoa_adapters.jsonapi import int_arg

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

MAX_READINGS = 1000


@bp.post("/customers/validate")
@checks_registration
def validate_customer() -> ResponseReturnValue:
    body = json_body("username", "registration")
    c = accounts().directory.find(body["username"], body["registration"])
    return jsonify(valid=True, username=c.username, registration=c.registration)


@bp.get("/customers/<registration>")
@customer_data
def customer(registration: str) -> ResponseReturnValue:
    c = accounts().directory.get(registration)
    return with_cache(jsonify(username=c.username, registration=c.registration, meter=c.meter,
                              region=c.region, kind=c.kind, tariff=c.tariff or None),
                      private(60))


@bp.get("/customers/<registration>/latest-reading")
@customer_data
def latest_reading(registration: str) -> ResponseReturnValue:
    c, r = accounts().latest_reading(registration)
    return with_cache(jsonify(registration=c.registration, reading=presenters.reading(r)),
                      private(5))


@bp.get("/customers/<registration>/readings")
@customer_data
def readings(registration: str) -> ResponseReturnValue:
    limit = int_arg("limit", 10, 1, MAX_READINGS)
    c, history = accounts().history(registration, limit)
    return with_cache(jsonify(registration=c.registration,
                              readings=[presenters.reading(r) for r in history]), private(5))


@bp.get("/customers/<registration>/history")
@customer_data
def history(registration: str) -> ResponseReturnValue:
    step = choice_arg("step", HistoryStep, HistoryStep.HOUR)
    assert step is not None
    current = now()
    end = time_arg("to", current)
    start = time_arg("from", end - DEFAULT_SPAN[step])
    if not start < end:
        raise BadRequest("from must be before to")
    if end - start > MAX_SPAN[step]:
        raise BadRequest(f"a {step.value} history covers at most "
                         f"{MAX_SPAN[step] / 86400:g} days; use a coarser step")
    customer = services().directory.get(registration)
    h = consumption_history(services().fogs, customer, step, start, end)
    over = end + STEP_SECONDS[step] <= current  # the last bucket can no longer change
    return with_cache(jsonify(presenters.history(h)), private(3600 if over else 30))


@bp.get("/customers/<registration>/invoice")
@customer_data
def invoice(registration: str) -> ResponseReturnValue:
    return with_cache(jsonify(presenters.invoice(accounts().last_period_invoice(registration))),
                      private(5))


@bp.get("/customers/<registration>/consumption-alert")
@customer_data
def consumption_alert(registration: str) -> ResponseReturnValue:
    return with_cache(jsonify(presenters.excess(accounts().excess_consumption(registration))),
                      private(5))


@bp.get("/customers/<registration>/alerts")
@customer_data
def alerts(registration: str) -> ResponseReturnValue:
    """The fog node's alerts for the customer's meter, and whether supply is cut."""
    s = services()
    c = s.directory.get(registration)
    found = s.fogs.alerts(c.region, meter=c.meter, state=str_arg("state", ALERT_STATES),
                          type=str_arg("type", ALERT_TYPES),
                          limit=int_arg("limit", 100, 1, MAX_ALERTS))
    return jsonify(registration=c.registration, meter=c.meter,
                   supply={**s.supply.state(c.meter), **s.supply.valve(c)}, alerts=found)
