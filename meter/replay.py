"""The replay window: packs the broker acknowledged lately, kept to be sent again.

Mosquitto writes its queue to disk only every ``autosave_interval`` seconds, so a
``kill -9`` of the broker loses every QoS 1 message it had acknowledged since its last
save - readings a meter would otherwise have forgotten at the PUBACK. So each meter keeps
what was acknowledged in the last :attr:`ReplayWindow.seconds`, and after a reconnect
puts it back at the front of its backlog (:meth:`meter.journal.Journal.put_back`). The
fog stores by (meter, seq): a reading it already has costs one counted duplicate.

* **Measured from the last acknowledgement.** The window reaches back from the last
  PUBACK its connection received, not from the moment the loss is noticed: the broker
  was alive then, so it had saved everything acknowledged more than ``autosave_interval``
  earlier, however long the meter took to notice (a dead host is only found by the
  keepalive, 90 s later). A window longer than the broker's autosave interval plus the
  meter's own lag in reading PUBACKs covers every reading a crash can lose. Meters
  sharing one connection (the multiplexed gateway) share its clock, so a meter that
  reads rarely keeps nothing older than the window; a meter with a connection of its
  own keeps at least its last pack.
* **Packs as they were sent.** A pack is replayed whole, as the very message the broker
  acknowledged: a reading regrouped into another pack would decode ``bt + t`` from
  another base time and could differ from what the fog stored by a rounding error.
* **Memory.** A pack is kept as its journal lines (:mod:`meter.lines`: the same numbers
  come back, so the same bytes go out again), its PUBACK time in an array: ~130 bytes a
  reading instead of ~540 as objects. About window x rate readings a meter, at most
  :data:`PER_METER` (the oldest whole packs go first).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from meter.lines import format_line, parse_line
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading

PER_METER = 1000  # readings a meter keeps at most, whatever its rate

Packs = list[list[Reading]]  # one meter's packs, oldest first


class _Ring:
    """One meter's acknowledged packs, oldest first, with their PUBACK times."""

    __slots__ = ("held", "kind", "packs", "times")

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.times = array("d")
        self.packs: list[str] = []  # a pack's lines, joined
        self.held = 0  # readings

    def forget(self, n: int) -> None:
        """Forget the ``n`` oldest packs."""
        self.held -= sum(pack.count("\n") for pack in self.packs[:n])
        del self.times[:n], self.packs[:n]


class ReplayWindow:
    def __init__(self, seconds: float, per_meter: int = PER_METER) -> None:
        if not seconds >= 0 or per_meter < 1:
            raise ValueError("a replay window is >= 0 seconds and holds >= 1 reading")
        self.seconds = seconds
        self.per_meter = per_meter
        self._rings: dict[int, _Ring] = {}
        self._connection_of: Sequence[int] = ()  # meter -> its connection (default: its own)
        self._last_ack: dict[int, float] = {}  # connection -> its last acknowledgement

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def share(self, connection_of: Sequence[int]) -> None:
        """Which connection carries each meter: meters on one connection share its clock."""
        self._connection_of = list(connection_of)

    def _connection(self, i: int) -> int:
        return self._connection_of[i] if i < len(self._connection_of) else i

    def __len__(self) -> int:
        return sum(ring.held for ring in self._rings.values())

    def held(self, i: int) -> int:
        ring = self._rings.get(i)
        return ring.held if ring is not None else 0

    # -- in ----------------------------------------------------------------------------
    def record(self, i: int, pack: Sequence[Reading], now: float) -> None:
        """The broker acknowledged ``pack`` of meter ``i`` at ``now`` (monotonic)."""
        if not self.enabled or not pack:
            return
        self._last_ack[self._connection(i)] = now
        ring = self._rings.get(i)
        if ring is None:
            ring = self._rings[i] = _Ring(pack[0].kind)
        ring.times.append(now)
        ring.packs.append("".join(format_line(r.meter, r) for r in pack))
        ring.held += len(pack)
        if ring.held > self.per_meter and len(ring.packs) > 1:  # the cap: oldest packs go
            excess, n = ring.held - self.per_meter, 0
            while excess > 0 and n < len(ring.packs) - 1:
                excess -= ring.packs[n].count("\n")
                n += 1
            ring.forget(n)

    # -- out ---------------------------------------------------------------------------
    def cutoff(self, i: int) -> float:
        """Packs of meter ``i`` acknowledged before this are surely on the broker's disk."""
        last = self._last_ack.get(self._connection(i))
        return float("-inf") if last is None else last - self.seconds

    def _prune(self, i: int, ring: _Ring) -> None:
        ring.forget(bisect_left(ring.times, self.cutoff(i)))
        if not ring.packs:
            del self._rings[i]

    def prune(self) -> None:
        """Forget what is older than the window (the housekeeping tick)."""
        for i, ring in list(self._rings.items()):
            if ring.times[0] < self.cutoff(i):
                self._prune(i, ring)

    def take(self, i: int) -> Packs:
        """Meter ``i``'s packs within the window, in seq order; forgotten here (they come
        back when the broker acknowledges them again)."""
        ring = self._rings.get(i)
        if ring is None:
            return []
        self._prune(i, ring)
        self._rings.pop(i, None)
        return in_seq_order([parse_line(line, ring.kind) for line in pack.splitlines()]
                            for pack in ring.packs)

    def take_all(self) -> dict[int, Packs]:
        """Every meter's packs within the window (a clean stop saves them)."""
        return {i: packs for i in list(self._rings) if (packs := self.take(i))}


def in_seq_order(packs: Iterable[list[Reading]]) -> Packs:
    """Packs of one meter by their first seq (PUBACKs may come out of order)."""
    return sorted(packs, key=lambda pack: pack[0].seq)
