"""compose/docker-compose.yml is valid for docker compose v2+ and keeps its promises:
only the cloud API is published, every region is isolated on its own network, services
restart, are health-checked and keep their data in named volumes, and every flag the
compose file passes exists in the real command's --help. Needs no Docker engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.yml"
REGIONS = ("r1", "r2")


def compose_env(accounts: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEVOA_")}
    env["NEVOA_ACCOUNTS_DIR"] = str(accounts)
    return env


@pytest.fixture(scope="module")
def config(compose_cmd: list[str], accounts_dir: Path) -> dict[str, Any]:
    out = subprocess.run(
        [*compose_cmd, "-f", str(COMPOSE_FILE), "--env-file", str(accounts_dir / "credentials.env"),
         "config", "--format", "json"],
        capture_output=True, text=True, env=compose_env(accounts_dir), timeout=60, check=True)
    return dict(json.loads(out.stdout))


def test_compose_config_is_valid(compose_cmd: list[str], accounts_dir: Path) -> None:
    result = subprocess.run(
        [*compose_cmd, "-f", str(COMPOSE_FILE), "--env-file", str(accounts_dir / "credentials.env"),
         "config", "-q"],
        capture_output=True, text=True, env=compose_env(accounts_dir), timeout=60)
    assert result.returncode == 0, result.stderr


def test_missing_credentials_are_a_clear_error(compose_cmd: list[str], tmp_path: Path) -> None:
    result = subprocess.run([*compose_cmd, "-f", str(COMPOSE_FILE), "config", "-q"],
                            capture_output=True, text=True, env=compose_env(tmp_path), timeout=60)
    assert result.returncode != 0
    assert "make accounts" in result.stderr


def test_only_the_cloud_api_is_published_on_loopback(config: dict[str, Any]) -> None:
    published = {name: s["ports"] for name, s in config["services"].items() if s.get("ports")}
    assert list(published) == ["cloud"]
    (port,) = published["cloud"]
    assert (port["host_ip"], port["target"]) == ("127.0.0.1", 8000)


def test_each_region_is_isolated_and_meters_reach_only_their_broker(
        config: dict[str, Any]) -> None:
    services = config["services"]
    for region in REGIONS:
        for network in (f"region-{region}", f"field-{region}"):
            assert config["networks"][network].get("internal") is True
        # meters share a network with their broker only: not Redis, not the fog node
        assert set(services[f"meter-{region}"]["networks"]) == {f"field-{region}"}
        assert set(services[f"mqtt-{region}"]["networks"]) == {f"field-{region}",
                                                               f"region-{region}"}
        assert set(services[f"redis-{region}"]["networks"]) == {f"region-{region}"}
        assert set(services[f"fog-{region}"]["networks"]) == {f"region-{region}", "core"}
        on_field = {name for name, s in services.items()
                    if f"field-{region}" in s.get("networks", {})}
        assert on_field == {f"meter-{region}", f"mqtt-{region}"}
    assert set(services["cloud"]["networks"]) == {"core"}


def test_long_running_services_restart_and_are_health_checked(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        if name == "cloud-demo":  # one-shot directory load
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name
        assert service.get("stop_grace_period"), name
        assert service.get("pull_policy") == "never", name  # no registry to pull from


def test_state_lives_in_named_volumes_and_redis_appends(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in (*(f"{r}-{g}" for r in ("redis", "mqtt", "meter") for g in REGIONS),
                 "redis-cloud"):
        kinds = {v["type"] for v in services[name]["volumes"]}
        assert "volume" in kinds, name
        assert {v["source"] for v in services[name]["volumes"] if v["type"] == "volume"} <= set(
            config["volumes"])
    for name in (*(f"redis-{r}" for r in REGIONS), "redis-cloud"):
        command = services[name]["command"]
        assert command[command.index("--appendonly") + 1] == "yes"


def test_meter_services_scale_with_their_region_credentials(config: dict[str, Any],
                                                           accounts_dir: Path) -> None:
    for region in REGIONS:
        meter = config["services"][f"meter-{region}"]
        assert meter["deploy"]["replicas"] >= 2
        command = meter["command"]
        assert int(command[command.index("--count") + 1]) >= 1
        assert command[command.index("--mode") + 1] in ("per-meter", "multiplexed")
        assert meter["environment"]["NEVOA_MQTT_USERNAME"] == f"gateway-{region}"
        (secret,) = meter["secrets"]
        assert command[command.index("--credentials") + 1] == f"/run/secrets/{secret['target']}"
        source = Path(config["secrets"][secret["source"]]["file"])
        assert source == accounts_dir / region / "meters.csv"  # its own region's only
        assert "ports" not in meter


def test_generated_passwords_reach_the_services(config: dict[str, Any],
                                                accounts_dir: Path) -> None:
    env_file = (accounts_dir / "credentials.env").read_text()
    for region in REGIONS:
        fog = config["services"][f"fog-{region}"]["environment"]
        expected = re.search(rf"^NEVOA_MQTT_{region.upper()}_FOG_PASSWORD=(.+)$", env_file, re.M)
        assert expected and fog["NEVOA_MQTT_PASSWORD"] == expected.group(1)


def help_text(program: Path, command: list[str]) -> str:
    """--help of the program, plus that of the subcommand the compose command uses."""
    def run(*args: str) -> str:
        return subprocess.run([str(program), *args], capture_output=True, text=True,
                              timeout=60, check=True).stdout

    text = run("--help")
    for word in command[1:]:
        if re.fullmatch(r"[a-z][a-z-]+", word) and re.search(rf"{{[^}}]*\b{word}\b", text):
            text += run(word, "--help")
    return text


@pytest.mark.parametrize("service", ["fog-r1", "meter-r1", "cloud", "cloud-demo"])
def test_compose_flags_exist_in_the_real_commands(config: dict[str, Any], service: str) -> None:
    command: list[str] = config["services"][service]["command"]
    if any(arg.endswith("meter-replica.py") for arg in command):
        # The launcher adds these to the simulator's command line.
        command = [*command[command.index("--") + 1:], "--replica-index", "--state-dir"]
    program = Path(sys.executable).parent / command[0]
    if not program.exists():
        pytest.skip(f"{command[0]} is not installed next to {sys.executable}")
    text = help_text(program, command)
    flags = [arg for arg in command if arg.startswith("--") and arg != "--"]
    missing = [flag for flag in flags if not re.search(rf"(?<![\w-]){flag}(?![\w-])", text)]
    assert not missing, f"{service}: `{command[0]} --help` does not list {missing}"
