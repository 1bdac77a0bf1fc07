#!/usr/bin/env python3
"""Generate Mosquitto password and ACL files for a nevoa fleet, one broker per region.

The fleet is either a region list with a meter count per region (ids follow the
simulator's scheme, ``{region}-{kind}{index:06d}``) or a CSV export with a
``meter_id,region`` header. For each region the output directory receives:

  {region}/broker/passwd  hashed (mosquitto_passwd -U when installed, else the same
                          sha512-pbkdf2 format computed here)
  {region}/broker/acl     the ACL file; {region}/broker/ is what that broker mounts
  {region}/meters.csv  meter_id,username,password of the per-meter accounts, read by
                       `nevoa-meter --credentials` (secret; mode 0644 so that the
                       unprivileged meter container can read its bind-mounted copy: on
                       the host the 0700 output directory is what keeps it private)
  {region}/services.csv username,password of the region's service accounts (secret)
  credentials.env      for `docker compose --env-file`: the service accounts' passwords
                       and the cloud's token signing key (secret)
  ca/, {region}/tls/   the brokers' TLS certificates, made or kept by broker/gen_certs.py
                       (--no-tls skips them)

Accounts per region: ``fog-{region}`` (the fog node's ingest), ``commander-{region}`` (the
fog node's commands and alerts: a second connection needs its own account, as the broker
binds each client id to its username), ``gateway-{region}`` (a simulator
process multiplexing many meters over one connection), ``health-{region}`` (broker health
check, reads one $SYS topic) and one account per meter, username = meter id, whose rights
come from %u pattern lines: a meter may publish only its own reading/status/command-ack
topics and read only its own command topic. Passwords already present in the output
directory are kept, so regenerating for a grown fleet does not lock out running clients;
--rotate draws new ones. Standard library only; needs Python 3.11+.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TOPIC_ROOT = "nevoa"
REGION_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")
# No MQTT wildcards, separators or ':' (the passwd field separator) can ever reach a
# topic pattern through %u.
METER_ID_RE = re.compile(r"^[a-z][a-z0-9]{0,15}-[a-z][0-9]{6}$")
DEFAULT_KINDS = ("e",)
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes for sha512-pbkdf2 ($7$)
CLOUD_KEY_VARIABLE = "NEVOA_CLOUD_SECRET_KEY"  # signs customer tokens (cloud SECRET_KEY)


class FleetError(ValueError):
    """The fleet description is unusable; the message says which line and why."""


@dataclass(frozen=True)
class Fleet:
    meters_by_region: Mapping[str, tuple[str, ...]]


def meter_id(region: str, kind: str, index: int) -> str:
    return f"{region}-{kind}{index:06d}"


def fleet_from_counts(regions: Sequence[str], per_region: int, kinds: Sequence[str],
                      first_index: int = 1) -> Fleet:
    for region in regions:
        _check_region(region)
    if per_region < 0 or first_index < 0 or first_index + per_region > 1_000_000:
        raise FleetError("meter indexes must fit in 6 digits")
    for kind in kinds:
        if not re.fullmatch(r"[a-z]", kind):
            raise FleetError(f"meter kind must be one lowercase letter, got {kind!r}")
    meters = {
        region: tuple(meter_id(region, kind, first_index + i)
                      for kind in kinds for i in range(per_region))
        for region in regions
    }
    return Fleet(meters)


def fleet_from_csv(lines: Iterable[str]) -> Fleet:
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or not {"meter_id", "region"} <= set(reader.fieldnames):
        raise FleetError("the CSV needs a header with meter_id and region columns")
    meters: dict[str, list[str]] = {}
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        region, meter = (row["region"] or "").strip(), (row["meter_id"] or "").strip()
        _check_region(region, line)
        if not METER_ID_RE.fullmatch(meter):
            raise FleetError(f"line {line}: {meter!r} is not a meter id like r1-e000001")
        if not meter.startswith(region + "-"):
            raise FleetError(f"line {line}: meter {meter} does not belong to region {region}")
        if meter in seen:
            raise FleetError(f"line {line}: meter {meter} listed twice")
        seen.add(meter)
        meters.setdefault(region, []).append(meter)
    if not meters:
        raise FleetError("the CSV lists no meters")
    return Fleet({region: tuple(ids) for region, ids in meters.items()})


def _check_region(region: str, line: int | None = None) -> None:
    if not REGION_RE.fullmatch(region):
        where = f"line {line}: " if line is not None else ""
        raise FleetError(f"{where}region {region!r} must match {REGION_RE.pattern}")


def service_accounts(region: str) -> dict[str, str]:
    """Role -> username of the non-meter accounts of one region."""
    return {role: f"{role}-{region}" for role in ("fog", "commander", "gateway", "health")}


def acl_text(region: str) -> str:
    meters = f"{TOPIC_ROOT}/{region}/meters"
    users = service_accounts(region)
    return f"""\
# Generated by broker/gen_accounts.py for region {region}; do not edit by hand.
# Anything not granted here is denied (mosquitto denies by default once acl_file is set).

# The fog node consumes the region's meters (its persistent session: the broker binds
# client ids to usernames, so no other account can take that session over) ...
user {users["fog"]}
topic read {meters}/+/reading
topic read {meters}/+/status
topic read {meters}/+/command/ack

# ... and commands them and publishes its alerts on a second connection, with an account
# of its own (one account, one client id, one connection).
user {users["commander"]}
topic write {meters}/+/command
topic readwrite {TOPIC_ROOT}/{region}/alerts

# A simulator process that multiplexes many meters of this region over one connection.
user {users["gateway"]}
topic write {meters}/+/reading
topic write {meters}/+/status
topic write {meters}/+/command/ack
topic read {meters}/+/command

# Container health check: may read the broker's uptime, nothing else.
user {users["health"]}
topic read $SYS/broker/uptime

# Per-meter accounts (username = meter id): only the meter's own topics. Patterns apply
# to every user; the fog node ignores readings whose meter id is malformed, so the
# service accounts gain nothing from them.
pattern write {meters}/%u/reading
pattern write {meters}/%u/status
pattern write {meters}/%u/command/ack
pattern read {meters}/%u/command
"""


def pbkdf2_hash(password: str, salt: bytes | None = None) -> str:
    """Mosquitto 2.0's sha512-pbkdf2 password hash, as mosquitto_passwd writes it."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def write_passwd(path: Path, credentials: Mapping[str, str], use_tool: bool) -> str:
    """Write a hashed password file; returns which hasher was used."""
    tool = shutil.which("mosquitto_passwd") if use_tool else None
    plain = "".join(f"{user}:{password}\n" for user, password in credentials.items())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".passwd.")
    try:
        with os.fdopen(fd, "w") as out:
            if tool:
                out.write(plain)
            else:
                out.writelines(f"{u}:{pbkdf2_hash(p)}\n" for u, p in credentials.items())
        if tool:
            # -U hashes a whole plain-text file in place: one process for the fleet.
            subprocess.run([tool, "-U", tmp], check=True, capture_output=True)
        os.chmod(tmp, 0o644)  # the broker reads it as the unprivileged mosquitto user
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return tool or "built-in sha512-pbkdf2"


def read_existing(out: Path) -> dict[str, str]:
    """Passwords generated earlier into this directory, by username."""
    known: dict[str, str] = {}
    for accounts_csv in [*out.glob("*/services.csv"), *out.glob("*/meters.csv")]:
        with accounts_csv.open(newline="") as f:
            for row in csv.DictReader(f):
                known[row["username"]] = row["password"]
    return known


def write_secret_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]],
                     mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    os.chmod(path, mode)


def existing_cloud_key(out: Path) -> str | None:
    env = out / "credentials.env"
    if not env.exists():
        return None
    for line in env.read_text().splitlines():
        if line.startswith(f"{CLOUD_KEY_VARIABLE}="):
            return line.split("=", 1)[1] or None
    return None


def env_name(region: str, role: str) -> str:
    return f"NEVOA_MQTT_{region.upper()}_{role.upper()}_PASSWORD"


def generate(fleet: Fleet, out: Path, rotate: bool = False, use_tool: bool = True) -> str:
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    known = {} if rotate else read_existing(out)

    def password(user: str) -> str:
        return known.get(user) or secrets.token_urlsafe(24)

    cloud_key = (None if rotate else existing_cloud_key(out)) or secrets.token_urlsafe(32)
    env_lines = ["# Generated by broker/gen_accounts.py for docker compose --env-file: MQTT",
                 "# passwords of the service accounts and the cloud's token signing key.",
                 "# Secret; never commit.",
                 f"{CLOUD_KEY_VARIABLE}={cloud_key}"]
    hasher = ""
    for region, meters in sorted(fleet.meters_by_region.items()):
        region_dir = out / region
        region_dir.mkdir(exist_ok=True)
        creds: dict[str, str] = {}
        for role, user in service_accounts(region).items():
            creds[user] = password(user)
            env_lines.append(f"{env_name(region, role)}={creds[user]}")
        write_secret_csv(region_dir / "services.csv", ["username", "password"],
                         list(creds.items()))
        meter_creds = {meter: password(meter) for meter in meters}
        write_secret_csv(region_dir / "meters.csv", ["meter_id", "username", "password"],
                         ([m, m, pw] for m, pw in meter_creds.items()), mode=0o644)
        creds.update(meter_creds)
        # Only hashes and rules go where the broker container can see them.
        broker_dir = region_dir / "broker"
        broker_dir.mkdir(exist_ok=True)
        os.chmod(broker_dir, 0o755)
        hasher = write_passwd(broker_dir / "passwd", creds, use_tool)
        (broker_dir / "acl").write_text(acl_text(region))
        os.chmod(broker_dir / "acl", 0o644)
    fd = os.open(out / "credentials.env", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(env_lines) + "\n")
    return hasher


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(
        description="Generate Mosquitto password and ACL files for a nevoa fleet "
                    "(one broker per region).",
        epilog="examples:\n"
               "  broker/gen_accounts.py --regions r1,r2 --meters-per-region 1000\n"
               "  broker/gen_accounts.py --fleet-csv fleet.csv --out /srv/nevoa/accounts",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--fleet-csv", type=Path, metavar="FILE",
                        help="fleet export with a meter_id,region header ('-' = stdin)")
    source.add_argument("--regions", default=os.environ.get("NEVOA_REGIONS", "r1,r2"),
                        help="comma-separated regions (default: %(default)s; env NEVOA_REGIONS)")
    parser.add_argument("--meters-per-region", type=int, default=1000, metavar="N",
                        help="per-meter accounts per region and kind (default: %(default)s)")
    parser.add_argument("--first-index", type=int, default=1, metavar="K",
                        help="index of the first meter (default: %(default)s)")
    parser.add_argument("--kinds", default=",".join(DEFAULT_KINDS),
                        help="meter kind letters, e=energy w=water (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=here / "generated",
                        help="output directory, git-ignored (default: broker/generated)")
    parser.add_argument("--rotate", action="store_true",
                        help="draw new passwords instead of keeping those already in --out")
    parser.add_argument("--no-mosquitto-passwd", action="store_true",
                        help="hash in Python even when mosquitto_passwd is installed")
    parser.add_argument("--no-tls", action="store_true",
                        help="do not make or check the brokers' TLS certificates "
                             "(broker/gen_certs.py; --rotate renews them too)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.fleet_csv is not None:
            if str(args.fleet_csv) == "-":
                fleet = fleet_from_csv(sys.stdin)
            else:
                with args.fleet_csv.open(newline="") as f:
                    fleet = fleet_from_csv(f)
        else:
            regions = [r.strip() for r in args.regions.split(",") if r.strip()]
            if not regions:
                raise FleetError("no regions given")
            kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
            fleet = fleet_from_counts(regions, args.meters_per_region, kinds, args.first_index)
        hasher = generate(fleet, args.out, args.rotate, not args.no_mosquitto_passwd)
        if not args.no_tls:
            # The compose brokers listen on TLS only; their containers read the keys.
            import gen_certs  # beside this file

            tls = gen_certs.generate(sorted(fleet.meters_by_region), args.out,
                                     rotate=args.rotate, container_readable=True)
            print("\n".join(tls))
    except (FleetError, OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"gen_accounts: {exc}", file=sys.stderr)
        return 1
    total = sum(len(m) for m in fleet.meters_by_region.values())
    print(f"wrote accounts for {len(fleet.meters_by_region)} region(s), {total} meter(s) "
          f"to {args.out} (hashed with {hasher})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
