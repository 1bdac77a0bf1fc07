"""The audit log of what the utility's staff did, newest first (what is logged:
:mod:`cloud.access`).

Kept in the cloud's Redis as a capped list (``nv:cloud:audit``, JSON entries). An entry
says who (key name and role), when, what (method, path, query), the outcome (HTTP
status) and, for actions, what the view noted (e.g. the command id of a cut).
"""

from __future__ import annotations

import json
from typing import Any

import redis

AUDIT_KEY = "nv:cloud:audit"
MAX_ENTRIES = 100_000


class AuditLog:
    def __init__(self, client: redis.Redis, max_entries: int = MAX_ENTRIES) -> None:
        self._redis = client
        self.max_entries = max_entries

    def record(self, entry: dict[str, Any]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        # allow_nan=False: an entry GET /api/v1/audit could not answer is never written
        pipe.lpush(AUDIT_KEY, json.dumps(entry, separators=(",", ":"), default=str,
                                         allow_nan=False))
        pipe.ltrim(AUDIT_KEY, 0, self.max_entries - 1)
        pipe.execute()

    def entries(self, limit: int, actor: str | None = None,
                actions_only: bool = False) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, optionally of one actor or only state changes."""
        wanted: list[dict[str, Any]] = []
        start, page = 0, max(limit, 200)
        while len(wanted) < limit:
            raw = self._redis.lrange(AUDIT_KEY, start, start + page - 1)
            if not raw:
                break
            for item in raw:
                entry = json.loads(item)
                if actor and entry.get("actor") != actor:
                    continue
                if actions_only and entry.get("method") == "GET":
                    continue
                wanted.append(entry)
                if len(wanted) == limit:
                    break
            start += page
        return wanted
