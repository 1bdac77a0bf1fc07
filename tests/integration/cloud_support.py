"""Helpers for the cloud's integration tests.

``ContractFog`` is a real HTTP server (werkzeug, on a free port) that answers the fog
node API of README.md, "Fog node HTTP API" from readings held in memory: a stand-in for
a fog node in
tests of cloud behaviour the real fog node does not serve yet. ``SilentFog`` accepts
connections and never answers: a region that hangs. The cloud's Redis is always real.
"""

from __future__ import annotations

import itertools
import socket
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, abort, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.serving import WSGIRequestHandler, make_server

from cloud.auth import ApiKeys, Role
from nevoa_adapters.jsonapi import register_json_errors
from nevoa_core.calendar import Calendar
from nevoa_core.consumption import total as total_consumption
from nevoa_core.periods import Step
from nevoa_stack.processes import free_port


@dataclass
class StoredReading:
    seq: int
    time: float
    register: float
    kind: str


@dataclass
class FogState:
    region: str
    readings: dict[str, list[StoredReading]] = field(default_factory=lambda: defaultdict(list))
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=lambda: {
        "rationing_cap": None, "cap_period": "day", "cut_above_cap": False,
        "cut_above_mean": False})
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=itertools.count)

    def consumption(self, meter: str, start: float, end: float) -> float | None:
        """The links from the last reading before ``start`` to the last before ``end``,
        summed by the one consumption rule (nevoa_core.consumption)."""
        rs = self.readings.get(meter, [])
        inside = [r for r in rs if start <= r.time < end]
        if not inside:
            return None
        before = [r for r in rs if r.time < start]
        return float(total_consumption([r.register for r in before[-1:] + inside]))


CALENDAR = Calendar()  # the fake fog keeps the default calendar, as the cloud under test


def _buckets(step: str, t0: float, t1: float) -> list[tuple[float, float]]:
    """The local hours or days that start in [t0, t1), as the real fog node's rollups."""
    if step == "hour":
        first = CALENDAR.period_containing(Step.HOUR, t0).start_epoch
        return [(s, s + 3600) for s in itertools.takewhile(
            lambda s: s < t1, itertools.count(first, 3600.0)) if s >= t0]
    days = CALENDAR.days_overlapping(t0, t1)
    return [(CALENDAR.day_start(d), CALENDAR.day_start(d + 1)) for d in days
            if CALENDAR.day_start(d) >= t0]


def _reading_json(meter: str, r: StoredReading) -> dict[str, Any]:
    unit = "kWh" if r.kind == "electricity" else "m3"
    return {"meter": meter, "seq": r.seq, "time": r.time, "kind": r.kind, "register": r.register,
            "unit": unit, "rate": None, "rate_unit": "W" if unit == "kWh" else "m3/s"}


def contract_app(state: FogState) -> Flask:
    app = Flask("contract_fog")
    register_json_errors(app)

    @app.get("/health")
    def health() -> ResponseReturnValue:
        return jsonify(status="ok", region=state.region)

    @app.get("/api/v1/meters/<meter>/latest")
    def latest(meter: str) -> ResponseReturnValue:
        if not state.readings.get(meter):
            abort(404)
        return jsonify(reading=_reading_json(meter, state.readings[meter][-1]),
                       status="online", status_time=None, valve="open", flags={})

    @app.get("/api/v1/meters/<meter>/readings")
    def readings(meter: str) -> ResponseReturnValue:
        rs = state.readings.get(meter, [])
        if "from" in request.args:
            t0, t1 = float(request.args["from"]), float(request.args["to"])
            rs = [r for r in rs if t0 <= r.time < t1]
        else:
            rs = rs[-int(request.args.get("limit", 10)):]
        if not rs and "from" not in request.args:
            abort(404)
        return jsonify(meter=meter, readings=[_reading_json(meter, r) for r in rs])

    @app.get("/api/v1/meters/<meter>/rollups")
    def rollups(meter: str) -> ResponseReturnValue:
        t0, t1 = float(request.args["from"]), float(request.args["to"])
        points = []
        for start, end in _buckets(request.args["step"], t0, t1):
            used = state.consumption(meter, start, end)
            if used is not None:
                last = [r for r in state.readings[meter] if r.time < end][-1]
                points.append({"start": start, "consumption": used,
                               "register": last.register})
        return jsonify(meter=meter, step=request.args["step"], points=points)

    def _period_consumption(kind: str | None) -> dict[str, float]:
        p = CALENDAR.parse_period(request.args["period"])
        out = {}
        for meter, rs in state.readings.items():
            if kind and rs and rs[0].kind != kind:
                continue
            used = state.consumption(meter, p.start_epoch, p.end_epoch)
            if used is not None:
                out[meter] = used
        return out

    @app.get("/api/v1/top")
    def top() -> ResponseReturnValue:
        used = _period_consumption(request.args.get("kind"))
        n = int(request.args.get("n", 10))
        items = sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return jsonify(region=state.region, period=request.args["period"],
                       kind=request.args.get("kind"), n=n,
                       items=[{"meter": m, "consumption": c} for m, c in items])

    @app.get("/api/v1/region/stats")
    def stats() -> ResponseReturnValue:
        used = list(_period_consumption(request.args.get("kind")).values())
        return jsonify(region=state.region, period=request.args["period"], meters=len(used),
                       online=len(used), offline=0,
                       mean=round(statistics.fmean(used), 3) if used else None,
                       median=statistics.median(used) if used else None,
                       total=round(sum(used), 3))

    @app.get("/api/v1/alerts")
    def alerts() -> ResponseReturnValue:
        found = [a for a in state.alerts.values()
                 if a["state"] == request.args.get("state", "open")
                 and request.args.get("meter") in (None, a["meter"])
                 and request.args.get("type") in (None, a["type"])]
        return jsonify(region=state.region, alerts=found[: int(request.args.get("limit", 100))])

    @app.post("/api/v1/alerts/<alert_id>/ack")
    def ack(alert_id: str) -> ResponseReturnValue:
        if alert_id not in state.alerts:
            abort(404)
        state.alerts[alert_id].update(state="acknowledged", acknowledged_at=time.time(),
                                      acknowledged_by=request.get_json()["by"])
        return jsonify(state.alerts[alert_id])

    @app.post("/api/v1/alerts/<alert_id>/clear")
    def clear(alert_id: str) -> ResponseReturnValue:
        if alert_id not in state.alerts:
            abort(404)
        state.alerts[alert_id].update(state="cleared", cleared_at=time.time(),
                                      cleared_by=request.get_json()["by"])
        return jsonify(state.alerts[alert_id])

    @app.route("/api/v1/policy", methods=["GET", "PUT"])
    def policy() -> ResponseReturnValue:
        if request.method == "PUT":
            state.policy.update(request.get_json())
        return jsonify(state.policy)

    @app.post("/api/v1/meters/<meter>/commands")
    def command(meter: str) -> ResponseReturnValue:
        body = request.get_json()
        cid = f"c-{state.region}-{next(state.ids)}"
        now = time.time()
        state.commands[cid] = {"id": cid, "meter": meter, "action": body["action"],
                               "args": body.get("args", {}), "reason": body.get("reason"),
                               "by": body.get("by"), "state": "pending", "issued_at": now,
                               "expires_at": now + body.get("ttl", 300), "attempts": 1,
                               "outcome_detail": None, "acknowledged_at": None}
        return jsonify(state.commands[cid]), 202

    @app.get("/api/v1/commands/<command_id>")
    def command_state(command_id: str) -> ResponseReturnValue:
        if command_id not in state.commands:
            abort(404)
        return jsonify(state.commands[command_id])

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class ContractFog:
    """A contract-shaped fog node on a free port; ``.state`` is what it serves."""

    def __init__(self, region: str) -> None:
        self.state = FogState(region)
        self.port = free_port()
        self._server = make_server("127.0.0.1", self.port, contract_app(self.state),
                                   threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_readings(self, meter: str, kind: str, points: list[tuple[float, float]]) -> None:
        rs = self.state.readings[meter]
        for t, register in points:
            rs.append(StoredReading(len(rs), t, register, kind))

    def __enter__(self) -> ContractFog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class SilentFog:
    """Accepts TCP connections and never answers: a fog node that hangs."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> SilentFog:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def api_key(redis_url: str, role: Role = Role.OPERATOR, name: str = "ana-ops") -> dict[str, str]:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return {"X-API-Key": ApiKeys(client).create(name, role)}
    finally:
        client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
