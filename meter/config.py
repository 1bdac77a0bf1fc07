"""The simulator's configuration, read once at the entry point and passed down."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from meter.physics import Tendency
from meter.spec import FaultRule
from nevoa_core.ids import meter_id
from nevoa_core.kinds import Kind


class Mode(str, Enum):
    PER_METER = "per-meter"
    MULTIPLEXED = "multiplexed"


DEFAULT_WINDOW = {Mode.PER_METER: 10, Mode.MULTIPLEXED: 1000}
# seconds of acknowledged readings sent again after a reconnect: six times the brokers'
# autosave_interval (5 s, broker/*.conf), the rest a margin for a meter slow to read its
# PUBACKs, so a kill -9 of the broker just before a save loses nothing
DEFAULT_REPLAY_WINDOW = 30.0


@dataclass(frozen=True)
class FleetConfig:
    region: str
    region_number: int | None  # registrations need it; None when not exporting
    kind: Kind
    first_index: int
    count: int
    interval: float  # simulated seconds between a meter's readings
    speed: float = 1.0
    start: float | None = None  # simulated epoch of the start; None = now
    utc_offset: float = -3.0
    seed: int | None = None
    profile: str = "physics"  # or "seed": the energy seed's 0-20 units a second
    tendency_mix: dict[Tendency, float] = field(default_factory=lambda: {Tendency.NORMAL: 1.0})
    tendency_overrides: dict[str, Tendency] = field(default_factory=dict)
    faults: tuple[FaultRule, ...] = ()
    mode: Mode = Mode.PER_METER
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    username: str | None = None
    password: str | None = None
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> user, pw
    tls_ca: Path | None = None  # CA file: connect over TLS, verifying the broker with it
    window: int | None = None
    connect_rate: float = 1000.0
    keepalive: int = 60
    state_dir: Path = Path("meter-state")
    buffer_limit: int = 5000
    replay_window: float = DEFAULT_REPLAY_WINDOW  # 0 = off
    pack_size: int = 100
    duration: float | None = None
    progress_every: float = 10.0

    @property
    def indexes(self) -> range:
        return range(self.first_index, self.first_index + self.count)

    @property
    def meter_ids(self) -> list[str]:
        return [meter_id(self.region, self.kind.spec.letter, i) for i in self.indexes]

    @property
    def label(self) -> str:
        return f"[{self.region} {self.kind.label} {self.meter_ids[0]}..{self.meter_ids[-1]}]"

    @property
    def connection_window(self) -> int:
        return self.window or DEFAULT_WINDOW[self.mode]

    @property
    def connect_spread(self) -> float:
        connections = self.count if self.mode is Mode.PER_METER else 1
        return max(0.2, connections / self.connect_rate)


def read_credentials(path: Path) -> dict[str, tuple[str, str]]:
    """``meter_id,username,password`` rows, as ``broker/gen_accounts.py`` writes them."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"meter_id", "password"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs a meter_id,username,password header")
        return {row["meter_id"]: (row.get("username") or row["meter_id"], row["password"])
                for row in reader}
