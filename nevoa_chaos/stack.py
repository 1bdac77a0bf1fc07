"""One drill's region: a Mosquitto, a durable Redis and a fog node process, all fresh.

Redis comes from :func:`nevoa_stack.services.redis_server` (append-only file, fsync every
second, as ``make run`` and the tests run it) and is killed and restarted on the same
port and data directory. The fog node runs as ``python -m fog_node`` with its default
MQTT client id, ``nevoa-fog-<region>``, so its persistent session is the production one.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from nevoa_chaos.broker import Accounts, BrokerProfile, ChaosBroker
from nevoa_core.calendar import DEFAULT_TIMEZONE
from nevoa_stack.processes import ChildProcess, free_port
from nevoa_stack.services import REPO_ROOT, RedisBinary, RedisContainer, redis_server

SUBSCRIBED = "subscribed to"  # what the fog node logs once its subscriptions stand


class DrillStack:
    def __init__(self, workdir: Path, region: str = "r1",
                 profile: BrokerProfile = BrokerProfile.DEV,
                 python: str = sys.executable, accounts: bool = False) -> None:
        self.workdir = workdir
        self.region = region
        self.python = python
        self.credentials: dict[str, tuple[str, str]] = {}  # role or meter -> user, password
        files = self._generate_accounts() if accounts else None
        self.broker = ChaosBroker(workdir / "mosquitto", profile, accounts=files)
        self.redis: RedisBinary | RedisContainer = redis_server(
            workdir / "redis", name="redis", durable=True)
        self.fog_log = workdir / "fog.log"
        self.fog: ChildProcess | None = None
        self.fog_starts = 0
        self._subscribed_before = 0
        self._fog_killed = False  # the fog node is down because a drill killed it
        self._clients: list[redis.Redis] = []

    @property
    def client_id(self) -> str:
        return f"nevoa-fog-{self.region}"

    def _generate_accounts(self, meters: int = 10) -> Accounts:
        """Accounts as the compose deployment has them (``broker/gen_accounts.py``)."""
        out = self.workdir / "accounts"
        subprocess.run([self.python, str(REPO_ROOT / "broker" / "gen_accounts.py"),
                        "--regions", self.region, "--meters-per-region", str(meters),
                        "--out", str(out)], check=True, capture_output=True)
        region = out / self.region
        for name in ("services.csv", "meters.csv"):
            with (region / name).open(newline="") as f:
                for row in csv.DictReader(f):
                    key = row.get("meter_id") or row["username"].rsplit("-", 1)[0]
                    self.credentials[key] = (row["username"], row["password"])
        return Accounts(region / "broker" / "passwd", region / "broker" / "acl")

    def login(self, who: str) -> tuple[str, str] | None:
        """(username, password) of a role (``fog``, ``gateway``) or a meter id, when the
        broker has accounts."""
        return self.credentials.get(who)

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.broker.start()
        self.redis.start()
        self.start_fog()
        self.wait_fog_subscribed()

    def stop(self) -> None:
        for step in (self.stop_fog, self.broker.stop, self.redis.stop):
            try:
                step()
            except Exception:  # stop the rest whatever happened to one
                pass
        for client in self._clients:
            client.close()

    def redis_client(self) -> redis.Redis:
        client = redis.Redis.from_url(self.redis.url, decode_responses=True,
                                      socket_timeout=10, socket_connect_timeout=5)
        self._clients.append(client)
        return client

    # --- the fog node ------------------------------------------------------------------
    def fog_sessions(self) -> int:
        """MQTT sessions the fog node has begun (connected and subscribed), all starts."""
        return self._subscriptions()

    def _subscriptions(self) -> int:
        try:
            return self.fog_log.read_text(errors="replace").count(SUBSCRIBED)
        except OSError:
            return 0

    def start_fog(self) -> None:
        """Start the fog node process (a kill -9 leaves its MQTT session to resume)."""
        self._subscribed_before = self._subscriptions()
        env = {"NEVOA_TIMEZONE": DEFAULT_TIMEZONE}
        accounts: list[str] = []
        # with accounts, ingest logs in as fog-<region>, commands leave as commander-<region>
        for role, flag, variable in (("fog", "--mqtt-username", "NEVOA_MQTT_PASSWORD"),
                                     ("commander", "--mqtt-out-username",
                                      "NEVOA_MQTT_OUT_PASSWORD")):
            login = self.login(role)
            if login is not None:
                accounts += [flag, login[0]]
                env[variable] = login[1]
        self.fog = ChildProcess("fog", [
            self.python, "-m", "fog_node", "--region", self.region,
            "--broker-host", self.broker.host, "--broker-port", str(self.broker.port),
            "--redis-url", self.redis.url, "--http-port", str(free_port()), *accounts,
        ], self.fog_log, env=env)
        self.fog.start()
        self.fog_starts += 1
        self._fog_killed = False

    def wait_fog_subscribed(self, timeout: float = 60.0) -> None:
        """Until the fog node started last has subscribed (once per start)."""
        deadline = time.monotonic() + timeout
        while self._subscriptions() <= self._subscribed_before:
            if self.fog is None or not self.fog.running:
                raise RuntimeError(f"the fog node exited; see {self.fog_log}:\n"
                                   f"{self.fog.tail() if self.fog else ''}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the fog node did not subscribe in {timeout:.0f}s; see "
                                   f"{self.fog_log}")
            time.sleep(0.05)

    def kill_fog(self) -> None:
        if self.fog is not None:
            self._fog_killed = True
            self.fog.kill()

    def fog_crashed(self) -> str | None:
        """How the fog node ended if it exited on its own, else None."""
        fog = self.fog
        if fog is None or fog.proc is None or fog.running or self._fog_killed:
            return None
        last = fog.tail(1).strip()
        return f"the fog node exited on its own (code {fog.proc.returncode}): {last[-200:]}"

    def stop_fog(self) -> None:
        if self.fog is not None:
            self._fog_killed = True
            self.resume_fog()
            self.fog.stop()

    def _signal_fog(self, sig: signal.Signals) -> None:
        if self.fog is not None and self.fog.proc is not None and self.fog.running:
            os.killpg(self.fog.proc.pid, sig)

    def pause_fog(self) -> None:
        self._signal_fog(signal.SIGSTOP)

    def resume_fog(self) -> None:
        self._signal_fog(signal.SIGCONT)

    # --- the broker's saved state ------------------------------------------------------
    def wait_broker_saved(self, since: float, timeout: float | None = None) -> float:
        """Until Mosquitto has written its database after ``since`` (wall clock): the fog
        node's session is then on disk, as on a broker that has run for a while. Returns
        the seconds waited."""
        began = time.monotonic()
        limit = timeout if timeout is not None else self.broker.autosave_interval + 15
        while time.monotonic() - began < limit:
            try:
                if self.broker.db_path.stat().st_mtime > since:
                    return time.monotonic() - began
            except FileNotFoundError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Mosquitto saved no database in {limit:.0f}s "
                           f"({self.broker.db_path})")
