"""The versioned JSON API: the seed's operations as resources under /api/v1."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from cloud import presenters
from cloud.directory import check_registration, check_username
from cloud.requests import int_arg, json_body
from cloud.wiring import accounts

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

MAX_READINGS = 1000


@bp.post("/customers/validate")
def validate_customer() -> ResponseReturnValue:
    body = json_body("username", "registration")
    c = accounts().directory.find(
        check_username(body["username"]), check_registration(body["registration"])
    )
    return jsonify(valid=True, username=c.username, registration=c.registration)


@bp.get("/customers/<registration>")
def customer(registration: str) -> ResponseReturnValue:
    c = accounts().directory.get(check_registration(registration))
    return jsonify(username=c.username, registration=c.registration, meter=c.meter,
                   region=c.region)


@bp.get("/customers/<registration>/latest-reading")
def latest_reading(registration: str) -> ResponseReturnValue:
    c, r = accounts().latest_reading(check_registration(registration))
    return jsonify(registration=c.registration, reading=presenters.reading(r))


@bp.get("/customers/<registration>/readings")
def readings(registration: str) -> ResponseReturnValue:
    limit = int_arg("limit", 10, 1, MAX_READINGS)
    c, history = accounts().history(check_registration(registration), limit)
    return jsonify(registration=c.registration,
                   readings=[presenters.reading(r) for r in history])


@bp.get("/customers/<registration>/invoice")
def invoice(registration: str) -> ResponseReturnValue:
    return jsonify(presenters.invoice(accounts().last_period_invoice(
        check_registration(registration))))


@bp.get("/customers/<registration>/consumption-alert")
def consumption_alert(registration: str) -> ResponseReturnValue:
    return jsonify(presenters.excess(accounts().excess_consumption(
        check_registration(registration))))
