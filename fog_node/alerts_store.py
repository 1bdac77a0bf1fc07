"""AlertStore: a region's alerts in Redis, with at most one open alert per (meter, type).

Opening, acknowledging and clearing are each one small server-side script, so two fog
processes judging the same meter at once still open a single alert.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import redis

from fog_node.keys import RegionKeys
from nevoa_core.alerts import AlertState, AlertType

CLEARED_RETENTION = 30 * 86_400
INDEX_LIMIT = 100_000  # alerts kept in the listing index, newest

# KEYS: active, index, new alert key. ARGV: "{meter}:{type}", id, opened_at, fields...
_OPEN = """
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {0, existing} end
redis.call('HSET', KEYS[3], unpack(ARGV, 4))
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -INDEX_LIMIT - 1)
return {1, ARGV[2]}
""".replace("INDEX_LIMIT", str(INDEX_LIMIT))
# KEYS: active, alert key. ARGV: state, at, by, retention. Returns the new state or an error.
_CHANGE = """
local alert = KEYS[2]
local state = redis.call('HGET', alert, 'state')
if not state then return {err = 'unknown'} end
if state == 'cleared' then return {err = 'cleared'} end
if ARGV[1] == 'acknowledged' then
  if state == 'open' then
    redis.call('HSET', alert, 'state', 'acknowledged', 'acknowledged_at', ARGV[2],
      'acknowledged_by', ARGV[3])
  end
  return 'acknowledged'
end
redis.call('HSET', alert, 'state', 'cleared', 'cleared_at', ARGV[2], 'cleared_by', ARGV[3])
redis.call('EXPIRE', alert, ARGV[4])
local field = redis.call('HGET', alert, 'meter') .. ':' .. redis.call('HGET', alert, 'type')
if redis.call('HGET', KEYS[1], field) == redis.call('HGET', alert, 'id') then
  redis.call('HDEL', KEYS[1], field)
end
return 'cleared'
"""


class AlertNotFound(LookupError):
    pass


class AlertCleared(ValueError):
    """The alert is already cleared: its lifecycle is over."""


@dataclass(frozen=True, slots=True)
class Alert:
    fields: dict[str, str]

    @property
    def id(self) -> str:
        return self.fields["id"]

    @property
    def state(self) -> AlertState:
        return AlertState(self.fields["state"])

    def as_json(self) -> dict[str, Any]:
        f = self.fields

        def number(name: str) -> float | None:
            return float(f[name]) if f.get(name) else None

        return {"id": f["id"], "region": f["region"], "meter": f["meter"], "type": f["type"],
                "state": f["state"], "opened_at": number("opened_at"),
                "acknowledged_at": number("acknowledged_at"),
                "acknowledged_by": f.get("acknowledged_by") or None,
                "cleared_at": number("cleared_at"), "cleared_by": f.get("cleared_by") or None,
                "detail": json.loads(f.get("detail") or "{}")}


class AlertStore:
    def __init__(self, client: redis.Redis, region: str) -> None:
        self.redis = client
        self.keys = RegionKeys(region)
        self._open = client.register_script(_OPEN)
        self._change = client.register_script(_CHANGE)

    def open(self, meter: str, kind: AlertType, detail: dict[str, Any], now: float
             ) -> tuple[Alert, bool]:
        """Open an alert unless one is open for (meter, type); (the alert, newly opened)."""
        alert_id = f"a-{uuid.uuid4().hex[:16]}"
        fields = {"id": alert_id, "region": self.keys.region, "meter": meter, "type": kind.value,
                  "state": AlertState.OPEN.value, "opened_at": repr(now),
                  "detail": json.dumps(detail, separators=(",", ":"))}
        flat = [x for pair in fields.items() for x in pair]
        created, found_id = self._open(
            keys=[self.keys.alerts_active, self.keys.alerts, self.keys.alert(alert_id)],
            args=[f"{meter}:{kind.value}", alert_id, repr(now), *flat])
        alert = self.get(found_id)
        assert alert is not None
        return alert, bool(int(created))

    def _transition(self, alert_id: str, state: AlertState, by: str, now: float) -> Alert:
        try:
            self._change(keys=[self.keys.alerts_active, self.keys.alert(alert_id)],
                         args=[state.value, repr(now), by, CLEARED_RETENTION])
        except redis.ResponseError as exc:
            if "unknown" in str(exc):
                raise AlertNotFound(alert_id) from None
            if "cleared" in str(exc):
                raise AlertCleared(alert_id) from None
            raise
        alert = self.get(alert_id)
        if alert is None:
            raise AlertNotFound(alert_id)
        return alert

    def acknowledge(self, alert_id: str, by: str, now: float) -> Alert:
        return self._transition(alert_id, AlertState.ACKNOWLEDGED, by, now)

    def clear(self, alert_id: str, by: str, now: float) -> Alert:
        return self._transition(alert_id, AlertState.CLEARED, by, now)

    def clear_open(self, meter: str, kind: AlertType, now: float, by: str = "fog") -> Alert | None:
        """Clear the open alert of (meter, type), if there is one."""
        alert_id = cast(str | None,
                        self.redis.hget(self.keys.alerts_active, f"{meter}:{kind.value}"))
        if alert_id is None:
            return None
        try:
            return self.clear(alert_id, by, now)
        except (AlertNotFound, AlertCleared):
            return None

    def get(self, alert_id: str) -> Alert | None:
        fields = cast(dict[str, str], self.redis.hgetall(self.keys.alert(alert_id)))
        return Alert(fields) if fields else None

    def open_types(self, meters: list[str]) -> dict[str, frozenset[AlertType]]:
        """The types with an open (or acknowledged) alert, per meter."""
        if not meters:
            return {}
        fields = [f"{m}:{t.value}" for m in meters for t in AlertType]
        values = self.redis.hmget(self.keys.alerts_active, fields)
        found: dict[str, set[AlertType]] = {m: set() for m in meters}
        for name, value in zip(fields, values, strict=True):
            if value is not None:
                meter, kind = name.rsplit(":", 1)
                found[meter].add(AlertType(kind))
        return {m: frozenset(types) for m, types in found.items()}

    def _newest(self) -> Iterator[Alert]:
        start, page = 0, 200
        while True:
            ids = cast(list[str], self.redis.zrevrange(self.keys.alerts, start,
                                                       start + page - 1))
            if not ids:
                return
            pipe = self.redis.pipeline(transaction=False)
            for i in ids:
                pipe.hgetall(self.keys.alert(i))
            for fields in pipe.execute():
                if fields:
                    yield Alert(fields)
            start += page

    def _active(self) -> list[Alert]:
        ids = cast(list[str], self.redis.hvals(self.keys.alerts_active))
        pipe = self.redis.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(self.keys.alert(i))
        alerts = [Alert(f) for f in pipe.execute() if f]
        return sorted(alerts, key=lambda a: float(a.fields["opened_at"]), reverse=True)

    def list(self, state: AlertState | None = None, kind: AlertType | None = None,
             meter: str | None = None, limit: int = 100) -> list[Alert]:
        """Newest first, filtered."""
        found: list[Alert] = []
        if state in (AlertState.OPEN, AlertState.ACKNOWLEDGED):
            candidates: Iterator[Alert] = iter(self._active())
        else:
            candidates = self._newest()
        for alert in candidates:
            f = alert.fields
            if (state is None or f["state"] == state.value) and \
                    (kind is None or f["type"] == kind.value) and \
                    (meter is None or f["meter"] == meter):
                found.append(alert)
                if len(found) >= limit:
                    break
        return found
