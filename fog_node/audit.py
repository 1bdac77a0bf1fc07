"""AuditTrail: every command, outcome and policy change of a region, newest kept."""

from __future__ import annotations

import time
from typing import Any, cast

import redis

from fog_node.keys import RegionKeys

AUDIT_LIMIT = 100_000  # entries kept (approximately: Redis trims whole stream nodes)


class AuditTrail:
    def __init__(self, client: redis.Redis, region: str) -> None:
        self.redis = client
        self.keys = RegionKeys(region)

    def record(self, event: str, **fields: Any) -> None:
        entry = {"event": event, "at": repr(time.time())}
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
