"""The demo directory: one customer per simulated meter, named as the simulator's
provisioning export names them (:mod:`nevoa_core.fleet_naming`): maria and joao first."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cloud.directory import Customer
from nevoa_core.fleet_naming import customer_naming, region_number
from nevoa_core.ids import meter_id
from nevoa_core.kinds import Kind


def demo_customers(
    regions: Sequence[str], meters_per_region: int, kind: Kind = Kind.ELECTRICITY
) -> Iterator[Customer]:
    """Customers of meters ``<region>-e000001..`` as ``nevoa-meter --first-index 1`` names them."""
    for region in regions:
        number = region_number(region)
        for i in range(1, meters_per_region + 1):
            who = customer_naming(region, number, i)
            yield Customer(username=who.username, registration=who.registration,
                           meter=meter_id(region, kind.spec.letter, i), region=region,
                           kind=kind.label)
