"""Real Mosquitto and Redis on free loopback ports: the one way tests and ``make run``
get them.

A Docker engine with the image already present gives a container (testcontainers);
otherwise, the locally installed ``mosquitto`` and ``redis-server`` binaries run as
child processes. No registry is reachable on our machines, so a running engine
without the image falls back to the binaries too. Either way the service can be
stopped, killed (-9) and started again on the same port, for fault-injection tests.
A binary whose port another program takes before its first start binds it starts on
another free port instead (``.port`` says which); from then on its port is fixed.

A broker given :class:`BrokerTls` listens with TLS on its port (the files come from
``broker/gen_certs.py``, :func:`generate_tls`); ``BrokerTls.plain_port`` adds a plain
loopback listener beside it, for benchmarks that compare the two on one broker.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from nevoa_stack.processes import ChildProcess, free_port, port_open, start_on_port

log = logging.getLogger("nevoa.stack")

REPO_ROOT = Path(__file__).resolve().parents[1]
MOSQUITTO_DEV_CONF = REPO_ROOT / "broker" / "mosquitto-dev.conf"
GEN_CERTS = REPO_ROOT / "broker" / "gen_certs.py"
MOSQUITTO_IMAGE = os.environ.get("NEVOA_MOSQUITTO_IMAGE", "eclipse-mosquitto:2")
REDIS_IMAGE = os.environ.get("NEVOA_REDIS_IMAGE", "redis:7")
HOST = "127.0.0.1"


def find_binary(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()),
        None,
    )


@cache
def docker_has_image(image: str) -> bool:
    """True when a Docker engine answers and already holds ``image``."""
    if os.environ.get("NEVOA_NO_CONTAINERS"):
        return False
    docker = shutil.which("docker")
    if docker is None:
        return False
    # The CLI, not docker-py: one short-lived process, no client socket left open.
    try:
        probe = subprocess.run([docker, "image", "inspect", "--format", "{{.Id}}", image],
                               capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):  # no engine answering in time means "no"
        return False
    return probe.returncode == 0


@dataclass(frozen=True)
class BrokerTls:
    """A broker's TLS listener: its CA, certificate and key (``<out>/<region>/tls/``)."""

    cafile: Path
    certfile: Path
    keyfile: Path
    plain_port: int | None = None  # also listen without TLS here (loopback only)

    @classmethod
    def from_dir(cls, tls_dir: Path, plain_port: int | None = None) -> BrokerTls:
        return cls(tls_dir / "ca.crt", tls_dir / "server.crt", tls_dir / "server.key",
                   plain_port)

    def listener_lines(self, directory: Path | None = None) -> str:
        """The TLS settings of the listener above them; ``directory``: where the broker
        sees the three files (a container's mount point)."""
        files = [(k, directory / f.name if directory else f) for k, f in (
            ("cafile", self.cafile), ("certfile", self.certfile), ("keyfile", self.keyfile))]
        return "".join(f"{k} {f}\n" for k, f in files) + "tls_version tlsv1.2\n"


def generate_tls(out: Path, regions: Sequence[str], *args: str) -> dict[str, BrokerTls]:
    """Certificates for these regions' brokers (and the CA, ``out/ca/ca.crt``), made by
    ``broker/gen_certs.py`` as an operator runs it; kept if they already exist."""
    done = subprocess.run([sys.executable, str(GEN_CERTS), "--out", str(out), "--regions",
                           ",".join(regions), *args], capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"broker/gen_certs.py failed: {done.stderr.strip()}")
    return {region: BrokerTls.from_dir(out / region / "tls") for region in regions}


class Service(ABC):
    name: str
    host = HOST
    port: int

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None:
        """Graceful stop: Mosquitto and Redis save their data."""

    @abstractmethod
    def kill(self) -> None:
        """kill -9: nothing saved beyond what was already on disk."""

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def process(self) -> ChildProcess | None:
        """The local program behind the service (None for a container)."""
        return None


class _BinaryService(Service):
    def __init__(self, name: str, workdir: Path, port: int | None) -> None:
        self.name = name
        self.workdir = workdir
        self.port = port or free_port()
        self._movable = port is None  # until the first start: then fixed for its life
        workdir.mkdir(parents=True, exist_ok=True)
        self._process = ChildProcess(name, [], workdir / f"{name}.log")

    @abstractmethod
    def argv(self) -> list[str]: ...

    @property
    def process(self) -> ChildProcess:
        """The running program, for a supervisor to watch and restart."""
        return self._process

    def _argv_on(self, port: int) -> list[str]:
        self.port = port
        return self.argv()

    def start(self) -> None:
        """Start on its port; the first time, on another one if a program took it."""
        self.port = start_on_port(self._process, self.host, self.port, self._argv_on,
                                  movable=self._movable)
        self._movable = False

    def stop(self) -> None:
        self._process.stop()

    def kill(self) -> None:
        self._process.kill()


class MosquittoBinary(_BinaryService):
    def __init__(self, name: str, workdir: Path, port: int | None,
                 tls: BrokerTls | None = None) -> None:
        self.tls = tls
        super().__init__(name, workdir, port)

    def argv(self) -> list[str]:
        conf = self.workdir / "mosquitto.conf"
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        # Started as root, Mosquitto drops to the `mosquitto` user, which cannot write a
        # data directory under root's private temp dirs: it would then persist nothing.
        # This broker only listens on loopback, so it keeps the starting user.
        stay = "user root\n" if os.geteuid() == 0 else ""
        listeners = f"\nlistener {self.port} {self.host}\n"
        if self.tls is not None:
            listeners += self.tls.listener_lines()
            if self.tls.plain_port is not None:
                listeners += f"listener {self.tls.plain_port} {self.host}\n"
        conf.write_text(
            MOSQUITTO_DEV_CONF.read_text()
            + f"{listeners}persistence_location {data}/\n{stay}"
        )
        binary = find_binary("mosquitto")
        if binary is None:
            raise RuntimeError("mosquitto is not installed: apt-get install mosquitto")
        return [binary, "-c", str(conf)]


class RedisBinary(_BinaryService):
    def __init__(self, name: str, workdir: Path, port: int | None, durable: bool) -> None:
        self.durable = durable
        super().__init__(name, workdir, port)

    def argv(self) -> list[str]:
        binary = find_binary("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: apt-get install redis-server")
        durability = (
            # Redis write(2)s the AOF buffer in beforeSleep, before it sends the replies:
            # once the fog has its answer (and acks the batch) the write is in the kernel,
            # so kill -9 of Redis loses nothing; only an OS crash / power loss can lose up
            # to ~1 s (the fsync runs once a second, off the main thread)
            ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
            if self.durable
            else ["--appendonly", "no", "--save", ""]
        )
        return [binary, "--port", str(self.port), "--bind", self.host, "--dir",
                str(self.workdir), "--protected-mode", "yes", "--daemonize", "no", *durability]

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


class ContainerService(Service):
    """The same service from a local image, its port bound to a fixed loopback port."""

    def __init__(self, name: str, image: str, container_port: int, port: int | None,
                 command: str | None = None, volumes: dict[str, str] | None = None,
                 extra_ports: dict[int, int] | None = None) -> None:
        from testcontainers.core.container import DockerContainer

        self.name = name
        self.port = port or free_port()
        # docker-py takes (host_ip, port) to bind loopback only; the stub says int or str
        c = DockerContainer(image).with_bind_ports(
            container_port, (self.host, self.port))  # type: ignore[arg-type]
        for inside, outside in (extra_ports or {}).items():
            c = c.with_bind_ports(inside, (self.host, outside))  # type: ignore[arg-type]
        if command:
            c = c.with_command(command)
        for host_path, container_path in (volumes or {}).items():
            c = c.with_volume_mapping(host_path, container_path, "rw")
        self._container: Any = c
        self._started = False

    def _wait(self) -> None:
        import time

        deadline = time.monotonic() + 30
        while not port_open(self.host, self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: container did not open port {self.port}")
            time.sleep(0.1)

    def start(self) -> None:
        if not self._started:
            self._container.start()
            self._started = True
        else:
            self._container.get_wrapped_container().start()
        self._wait()

    def stop(self) -> None:
        self._container.get_wrapped_container().stop(timeout=10)

    def kill(self) -> None:
        self._container.get_wrapped_container().kill()

    def remove(self) -> None:
        self._container.stop()


class RedisContainer(ContainerService):
    def __init__(self, name: str, port: int | None, durable: bool) -> None:
        cmd = ("redis-server --appendonly yes --appendfsync everysec --save ''" if durable
               else "redis-server --appendonly no --save ''")
        super().__init__(name, REDIS_IMAGE, 6379, port, command=cmd)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def broker(workdir: Path, name: str = "mosquitto", port: int | None = None,
           tls: BrokerTls | None = None) -> Service:
    """A Mosquitto with nevoa's dev settings, not yet started; with ``tls``, its port is
    a TLS listener."""
    if docker_has_image(MOSQUITTO_IMAGE):
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "mosquitto.conf"
        volumes = {str(conf): "/mosquitto/config/mosquitto.conf"}
        listeners, inside, extra = "\nlistener 1883 0.0.0.0\n", 1883, {}
        if tls is not None:
            mount = Path("/mosquitto/config/tls")
            listeners, inside = "\nlistener 8883 0.0.0.0\n" + tls.listener_lines(mount), 8883
            volumes[str(tls.certfile.parent)] = str(mount)
            if tls.plain_port is not None:
                listeners += "listener 1883 0.0.0.0\n"
                extra = {1883: tls.plain_port}
        conf.write_text(MOSQUITTO_DEV_CONF.read_text()
                        + f"{listeners}persistence_location /mosquitto/data/\n")
        return ContainerService(name, MOSQUITTO_IMAGE, inside, port, volumes=volumes,
                                extra_ports=extra)
    return MosquittoBinary(name, workdir, port, tls)


def redis_server(workdir: Path, name: str = "redis", port: int | None = None,
                 durable: bool = True) -> RedisBinary | RedisContainer:
    """A Redis, durable (AOF, fsync every second) unless told otherwise, not yet started."""
    if docker_has_image(REDIS_IMAGE):
        return RedisContainer(name, port, durable)
    return RedisBinary(name, workdir, port, durable)
