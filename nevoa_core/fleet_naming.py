"""Who owns a simulated meter: the customer naming shared by the simulator's
provisioning export and the cloud's demo directory (one home for the rule).

Meter index ``i`` of region number ``r`` (``r1`` -> 1) belongs to the customer
``customer-<region>-<6-digit i>`` with registration (*matricula*) ``r * 1_000_000 + i``;
two named customers keep the seed's demo identities: maria (10001) owns ``r1`` index 1
and joao (10002) owns ``r2`` index 1.

Registrations depend on the index, not on the kind, so electricity and water meters of
one region take disjoint index ranges (the simulator starts water meters at
:data:`WATER_FIRST_INDEX`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAMED: dict[tuple[str, int], tuple[str, str]] = {
    ("r1", 1): ("maria", "10001"),
    ("r2", 1): ("joao", "10002"),
}
INDEXES_PER_REGION = 1_000_000
WATER_FIRST_INDEX = 500_001

_TRAILING_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True, slots=True)
class CustomerNaming:
    username: str
    registration: str


def region_number(region: str) -> int:
    """The number a region id ends with: ``r1`` -> 1, ``north12`` -> 12."""
    match = _TRAILING_NUMBER.search(region)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"region {region!r} does not end with a number from 1 up")
    return int(match.group(1))


def customer_naming(region: str, number: int, index: int) -> CustomerNaming:
    """The customer of meter ``index`` in the region numbered ``number``."""
    if not 0 <= index < INDEXES_PER_REGION:
        raise ValueError(f"meter index {index} is outside 0..{INDEXES_PER_REGION - 1}")
    named = NAMED.get((region, index))
    if named is not None:
        return CustomerNaming(*named)
    return CustomerNaming(f"customer-{region}-{index:06d}",
                          str(number * INDEXES_PER_REGION + index))
