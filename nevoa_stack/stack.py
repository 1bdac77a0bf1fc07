"""LocalStack: every nevoa process of a small deployment on this machine.

Per region: a Mosquitto, a Redis and a fog node. Then the cloud's Redis, the cloud
API and (optionally) a meter fleet per region. Each process runs as a child in its own
process group and is stopped, in reverse order, by :meth:`LocalStack.stop`. A fog node,
Mosquitto or Redis whose free port another program takes first starts on another one;
the addresses are then fixed for the stack's life, so a restarted child (see
:mod:`nevoa_stack.supervise`) comes back where its clients look for it.

With ``tls=True`` the stack makes a CA and per-region broker certificates in
``<workdir>/tls`` (``broker/gen_certs.py``; kept across runs), every Mosquitto listens
with TLS only, and the fog nodes and meters get ``--tls-ca``.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nevoa_core.calendar import DEFAULT_TIMEZONE
from nevoa_stack.processes import ChildProcess, free_port, start_on_port
from nevoa_stack.services import (
    HOST,
    RedisBinary,
    RedisContainer,
    Service,
    broker,
    generate_tls,
    redis_server,
)

log = logging.getLogger("nevoa.stack")


@dataclass
class RegionProcesses:
    name: str
    broker: Service
    redis: RedisBinary | RedisContainer
    fog_port: int
    fog: ChildProcess | None = None
    meters: ChildProcess | None = None
    tls_ca: Path | None = None  # the broker listens with TLS; clients trust this CA

    @property
    def broker_args(self) -> tuple[str, ...]:
        """How a fog node or a meter reaches this region's broker."""
        tls = ("--tls-ca", str(self.tls_ca)) if self.tls_ca else ()
        return ("--broker-host", self.broker.host, "--broker-port", str(self.broker.port),
                *tls)

    @property
    def fog_url(self) -> str:
        return f"http://{HOST}:{self.fog_port}"

    def describe(self) -> dict[str, Any]:
        return {
            "broker": {"host": self.broker.host, "port": self.broker.port,
                       "tls_ca": str(self.tls_ca) if self.tls_ca else None},
            "redis_url": self.redis.url,
            "fog_url": self.fog_url,
        }


@dataclass
class LocalStack:
    workdir: Path
    regions: list[str]
    cloud_port: int = 8000
    python: str = sys.executable
    region_processes: dict[str, RegionProcesses] = field(default_factory=dict)
    cloud_redis: RedisBinary | RedisContainer | None = None
    cloud: ChildProcess | None = None
    operator_key: str | None = None  # the demo operator's API key (make run only)
    timezone: str = DEFAULT_TIMEZONE  # the utility's calendar, the same for every process
    clock_start: str | None = None  # tests: NEVOA_CLOCK_START of every process (shifted_spec)
    tls: bool = False  # brokers on TLS only, certificates in <workdir>/tls
    _started: list[Any] = field(default_factory=list)

    @property
    def cloud_url(self) -> str:
        return f"http://{HOST}:{self.cloud_port}"

    @property
    def env(self) -> dict[str, str]:
        """What every child is told: the calendar, and the clock when a test pins it."""
        env = {"NEVOA_TIMEZONE": self.timezone}
        if self.clock_start:
            env["NEVOA_CLOCK_START"] = self.clock_start
        return env

    def _child(self, name: str, module: str, *args: str) -> ChildProcess:
        child = ChildProcess(name, [self.python, "-m", module, *args],
                             self.workdir / "logs" / f"{name}.log", env=self.env)
        child.start()
        self._started.append(child)
        return child

    def _service(self, service: Service) -> None:
        self._started.append(service)  # first: a start that fails half-way is stopped too
        service.start()

    def start_region(self, region: str) -> RegionProcesses:
        base = self.workdir / region
        tls = generate_tls(self.workdir / "tls", [region])[region] if self.tls else None
        rp = RegionProcesses(
            region,
            broker(base / "mosquitto", name=f"mosquitto-{region}", tls=tls),
            redis_server(base / "redis", name=f"redis-{region}"),
            free_port(),
            tls_ca=tls.cafile if tls else None,
        )
        self._service(rp.broker)
        self._service(rp.redis)
        rp.fog = self.start_fog(rp)
        self.region_processes[region] = rp
        return rp

    def start_fog(self, rp: RegionProcesses) -> ChildProcess:
        """The region's fog node, on ``rp.fog_port`` or, if a program took it, another."""
        fog = ChildProcess(f"fog-{rp.name}", [], self.workdir / "logs" / f"fog-{rp.name}.log",
                           env=self.env)
        self._started.append(fog)

        def argv(port: int) -> list[str]:
            return [self.python, "-m", "fog_node", "--region", rp.name, *rp.broker_args,
                    "--redis-url", rp.redis.url, "--http-port", str(port)]

        rp.fog_port = start_on_port(fog, HOST, rp.fog_port, argv, movable=True)
        return fog

    def _run_once(self, name: str, args: list[str], timeout: float = 120) -> str:
        """Run a short-lived nevoa command to completion; its output is its log."""
        step = ChildProcess(name, [self.python, *args], self.workdir / "logs" / f"{name}.log",
                            env=self.env)
        step.start()
        assert step.proc is not None
        if step.proc.wait(timeout) != 0:
            raise RuntimeError(f"{name} failed:\n{step.tail()}")
        return step.log_path.read_text()

    def start_cloud(self, demo_meters_per_region: int = 0) -> None:
        """The cloud's Redis and API. With demo meters: the directory is the meter
        simulator's provisioning export, imported as an operator would (nevoa-cloud
        import), and a demo operator API key is created (stack.json, banner)."""
        self.cloud_redis = redis_server(self.workdir / "cloud-redis", name="redis-cloud")
        self._service(self.cloud_redis)
        redis_url = self.cloud_redis.url
        cloud = ["-m", "cloud", "--log-level", "WARNING", "--redis-url", redis_url]
        if demo_meters_per_region:
            exports = []
            for region in self.regions:
                for kind in ("electricity", "water"):  # as start_meters runs them
                    path = self.workdir / "provisioning" / f"{region}-{kind}.csv"
                    self._run_once(f"export-{region}-{kind}", [
                        "-m", "meter", "--region", region, "--kind", kind, "--count",
                        str(demo_meters_per_region), "--export", str(path), "--export-only"])
                    exports.append(str(path))
            self._run_once("import-directory", [*cloud, "import", *exports,
                                                "--regions", ",".join(self.regions)])
        self.operator_key = self._run_once("create-api-key", [
            *cloud, "create-api-key", "--name", "demo-operator", "--role", "operator"]
            ).strip().splitlines()[-1]
        fogs = [f"--fog={r}={rp.fog_url}" for r, rp in self.region_processes.items()]
        self.cloud = ChildProcess(
            "cloud", [self.python, "-m", "cloud", "--redis-url", redis_url, "serve",
                      "--port", str(self.cloud_port), *fogs],
            self.workdir / "logs" / "cloud.log",
            env={**self.env, "NEVOA_SECRET_KEY": secrets.token_hex(32)},
            listens=(HOST, self.cloud_port))
        self._started.append(self.cloud)
        self.cloud.start_and_wait()

    def start_meters(self, region: str, count: int, interval: float,
                     extra: tuple[str, ...] = (), water: int | None = None) -> ChildProcess:
        """The region's simulated meters, one process per kind: ``count`` electricity
        meters ``<region>-e000001..`` (the demo customers' meters come first) and
        ``water`` water meters ``<region>-w500001..`` (default: as many; 0: none), with
        a mix of tendencies and a few leaks. Returns the electricity process."""
        rp = self.region_processes[region]
        common = ("--region", region, *rp.broker_args, "--interval", str(interval),
                  "--tendency", "slow=0.2,fast=0.2,erratic=0.1")
        rp.meters = self._child(
            f"meters-{region}", "meter", *common, "--count", str(count),
            "--state-dir", str(self.workdir / region / "meters-electricity"), *extra,
        )
        water = count if water is None else water
        if water:
            self._child(
                f"water-meters-{region}", "meter", *common, "--kind", "water",
                "--count", str(water), "--fault", "leak=2%",
                "--state-dir", str(self.workdir / region / "meters-water"), *extra,
            )
        return rp.meters

    def children(self) -> list[ChildProcess]:
        """Every long-running program started, in start order (services first): what a
        :class:`~nevoa_stack.supervise.Supervisor` keeps running. Containers are not
        among them: the Docker engine runs those."""
        found = [item if isinstance(item, ChildProcess) else item.process
                 for item in self._started]
        return [c for c in found if c is not None]

    def describe(self) -> dict[str, Any]:
        return {
            "cloud_url": self.cloud_url,
            "cloud_redis_url": self.cloud_redis.url if self.cloud_redis else None,
            "operator_api_key": self.operator_key,
            "regions": {r: rp.describe() for r, rp in self.region_processes.items()},
            "logs": str(self.workdir / "logs"),
        }

    def write_description(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.describe(), indent=2) + "\n")

    def stop(self) -> None:
        """Stop everything started, newest first (meters before brokers)."""
        while self._started:
            item = self._started.pop()
            try:
                item.stop()
                if hasattr(item, "remove"):
                    item.remove()
            except Exception:  # keep stopping the rest
                log.exception("could not stop %s", getattr(item, "name", item))
