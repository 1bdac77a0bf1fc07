"""CommandCenter: commands to meters, retried until acknowledged or expired, all audited.

A command is stored (state ``pending``), then sent by the sender thread, and sent again
with a doubling delay until the meter's acknowledgement arrives or the command expires.
Meters apply a command id once (a resend is acknowledged as ``duplicate``). Every step
lands in the audit trail, but what a meter can repeat at will lands there boundedly: a
late acknowledgement once per command, and acknowledgements of commands the region never
sent to that meter are counted (``rejected:unknown_command_ack`` in the region's stats)
and reported in the log and the trail at most once per ``ignored_ack_report_seconds``.
State changes are small scripts, so an acknowledgement and an expiry racing in two fog
processes settle the command once.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis

from fog_node.audit import AuditTrail
from fog_node.keys import STAT_REJECTED_PREFIX, RegionKeys
from fog_node.publisher import Publisher
from nevoa_core import topics
from nevoa_core.clock import Clock, SystemClock
from nevoa_core.commands import Action, Command, CommandAck, Outcome
from nevoa_core.supply import CutReason

MAX_TTL = 7 * 86_400
MAX_RETRY_DELAY = 60.0
FINISHED_RETENTION = 30 * 86_400
UNKNOWN_ACK_STAT = STAT_REJECTED_PREFIX + "unknown_command_ack"
IGNORED_ACK_REPORT_SECONDS = 60.0
log = logging.getLogger("nevoa.fog.commands")

# KEYS: pending, command. ARGV: state, acknowledged_at, detail, retention.
_FINISH = """
if redis.call('HGET', KEYS[2], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[2], 'state', ARGV[1], 'acknowledged_at', ARGV[2], 'outcome_detail', ARGV[3])
redis.call('ZREM', KEYS[1], KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""
# KEYS: pending. ARGV: now, claim seconds, limit. Due commands, pushed back while sent.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, key in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', ARGV[1] + ARGV[2], key) end
return due
"""
# KEYS: command. A late acknowledgement, counted on the command: 1 for the first one,
# 0 when the command is gone (never recreated as a hash without an expiry).
_LATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'late_acks', 1)
"""


class CommandRefused(ValueError):
    """A command request that is not valid; nothing was sent."""


@dataclass(frozen=True, slots=True)
class CommandView:
    fields: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        f = self.fields

        def number(name: str) -> float | None:
            value = float(f[name]) if f.get(name) else None
            return value if value is None or math.isfinite(value) else None

        return {"id": f["id"], "meter": f["meter"], "action": f["action"],
                "args": json.loads(f.get("args") or "{}"), "reason": f.get("reason"),
                "by": f.get("by"), "state": f["state"], "issued_at": number("issued_at"),
                "expires_at": number("expires_at"), "attempts": int(f.get("attempts") or 0),
                "outcome_detail": f.get("outcome_detail") or None,
                "acknowledged_at": number("acknowledged_at")}


@dataclass(frozen=True, slots=True)
class IgnoredAckReport:
    count: int
    meters: list[tuple[str, int]]  # the meters that sent most of them, with their counts
    last: tuple[str, str]  # the latest one: meter, command id


class IgnoredAcks:
    """Acknowledgements of commands a region does not know, tallied between reports, so
    that a meter sending them by the thousand costs a counter, not the log or the audit."""

    MAX_METERS = 1000  # meters tallied by name between two reports

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._count = 0
        self._meters: Counter[str] = Counter()
        self._reported_at = -math.inf

    def add(self, ignored: Sequence[tuple[str, str]], now: float) -> IgnoredAckReport | None:
        """Tally ``(meter, command id)`` pairs; a report when one is due (the first at once,
        then at most one per interval)."""
        with self._lock:
            self._count += len(ignored)
            for meter, _ in ignored:
                if meter in self._meters or len(self._meters) < self.MAX_METERS:
                    self._meters[meter] += 1
            if now - self._reported_at < self.interval:
                return None
            report = IgnoredAckReport(self._count, self._meters.most_common(5), ignored[-1])
            self._count, self._meters, self._reported_at = 0, Counter(), now
            return report


class CommandCenter:
    def __init__(self, client: redis.Redis, region: str, publisher: Publisher | None,
                 audit: AuditTrail, first_retry: float = 5.0, clock: Clock | None = None,
                 ignored_ack_report_seconds: float = IGNORED_ACK_REPORT_SECONDS) -> None:
        self.redis = client
        self.clock = clock or SystemClock()
        self.keys = RegionKeys(region)
        self.region = region
        self.publisher = publisher
        self.audit = audit
        self.first_retry = first_retry
        self._finish = client.register_script(_FINISH)
        self._claim = client.register_script(_CLAIM)
        self._late = client.register_script(_LATE)
        self._ignored = IgnoredAcks(ignored_ack_report_seconds)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send_loop, name="fog-commands", daemon=True)

    # --- issuing and reading -------------------------------------------------------------
    def issue(self, meter: str, action: str, args: dict[str, Any] | None, ttl: float,
              reason: str, by: str) -> CommandView:
        try:
            act = Action(action)
        except ValueError:
            raise CommandRefused(f"unknown action {str(action)[:40]!r}: expected one of "
                                 + ", ".join(a.value for a in Action)) from None
        if reason not in [r.value for r in CutReason]:
            raise CommandRefused("reason must be one of " + ", ".join(r.value for r in CutReason))
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 1 <= ttl <= MAX_TTL:
            raise CommandRefused(f"ttl must be a number of seconds from 1 to {MAX_TTL}")
        now = self.clock.now()
        command_id = f"c-{uuid.uuid4().hex[:16]}"
        try:
            Command(command_id, act, now, now + ttl, args or {})  # checks the arguments
        except ValueError as exc:
            raise CommandRefused(str(exc)) from None
        fields = {"id": command_id, "meter": meter, "action": act.value,
                  "args": json.dumps(args or {}, separators=(",", ":"), allow_nan=False),
                  "reason": reason,
                  "by": by, "state": "pending", "issued_at": repr(now),
                  "expires_at": repr(now + ttl), "attempts": "0"}
        key = self.keys.command(command_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping=cast(dict[Any, Any], fields))
        pipe.expire(key, int(ttl) + FINISHED_RETENTION)
        pipe.zadd(self.keys.pending_commands, {key: now})
        if act in (Action.CLOSE_VALVE, Action.OPEN_VALVE):
            pipe.hset(self.keys.valve_commands, meter, command_id)
        pipe.execute()
        self.audit.record("command_issued", command=command_id, meter=meter, action=act.value,
                          args=fields["args"], reason=reason, by=by, ttl=ttl)
        log.info("command %s issued: %s to %s (%s, by %s)", command_id, act.value, meter, reason,
                 by)
        self._wake.set()
        return CommandView(fields)

    def get(self, command_id: str) -> CommandView | None:
        fields = cast(dict[str, str], self.redis.hgetall(self.keys.command(command_id)))
        return CommandView(fields) if fields else None

    def valve_command_pending(self, meter: str) -> bool:
        command_id = cast(str | None, self.redis.hget(self.keys.valve_commands, meter))
        if command_id is None:
            return False
        return self.redis.hget(self.keys.command(command_id), "state") == "pending"

    # --- outcomes --------------------------------------------------------------------------
    def on_acks(self, acks: list[tuple[str, CommandAck]]) -> None:
        """Record the meters' acknowledgements (called by the ingest writer thread)."""
        pipe = self.redis.pipeline(transaction=False)
        for _, ack in acks:
            pipe.hgetall(self.keys.command(ack.id))
        found = cast(list[dict[str, str]], pipe.execute())
        ignored: list[tuple[str, str]] = []
        for (meter, ack), fields in zip(acks, found, strict=True):
            if fields and fields.get("meter") == meter:
                self._settle(meter, CommandView(fields), ack)
            else:  # a command this region never sent to this meter
                ignored.append((meter, ack.id))
        if ignored:
            self._ignore(ignored)

    def _settle(self, meter: str, view: CommandView, ack: CommandAck) -> None:
        key = self.keys.command(ack.id)
        done = self._finish(keys=[self.keys.pending_commands, key],
                            args=[ack.outcome.value, repr(ack.at), ack.detail,
                                  FINISHED_RETENTION])
        if not done and int(self._late(keys=[key])) != 1:
            return  # the trail has this command's first late acknowledgement already
        self.audit.record("command_acknowledged" if done else "late_ack", command=ack.id,
                          meter=meter, outcome=ack.outcome.value, detail=ack.detail,
                          valve=ack.valve)
        if done:
            log.info("command %s to %s: %s %s", ack.id, meter, ack.outcome.value, ack.detail)
            self._note_valve(meter, view, ack)

    def _ignore(self, ignored: list[tuple[str, str]]) -> None:
        self.redis.hincrby(self.keys.stats, UNKNOWN_ACK_STAT, len(ignored))
        report = self._ignored.add(ignored, time.monotonic())
        if report is None:
            return
        meters = ", ".join(f"{m} ({n})" for m, n in report.meters)
        log.warning("ignored %d acknowledgement(s) of commands this region did not send to "
                    "those meters (latest: %s from %s; by meter: %s); counted as %s, "
                    "reported at most every %g s", report.count, report.last[1],
                    report.last[0], meters, UNKNOWN_ACK_STAT, self._ignored.interval)
        self.audit.record("ack_ignored", count=report.count, meters=meters,
                          command=report.last[1], meter=report.last[0],
                          detail="unknown command")

    def _note_valve(self, meter: str, view: CommandView, ack: CommandAck) -> None:
        valve = ack.valve
        if valve is None and ack.outcome in (Outcome.APPLIED, Outcome.DUPLICATE):
            valve = {Action.CLOSE_VALVE.value: "closed",
                     Action.OPEN_VALVE.value: "open"}.get(view.fields["action"])
        if valve is None:
            return
        reason = view.fields.get("reason") or ""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.meter(meter), mapping={
            "valve": valve, "valve_reason": reason if valve == "closed" else "",
            "valve_time": repr(ack.at)})
        if valve == "closed":
            pipe.hset(self.keys.closed_valves, meter, reason)
        else:
            pipe.hdel(self.keys.closed_valves, meter)
        pipe.execute()

    # --- sending ---------------------------------------------------------------------------
    def send_due(self, now: float | None = None) -> int:
        """Send (again) every command whose time has come; expire the overdue ones."""
        now = self.clock.now() if now is None else now
        keys: list[str] = self._claim(keys=[self.keys.pending_commands],
                                      args=[repr(now), self.first_retry, 500])
        for key in keys:
            fields = cast(dict[str, str], self.redis.hgetall(key))
            if not fields or fields.get("state") != "pending":
                self.redis.zrem(self.keys.pending_commands, key)
                continue
            if now > float(fields["expires_at"]):
                if self._finish(keys=[self.keys.pending_commands, key],
                                args=["expired", repr(now), "no acknowledgement before it expired",
                                      FINISHED_RETENTION]):
                    self.audit.record("command_expired", command=fields["id"],
                                      meter=fields["meter"], attempts=fields.get("attempts"))
                    log.warning("command %s to %s expired after %s attempt(s)", fields["id"],
                                fields["meter"], fields.get("attempts"))
                continue
            self._send(key, fields, now)
        return len(keys)

    def _send(self, key: str, fields: dict[str, str], now: float) -> None:
        if self.publisher is None:
            return
        command = Command(fields["id"], Action(fields["action"]), float(fields["issued_at"]),
                          float(fields["expires_at"]), json.loads(fields["args"]))
        # counted and audited before it leaves: a meter may acknowledge it at once, and
        # the trail must not show the acknowledgement before the sending
        attempts = int(self.redis.hincrby(key, "attempts", 1))
        delay = min(self.first_retry * 2 ** (attempts - 1), MAX_RETRY_DELAY)
        retry_at = min(now + delay, float(fields["expires_at"]) + 0.01)
        self.redis.zadd(self.keys.pending_commands, {key: retry_at}, xx=True)
        self.audit.record("command_sent", command=fields["id"], meter=fields["meter"],
                          attempt=attempts)
        self.publisher.publish(topics.command(self.region, fields["meter"]), command.encode())

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self.send_due()
            except redis.RedisError as exc:
                log.warning("could not send due commands (Redis: %s); retrying", exc)
                self._stop.wait(1.0)
            except Exception:  # a bug in one round must not stop the next ones
                log.exception("could not send due commands")
                self._stop.wait(1.0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
