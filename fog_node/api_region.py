"""Region routes: statistics of a period and the exact top-N consumers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from fog_node.aggregates import RANKED_STEPS, RegionStats, UnrankedPeriod
from fog_node.api import services
from nevoa_adapters.jsonapi import int_arg, quoted
from nevoa_core.kinds import Kind
from nevoa_core.periods import InvalidPeriod, Period, Step

MAX_TOP = 1000
KIND_LABELS = ", ".join(k.label for k in Kind)

bp = Blueprint("fog_region", __name__, url_prefix="/api/v1")


def _period() -> Period:
    name = request.args.get("period")
    if name is None:
        return services().calendar.period_containing(Step.DAY, services().clock.now())
    try:
        period = services().calendar.parse_period(name)
    except InvalidPeriod as exc:
        abort(400, description=str(exc))
    if period.step not in RANKED_STEPS:
        abort(400, description="region aggregates are kept per day and per month: "
              "use period=day:YYYY-MM-DD or month:YYYY-MM")
    return period


def _kind() -> Kind:
    """The required ``kind``: a region's rankings and means are per kind, and a silent
    default would answer a question the caller did not ask."""
    label = request.args.get("kind")
    if label is None:
        abort(400, description=f"kind is required: one of {KIND_LABELS}")
    try:
        return Kind.from_label(label)
    except ValueError:
        abort(400, description=f"unknown kind {quoted(label)}: one of {KIND_LABELS}")


def _stats_json(stats: RegionStats) -> dict[str, Any]:
    return {"meters": stats.meters, "total": stats.total, "mean": stats.mean,
            "median": stats.median, "unit": stats.kind.spec.register_unit}


@bp.get("/region/stats")
def region_stats() -> ResponseReturnValue:
    s = services()
    period, kind = _period(), _kind()
    try:
        by_kind = {k: s.aggregates.stats(k, period) for k in Kind}
    except UnrankedPeriod as exc:
        abort(400, description=str(exc))
    meters, online, offline = s.aggregates.status_counts()
    chosen = by_kind[kind]
    return jsonify(region=s.region, period=period.name, kind=kind.label,
                   meters=chosen.meters, meters_in_region=meters, online=online,
                   offline=offline, mean=chosen.mean, median=chosen.median,
                   total=chosen.total, unit=kind.spec.register_unit,
                   kinds={k.label: _stats_json(v) for k, v in by_kind.items()})


@bp.get("/top")
def top() -> ResponseReturnValue:
    s = services()
    period, kind = _period(), _kind()
    n = int_arg("n", 10, 1, MAX_TOP)
    items = s.aggregates.top(kind, period, n)
    return jsonify(region=s.region, period=period.name, kind=kind.label, n=n,
                   unit=kind.spec.register_unit,
                   items=[{"meter": m, "consumption": c} for m, c in items])
