"""Meter routes: latest reading and summary, raw history, rollups, VEE flags."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from fog_node.api import float_arg, meter_arg, reading_json, services
from fog_node.rollups import RangeTooLong
from nevoa_adapters.jsonapi import int_arg
from nevoa_core.periods import Step

MAX_HISTORY = 1000
DEFAULT_SPAN = {Step.HOUR: 86_400.0, Step.DAY: 31 * 86_400.0}

bp = Blueprint("fog_meters", __name__, url_prefix="/api/v1/meters")


def _not_found(meter: str) -> None:
    abort(404, description=f"no readings for meter {meter!r} in this region")


@bp.get("/<meter>/latest")
def latest(meter: str) -> ResponseReturnValue:
    summary = services().store.summary(meter_arg(meter))
    if summary is None or summary.latest is None:
        _not_found(meter)
    assert summary is not None and summary.latest is not None
    return jsonify(
        reading=reading_json(summary.latest),
        status=summary.status,
        status_time=summary.status_time,
        valve=summary.valve,
        valve_reason=summary.valve_reason or None,
        flags=summary.flags.as_json(),
        seen=summary.seen,
        flowing_since=summary.flowing_since,
    )


@bp.get("/<meter>/readings")
def readings(meter: str) -> ResponseReturnValue:
    meter = meter_arg(meter)
    store = services().store
    start, end = float_arg("from"), float_arg("to")
    if start is not None or end is not None:
        limit = int_arg("limit", MAX_HISTORY, 1, MAX_HISTORY)
        found = store.readings_between(meter, start if start is not None else 0.0,
                                       end if end is not None else float("inf"), limit)
        if not found and store.latest(meter) is None:
            _not_found(meter)
    else:
        found = store.history(meter, int_arg("limit", 10, 1, MAX_HISTORY))
        if not found:
            _not_found(meter)
    return jsonify(meter=meter, readings=[reading_json(r) for r in found])


@bp.get("/<meter>/rollups")
def rollups(meter: str) -> ResponseReturnValue:
    meter = meter_arg(meter)
    step_name = request.args.get("step", "hour")
    if step_name not in (Step.HOUR.value, Step.DAY.value):
        abort(400, description="step must be 'hour' or 'day'")
    step = Step(step_name)
    end = float_arg("to", services().clock.now())
    start = float_arg("from", (end or 0.0) - DEFAULT_SPAN[step])
    assert start is not None and end is not None
    if start >= end:
        abort(400, description="'from' must be before 'to'")
    try:
        points = services().rollups.points(meter, step, start, end)
    except RangeTooLong as exc:
        abort(400, description=str(exc))
    if points is None:
        _not_found(meter)
    assert points is not None
    return jsonify(meter=meter, step=step.value, points=[p.as_json() for p in points])


@bp.get("/<meter>/flags")
def flags(meter: str) -> ResponseReturnValue:
    summary = services().store.summary(meter_arg(meter))
    if summary is None or summary.latest is None:
        _not_found(meter)
    assert summary is not None
    return jsonify(meter=meter, **summary.flags.as_json())
