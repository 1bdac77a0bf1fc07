"""Cutting and restoring a meter's supply through its region's fog node.

The fog node owns the command (MQTT delivery, acknowledgement, expiry); the cloud keeps
which region each command went to, so ``GET /api/v1/commands/{id}`` can ask the right
fog node, and why each meter's supply was cut, so paying a debt restores only what the
debt cut. Keys:

    nv:cloud:command:{id}    hash: region, meter, action, reason, by, issued_at
    nv:cloud:supply:{meter}  hash: state=cut, reason, command_id, by, at  (absent: supplied)
    nv:cloud:supply:cut:{reason}  set of the meters cut for that reason
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import redis

from cloud.directory import Customer
from cloud.fog_client import FogClient, NotFoundInRegion, RegionUnavailable
from nevoa_core.clock import Clock, SystemClock
from nevoa_core.commands import Action, Command, CommandError
from nevoa_core.supply import CutReason

COMMAND_RECORD_TTL = 30 * 86400  # how long a command id can still be looked up


class UnknownCommand(LookupError):
    def __init__(self, command_id: str) -> None:
        super().__init__(f"no command {command_id!r} was issued by this cloud")
        self.command_id = command_id


@dataclass(frozen=True, slots=True)
class IssuedCommand:
    region: str
    command: dict[str, Any]  # the fog node's Command

    @property
    def id(self) -> str:
        return str(self.command["id"])


def _command_key(command_id: str) -> str:
    return f"nv:cloud:command:{command_id}"


def _supply_key(meter: str) -> str:
    return f"nv:cloud:supply:{meter}"


def _cut_for_key(reason: CutReason) -> str:
    return f"nv:cloud:supply:cut:{reason.value}"


class SupplyControl:
    def __init__(self, client: redis.Redis, fogs: FogClient, command_ttl: int,
                 clock: Clock | None = None) -> None:
        self._redis = client
        self.clock = clock or SystemClock()
        self.fogs = fogs
        self.command_ttl = command_ttl

    def send(self, customer: Customer, action: Action, args: dict[str, Any],
             by: str) -> IssuedCommand:
        """A meter setting (reporting interval, tendency); valves go through cut/restore."""
        if action in (Action.CLOSE_VALVE, Action.OPEN_VALVE):
            raise CommandError("valves are cut and restored through /supply")
        Command("check", action, 0.0, 1.0, args)  # CommandError when args do not fit
        return self._send(customer, action, CutReason.MANUAL, by, args)

    def _send(self, customer: Customer, action: Action, reason: CutReason,
              by: str, args: dict[str, Any] | None = None) -> IssuedCommand:
        command = self.fogs.send_command(customer.region, customer.meter, {
            "action": action.value, "args": args or {}, "ttl": self.command_ttl,
            "reason": reason.value, "by": by})
        issued = IssuedCommand(customer.region, command)
        self._redis.hset(_command_key(issued.id), mapping={
            "region": customer.region, "meter": customer.meter, "action": action.value,
            "reason": reason.value, "by": by, "issued_at": repr(self.clock.now())})
        self._redis.expire(_command_key(issued.id), COMMAND_RECORD_TTL)
        return issued

    def cut(self, customer: Customer, reason: CutReason, by: str) -> IssuedCommand:
        issued = self._send(customer, Action.CLOSE_VALVE, reason, by)
        previous = cast(str | None, self._redis.hget(_supply_key(customer.meter), "reason"))
        pipe = self._redis.pipeline(transaction=True)
        if previous:
            pipe.srem(_cut_for_key(CutReason(previous)), customer.meter)
        pipe.hset(_supply_key(customer.meter), mapping={
            "state": "cut", "reason": reason.value, "command_id": issued.id, "by": by,
            "at": repr(self.clock.now())})
        pipe.sadd(_cut_for_key(reason), customer.meter)
        pipe.execute()
        return issued

    def restore(self, customer: Customer, reason: CutReason, by: str) -> IssuedCommand:
        issued = self._send(customer, Action.OPEN_VALVE, reason, by)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(_supply_key(customer.meter))
        for r in CutReason:
            pipe.srem(_cut_for_key(r), customer.meter)
        pipe.execute()
        return issued

    def cut_for(self, reason: CutReason) -> list[str]:
        """The meters whose supply is cut for ``reason``."""
        return sorted(cast(set[str], self._redis.smembers(_cut_for_key(reason))))

    def restore_if_cut_for(self, customer: Customer, cut: CutReason, reason: CutReason,
                           by: str) -> IssuedCommand | None:
        """Restore the supply (saying ``reason``) if, and only if, it was cut for ``cut``."""
        if self._redis.hget(_supply_key(customer.meter), "reason") != cut.value:
            return None
        return self.restore(customer, reason, by)

    def state(self, meter: str) -> dict[str, Any]:
        """``{"state": "supplied"}`` or the cut: reason, command_id, by, at."""
        record = cast(dict[str, Any], self._redis.hgetall(_supply_key(meter)))
        if not record:
            return {"state": "supplied"}
        record["at"] = float(record["at"])
        return record

    def valve(self, customer: Customer) -> dict[str, Any]:
        """What the fog node knows of the meter's valve: ``valve`` (open/closed, as the
        meter last acknowledged) and ``valve_reason`` (a policy cut shows here too)."""
        try:
            latest = self.fogs.get(customer.region,
                                   f"/api/v1/meters/{quote(customer.meter, safe='')}/latest")
        except NotFoundInRegion:
            return {"valve": None, "valve_reason": None}
        except RegionUnavailable as exc:
            return {"valve": None, "valve_reason": None, "valve_error": str(exc)}
        return {"valve": latest.get("valve"), "valve_reason": latest.get("valve_reason") or None}

    def command(self, command_id: str) -> tuple[dict[str, str], dict[str, Any]]:
        """(the cloud's record, the fog node's Command with its current state)."""
        record = cast(dict[str, str], self._redis.hgetall(_command_key(command_id)))
        if not record:
            raise UnknownCommand(command_id)
        return record, self.fogs.command(record["region"], command_id)
