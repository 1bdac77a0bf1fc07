"""A local Mosquitto for a drill, with the dev or the compose persistence settings.

``nevoa_stack.services`` starts Mosquitto with ``broker/mosquitto-dev.conf`` only; the
drills also need the compose deployment's persistence (``autosave_interval 30`` and its
queue limits) on a local binary, and the broker's pid to stop and continue it. So the
configuration is built here the way ``MosquittoBinary`` builds it - the settings file,
then a loopback listener, the persistence directory and (as root) ``user root`` - from
either file: the dev one whole, or the compose one reduced to its broker settings
(no accounts, ACLs or log destination, which belong to the containers).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from nevoa_stack.processes import ChildProcess, free_port, port_open
from nevoa_stack.services import HOST, REPO_ROOT, Service, find_binary

DEV_CONF = REPO_ROOT / "broker" / "mosquitto-dev.conf"
COMPOSE_CONF = REPO_ROOT / "broker" / "mosquitto.conf"

# what of broker/mosquitto.conf is about persistence, queues and limits, and so applies
# to a local broker as it does to the compose one
COMPOSE_SETTINGS = frozenset({
    "persistence", "autosave_interval", "autosave_on_changes", "persistent_client_expiration",
    "max_queued_messages", "max_queued_bytes", "max_inflight_messages", "max_inflight_bytes",
    "max_keepalive", "max_packet_size", "message_size_limit", "queue_qos0_messages",
    "upgrade_outgoing_qos", "retain_available", "set_tcp_nodelay",
})


class BrokerProfile(StrEnum):
    DEV = "dev"  # broker/mosquitto-dev.conf: autosave every second
    COMPOSE = "compose"  # broker/mosquitto.conf's persistence: autosave every 30 s


# what of it is about accounts: kept only when the drill's broker has accounts too
ACCOUNT_SETTINGS = frozenset({"use_username_as_clientid"})


@dataclass(frozen=True, slots=True)
class Accounts:
    """Files of ``broker/gen_accounts.py`` for one region."""

    passwd: Path
    acl: Path


def compose_settings(text: str, accounts: bool = False) -> list[str]:
    """The lines of a compose broker configuration a local broker can take."""
    wanted = COMPOSE_SETTINGS | ACCOUNT_SETTINGS if accounts else COMPOSE_SETTINGS
    kept = []
    for line in text.splitlines():
        words = line.split()
        if words and not words[0].startswith("#") and words[0] in wanted:
            kept.append(" ".join(words))
    return kept


def settings_text(profile: BrokerProfile, accounts: Accounts | None = None) -> str:
    if profile is BrokerProfile.DEV:
        if accounts is not None:
            raise ValueError("accounts come with the compose settings")
        return DEV_CONF.read_text()
    what = "persistence, limits and accounts" if accounts else "persistence and limits only"
    lines = [f"# from {COMPOSE_CONF.relative_to(REPO_ROOT)}: {what}",
             *compose_settings(COMPOSE_CONF.read_text(), accounts is not None),
             *(["allow_anonymous false", f"password_file {accounts.passwd}",
                f"acl_file {accounts.acl}"] if accounts else ["allow_anonymous true"]),
             "connection_messages false",
             "log_type error", "log_type warning", "log_type notice"]
    return "\n".join(lines) + "\n"


class ChaosBroker(Service):
    """Mosquitto on a fixed loopback port and data directory, killed and restarted
    there; ``pause``/``resume`` stop and continue the process (SIGSTOP/SIGCONT)."""

    def __init__(self, workdir: Path, profile: BrokerProfile = BrokerProfile.DEV,
                 name: str = "mosquitto", port: int | None = None,
                 accounts: Accounts | None = None) -> None:
        self.name = name
        self.profile = profile
        self.workdir = workdir
        self.port = port or free_port()
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path = workdir / "mosquitto.conf"
        stay = "user root\n" if os.geteuid() == 0 else ""  # see MosquittoBinary
        listener = f"listener {self.port} {HOST}\n"
        if profile is BrokerProfile.DEV:  # as MosquittoBinary writes it
            text = settings_text(profile) + f"\n{listener}"
        else:  # as the compose file: listener first (before it, use_username_as_clientid
            # would open a default listener on 1883)
            text = listener + settings_text(profile, accounts)
        self.conf_path.write_text(
            text + f"persistence_location {self.data_dir}/\n{stay}")
        binary = find_binary("mosquitto")
        if binary is None:
            raise RuntimeError("mosquitto is not installed: apt-get install mosquitto")
        self._process = ChildProcess(name, [binary, "-c", str(self.conf_path)],
                                     workdir / f"{name}.log")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "mosquitto.db"

    @property
    def autosave_interval(self) -> float:
        for line in self.conf_path.read_text().splitlines():
            words = line.split()
            if len(words) == 2 and words[0] == "autosave_interval":
                return float(words[1])
        return 1800.0  # Mosquitto's default

    def start(self) -> None:
        if port_open(self.host, self.port):
            raise RuntimeError(f"{self.name}: port {self.port} is already in use")
        self._process.start()
        self._process.wait_port(self.host, self.port)

    def stop(self) -> None:
        self.resume()  # a stopped process cannot act on SIGTERM
        self._process.stop()

    def kill(self) -> None:
        self._process.kill()

    def _signal(self, sig: signal.Signals) -> None:
        proc = self._process.proc
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, sig)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def tail(self, lines: int = 15) -> str:
        return self._process.tail(lines)
