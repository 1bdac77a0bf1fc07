"""The fog node's HTTP API for the cloud (JSON in, JSON out, JSON errors)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from fog_node.store import RegionStore
from nevoa_core.ids import is_valid_id
from nevoa_core.senml import Reading
from nevoa_adapters.jsonapi import register_json_errors

MAX_HISTORY = 1000

bp = Blueprint("fog", __name__)


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


def _store() -> RegionStore:
    store: RegionStore = current_app.extensions["nevoa.store"]
    return store


def _meter_arg(meter: str) -> str:
    if not is_valid_id(meter):
        abort(400, description=f"invalid meter id {meter!r}")
    return meter


@bp.get("/health")
def health() -> ResponseReturnValue:
    ready = current_app.extensions["nevoa.ready"]
    body = {"status": "ok" if ready() else "degraded", "region": _store().keys.region}
    return jsonify(body), 200 if ready() else 503


@bp.get("/api/v1/meters/<meter>/latest")
def latest(meter: str) -> ResponseReturnValue:
    summary = _store().summary(_meter_arg(meter))
    if summary is None or summary.latest is None:
        abort(404, description=f"no readings for meter {meter!r} in this region")
    return jsonify(
        reading=reading_json(summary.latest),
        status=summary.status,
        status_time=summary.status_time,
    )


@bp.get("/api/v1/meters/<meter>/readings")
def readings(meter: str) -> ResponseReturnValue:
    limit = request.args.get("limit", default=10, type=int)
    if limit is None or not 1 <= limit <= MAX_HISTORY:
        abort(400, description=f"limit must be an integer from 1 to {MAX_HISTORY}")
    history = _store().history(_meter_arg(meter), limit)
    if not history:
        abort(404, description=f"no readings for meter {meter!r} in this region")
    return jsonify(meter=meter, readings=[reading_json(r) for r in history])


@bp.get("/api/v1/stats")
def stats() -> ResponseReturnValue:
    return jsonify(region=_store().keys.region, **_store().stats())


def create_app(store: RegionStore, ready: Any = lambda: True) -> Flask:
    app = Flask("fog_node")
    app.extensions["nevoa.store"] = store
    app.extensions["nevoa.ready"] = ready
    app.register_blueprint(bp)
    register_json_errors(app)
    return app
