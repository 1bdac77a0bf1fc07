"""Operations routes: alerts, the supply policy, commands to meters, the audit trail."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from fog_node.alerts_store import AlertCleared, AlertNotFound
from fog_node.api import meter_arg, services, who
from fog_node.commander import CommandRefused
from nevoa_adapters.jsonapi import int_arg, json_body, quoted
from nevoa_core.alerts import AlertState, AlertType
from nevoa_core.supply import PolicyError

DEFAULT_COMMAND_TTL = 300

bp = Blueprint("fog_ops", __name__, url_prefix="/api/v1")


def _enum_arg(name: str, enum: type[AlertState] | type[AlertType]) -> AlertState | AlertType | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return enum(raw)
    except ValueError:
        abort(400, description=f"{name} must be one of " + ", ".join(e.value for e in enum))


@bp.get("/alerts")
def list_alerts() -> ResponseReturnValue:
    s = services()
    state = _enum_arg("state", AlertState)
    kind = _enum_arg("type", AlertType)
    meter = request.args.get("meter")
    if meter is not None:
        meter_arg(meter)
    found = s.alerts.list(state, kind, meter, int_arg("limit", 100, 1, 1000))  # type: ignore[arg-type]
    return jsonify(region=s.region, alerts=[a.as_json() for a in found])


def _change_alert(alert_id: str, clear: bool) -> ResponseReturnValue:
    s = services()
    by = who(json_body())
    try:
        if clear:
            alert = s.alerts.clear(alert_id, by, s.clock.now())
            if alert.fields["type"] == AlertType.TAMPER.value:
                s.store.note_tamper_cleared(alert.fields["meter"])
        else:
            alert = s.alerts.acknowledge(alert_id, by, s.clock.now())
    except AlertNotFound:
        abort(404, description=f"no alert {quoted(alert_id)} in this region")
    except AlertCleared:
        abort(409, description=f"alert {quoted(alert_id)} is already cleared")
    s.on_alert_change(alert)
    return jsonify(alert.as_json())


@bp.post("/alerts/<alert_id>/ack")
def acknowledge_alert(alert_id: str) -> ResponseReturnValue:
    return _change_alert(alert_id, clear=False)


@bp.post("/alerts/<alert_id>/clear")
def clear_alert(alert_id: str) -> ResponseReturnValue:
    return _change_alert(alert_id, clear=True)


@bp.get("/policy")
def get_policy() -> ResponseReturnValue:
    return jsonify(services().policies.get().as_json())


@bp.put("/policy")
def put_policy() -> ResponseReturnValue:
    body = json_body()
    by = who(body, "cloud")
    changes = {k: v for k, v in body.items() if k != "by"}
    try:
        policy = services().policies.update(changes, by)
    except PolicyError as exc:
        abort(400, description=str(exc))
    return jsonify(policy.as_json())


@bp.post("/meters/<meter>/commands")
def send_command(meter: str) -> ResponseReturnValue:
    body = json_body()
    meter = meter_arg(meter)
    args = body.get("args", {})
    if not isinstance(args, dict):
        abort(400, description="args must be a JSON object")
    try:
        view = services().commands.issue(
            meter, body.get("action"), args, body.get("ttl", DEFAULT_COMMAND_TTL),  # type: ignore[arg-type]
            body.get("reason", "manual"), who(body, "cloud"))
    except CommandRefused as exc:
        abort(400, description=str(exc))
    return jsonify(view.as_json()), 202


@bp.get("/commands/<command_id>")
def get_command(command_id: str) -> ResponseReturnValue:
    view = services().commands.get(command_id)
    if view is None:
        abort(404, description=f"no command {quoted(command_id)} in this region")
    return jsonify(view.as_json())


@bp.get("/audit")
def audit() -> ResponseReturnValue:
    return jsonify(region=services().region,
                   entries=services().audit.newest(int_arg("limit", 100, 1, 1000)))
