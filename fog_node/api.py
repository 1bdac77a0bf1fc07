"""The fog node's HTTP API for the cloud (JSON in, JSON out, JSON errors).

The contract is README.md, "Fog node HTTP API". One blueprint per resource family: this module holds
the app factory, health, metrics and ingest counters; api_meters, api_region and
api_ops the rest. Views parse input, call one service, and return JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from fog_node.aggregates import RegionAggregates
from fog_node.alerts_store import AlertStore
from fog_node.audit import AuditTrail
from fog_node.commander import CommandCenter
from fog_node.metrics import IngestMetrics
from fog_node.policy_store import PolicyStore
from fog_node.rollups import Rollups
from fog_node.store import RegionStore
from fog_node.store_health import StoreHealth
from nevoa_adapters.jsonapi import json_api, quoted
from nevoa_core.calendar import Calendar
from nevoa_core.clock import Clock, SystemClock
from nevoa_core.ids import is_valid_id
from nevoa_core.senml import LATEST_TIME, Reading


@dataclass
class FogServices:
    """Everything the views need, built once by the entry point (or a test)."""

    store: RegionStore
    alerts: AlertStore
    commands: CommandCenter
    policies: PolicyStore
    audit: AuditTrail
    metrics: IngestMetrics = field(default_factory=IngestMetrics)
    ready: Callable[[], bool] = lambda: True
    on_alert_change: Callable[[Any], None] = lambda alert: None  # publishes it
    calendar: Calendar = field(default_factory=Calendar)
    clock: Clock = field(default_factory=SystemClock)
    store_health: StoreHealth = field(default_factory=StoreHealth)  # the writers' view

    @property
    def region(self) -> str:
        return self.store.keys.region

    @property
    def aggregates(self) -> RegionAggregates:
        return RegionAggregates(self.store.redis, self.region)

    @property
    def rollups(self) -> Rollups:
        return Rollups(self.store.redis, self.region, self.calendar)


def services() -> FogServices:
    found: FogServices = current_app.extensions["nevoa.fog"]
    return found


def reading_json(r: Reading) -> dict[str, Any]:
    return {
        "meter": r.meter,
        "seq": r.seq,
        "time": r.time,
        "kind": r.kind.label,
        "register": r.register,
        "unit": r.kind.spec.register_unit,
        "rate": r.rate,
        "rate_unit": r.kind.spec.rate_unit,
    }


def meter_arg(meter: str) -> str:
    if not is_valid_id(meter):
        abort(400, description=f"invalid meter id {quoted(meter)}")
    return meter


def float_arg(name: str, default: float | None = None) -> float | None:
    """A time in epoch seconds, from 0 to 2100; anything else (NaN, 1e300) is a 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = float(raw) if len(raw) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not 0 <= value <= LATEST_TIME:  # NaN compares false
        abort(400, description=f"{name} must be a time in epoch seconds, from 0 to "
                               f"{LATEST_TIME:.0f}")
    return value


def who(body: dict[str, Any], default: str | None = None) -> str:
    by = body.get("by", default)
    if not isinstance(by, str) or not 1 <= len(by) <= 64:
        abort(400, description="'by' must name who asks: a string of 1-64 characters")
    return by


bp = Blueprint("fog", __name__)


@bp.get("/health")
def health() -> ResponseReturnValue:
    s = services()
    try:
        s.store.redis.ping()
        redis_ok = True
    except redis.RedisError:
        redis_ok = False
    mqtt_ok = s.ready()
    writes = s.store_health.view()
    ok = redis_ok and mqtt_ok and writes.fault is None
    body: dict[str, Any] = {"status": "ok" if ok else "degraded", "region": s.region,
                            "mqtt": "connected" if mqtt_ok else "disconnected",
                            "redis": "ok" if redis_ok else "unreachable"}
    if writes.fault is not None:  # Redis answers PING but refuses the writes
        body["ingest"] = {"state": "paused", "reason": writes.fault.value,
                          "since": writes.since, "detail": writes.detail,
                          "queued_messages": s.metrics.queued}
    return jsonify(body), 200 if ok else 503


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    s = services()
    try:
        region_stats = s.store.stats()
        pending = int(s.store.redis.zcard(s.store.keys.pending_commands))
        open_alerts = int(s.store.redis.hlen(s.store.keys.alerts_active))
    except redis.RedisError:
        region_stats, pending, open_alerts = {}, -1, -1
    writes = s.store_health.view()
    text = s.metrics.prometheus(s.region, region_stats, {
        "nevoa_fog_commands_pending": pending, "nevoa_fog_alerts_open": open_alerts,
        "nevoa_fog_up": 1.0 if s.ready() else 0.0,
        "nevoa_fog_ingest_paused": 0.0 if writes.fault is None else 1.0},
        s.store_health.errors)
    return Response(text, mimetype="text/plain; version=0.0.4")


@bp.get("/api/v1/stats")
def stats() -> ResponseReturnValue:
    s = services()
    return jsonify(region=s.region, **s.store.stats())


def create_app(fog: FogServices) -> Flask:
    from fog_node.api_meters import bp as meters_bp
    from fog_node.api_ops import bp as ops_bp
    from fog_node.api_region import bp as region_bp

    app = Flask("fog_node")
    app.extensions["nevoa.fog"] = fog
    for blueprint in (bp, meters_bp, region_bp, ops_bp):
        app.register_blueprint(blueprint)
    json_api(app)
    return app
