"""``nevoa-meter``: run a fleet of simulated meters of one region and one kind."""

from __future__ import annotations

import argparse
import json
import logging
import ssl
import sys
import time
from datetime import UTC
from pathlib import Path

from meter.assemble import build
from meter.config import DEFAULT_REPLAY_WINDOW, FleetConfig, Mode, read_credentials
from meter.connection import PLAIN_PORT, TLS_PORT, tls_context
from meter.provisioning import fleet_rows, write_export
from meter.spec import SpecError, parse_fault, parse_tendency_mix, parse_tendency_override
from nevoa_adapters.cli import add_logging_flag, env, env_int, setup_logging, stop_event_on_signals
from nevoa_core.clock import parse_instant
from nevoa_core.fleet_naming import WATER_FIRST_INDEX, region_number
from nevoa_core.ids import InvalidId, check_id, meter_id
from nevoa_core.kinds import Kind
from nevoa_core.senml import EARLIEST_TIME, LATEST_TIME

log = logging.getLogger("nevoa.meter")

EPILOG = """\
examples:
  nevoa-meter --region r1 --broker-port 18830 --count 100 --interval 5
  nevoa-meter --region r1 --kind water --count 10000 --mode multiplexed \\
      --tendency slow=0.2,fast=0.2,erratic=0.1 --fault leak=2% --fault silent=0.5%@1h
  nevoa-meter --region r1 --speed 3600 --start 2026-10-01 --seed 7 --duration 720
  nevoa-meter --region r1 --count 500 --export fleet.csv --export fleet.json --export-only
Meter ids are <region>-<kind letter><6-digit index>: r1-e000001. Water meters start at
index 500001 by default, so that each (region, index) names one customer. Every flag
can also be set by the NEVOA_* variable named in its help. See README.md, "The meter simulator".
"""


def _float_env(name: str, default: float | None) -> float | None:
    value = env(name)
    return float(value) if value not in (None, "") else default


def parse_start(text: str) -> float:
    """Epoch seconds or an ISO 8601 date/time (UTC unless it says otherwise)."""
    try:
        return parse_instant(text, UTC)
    except ValueError as exc:
        raise ValueError(f"--start: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nevoa-meter", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Simulate a fleet of smart meters of one region and kind, publishing SenML "
        "readings (QoS 1) to the region's MQTT broker, with store-and-forward, remote "
        "commands, tendencies, a daily load curve and faults on demand.")
    g = p.add_argument_group("fleet")
    g.add_argument("--region", default=env("REGION"), help="region id (env NEVOA_REGION)")
    g.add_argument("--kind", default=env("KIND", "electricity"), choices=[k.label for k in Kind],
                   help="meter kind (env NEVOA_KIND; default %(default)s)")
    g.add_argument("--count", type=int, default=env_int("METER_COUNT", 100),
                   help="meters in this process (env NEVOA_METER_COUNT; default %(default)s)")
    g.add_argument("--first-index", type=int, default=env("FIRST_INDEX") or None,
                   help="index of the first meter (env NEVOA_FIRST_INDEX; default 1 for "
                   f"electricity, {WATER_FIRST_INDEX} for water)")
    g.add_argument("--replica-index", type=int, default=env_int("REPLICA_INDEX", 0),
                   help="replica N of a scaled service simulates indexes first-index + "
                   "(N-1) x count onwards (env NEVOA_REPLICA_INDEX; 0 = not a replica)")
    g.add_argument("--region-number", type=int, default=None,
                   help="region number in registrations (default: the digits the region "
                   "id ends with, r1 -> 1)")
    g = p.add_argument_group("behaviour")
    g.add_argument("--interval", type=float, default=_float_env("INTERVAL", 15.0),
                   help="simulated seconds between a meter's readings (env NEVOA_INTERVAL; "
                   "default %(default)s)")
    g.add_argument("--speed", type=float, default=_float_env("SPEED", 1.0),
                   help="simulated seconds per wall second; 3600 = an hour a second "
                   "(env NEVOA_SPEED; default %(default)s)")
    g.add_argument("--start", default=env("START"),
                   help="simulated start, ISO date/time (UTC) or epoch seconds (env NEVOA_START; "
                   "default now; a restart resumes after the last reading if that is later)")
    g.add_argument("--utc-offset", type=float, default=_float_env("UTC_OFFSET", -3.0),
                   help="hours from UTC of the local time of the daily curve (default %(default)s)")
    g.add_argument("--seed", type=int, default=env_int("SEED", -1),
                   help="random seed: the same seed, start and flags give the same readings "
                   "(env NEVOA_SEED; default: a fresh seed each run)")
    g.add_argument("--profile", default=env("PROFILE", "physics"), choices=["physics", "seed"],
                   help="physics (default) or seed: the energy seed's 0-20 units a second")
    g.add_argument("--tendency", default=env("TENDENCY", "normal"),
                   help="one tendency (slow, normal, fast, erratic) or fleet fractions "
                   "'slow=0.2,fast=10%%,erratic=0.05' (env NEVOA_TENDENCY; default normal)")
    g.add_argument("--meter-tendency", action="append", default=[], metavar="METER=TENDENCY",
                   help="one meter's tendency, by id or index (repeatable)")
    g.add_argument("--fault", action="append", default=[], metavar="FAULT=WHO[@AFTER]",
                   help="leak, tamper, stuck, rollover, clock_drift or silent for a fraction "
                   "(0.02, 2%%) or a list of meters (r1-e000007,12), from AFTER simulated "
                   "seconds (@90, @15m, @6h, @2d) (repeatable; env NEVOA_FAULTS, ';'-separated)")
    g = p.add_argument_group("broker")
    g.add_argument("--broker-host", default=env("BROKER_HOST", "127.0.0.1"),
                   help="MQTT broker host (env NEVOA_BROKER_HOST; default %(default)s)")
    g.add_argument("--broker-port", type=int, default=env_int("BROKER_PORT", 0) or None,
                   help=f"MQTT broker port (env NEVOA_BROKER_PORT; default {PLAIN_PORT}, "
                   f"{TLS_PORT} with --tls-ca)")
    g.add_argument("--tls-ca", type=Path, default=env("TLS_CA") or None, metavar="PATH",
                   help="connect over TLS (1.2+), verifying the broker's certificate and host "
                   "name against this CA file, e.g. broker/generated/r1/tls/ca.crt "
                   "(env NEVOA_TLS_CA)")
    g.add_argument("--mode", default=env("MODE", "per-meter"), choices=[m.value for m in Mode],
                   help="per-meter: one connection per meter, client id and username = meter "
                   "id, last will; multiplexed: one connection for the whole fleet "
                   "(env NEVOA_MODE; default %(default)s)")
    g.add_argument("--username", default=env("MQTT_USERNAME"),
                   help="multiplexed mode: the gateway account (env NEVOA_MQTT_USERNAME)")
    g.add_argument("--password", default=env("MQTT_PASSWORD"),
                   help="the gateway's password, or every meter's in per-meter mode without "
                   "--credentials (env NEVOA_MQTT_PASSWORD)")
    g.add_argument("--credentials", type=Path, default=env("CREDENTIALS"),
                   help="per-meter passwords: a meter_id,username,password CSV as "
                   "broker/gen_accounts.py writes it (env NEVOA_CREDENTIALS)")
    g.add_argument("--window", type=int, default=None,
                   help="packs in flight per connection (default 10 per meter, 1000 multiplexed)")
    g.add_argument("--connect-rate", type=float, default=_float_env("CONNECT_RATE", 1000.0),
                   help="connections a second the fleet aims at when it (re)connects; start "
                   "and reconnects are jittered over count/rate seconds (default %(default)s)")
    g = p.add_argument_group("storage and run")
    g.add_argument("--state-dir", type=Path, default=env("STATE_DIR"),
                   help="seq, registers, command ids and the on-disk buffers (env "
                   "NEVOA_STATE_DIR; default meter-state/<first meter id>-<count>)")
    g.add_argument("--state-file", type=Path, default=env("STATE_FILE"), help=argparse.SUPPRESS)
    g.add_argument("--buffer-limit", type=int, default=env_int("BUFFER_LIMIT", 5000),
                   help="readings each meter keeps on disk while it cannot send; when full the "
                   "oldest 10%% are dropped (env NEVOA_BUFFER_LIMIT; default %(default)s)")
    g.add_argument("--replay-window", type=float, metavar="SECONDS",
                   default=_float_env("REPLAY_WINDOW", DEFAULT_REPLAY_WINDOW),
                   help="after a reconnect, send again what the broker acknowledged in the "
                   "last SECONDS: a broker killed before its autosave forgot it; must exceed "
                   "the broker's autosave_interval (env NEVOA_REPLAY_WINDOW; 0 = off; "
                   "default %(default)s)")
    g.add_argument("--pack-size", type=int, default=100,
                   help="readings per backlog pack (default %(default)s)")
    g.add_argument("--duration", type=float, default=_float_env("DURATION", None),
                   help="stop after this many wall seconds (env NEVOA_DURATION; default: "
                   "until SIGTERM or Ctrl-C)")
    g.add_argument("--progress", type=float, default=_float_env("PROGRESS", 10.0),
                   help="seconds between progress lines; a terminal gets a live line "
                   "(0 = none; default %(default)s)")
    g.add_argument("--summary-json", type=Path, default=None,
                   help="write the final counters and each meter's last seq here")
    g.add_argument("--export", action="append", default=[], metavar="PATH",
                   help="write the provisioning export (.csv or .json; '-' = CSV on stdout); "
                   "repeatable")
    g.add_argument("--export-only", action="store_true",
                   help="write the exports and exit without simulating")
    add_logging_flag(p)
    return p


def _config(p: argparse.ArgumentParser, a: argparse.Namespace) -> FleetConfig:
    try:
        region = check_id(a.region, "region")
    except InvalidId as exc:
        p.error(f"{exc} (--region or NEVOA_REGION)")
    kind = Kind.from_label(a.kind)
    count = a.count
    first = int(a.first_index) if a.first_index is not None else (
        WATER_FIRST_INDEX if kind is Kind.WATER else 1)
    if a.replica_index < 0 or count < 1 or first < 0:
        p.error("--count must be >= 1, --first-index >= 0, --replica-index >= 0")
    if a.replica_index:
        first += (a.replica_index - 1) * count
    if first + count > 1_000_000:
        p.error("meter indexes must stay below 1,000,000 (6 digits)")
    if a.interval <= 0 or a.speed <= 0 or a.buffer_limit < 1 or not 1 <= a.pack_size <= 5000:
        p.error("--interval and --speed must be > 0, --buffer-limit >= 1, "
                "--pack-size from 1 to 5000")
    if not a.replay_window >= 0:  # NaN too
        p.error("--replay-window must be >= 0 seconds (0 = off)")

    def ref(text: str) -> str:
        return text if not text.isdigit() else meter_id(region, kind.spec.letter, int(text))

    fault_specs = list(a.fault) or [f for f in (env("FAULTS") or "").split(";") if f.strip()]
    try:
        number = a.region_number or (region_number(region) if a.export else None)
        mix = parse_tendency_mix(a.tendency)
        overrides = dict(parse_tendency_override(t, ref) for t in a.meter_tendency)
        faults = tuple(parse_fault(f, ref) for f in fault_specs)
        start = parse_start(a.start) if a.start else None
        credentials = read_credentials(a.credentials) if a.credentials else {}
    except (SpecError, ValueError, OSError) as exc:
        p.error(str(exc))
    if a.tls_ca:
        try:
            tls_context(a.tls_ca)
        except (OSError, ssl.SSLError) as exc:
            p.error(f"--tls-ca {a.tls_ca}: not a readable CA file ({exc})")
    if start is not None and not EARLIEST_TIME <= start <= LATEST_TIME:
        p.error("--start must be between 2000 and 2100")
    state_dir = a.state_dir or (a.state_file.with_suffix("") if a.state_file else None) \
        or Path("meter-state") / f"{meter_id(region, kind.spec.letter, first)}-{count}"
    config = FleetConfig(
        region=region, region_number=number, kind=kind, first_index=first, count=count,
        interval=a.interval, speed=a.speed, start=start, utc_offset=a.utc_offset,
        seed=None if a.seed < 0 else a.seed, profile=a.profile, tendency_mix=mix,
        tendency_overrides=overrides, faults=faults, mode=Mode(a.mode),
        broker_host=a.broker_host,
        broker_port=a.broker_port or (TLS_PORT if a.tls_ca else PLAIN_PORT),
        username=a.username, password=a.password, credentials=credentials,
        tls_ca=a.tls_ca, window=a.window,
        connect_rate=a.connect_rate, state_dir=state_dir, buffer_limit=a.buffer_limit,
        replay_window=a.replay_window, pack_size=a.pack_size, duration=a.duration,
        progress_every=a.progress)
    if credentials and config.mode is Mode.PER_METER:
        # a meter without its own account would be refused by the broker forever
        missing = [meter_id(region, kind.spec.letter, i) for i in config.indexes
                   if meter_id(region, kind.spec.letter, i) not in credentials]
        if missing:
            p.error(f"{a.credentials} has no account for {len(missing)} of these meters "
                    f"(first: {', '.join(missing[:3])}); regenerate it with "
                    "broker/gen_accounts.py for this fleet")
    return config


def export(config: FleetConfig, targets: list[str]) -> None:
    assert config.region_number is not None
    rows = list(fleet_rows(config.region, config.region_number, config.kind, config.indexes))
    for target in targets:
        text = write_export(target, rows)
        if text:
            sys.stdout.write(text)
        else:
            log.info("wrote %d meters to %s", len(rows), target)


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    config = _config(p, a)
    setup_logging(a.log_level, f"meter[{config.region}]")
    if a.export:
        export(config, a.export)
    if a.export_only:
        return 0
    stop = stop_event_on_signals()
    began = time.monotonic()
    sim = build(config)
    log.info("%d %s meters %s..%s (%d resumed), %s mode, every %gs simulated at x%g, "
             "to %s:%d%s; state in %s", config.count, config.kind.label, config.meter_ids[0],
             config.meter_ids[-1], sim.resumed, config.mode.value, config.interval,
             config.speed, config.broker_host, config.broker_port,
             " over TLS" if config.tls_ca else "", config.state_dir)
    final = sim.runner.run(stop, config.duration)
    log.debug("stop: the loop ended")
    print(sim.runner.progress.summary(final), flush=True)
    if a.summary_json:
        body = final.as_dict()
        body["wall_seconds"] = round(time.monotonic() - began, 3)
        body["run_seconds"] = round(sim.runner.run_seconds, 3)
        body["all_connected_after"] = sim.runner.all_connected_after
        body["last_seq"] = {m.meter_id: m.seq for m in sim.fleet.meters}
        a.summary_json.write_text(json.dumps(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
