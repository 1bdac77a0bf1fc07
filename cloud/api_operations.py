"""Operations on the directory and on meters: bulk import, supply cut and restore,
command status, and the audit log."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from cloud import presenters
from cloud.access import audit_note, principal, staff
from cloud.auth import Role
from cloud.bulk_import import import_customers, read_rows
from cloud.errors import BadRequest
from cloud.requests import json_body, str_arg
from cloud.wiring import services
from nevoa_adapters.jsonapi import int_arg
from nevoa_core.commands import Action, CommandError
from nevoa_core.ids import check_id
from nevoa_core.supply import CutReason

bp = Blueprint("operations", __name__, url_prefix="/api/v1")

SUPPLY_ACTIONS = ("cut", "restore")


@bp.post("/directory/import")
@staff(Role.OPERATOR)
def bulk_import() -> ResponseReturnValue:
    s = services()
    request.max_content_length = s.settings.import_max_bytes  # more than other bodies
    rows = read_rows(request.get_data(cache=False), request.content_type or "")
    report = import_customers(s.directory, rows, regions=s.fogs.regions,
                              tariff_problem=s.billing.tariff_problem)
    audit_note(rows=report.rows, created=report.created, updated=report.updated,
               rejected=len(report.rejected))
    return jsonify(report.as_json())


@bp.get("/meters/<meter>/supply")
@staff()
def supply_state(meter: str) -> ResponseReturnValue:
    s = services()
    customer = s.directory.by_meter(check_id(meter, "meter id"))
    return jsonify(meter=customer.meter, region=customer.region,
                   registration=customer.registration, **s.supply.state(meter),
                   **s.supply.valve(customer))


@bp.post("/meters/<meter>/supply")
@staff(Role.OPERATOR)
def change_supply(meter: str) -> ResponseReturnValue:
    body = json_body("action")
    action = body["action"]
    if action not in SUPPLY_ACTIONS:
        raise BadRequest("action must be 'cut' or 'restore'")
    try:
        reason = CutReason(body.get("reason", "manual"))
    except ValueError:
        raise BadRequest("reason must be one of: "
                         + ", ".join(r.value for r in CutReason)) from None
    s = services()
    customer = s.directory.by_meter(check_id(meter, "meter id"))
    by = principal().name
    issued = (s.supply.cut(customer, reason, by) if action == "cut"
              else s.supply.restore(customer, reason, by))
    audit_note(meter=meter, action=action, reason=reason.value, command_id=issued.id)
    return jsonify(presenters.command(issued)), 202


@bp.post("/meters/<meter>/commands")
@staff(Role.OPERATOR)
def meter_command(meter: str) -> ResponseReturnValue:
    """Change how a meter reports: set_interval {"seconds"} or set_tendency {"tendency"}."""
    body = json_body("action")
    try:
        action = Action(body["action"])
    except ValueError:
        raise BadRequest("action must be set_interval or set_tendency") from None
    args = body.get("args", {})
    s = services()
    customer = s.directory.by_meter(check_id(meter, "meter id"))
    try:
        issued = s.supply.send(customer, action, args, principal().name)
    except CommandError as exc:
        raise BadRequest(str(exc)) from None
    audit_note(meter=meter, action=action.value, args=args, command_id=issued.id)
    return jsonify(presenters.command(issued)), 202


@bp.get("/commands/<command_id>")
@staff()
def command(command_id: str) -> ResponseReturnValue:
    record, found = services().supply.command(check_id(command_id, "command id"))
    return jsonify(command_id=command_id, region=record["region"], meter=record["meter"],
                   reason=record["reason"], by=record["by"], command=found,
                   state=found.get("state"))


@bp.get("/audit")
@staff(Role.OPERATOR)
def audit() -> ResponseReturnValue:
    entries = services().audit.entries(
        int_arg("limit", 100, 1, 1000), actor=str_arg("actor"),
        actions_only=request.args.get("actions_only") in ("1", "true"))
    return jsonify(entries=entries)
