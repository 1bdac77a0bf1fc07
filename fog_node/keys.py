"""The Redis key layout of a region: the one place where keys are spelled.

Every key of region ``r1`` starts with ``nv:{r1}:``; the braces are a Redis Cluster hash
tag, so a region's keys share one slot and the ingest script may touch them all.

Per meter (``{m}`` the meter id)::

    nv:{r1}:m:{m}                 hash: the summary (latest reading, status, valve,
                                  VEE flags, leak and silence bookkeeping)
    nv:{r1}:m:{m}:raw:{block}     string: raw readings with seq // 128 == block, records
                                  ";seq%128:time:register:rate" appended as they arrive
                                  (APPEND costs the same however full the block is); a
                                  block expires ``raw_ttl`` after a newer block starts
    nv:{r1}:m:{m}:h:{YYYY-MM-DD}  hash: hourly rollup of that day, fields "HH" =
                                  consumption and "HHr" = last register (integer Wh or L)
    nv:{r1}:m:{m}:d:{YYYY-MM}     hash: daily rollup of that month, fields "DD", "DDr"

Per region::

    nv:{r1}:top:{k}:{step}:{label}  sorted set: consumption of each meter of kind letter
                                  {k} in the day or month, score = -consumption (integer
                                  Wh or L) so that ZRANGE gives heaviest first, ties by id
    nv:{r1}:totals                hash "{k}:{step}:{label}" -> total consumption
    nv:{r1}:meters                set of the meters with readings
    nv:{r1}:online / :offline     sets of the meters by their last status message
    nv:{r1}:stats                 hash of counters: stored, duplicates, stale, rejected:*
    nv:{r1}:policy                string: the supply policy (JSON)
    nv:{r1}:alert:{id}            hash: one alert
    nv:{r1}:alerts                sorted set of alert ids by opening time
    nv:{r1}:alerts:active         hash "{meter}:{type}" -> id of its open/acknowledged alert
    nv:{r1}:cmd:{id}              hash: one command and its outcome
    nv:{r1}:cmds:pending          sorted set: command id -> when to send it (again)
    nv:{r1}:cmds:valve            hash meter -> id of its latest valve command
    nv:{r1}:valves:closed         hash meter -> reason its valve is closed
    nv:{r1}:audit                 stream: every command, outcome and policy change
"""

from __future__ import annotations

from dataclasses import dataclass

RAW_BLOCK = 128  # readings per raw key: small enough to scan for a late reading's neighbours

STAT_STORED = "stored"
STAT_DUPLICATES = "duplicates"
STAT_STALE = "stale"
STAT_REJECTED_PREFIX = "rejected:"


@dataclass(frozen=True, slots=True)
class RegionKeys:
    region: str

    @property
    def prefix(self) -> str:
        return f"nv:{{{self.region}}}:"

    # --- per meter ----------------------------------------------------------------------
    def meter(self, meter: str) -> str:
        return f"{self.prefix}m:{meter}"

    def raw(self, meter: str, block: int) -> str:
        return f"{self.meter(meter)}{RAW_INFIX}{block}"

    def hourly(self, meter: str, day_label: str) -> str:
        return f"{self.meter(meter)}{HOURLY_INFIX}{day_label}"

    def daily(self, meter: str, month_label: str) -> str:
        return f"{self.meter(meter)}{DAILY_INFIX}{month_label}"

    # --- region aggregates ----------------------------------------------------------------
    def top(self, kind_letter: str, step: str, label: str) -> str:
        return f"{self.prefix}top:{kind_letter}:{step}:{label}"

    @staticmethod
    def total_field(kind_letter: str, step: str, label: str) -> str:
        return f"{kind_letter}:{step}:{label}"

    @property
    def totals(self) -> str:
        return self.prefix + "totals"

    @property
    def meters(self) -> str:
        return self.prefix + "meters"

    @property
    def online(self) -> str:
        return self.prefix + "online"

    @property
    def offline(self) -> str:
        return self.prefix + "offline"

    @property
    def stats(self) -> str:
        return self.prefix + "stats"

    @property
    def policy(self) -> str:
        return self.prefix + "policy"

    @property
    def alerts(self) -> str:
        return self.prefix + "alerts"

    @property
    def alerts_active(self) -> str:
        return self.prefix + "alerts:active"

    @property
    def pending_commands(self) -> str:
        return self.prefix + "cmds:pending"

    @property
    def valve_commands(self) -> str:
        return self.prefix + "cmds:valve"

    @property
    def closed_valves(self) -> str:
        return self.prefix + "valves:closed"

    @property
    def audit(self) -> str:
        return self.prefix + "audit"

    # --- alerts and commands --------------------------------------------------------------
    def alert(self, alert_id: str) -> str:
        return f"{self.prefix}alert:{alert_id}"

    def command(self, command_id: str) -> str:
        return f"{self.prefix}cmd:{command_id}"

    def ingest_layout(self) -> list[str]:
        """The key parts the ingest script assembles keys from, in its ARGV order."""
        return [self.prefix + "m:", RAW_INFIX, HOURLY_INFIX, DAILY_INFIX,
                self.prefix + "top:", self.totals, self.meters, self.stats,
                self.online, self.offline]


RAW_INFIX = ":raw:"
HOURLY_INFIX = ":h:"
DAILY_INFIX = ":d:"

