"""AuditTrail: every command, outcome and policy change of a region, newest kept."""

from __future__ import annotations

from typing import Any, cast

import redis

from fog_node.keys import RegionKeys
from nevoa_core.clock import Clock, SystemClock

AUDIT_LIMIT = 100_000  # entries kept (approximately: Redis trims whole stream nodes)


class AuditTrail:
    def __init__(self, client: redis.Redis, region: str, clock: Clock | None = None) -> None:
        self.redis = client
        self.keys = RegionKeys(region)
        self.clock = clock or SystemClock()

    def record(self, event: str, **fields: Any) -> None:
        entry = {"event": event, "at": repr(self.clock.now())}
        entry.update({k: "" if v is None else str(v) for k, v in fields.items()})
        self.redis.xadd(self.keys.audit, cast(dict[Any, Any], entry), maxlen=AUDIT_LIMIT,
                        approximate=True)

    def newest(self, limit: int) -> list[dict[str, Any]]:
        entries = cast(list[tuple[str, dict[str, str]]],
                       self.redis.xrevrange(self.keys.audit, count=limit))
        out = []
        for entry_id, fields in entries:
            item: dict[str, Any] = {"id": entry_id, **fields}
            item["at"] = float(fields.get("at", 0))
            out.append(item)
        return out
