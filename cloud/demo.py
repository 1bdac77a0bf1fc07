"""The demo directory: one customer per simulated meter, with maria and joao first."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cloud.directory import Customer
from nevoa_core.ids import meter_id
from nevoa_core.kinds import Kind

NAMED = {("r1", 1): ("maria", "10001"), ("r2", 1): ("joao", "10002")}


def demo_customers(
    regions: Sequence[str], meters_per_region: int, kind: Kind = Kind.ELECTRICITY
) -> Iterator[Customer]:
    """Customers of meters ``<region>-e000001..`` as ``nevoa-meter --first-index 1`` names them."""
    for r, region in enumerate(regions, start=1):
        for i in range(1, meters_per_region + 1):
            username, registration = NAMED.get((region, i), (None, None))
            yield Customer(
                username=username or f"customer-{region}-{i:06d}",
                registration=registration or str(r * 1_000_000 + i),
                meter=meter_id(region, kind.spec.letter, i),
                region=region,
            )
