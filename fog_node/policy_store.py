"""PolicyStore: the region's supply policy in Redis, changed only through validation."""

from __future__ import annotations

import json
from typing import Any, cast

import redis

from fog_node.audit import AuditTrail
from fog_node.keys import RegionKeys
from nevoa_core.periods import Step
from nevoa_core.supply import SupplyPolicy, updated_policy


class PolicyStore:
    def __init__(self, client: redis.Redis, region: str, audit: AuditTrail) -> None:
        self.redis = client
        self.keys = RegionKeys(region)
        self.audit = audit

    def get(self) -> SupplyPolicy:
        return self._parse(cast(str | None, self.redis.get(self.keys.policy)))

    @staticmethod
    def _parse(raw: str | None) -> SupplyPolicy:
        if not raw:
            return SupplyPolicy()
        body = json.loads(raw)
        return SupplyPolicy(body.get("rationing_cap"), Step(body.get("cap_period", "day")),
                            bool(body.get("cut_above_cap")), bool(body.get("cut_above_mean")),
                            float(body.get("mean_factor", 1.0)))

    def update(self, changes: dict[str, Any], by: str) -> SupplyPolicy:
        """Apply a partial change (PolicyError if invalid: then nothing changes)."""
        def change(pipe: redis.client.Pipeline) -> SupplyPolicy:
            new = updated_policy(self._parse(cast(str | None, pipe.get(self.keys.policy))),
                                 changes)
            pipe.multi()
            pipe.set(self.keys.policy, json.dumps(new.as_json(), allow_nan=False))
            return new

        # optimistic: a concurrent change makes this one start again from the new policy
        policy = cast(SupplyPolicy, self.redis.transaction(
            change, self.keys.policy, value_from_callable=True))  # type: ignore[arg-type]
        self.audit.record("policy_changed", by=by, changes=json.dumps(changes, allow_nan=False),
                          policy=json.dumps(policy.as_json(), allow_nan=False))
        return policy
