"""What the utility asks of the whole city: every call fans out to the regions' fog
nodes at once and says which regions did not answer in time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cloud.directory import Directory
from cloud.fanout import Gathered, gather
from cloud.fog_client import FogClient
from cloud.ttl_cache import TtlCache
from nevoa_core.clock import Clock, SystemClock
from nevoa_core.kinds import Kind
from nevoa_core.money import to_decimal
from nevoa_core.periods import Period
from nevoa_core.ranking import (
    CityMean,
    Consumer,
    RegionTotals,
    city_mean,
    merge_top_consumers,
)
from nevoa_core.supply import SupplyPolicy, updated_policy

MAX_TOP_N = 1000
POLICY_FIELDS = tuple(SupplyPolicy().as_json())
TTL_RUNNING = 2.0  # seconds a city-wide answer of a running period is reused
TTL_CLOSED = 30.0  # ... of a period that is over
ALERT_STATES = ("open", "acknowledged", "cleared")
ALERT_TYPES = ("excess", "leak", "above_mean", "above_cap", "silent", "tamper")
MAX_ALERTS = 1000


@dataclass(frozen=True, slots=True)
class Ranking:
    period: Period
    kind: Kind
    n: int
    items: list[Consumer]
    registrations: dict[str, str]  # meter -> registration, where the directory knows it
    gathered: Gathered[Any]


@dataclass(frozen=True, slots=True)
class RegionalMeans:
    period: Period
    kind: Kind
    regions: dict[str, dict[str, Any]]  # region -> the fog node's stats
    city: CityMean
    gathered: Gathered[Any]


@dataclass(frozen=True, slots=True)
class Alerts:
    alerts: list[dict[str, Any]]
    gathered: Gathered[Any]


def _ttl(period: Period, gathered: Gathered[Any], now: float) -> float:
    if gathered.partial:
        return 0.0
    return TTL_CLOSED if period.is_closed(now) else TTL_RUNNING


class Utility:
    def __init__(self, fogs: FogClient, directory: Directory, clock: Clock | None = None
                 ) -> None:
        self.fogs = fogs
        self.clock = clock or SystemClock()
        self.directory = directory
        self._rankings: TtlCache[Ranking] = TtlCache()
        self._means: TtlCache[RegionalMeans] = TtlCache()

    def _regions(self, region: str | None) -> list[str]:
        return [self.fogs.check_region(region)] if region else self.fogs.regions

    def top(self, period: Period, n: int, kind: Kind, region: str | None = None,
            fresh: bool = False) -> tuple[Ranking, float | None]:
        """(the city's or one region's ``n`` heaviest consumers, exact; the age of the
        answer in seconds when it was reused, else None)."""
        regions = self._regions(region)
        return self._rankings.get_or_compute(
            (period.name, n, kind, region), lambda: self._top(period, n, kind, regions),
            lambda r: _ttl(period, r.gathered, self.clock.now()), fresh)

    def _top(self, period: Period, n: int, kind: Kind, regions: list[str]) -> Ranking:
        gathered = gather(
            self.fogs, regions, "/api/v1/top",
            lambda body: [(str(i["meter"]), float(i["consumption"])) for i in body["items"]],
            period=period.name, n=n, kind=kind.label)
        items = merge_top_consumers(gathered.answers, n)
        registrations = self.directory.registrations_of([c.meter for c in items])
        return Ranking(period, kind, n, items, registrations, gathered)

    def means(self, period: Period, kind: Kind, fresh: bool = False
              ) -> tuple[RegionalMeans, float | None]:
        return self._means.get_or_compute(
            (period.name, kind), lambda: self._compute_means(period, kind),
            lambda m: _ttl(period, m.gathered, self.clock.now()), fresh)

    def _compute_means(self, period: Period, kind: Kind) -> RegionalMeans:
        gathered = gather(self.fogs, self.fogs.regions, "/api/v1/region/stats",
                          lambda body: (body, int(body.get("meters") or 0),
                                        to_decimal(float(body.get("total") or 0))),
                          period=period.name, kind=kind.label)
        totals = [RegionTotals(r, meters, total)
                  for r, (_, meters, total) in gathered.answers.items()]
        return RegionalMeans(period, kind,
                             {r: stats for r, (stats, _, _) in sorted(gathered.answers.items())},
                             city_mean(totals), gathered)

    def alerts(self, region: str | None, limit: int, **filters: object) -> Alerts:
        """Alerts of every region (or one), newest first."""
        gathered = gather(self.fogs, self._regions(region), "/api/v1/alerts",
                          lambda body: [dict(a) for a in body["alerts"]], limit=limit,
                          **filters)
        merged = [dict(a, region=a.get("region") or r)
                  for r, alerts in gathered.answers.items() for a in alerts]
        merged.sort(key=lambda a: (-float(a.get("opened_at") or 0), str(a.get("id"))))
        return Alerts(merged[:limit], gathered)

    def acknowledge(self, region: str, alert_id: str, by: str) -> dict[str, Any]:
        return self.fogs.acknowledge_alert(self.fogs.check_region(region), alert_id, by)

    def clear(self, region: str, alert_id: str, by: str) -> dict[str, Any]:
        return self.fogs.request(self.fogs.check_region(region), "POST",
                                 f"/api/v1/alerts/{quote(alert_id, safe='')}/clear",
                                 {"by": by})

    def policy(self, region: str) -> dict[str, Any]:
        return self.fogs.policy(self.fogs.check_region(region))

    def set_policy(self, region: str, policy: Mapping[str, Any]) -> dict[str, Any]:
        return self.fogs.set_policy(self.fogs.check_region(region), policy)

    def health(self) -> Gathered[dict[str, Any]]:
        return gather(self.fogs, self.fogs.regions, "/health", lambda body: body)


def check_policy(body: Mapping[str, Any]) -> dict[str, Any]:
    """A partial policy update, checked by the domain's rules before any region sees it
    (:func:`nevoa_core.supply.updated_policy`); raises ValueError."""
    if not body:
        raise ValueError("send at least one of: " + ", ".join(POLICY_FIELDS))
    updated_policy(SupplyPolicy(), body)  # PolicyError (a ValueError) names the field
    return dict(body)
