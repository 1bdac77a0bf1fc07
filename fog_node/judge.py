"""Judge: applies the alert rules and the supply policy to meters, off the ingest path.

Every ``judge_interval`` (or twice as long as the last round took, so that judging never
takes more than a third of the process's time) it judges the meters the ingest writer
stored readings for since the last round — but while a backlog drains it waits, up to
``max_deferral`` seconds, so that ingest catches up first; every ``full_sweep`` seconds
it judges every meter of the region, which finds silent meters and restores valves a
policy cut once a new period begins. Rules and policy decisions are pure functions of
:mod:`nevoa_core.alerts` and :mod:`nevoa_core.supply`; this module gathers their facts
and carries out the verdicts.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import cast

import redis

from fog_node.aggregates import RegionAggregates
from fog_node.alerts_store import Alert, AlertStore
from fog_node.commander import CommandCenter
from fog_node.keys import RegionKeys
from fog_node.policy_store import PolicyStore
from fog_node.publisher import Publisher
from fog_node.store import Latest, parse_last
from nevoa_core import topics
from nevoa_core.alerts import AlertType, MeterFacts, RuleSettings, judge, transitions
from nevoa_core.calendar import SLOTS_PER_DAY, Calendar
from nevoa_core.clock import Clock, SystemClock
from nevoa_core.kinds import Kind
from nevoa_core.supply import SupplyPolicy, decide_supply

log = logging.getLogger("nevoa.fog.judge")

CHUNK = 500
POLICY_COMMAND_TTL = 300.0


class Judge:
    def __init__(self, client: redis.Redis, region: str, rules: RuleSettings,
                 alerts: AlertStore, commands: CommandCenter, policies: PolicyStore,
                 publisher: Publisher | None, interval: float = 2.0,
                 full_sweep: float = 30.0, backlogged: Callable[[], bool] = lambda: False,
                 max_deferral: float = 30.0, calendar: Calendar | None = None,
                 clock: Clock | None = None) -> None:
        self.redis = client
        self.calendar = calendar or Calendar()
        self.clock = clock or SystemClock()
        self.region = region
        self.keys = RegionKeys(region)
        self.rules = rules
        self.alerts = alerts
        self.commands = commands
        self.policies = policies
        self.publisher = publisher
        self.aggregates = RegionAggregates(client, region)
        self.interval = interval
        self.full_sweep = full_sweep
        self.backlogged = backlogged
        self.max_deferral = max_deferral
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fog-judge", daemon=True)

    def mark(self, meters: Iterable[str]) -> None:
        """Meters with new readings (called by the ingest writer)."""
        with self._lock:
            self._dirty.update(meters)

    # --- one round ---------------------------------------------------------------------------
    def judge_meters(self, meters: list[str], now: float | None = None) -> None:
        now = self.clock.now() if now is None else now
        policy = self.policies.get()
        means: dict[Kind, tuple[float | None, int]] = {}
        for start in range(0, len(meters), CHUNK):
            self._judge_chunk(meters[start:start + CHUNK], now, policy, means)

    def _judge_chunk(self, meters: list[str], now: float, policy: SupplyPolicy,
                     means: dict[Kind, tuple[float | None, int]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for m in meters:
            pipe.hgetall(self.keys.meter(m))
        summaries = dict(zip(meters, pipe.execute(), strict=True))
        latest = {m: parse_last(m, f.get("last"), f.get("live")) for m, f in summaries.items()}
        known = [m for m in meters if latest[m] is not None]
        hours = self._recent_hours({m: latest[m] for m in known})  # type: ignore[misc]
        period = self.calendar.period_containing(policy.cap_period, now)
        consumption: dict[str, float | None] = {}
        for kind in Kind:
            of_kind = [m for m in known if latest[m].reading.kind is kind]  # type: ignore[union-attr]
            consumption.update(self.aggregates.consumption(kind, period, of_kind))
            if kind not in means:
                stats = self.aggregates.stats(kind, period)
                means[kind] = (stats.mean, stats.meters)
        open_types = self.alerts.open_types(known)
        for m in known:
            last = latest[m]
            assert last is not None
            fields = summaries[m]
            kind = last.reading.kind
            mean, count = means[kind]
            vee = (fields.get("vee") or "0 0 0 0").split(" ")
            facts = MeterFacts(
                meter=m, kind=kind, now=now, recent_hours=hours.get(m, []),
                latest_time=last.reading.time, seen=last.seen, interval=last.interval,
                flowing_since=last.flowing_since, tamper_events=int(vee[2]),
                tamper_events_cleared=int(fields.get("tamper_cleared") or 0),
                period_consumption=consumption.get(m) or 0.0,  # no reading yet: nothing used
                region_mean=mean, region_meters=count,
                cap=policy.rationing_cap, open_types=open_types[m])
            findings = judge(facts, self.rules)
            for change in transitions(findings, open_types[m]):
                self._apply(m, change.type, change.open, change.detail, now)
            if kind is Kind.WATER:
                held = {f.type for f in findings if f.holds}
                self._supply(m, fields, policy, AlertType.ABOVE_CAP in held,
                             AlertType.ABOVE_MEAN in held)

    def _recent_hours(self, latest: dict[str, Latest]) -> dict[str, list[float]]:
        """Each meter's consumption in the 4 complete hours before its open hour."""
        cal = self.calendar
        pipe = self.redis.pipeline(transaction=False)
        hours: dict[str, list[tuple[str, str]]] = {}  # meter -> (day label, slot), oldest first
        days: dict[str, list[str]] = {}  # meter -> the day labels those hours fall in
        for m, last in latest.items():
            day, slot = divmod(last.open_hour, SLOTS_PER_DAY)
            open_start = cal.slot_start(day, slot)
            before = [cal.hour_slot(open_start - k * 3600) for k in range(4, 0, -1)]
            hours[m] = [(cal.day_label(d), f"{s:02d}") for d, s in before]
            days[m] = sorted({label for label, _ in hours[m]})
            for label in days[m]:
                pipe.hgetall(self.keys.hourly(m, label))
        found = iter(pipe.execute())
        out = {}
        for m in latest:
            fields = {(label, k): v for label in days[m] for k, v in next(found).items()}
            out[m] = [int(fields.get(h, "0")) / 1000 for h in hours[m]]
        return out

    def _apply(self, meter: str, kind: AlertType, open_it: bool, detail: dict[str, object],
               now: float) -> None:
        if open_it:
            alert, created = self.alerts.open(meter, kind, detail, now)
            if created:
                log.info("alert %s opened: %s on %s %s", alert.id, kind.value, meter, detail)
                self.publish(alert)
        else:
            cleared = self.alerts.clear_open(meter, kind, now)
            if cleared is not None:
                log.info("alert %s cleared: %s on %s no longer holds", cleared.id, kind.value,
                         meter)
                self.publish(cleared)

    def _supply(self, meter: str, fields: dict[str, str], policy: SupplyPolicy,
                above_cap: bool, above_mean: bool) -> None:
        if not (policy.cut_above_cap or policy.cut_above_mean or fields.get("valve") == "closed"):
            return
        pending = self.commands.valve_command_pending(meter)
        decision = decide_supply(policy, fields.get("valve"), fields.get("valve_reason"),
                                 above_cap, above_mean, pending)
        if decision is not None:
            self.commands.issue(meter, decision.action.value, {}, POLICY_COMMAND_TTL,
                                decision.reason.value, "policy")

    def publish(self, alert: Alert) -> None:
        if self.publisher is not None:
            body = json.dumps(alert.as_json(), separators=(",", ":")).encode()
            self.publisher.publish(topics.alerts(self.region), body)

    # --- the thread ----------------------------------------------------------------------------
    def _loop(self) -> None:
        next_full = time.monotonic() + self.full_sweep
        pause = self.interval
        last_round = time.monotonic()
        while not self._stop.wait(pause):
            started = time.monotonic()
            if self.backlogged() and started - last_round < self.max_deferral:
                pause = self.interval  # ingest first: a backlog is draining
                continue
            last_round = started
            try:
                if time.monotonic() >= next_full:
                    next_full = time.monotonic() + self.full_sweep
                    with self._lock:
                        self._dirty.clear()
                    meters = sorted(cast(set[str], self.redis.smembers(self.keys.meters)))
                else:
                    with self._lock:
                        meters, self._dirty = sorted(self._dirty), set()
                if meters:
                    self.judge_meters(meters)
            except redis.RedisError as exc:
                log.warning("judging failed (Redis: %s); next round in %.0fs", exc, self.interval)
            except Exception:  # a bug in one round must not stop the next ones
                log.exception("judging failed")
            # while a backlog drains, judging every meter every round would take as much
            # CPU as ingest itself: rest at least twice as long as the round took
            pause = max(self.interval, 2 * (time.monotonic() - started))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
