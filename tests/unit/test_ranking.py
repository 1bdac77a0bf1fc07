"""The global top-N merged from the regions' own top-N is exactly the brute-force ranking."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nevoa_core.ranking import (
    Consumer,
    RegionTotals,
    city_mean,
    merge_top_consumers,
    top_consumers,
)

# small value ranges on purpose: many ties, so the tie-break is exercised
fleets = st.dictionaries(
    keys=st.sampled_from(["r1", "r2", "r3", "r4"]),
    values=st.dictionaries(
        keys=st.integers(1, 60),
        values=st.decimals(min_value=0, max_value=5, places=1),
        max_size=40,
    ),
    max_size=4,
)


@given(fleets, st.integers(0, 30))
def test_merge_of_regional_top_n_equals_brute_force(
    fleet: dict[str, dict[int, Decimal]], n: int
) -> None:
    everyone = [Consumer(f"{region}-e{i:06d}", region, amount)
                for region, meters in fleet.items() for i, amount in meters.items()]
    brute = sorted(everyone, key=lambda c: (-c.consumption, c.meter))[:n]
    regional = {
        region: [(c.meter, c.consumption) for c in top_consumers(
            [c for c in everyone if c.region == region], n)][::-1]  # any order is accepted
        for region in fleet
    }
    assert merge_top_consumers(regional, n) == brute


def test_ties_are_broken_by_meter_id() -> None:
    merged = merge_top_consumers({"r2": [("r2-b", 5.0), ("r2-a", 1.0)],
                                  "r1": [("r1-z", 5.0)]}, 2)
    assert [c.meter for c in merged] == ["r1-z", "r2-b"]


def test_floats_compare_by_their_decimal_value() -> None:
    merged = merge_top_consumers({"r1": [("a", 0.1 + 0.2)], "r2": [("b", 0.3)]}, 1)
    assert merged[0].meter == "a"  # 0.30000000000000004 > 0.3


def test_negative_n_is_refused() -> None:
    with pytest.raises(ValueError):
        top_consumers([], -1)


def test_city_mean_weighs_regions_by_meters() -> None:
    mean = city_mean([RegionTotals("r1", 1, Decimal(100)), RegionTotals("r2", 3, Decimal(0))])
    assert mean.mean == Decimal(25)
    assert city_mean([]).mean is None
