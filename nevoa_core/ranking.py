"""Combining regions' answers exactly: the global top-N and the city-wide mean.

Why merging the regions' own top-N is exact: every meter belongs to exactly one region.
Rank meters by (consumption descending, meter id ascending) — a total order. If a meter
is among the first N of the city, fewer than N meters of the city rank above it, so
fewer than N meters of its own region do: it is among its region's first N. The union
of the regions' top-N therefore holds the city's top-N, and ranking that union by the
same order gives it exactly, ties included.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from nevoa_core.money import to_decimal


@dataclass(frozen=True, slots=True)
class Consumer:
    meter: str
    region: str
    consumption: Decimal


def rank_key(c: Consumer) -> tuple[Decimal, str, str]:
    """The ranking order: most consumption first, then meter id, then region."""
    return (-c.consumption, c.meter, c.region)


def top_consumers(consumers: Iterable[Consumer], n: int) -> list[Consumer]:
    """The first ``n`` of ``consumers`` in ranking order."""
    if n < 0:
        raise ValueError("n must be >= 0")
    return heapq.nsmallest(n, consumers, key=rank_key)


def merge_top_consumers(
    regional: Mapping[str, Sequence[tuple[str, float | Decimal]]], n: int
) -> list[Consumer]:
    """The city's top ``n`` from each region's own top ``n`` ``(meter, consumption)`` list.

    Each region's list must hold its region's first ``n`` (or all its meters if it has
    fewer); its order does not matter.
    """
    return top_consumers(
        (Consumer(meter, region, to_decimal(amount))
         for region, items in regional.items() for meter, amount in items),
        n,
    )


@dataclass(frozen=True, slots=True)
class RegionTotals:
    region: str
    meters: int  # meters with consumption counted in the period
    total: Decimal


@dataclass(frozen=True, slots=True)
class CityMean:
    meters: int
    total: Decimal
    mean: Decimal | None  # None when no meter reported


def city_mean(regions: Iterable[RegionTotals]) -> CityMean:
    """The mean over every meter of the city: total / meters, not a mean of means
    (a region of 10 meters must not weigh as much as one of 100,000)."""
    meters = 0
    total = Decimal(0)
    for r in regions:
        meters += r.meters
        total += r.total
    return CityMean(meters, total, total / meters if meters else None)
