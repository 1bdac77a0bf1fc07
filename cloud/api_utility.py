"""The utility's view of the city: rankings, means, alerts and regional policies."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from cloud import presenters
from cloud.access import audit_note, principal, staff
from cloud.auth import Role
from cloud.caching import NO_STORE, for_period, with_cache
from cloud.errors import BadRequest, NoRegionAnswered
from cloud.fanout import Gathered
from cloud.requests import json_body, str_arg
from cloud.utility import ALERT_STATES, ALERT_TYPES, MAX_ALERTS, MAX_TOP_N, check_policy
from cloud.wiring import now, services
from nevoa_adapters.jsonapi import int_arg
from nevoa_core.ids import check_id
from nevoa_core.kinds import Kind
from nevoa_core.periods import Period, Step

bp = Blueprint("utility", __name__, url_prefix="/api/v1")


def _period_arg() -> Period:
    """A day or a month (the periods the fog nodes rank); default today (local)."""
    raw = request.args.get("period")
    calendar = services().settings.calendar
    if not raw:
        return calendar.period_containing(Step.DAY, now())
    period = calendar.parse_period(raw)
    if period.step not in (Step.DAY, Step.MONTH):
        raise BadRequest("rankings and means are kept per day and per month: "
                         "period=day:YYYY-MM-DD or month:YYYY-MM")
    return period


def _kind_arg() -> Kind:
    """Electricity and water are never ranked together (kWh and m3); default electricity."""
    raw = str_arg("kind", tuple(k.label for k in Kind))
    return Kind.from_label(raw) if raw else Kind.ELECTRICITY


def _none_answered(gathered: Gathered[Any]) -> None:
    if gathered.answers == {} and gathered.missing:
        raise NoRegionAnswered(gathered)


def _region_arg() -> str | None:
    raw = request.args.get("region")
    return check_id(raw, "region") if raw else None


def _meter_arg() -> str | None:
    """Checked here, before any region is asked: a meter id no fog node could accept is
    the caller's mistake (400), not every region failing (503)."""
    raw = request.args.get("meter")
    return check_id(raw, "meter id") if raw else None


def _fresh() -> bool:
    """The caller asks for an answer computed now (``Cache-Control: no-cache``)."""
    return bool(request.cache_control.no_cache)


def _aged(response: Response, age: float | None) -> Response:
    if age is not None:
        response.headers["Age"] = str(int(age))
    return response


@bp.get("/top")
@staff()
def top() -> ResponseReturnValue:
    period = _period_arg()
    ranking, age = services().utility.top(period, int_arg("n", 10, 1, MAX_TOP_N), _kind_arg(),
                                          _region_arg(), fresh=_fresh())
    _none_answered(ranking.gathered)
    return _aged(with_cache(jsonify(presenters.ranking(ranking)),
                            for_period(period.is_closed(now()),
                                       ranking.gathered.partial)), age)


@bp.get("/regions")
@staff()
def regions() -> ResponseReturnValue:
    gathered = services().utility.health()
    return jsonify(regions=[
        {"region": r, "status": gathered.answers[r].get("status", "ok")
         if r in gathered.answers else "unavailable",
         "error": gathered.missing.get(r)} for r in services().fogs.regions],
        **presenters.partial(gathered))


@bp.get("/regions/stats")
@staff()
def region_stats() -> ResponseReturnValue:
    period = _period_arg()
    means, age = services().utility.means(period, _kind_arg(), fresh=_fresh())
    _none_answered(means.gathered)
    return _aged(with_cache(jsonify(presenters.means(means)),
                            for_period(period.is_closed(now()), means.gathered.partial)),
                 age)


@bp.get("/alerts")
@staff()
def alerts() -> ResponseReturnValue:
    state = str_arg("state", ALERT_STATES) or "open"
    found = services().utility.alerts(
        _region_arg(), int_arg("limit", 100, 1, MAX_ALERTS), state=state,
        type=str_arg("type", ALERT_TYPES), meter=_meter_arg())
    _none_answered(found.gathered)
    return jsonify(state=state, alerts=found.alerts, **presenters.partial(found.gathered))


@bp.post("/regions/<region>/alerts/<alert_id>/ack")
@staff(Role.OPERATOR)
def acknowledge(region: str, alert_id: str) -> ResponseReturnValue:
    check_id(alert_id, "alert id")
    alert = services().utility.acknowledge(check_id(region, "region"), alert_id,
                                           principal().name)
    audit_note(region=region, alert=alert_id)
    return jsonify(alert)


@bp.post("/regions/<region>/alerts/<alert_id>/clear")
@staff(Role.OPERATOR)
def clear(region: str, alert_id: str) -> ResponseReturnValue:
    """Clear an alert by hand (the only way to clear a tamper alert)."""
    check_id(alert_id, "alert id")
    alert = services().utility.clear(check_id(region, "region"), alert_id, principal().name)
    audit_note(region=region, alert=alert_id)
    return jsonify(alert)


@bp.get("/regions/<region>/policy")
@staff()
def policy(region: str) -> ResponseReturnValue:
    found = services().utility.policy(check_id(region, "region"))
    return with_cache(jsonify({**found, "region": region}), NO_STORE)


@bp.put("/regions/<region>/policy")
@staff(Role.OPERATOR)
def set_policy(region: str) -> ResponseReturnValue:
    check_id(region, "region")
    try:
        changes = check_policy(json_body())
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    updated = services().utility.set_policy(region, {**changes, "by": principal().name})
    audit_note(region=region, changes=changes)
    return jsonify({**updated, "region": region})
